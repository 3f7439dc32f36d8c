"""Terrain state per step, ``smooth`` or ``technical``, from the IMU alone (streaming and batch).

The step detector says *when* each stride ended; this module looks at the samples of that
stride (and the one before) and says what the ground was like.  Per-stride features of shank
motion and ground roughness (see ``dsp/_terrain_kernels.py`` for their definitions) are
averaged over the last valid strides, taken relative to the runner's own baseline (a slow mean
of their recent strides that were not stairs, started from a population prior), standardised,
and fed to a small multinomial logistic regression whose parameters live as data in
``dsp/_terrain_model.py`` (fitted by ``python -m benchmarks.terrain --fit``).  Its classes are
smooth ground, grass, stairs up and stairs down; ``p_technical`` is one minus the probability of
smooth ground.  A causal forward-filtered HMM over the four classes turns the sequence of class
probabilities into the terrain state (``TerrainSettings(decision="class_hmm")``): its transition
matrix, learnt from the training labels with the weights, says how long each surface lasts
(grass for tens of strides, a flight of stairs for a few), so grass evidence builds up over its
bout while a flight of stairs is followed at once, and the state does not flicker.  The round-3
two-state HMM on ``p_technical`` (``decision="hmm"``) and the round-1 hysteresis with a minimum
dwell (``decision="hysteresis"``) are still available.

Only a shank (shin) sensor with a gyroscope has terrain-labelled training data.  For other
placements, or without a gyroscope, the features are still computed but ``p_technical`` is NaN
and the state stays smooth, unless ``TerrainSettings.allow_untested_placement`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dsp import _terrain_kernels as K
from dsp import _terrain_model as M
from dsp._common import (
    as_float64,
    check_block,
    concatenate_results,
    finite_and_increasing,
    validate_flag,
    validate_rate,
)
from dsp._filters import butter2_lowpass
from dsp.exc import ValidationError
from dsp.steps import canonical_placement

_EMPTY = np.zeros(0)

#: Names of the per-stride features, in column order of :attr:`TerrainResults.features`.
FEATURE_NAMES: tuple[str, ...] = tuple(M.FEATURE_NAMES)
#: Classes of the model, in column order of :attr:`TerrainResults.p_class`.
CLASS_NAMES: tuple[str, ...] = tuple(M.CLASS_NAMES)
#: Value of :attr:`TerrainResults.terrain` for smooth ground.
SMOOTH = 0
#: Value of :attr:`TerrainResults.terrain` for technical ground.
TECHNICAL = 1
#: Decision layers of :class:`TerrainSettings` (index = the kernel's ``P_DECISION``).
DECISIONS: tuple[str, ...] = ("hysteresis", "hmm", "class_hmm")

if len(FEATURE_NAMES) != K.N_FEATURES or len(CLASS_NAMES) != K.N_CLASSES:  # pragma: no cover
    raise ImportError("dsp/_terrain_model.py does not match dsp/_terrain_kernels.py; refit with --fit")


@dataclass(frozen=True)
class TerrainSettings:
    """Run-time constants of the terrain classifier (the features and weights are in the model).

    Parameters
    ----------
    decision : str
        How the model's probabilities become the terrain state: ``"class_hmm"``, a causal
        forward-filtered HMM over the four classes with the model's transition matrix
        (:attr:`TerrainModel.transition`) and ``evidence_weight``; ``"hmm"``, a causal
        forward-filtered two-state HMM on ``p_technical`` (``switch_p``, ``evidence_weight``); or
        ``"hysteresis"``, thresholds with a minimum dwell (``enter_p``, ``exit_p``,
        ``min_dwell_steps``, ``min_dwell_s``).
    switch_p : float
        HMM: probability that the terrain changes from one decided stride to the next, in
        ``(0, 0.5)``.  The class HMM uses it only for a model without a transition matrix.
    evidence_weight : float
        HMM and class HMM: weight of each decision's log-likelihoods (two-state:
        ``log(p / (1 - p))``), > 0 (1: the probabilities read as calibrated; 2: as if they were
        twice as sure).
    enter_p : float
        Hysteresis: ``p_technical`` at or above which the state turns technical, 1.
    exit_p : float
        Hysteresis: ``p_technical`` at or below which the state turns smooth again, 1 (≤ ``enter_p``).
    min_dwell_steps : int
        Hysteresis: contacts the state must last before it may change again (counted from the first
        contact).
    min_dwell_s : float
        Hysteresis: time the state must last before it may change again, s.
    min_stride_s : float
        Shorter contact-to-contact intervals are not strides (no features), s.
    max_stride_s : float
        Longer intervals are pauses: no features, and the stride window starts afresh, s.
    max_contact_delay_s : float
        Longest delay between a contact and the end of the block that delivers it, s; sets the
        sample history kept (strides older than that are counted as late and skipped).
    gap_s : float
        A gap in the sample times longer than this restarts the filters and the stride window, s.
    allow_untested_placement : bool
        Apply the shank model to other placements too (lower back, foot).  It was never checked on
        real terrain data there; meant for experiments only.
    """

    decision: str = "class_hmm"
    switch_p: float = 0.05
    evidence_weight: float = 1.0
    enter_p: float = 0.6
    exit_p: float = 0.4
    min_dwell_steps: int = 2
    min_dwell_s: float = 2.0
    min_stride_s: float = 0.4
    max_stride_s: float = 2.5
    max_contact_delay_s: float = 1.0
    gap_s: float = 0.5
    allow_untested_placement: bool = False

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValidationError(
                f"decision={self.decision!r} is not one of {', '.join(map(repr, DECISIONS))}"
            )
        if not (0.0 < self.switch_p < 0.5) or not (0.0 < self.evidence_weight <= 100.0):
            raise ValidationError(
                f"switch_p={self.switch_p:g} must be in (0, 0.5) and "
                f"evidence_weight={self.evidence_weight:g} in (0, 100]"
            )
        if not (0.0 <= self.exit_p <= self.enter_p <= 1.0):
            raise ValidationError(
                f"thresholds exit_p={self.exit_p:g} and enter_p={self.enter_p:g} must satisfy "
                "0 <= exit_p <= enter_p <= 1"
            )
        if self.min_dwell_steps < 0 or self.min_dwell_s < 0.0:
            raise ValidationError(
                f"min_dwell_steps={self.min_dwell_steps} and min_dwell_s={self.min_dwell_s:g} must be >= 0"
            )
        if not (0.0 < self.min_stride_s < self.max_stride_s):
            raise ValidationError(
                f"min_stride_s={self.min_stride_s:g} must be > 0 and below max_stride_s={self.max_stride_s:g}"
            )
        if self.max_contact_delay_s < 0.0 or self.gap_s <= 0.0:
            raise ValidationError(
                f"max_contact_delay_s={self.max_contact_delay_s:g} must be >= 0 and gap_s={self.gap_s:g} > 0"
            )


@dataclass
class TerrainResults:
    """Terrain per contact, as parallel arrays (one row per contact received).

    Attributes
    ----------
    t_contact_s : numpy.ndarray
        Contact times, s (the stride of each row ends there).
    p_technical : numpy.ndarray
        Probability that the ground of the last strides is technical, 0–1; NaN when there is no
        decision (first strides of a bout, a pause, or no model for this placement).
    terrain : numpy.ndarray
        State after the decision layer (HMM, or hysteresis and dwell), int8: 0 smooth, 1 technical.
    valid : numpy.ndarray
        True where the stride ending at this contact had valid features.
    p_class : numpy.ndarray
        Class probabilities, shape ``(n, 4)``, columns :data:`CLASS_NAMES`.
    features : numpy.ndarray
        Features of the stride ending at each contact, shape ``(n, 12)``, columns
        :data:`FEATURE_NAMES` (units in the names); NaN rows for invalid strides.
    window_features : numpy.ndarray
        Mean of ``features`` over the last strides, shape ``(n, 12)``.
    baseline : numpy.ndarray
        The runner baseline of each feature before this contact's stride was learnt, shape
        ``(n, 12)`` (same units).  The classifier's input is ``window_features - baseline`` for a
        model with a baseline prior, else ``window_features``.
    """

    t_contact_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_technical: np.ndarray = field(default_factory=lambda: np.zeros(0))
    terrain: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    valid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    p_class: np.ndarray = field(default_factory=lambda: np.zeros((0, K.N_CLASSES)))
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, K.N_FEATURES)))
    window_features: np.ndarray = field(default_factory=lambda: np.zeros((0, K.N_FEATURES)))
    baseline: np.ndarray = field(default_factory=lambda: np.zeros((0, K.N_FEATURES)))

    @property
    def n_contacts(self) -> int:
        """Number of rows."""
        return int(self.t_contact_s.shape[0])

    @classmethod
    def _from_rows(cls, rows: np.ndarray) -> TerrainResults:
        if not rows.shape[0]:
            return cls()  # most blocks: nothing found (fresh empty arrays, no slicing)
        return cls(
            t_contact_s=rows[:, K.O_T].copy(),
            p_technical=rows[:, K.O_P].copy(),
            terrain=rows[:, K.O_TERRAIN].astype(np.int8),
            valid=rows[:, K.O_VALID] > 0.5,
            p_class=rows[:, K.O_PCLASS : K.O_PCLASS + K.N_CLASSES].copy(),
            features=rows[:, K.O_FEAT : K.O_FEAT + K.N_FEATURES].copy(),
            window_features=rows[:, K.O_WFEAT : K.O_WFEAT + K.N_FEATURES].copy(),
            baseline=rows[:, K.O_BASE : K.O_BASE + K.N_FEATURES].copy(),
        )

    @classmethod
    def concatenate(cls, parts: list[TerrainResults]) -> TerrainResults:
        """Join the results of consecutive blocks.

        Parameters
        ----------
        parts : list of TerrainResults
            Results in time order.

        Returns
        -------
        TerrainResults
            One result holding every contact.
        """
        return concatenate_results(cls, parts)


@dataclass(frozen=True)
class TerrainFlags:
    """What the classifier absorbed so far (read-only counters).

    Attributes
    ----------
    repaired_samples : int
        Samples with NaN (or all-zero acceleration) replaced by the last good one.
    gaps : int
        Gaps in time that restarted the filters and the stride window.
    samples : int
        Samples processed.
    contacts : int
        Contacts processed.
    late_contacts : int
        Contacts whose stride had already left the sample history (no features).
    """

    repaired_samples: int
    gaps: int
    samples: int
    contacts: int
    late_contacts: int


@dataclass(frozen=True)
class TerrainModel:
    """Parameters of the classifier: runner baseline, standardisation and logistic regression.

    ``p_class = softmax(weights @ ((x - feature_mean) / feature_scale) + bias)``; class 0 is
    smooth ground.  ``x`` is the window mean of the features minus the runner baseline when
    ``baseline_prior`` is given, else the window mean itself.

    Parameters
    ----------
    feature_mean : tuple of float
        Mean of each model input over the training strides (units of :data:`FEATURE_NAMES`).
    feature_scale : tuple of float
        Standard deviation of each model input over the training strides (same units), > 0.
    weights : tuple of tuple of float
        ``(4, 12)`` weights on the standardised inputs, one row per class of :data:`CLASS_NAMES`.
    bias : tuple of float
        ``(4,)`` class offsets.
    baseline_prior : tuple of float, optional
        Where the runner baseline starts: the mean features of level walking in the training
        data (units of :data:`FEATURE_NAMES`).  None: the model reads the features as they are.
    window_strides : int, optional
        Valid strides whose features are averaged into the model's input (≥ 1); None: the
        shipped ``WINDOW_STRIDES``.
    transition : tuple of tuple of float, optional
        ``(4, 4)`` transition matrix of the class HMM (``decision="class_hmm"``):
        ``transition[i][j]`` is the probability that a decided stride of class ``i`` is followed
        by one of class ``j`` (rows sum to 1), learnt from the training labels.  None: the
        terrain changes with ``TerrainSettings.switch_p`` (from smooth to each technical class
        alike, from a technical class back to smooth).
    class_prior : tuple of float, optional
        ``(4,)`` class shares the weights were fitted with (they sum to 1); the class HMM reads
        ``p_class / class_prior`` as likelihoods.  None: half smooth, the rest shared equally.
    """

    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    baseline_prior: tuple[float, ...] | None = None
    window_strides: int | None = None
    transition: tuple[tuple[float, ...], ...] | None = None
    class_prior: tuple[float, ...] | None = None

    @property
    def window(self) -> int:
        """Valid strides averaged into the model's input."""
        return int(M.WINDOW_STRIDES if self.window_strides is None else self.window_strides)

    @classmethod
    def shipped(cls) -> TerrainModel:
        """Return the model stored in ``dsp/_terrain_model.py``."""
        return cls(
            feature_mean=tuple(M.FEATURE_MEAN),
            feature_scale=tuple(M.FEATURE_SCALE),
            weights=tuple(tuple(r) for r in M.WEIGHTS),
            bias=tuple(M.BIAS),
            baseline_prior=tuple(M.BASELINE_PRIOR),
            window_strides=int(M.WINDOW_STRIDES),
            transition=tuple(tuple(r) for r in M.TRANSITION),
            class_prior=tuple(M.CLASS_PRIOR),
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(mean, scale, weights, bias)`` as contiguous float64 arrays, checked.

        Raises
        ------
        ValidationError
            On wrong shapes or a non-positive scale.
        """
        mu = np.ascontiguousarray(self.feature_mean, dtype=np.float64)
        scale = np.ascontiguousarray(self.feature_scale, dtype=np.float64)
        w = np.ascontiguousarray(self.weights, dtype=np.float64)
        b = np.ascontiguousarray(self.bias, dtype=np.float64)
        if mu.shape != (K.N_FEATURES,) or scale.shape != mu.shape or w.shape != (K.N_CLASSES, K.N_FEATURES):
            raise ValidationError(
                f"terrain model shapes mean{mu.shape}, scale{scale.shape}, weights{w.shape} are not "
                f"({K.N_FEATURES},), ({K.N_FEATURES},), ({K.N_CLASSES}, {K.N_FEATURES}); "
                "refit with python -m benchmarks.terrain --fit"
            )
        if b.shape != (K.N_CLASSES,) or not np.all(scale > 0.0) or not np.all(np.isfinite(w)):
            raise ValidationError(
                "terrain model has a bad bias, scale or weights; "
                "refit with python -m benchmarks.terrain --fit"
            )
        if not 1 <= self.window <= 64:
            raise ValidationError(
                f"terrain model window_strides={self.window} is outside 1..64; "
                "refit with python -m benchmarks.terrain --fit"
            )
        if self.baseline_prior is not None:
            prior = np.asarray(self.baseline_prior, dtype=np.float64)
            if prior.shape != (K.N_FEATURES,) or not np.all(np.isfinite(prior)):
                raise ValidationError(
                    f"terrain model baseline_prior has shape {prior.shape} or non-finite values; expected "
                    f"({K.N_FEATURES},) finite numbers; refit with python -m benchmarks.terrain --fit"
                )
        return mu, scale, w, b

    def class_hmm_arrays(self, switch_p: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the class HMM's ``(transition, class_prior)`` as float64 arrays, checked.

        Parameters
        ----------
        switch_p : float
            Probability of a change per decision, used when the model has no transition matrix.

        Raises
        ------
        ValidationError
            On wrong shapes, rows that are not probabilities, or a non-positive class prior.
        """
        k = K.N_CLASSES
        if self.transition is None:
            a = np.full((k, k), 0.0)
            a[0, 0] = 1.0 - switch_p
            a[0, 1:] = switch_p / (k - 1)
            a[1:, 0] = switch_p
            a[np.arange(1, k), np.arange(1, k)] = 1.0 - switch_p
        else:
            a = np.array(self.transition, dtype=np.float64)
        if self.class_prior is None:
            prior = np.concatenate([[0.5], np.full(k - 1, 0.5 / (k - 1))])
        else:
            prior = np.array(self.class_prior, dtype=np.float64)
        if (
            a.shape != (k, k)
            or not np.all(a >= 0.0)
            or not np.allclose(a.sum(axis=1), 1.0, atol=1e-6)
            or prior.shape != (k,)
            or not np.all(prior > 0.0)
            or not np.all(np.isfinite(prior))
        ):
            raise ValidationError(
                f"terrain model transition (shape {a.shape}) must be ({k}, {k}) with rows of "
                f"probabilities, and class_prior (shape {prior.shape}) ({k},) positive; "
                "refit with python -m benchmarks.terrain --fit"
            )
        return np.ascontiguousarray(a.ravel()), np.ascontiguousarray(prior)


#: The shipped model and its checked arrays, per switch probability: ``dsp/_terrain_model.py`` holds
#: constants, so they are built and checked once per process, not once per classifier (that was
#: about a third of building a pipeline, which a replay does per recording).
_SHIPPED: dict[float, tuple[TerrainModel, tuple[np.ndarray, ...], np.ndarray, np.ndarray]] = {}


def _shipped_arrays(switch_p: float) -> tuple[TerrainModel, tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Return the shipped model, its ``arrays()`` and ``class_hmm_arrays(switch_p)`` (cached: read only)."""
    hit = _SHIPPED.get(switch_p)
    if hit is None:
        model = TerrainModel.shipped()
        hit = _SHIPPED[switch_p] = (model, model.arrays(), *model.class_hmm_arrays(switch_p))
    return hit


#: The classifier's settings when none are given (frozen: one instance serves every classifier;
#: building it, and running its checks, was a sizeable part of setting up a pipeline for a short
#: recording).
_DEFAULT_SETTINGS = TerrainSettings()


class TerrainClassifier:
    """Streaming terrain classifier: feed blocks of samples with the contacts decided in them.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz (40–1000).
    placement : str
        ``lower_back`` (aliases ``waist``, ``belt``), ``foot`` or ``shank``.
    has_gyro : bool
        Whether the blocks will carry gyroscope data.
    settings : TerrainSettings, optional
        Thresholds, dwell and history; the defaults suit the shipped model.
    model : TerrainModel, optional
        Classifier parameters; default the shipped model (``dsp/_terrain_model.py``).

    Notes
    -----
    Contacts are the step detector's (one per stride for a shank or foot sensor with a
    gyroscope).  A contact may refer to a time up to ``max_contact_delay_s`` before the end of
    the previous block; a stride is only ever built from samples up to its contact, so any
    chunking of the same samples and contacts gives exactly the batch result.  Signals are
    low-passed at the model's ``FEATURE_CUTOFF_HZ`` before the features, so that a sensor
    sampled faster than the 40 Hz of the training data sees the same band.  The first call
    compiles the kernel (or loads it from the numba cache).
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        placement: str,
        has_gyro: bool,
        settings: TerrainSettings | None = None,
        model: TerrainModel | None = None,
    ) -> None:
        self.sampling_rate_hz = validate_rate(sampling_rate_hz)
        self.placement = canonical_placement(placement)
        self.has_gyro = validate_flag("has_gyro", has_gyro)
        self.settings = _DEFAULT_SETTINGS if settings is None else settings
        s = self.settings
        fs = self.sampling_rate_hz
        placement_ok = self.placement in M.PLACEMENTS or s.allow_untested_placement
        #: Whether the shipped model applies (else ``p_technical`` is NaN and the state stays smooth).
        self.model_applies = bool(placement_ok and (self.has_gyro or not M.REQUIRES_GYRO))
        p = np.zeros(K.N_PARAMS)
        p[K.P_FS] = fs
        p[K.P_HAS_MODEL] = 1.0 if self.model_applies else 0.0
        p[K.P_ENTER_P] = s.enter_p
        p[K.P_EXIT_P] = s.exit_p
        p[K.P_DWELL_STEPS] = float(s.min_dwell_steps)
        p[K.P_DWELL_S] = s.min_dwell_s
        p[K.P_MIN_STRIDE_S] = s.min_stride_s
        p[K.P_MAX_STRIDE_S] = s.max_stride_s
        p[K.P_GAP_S] = s.gap_s
        p[K.P_N_LOAD] = max(1.0, round(M.LOAD_WINDOW_S * fs))
        p[K.P_N_CONTACT] = max(1.0, round(M.CONTACT_WINDOW_S * fs))
        p[K.P_STILL_RADS] = M.STILL_RADS
        p[K.P_MIN_SAMPLES] = max(4.0, round(0.5 * s.min_stride_s * fs))
        p[K.P_BASE_PRIOR_N] = M.BASELINE_PRIOR_STRIDES
        p[K.P_BASE_TAU] = M.BASELINE_STRIDES
        p[K.P_BASE_GATE] = M.BASELINE_GATE_P
        p[K.P_DECISION] = float(DECISIONS.index(s.decision))
        p[K.P_SWITCH_P] = s.switch_p
        p[K.P_EVIDENCE] = s.evidence_weight
        self._params = p
        self._coef = butter2_lowpass(M.FEATURE_CUTOFF_HZ, fs)
        if model is None:  # the shipped model: its arrays checked once per process, copied per classifier
            self.model, arrays, trans, class_prior = _shipped_arrays(s.switch_p)
            self._mu, self._scale, self._w, self._b = (a.copy() for a in arrays)
        else:
            self.model = model
            self._mu, self._scale, self._w, self._b = model.arrays()
            trans, class_prior = model.class_hmm_arrays(s.switch_p)
        self._params[K.P_BASELINE] = 0.0 if self.model.baseline_prior is None else 1.0
        self._params[K.P_WINDOW] = float(self.model.window)
        self._params[K.P_TRANS : K.P_TRANS + K.N_CLASSES * K.N_CLASSES] = trans
        self._params[K.P_CLASS_PRIOR : K.P_CLASS_PRIOR + K.N_CLASSES] = class_prior
        self._ring = np.zeros((int((s.max_stride_s + s.max_contact_delay_s) * fs) + 16, K.N_RING))
        self._hist = np.zeros((self.model.window, K.N_FEATURES))
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (filters, strides, state, counters, runner baseline)."""
        st = np.zeros(K.N_STATE)
        st[K.S_PREV_C] = -1e9
        st[K.S_LAST_C] = -np.inf
        st[K.S_LAST_T] = -np.inf
        st[K.S_AXIS : K.S_AXIS + 3] = 1.0 / np.sqrt(3.0)
        st[K.S_CPOST] = 1.0  # the class HMM starts on smooth ground, as the two-state one does
        if self.model.baseline_prior is not None:
            st[K.S_BASE : K.S_BASE + K.N_FEATURES] = self.model.baseline_prior
        self._state = st
        self._ring[:] = 0.0
        self._hist[:] = 0.0

    @property
    def terrain(self) -> int:
        """Current state: 0 smooth, 1 technical."""
        return int(self._state[K.S_TERRAIN])

    @property
    def baseline(self) -> np.ndarray:
        """The runner baseline of each feature now (a copy; columns :data:`FEATURE_NAMES`)."""
        return self._state[K.S_BASE : K.S_BASE + K.N_FEATURES].copy()

    @property
    def flags(self) -> TerrainFlags:
        """Counters of repaired samples, gaps, samples, contacts and late contacts."""
        st = self._state
        return TerrainFlags(
            repaired_samples=int(st[K.S_REPAIRED]),
            gaps=int(st[K.S_N_GAPS]),
            samples=int(st[K.S_N]),
            contacts=int(st[K.S_N_CONTACTS]),
            late_contacts=int(st[K.S_LATE]),
        )

    def update(
        self,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyro_rads: np.ndarray | None = None,
        contacts_t_s: np.ndarray | None = None,
    ) -> TerrainResults:
        """Process one block and the contacts the step detector decided in it.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s, increasing (continuing the previous block).
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s², gravity included.
        gyro_rads : numpy.ndarray, optional
            Gyroscope, shape ``(n, 3)``, rad/s; required when built with ``has_gyro=True``.
        contacts_t_s : numpy.ndarray, optional
            Contact times decided in this block, s, increasing, after every contact of earlier
            blocks and not later than the block's last sample.

        Returns
        -------
        TerrainResults
            One row per contact given.

        Raises
        ------
        ValidationError
            On wrong shapes, a missing gyroscope block, or contacts out of order or in the future.
        """
        t, acc, gyro = self._check_block(t_s, acc_mps2, gyro_rads)
        c = _EMPTY if contacts_t_s is None else as_float64(contacts_t_s, "contacts_t_s")
        if c.ndim != 1:
            raise ValidationError(f"contacts_t_s has shape {c.shape}; expected (c,)")
        return TerrainResults._from_rows(self._update_rows(t, acc, gyro, c))

    # -- the raw path (dsp.pipeline reads the kernel's rows without building results per block) ------
    def _check_block(
        self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return a block as contiguous float64 arrays (gyro None without a gyroscope), or raise."""
        return check_block(t_s, acc_mps2, gyro_rads, self.has_gyro, "classifier")

    def _update_rows(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, c: np.ndarray
    ) -> np.ndarray:
        """Process a checked block and its contact times (contiguous float64, 1-D).

        ``gyro`` is ignored without a gyroscope (the kernel then reads zeros).

        Returns
        -------
        numpy.ndarray
            One row per contact (columns ``_terrain_kernels.O_*``).

        Raises
        ------
        ValidationError
            For contacts out of order or in the future.
        """
        n = t.shape[0]
        if not self.has_gyro:  # the kernel reads zeros (the pipeline never gets here: no model without one)
            gyro = np.zeros((n, 3))
        if c.size:
            if not finite_and_increasing(c):
                raise ValidationError("contacts_t_s must be finite and strictly increasing")
            if c[0] <= self._state[K.S_LAST_C]:
                raise ValidationError(
                    f"contact at {c[0]:.3f} s is not after the last one ({self._state[K.S_LAST_C]:.3f} s); "
                    "pass each contact once, in time order"
                )
            newest = t[-1] if n else self._state[K.S_LAST_T]
            if c[-1] > newest:
                raise ValidationError(
                    f"contact at {c[-1]:.3f} s is after the newest sample ({newest:.3f} s); "
                    "pass contacts with the block that decided them"
                )
            self._state[K.S_LAST_C] = c[-1]
        out = np.empty((c.shape[0], K.N_OUT))
        k = K._terrain_block(
            t,
            acc,
            gyro,
            c,
            self._params,
            self._coef,
            self._mu,
            self._scale,
            self._w,
            self._b,
            self._state,
            self._ring,
            self._hist,
            out,
        )
        return out[:k]


def classify_terrain(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    gyro_rads: np.ndarray | None,
    contacts_t_s: np.ndarray,
    *,
    sampling_rate_hz: float,
    placement: str,
    settings: TerrainSettings | None = None,
    model: TerrainModel | None = None,
) -> TerrainResults:
    """Classify the terrain of every stride of a whole recording (the batch form).

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, s.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s².
    gyro_rads : numpy.ndarray or None
        Gyroscope, shape ``(n, 3)``, rad/s.
    contacts_t_s : numpy.ndarray
        Contact times of the recording (e.g. ``detect_steps(...).t_s``), s, increasing.
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``lower_back``, ``foot`` or ``shank`` (or an alias).
    settings : TerrainSettings, optional
        Thresholds, dwell and history.
    model : TerrainModel, optional
        Classifier parameters; default the shipped model.

    Returns
    -------
    TerrainResults
        One row per contact; identical to streaming the same samples and contacts in blocks.
    """
    clf = TerrainClassifier(
        sampling_rate_hz=sampling_rate_hz,
        placement=placement,
        has_gyro=gyro_rads is not None,
        settings=settings,
        model=model,
    )
    return clf.update(t_s, acc_mps2, gyro_rads, contacts_t_s)
