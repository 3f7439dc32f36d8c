"""Stride length, speed and distance per contact: streaming objects and a batch function.

Two estimators share one API (:class:`FootStrideEstimator` for a shoe sensor with a gyroscope,
:class:`TrunkStrideEstimator` for the lower back): feed them the blocks of samples that the step
detector gets, together with the contacts it produced in the same block, and they return one
row per contact as soon as its stride is known.  ``estimate_strides`` is the batch form; feeding
any chunking to an estimator (then calling ``flush``) gives exactly its result.  The methods are
described in ``docs/stride.md``.

Examples
--------
>>> import numpy as np
>>> from dsp.stride import FootStrideEstimator
>>> est = FootStrideEstimator(sampling_rate_hz=200.0)
>>> t = np.arange(400) / 200.0
>>> acc = np.zeros((400, 3)); acc[:, 2] = 9.81
>>> res = est.update(t, acc, np.zeros((400, 3)), np.array([]))
>>> res.n_strides
0
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np

from dsp import _stride_kernels as K
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

#: The zero-length columns of every empty :class:`StrideResults` (shared: they hold nothing).
_EMPTY = np.zeros(0)
_EMPTY_BOOL = np.zeros(0, dtype=bool)
#: The gyroscope block the kernels get without a gyroscope (zero-length: nothing reads or writes it).
_NO_GYRO = np.zeros((0, 3))


@dataclass(frozen=True)
class StrideSettings:
    """Constants of the stride estimators (physics and sensor facts, not per-recording fits).

    Parameters
    ----------
    stance_window_s : float
        Foot: window of the stance statistic (SHOE), s.
    stance_lookahead_s : float
        Foot: how far ahead a stance anchor must stay the quietest sample, s (adds to the latency).
    stance_lookback_s : float
        Foot: how far back a stance anchor must be the quietest sample, s.
    accel_noise_mps2 : float
        Foot: accelerometer scale of the stance statistic, m/s².
    gyro_noise_rads : float
        Foot: gyroscope scale of the stance statistic, rad/s.
    still_threshold : float
        Foot: stance statistic below which the foot is at rest, 1.
    anchor_threshold : float
        Foot: largest stance statistic of a running stance anchor (the quietest sample of its
        neighbourhood), 1.
    anchor_max_tilt_deg : float
        Foot: a running stance anchor whose gravity direction disagrees more than this with the
        attitude carried through the swing is not a stance (mid-swing lull), degrees.
    min_swing_s : float
        Foot: shortest motion between two stances that is a stride, s.
    max_swing_s : float
        Foot: longest motion between two stances that still gives a stride, s.
    tilt_time_constant_s : float
        Foot: time constant of the gravity correction of the attitude at rest, s.
    anchor_tilt_gain : float
        Foot: fraction of the tilt error removed at a running stance anchor, 1.
    gravity_time_constant_s : float
        Foot: time constant of the gravity-magnitude estimate while at rest, s.
    gap_s : float
        A gap in time longer than this restarts the estimator, s.
    landing_before_contact_s : float
        Foot: the stance that ends a stride may start this long before its contact, s.
    landing_after_contact_s : float
        Foot: ... and this long after it, s.
    max_stride_time_s : float
        Longest stride time that gives a speed, s.
    leg_length_ratio : float
        Lower back: pendulum length (sensor height above the ground) per metre of body height, 1.
    default_height_m : float
        Lower back: body height assumed when none is given, m.
    pendulum_k_walk : float
        Lower back: factor ``K`` of the walking pendulum model, 1 (Zijlstra & Hof 2003: 1.25).
    pendulum_k_run : float
        Lower back: factor ``K`` of the running model, 1 (see ``docs/stride.md``).
    scale_walk : float
        Lower back: the runner's calibration factor for walking (``[stride] scale_walk`` of the
        profile, written by ``cadence-coach calibrate``), 1.
    scale_run : float
        Lower back: the same for running, 1.
    trunk_tilt_time_constant_s : float
        Lower back with gyroscope: time constant of the accelerometer correction of the attitude, s.
    gravity_cutoff_hz : float
        Lower back without gyroscope: low-pass that separates gravity from motion, Hz.
    min_step_s : float
        Lower back: shortest step that gets a length, s.
    max_step_s : float
        Lower back: longest step that gets a length (longer is a pause), s.
    contact_latency_s : float
        Contacts reach the estimator at most this long after they happen, s (the step detector
        decides within 0.15 s); a stride no contact claimed is reported on its own after it.
    min_stride_without_contact_m : float
        Foot: shortest stride reported without a contact (shorter ones are shuffles), m.
    landing_lag_s : float
        Foot: initial guess of the delay from a contact to the stance that follows, s (learned);
        a stride reported without a contact gets its landing time minus this lag as contact time.
    sensor_height_m : float
        Foot: height of the sensor's centre above the floor with the shoe flat, m.  The stance
        foot rolls on the ground (heel, then ball of the foot), so the sensor is not at rest at a
        stance: it moves at ``ω × (0, 0, h)``, horizontally, ``h`` times the foot's tilt rate.
        That rolling velocity, not zero, is the zero-velocity update (0 for a sensor at the
        ground contact).  On the forefoot laces or the heel counter, about 0.07 m.
    """

    stance_window_s: float = 0.03
    stance_lookahead_s: float = 0.25
    stance_lookback_s: float = 0.35
    accel_noise_mps2: float = 1.0
    gyro_noise_rads: float = 0.5
    still_threshold: float = 0.25
    anchor_threshold: float = 40.0
    anchor_max_tilt_deg: float = 35.0
    min_swing_s: float = 0.2
    max_swing_s: float = 2.0
    tilt_time_constant_s: float = 0.05
    anchor_tilt_gain: float = 1.0
    gravity_time_constant_s: float = 0.5
    gap_s: float = 0.5
    landing_before_contact_s: float = 0.15
    landing_after_contact_s: float = 0.6
    max_stride_time_s: float = 2.5
    leg_length_ratio: float = 0.53
    default_height_m: float = 1.75
    pendulum_k_walk: float = 1.25
    pendulum_k_run: float = 1.25
    scale_walk: float = 1.0
    scale_run: float = 1.0
    trunk_tilt_time_constant_s: float = 1.0
    gravity_cutoff_hz: float = 0.5
    min_step_s: float = 0.2
    max_step_s: float = 1.2
    contact_latency_s: float = 0.2
    min_stride_without_contact_m: float = 0.3
    landing_lag_s: float = 0.15
    sensor_height_m: float = 0.07


@dataclass
class StrideResults:
    """Stride estimates, one row per contact, as parallel arrays.

    Attributes
    ----------
    t_contact_s : numpy.ndarray
        Contact time, s (as passed in).
    stride_length_m : numpy.ndarray
        Horizontal length of the stride that ends at this contact, m; NaN when unknown.
    step_length_m : numpy.ndarray
        Length of the step that ends at this contact, m (lower back); NaN for a foot sensor.  At a
        bout's first contact an estimate: the bout's second step (see ``TrunkStrideEstimator``).
    height_change_m : numpy.ndarray
        Height gained over the stride, m (+ up; foot sensor); NaN at the lower back.
    speed_mps : numpy.ndarray
        Speed over the stride, m/s; NaN when unknown.
    ready_at_s : numpy.ndarray
        Time of the newest sample when the result was decided, s (the streaming latency is
        ``ready_at_s - t_contact_s`` at least; a contact that arrives later is answered on arrival).
    is_run : numpy.ndarray
        1.0 running, 0.0 walking, NaN when not known.
    has_contact : numpy.ndarray
        True for the row of a contact that was passed in; False for a stride the foot estimator
        found on its own (the step detector missed its contact: ``t_contact_s`` is then estimated
        from the stance that ended the stride).  Always True at the lower back.
    """

    t_contact_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stride_length_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    step_length_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    height_change_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    speed_mps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ready_at_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    is_run: np.ndarray = field(default_factory=lambda: np.zeros(0))
    has_contact: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def n_strides(self) -> int:
        """Number of rows."""
        return int(self.t_contact_s.shape[0])

    @classmethod
    def _from_rows(cls, rows: np.ndarray) -> StrideResults:
        if not rows.shape[0]:  # most blocks: nothing found
            # zero-length arrays hold nothing to change: every empty result shares the same ones
            # (the default factories cost eight array allocations per block)
            e = _EMPTY
            return cls(e, e, e, e, e, e, e, _EMPTY_BOOL)
        cols = rows.T.copy()  # one copy; each field is a contiguous row of it
        return cls(
            t_contact_s=cols[K.O_T],
            stride_length_m=cols[K.O_STRIDE],
            step_length_m=cols[K.O_STEP],
            height_change_m=cols[K.O_DZ],
            speed_mps=cols[K.O_SPEED],
            ready_at_s=cols[K.O_READY],
            is_run=cols[K.O_RUN],
            has_contact=cols[K.O_HAS_CONTACT] > 0.5,
        )

    @classmethod
    def concatenate(cls, parts: list[StrideResults]) -> StrideResults:
        """Join the results of consecutive blocks.

        Parameters
        ----------
        parts : list of StrideResults
            Results in time order.

        Returns
        -------
        StrideResults
            One result holding every row.
        """
        return concatenate_results(cls, parts)


@dataclass(frozen=True)
class StrideFlags:
    """What an estimator absorbed so far (read-only counters).

    Attributes
    ----------
    samples : int
        Samples processed.
    repaired_samples : int
        Samples with NaN (or an all-zero accelerometer) replaced by the last good one.
    gaps : int
        Gaps in time that restarted the estimator.
    """

    samples: int
    repaired_samples: int
    gaps: int


def _per_sample_gain(time_constant_s: float, fs: float) -> float:
    return 1.0 - math.exp(-1.0 / (fs * time_constant_s)) if time_constant_s > 0 else 1.0


def _block_arrays(
    t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None, need_gyro: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a checked block (a given gyroscope block is always used; ``(0, 3)`` without one)."""
    t, acc, gyro = check_block(t_s, acc_mps2, gyro_rads, need_gyro or gyro_rads is not None, "estimator")
    return t, acc, _NO_GYRO if gyro is None else gyro


def _no_contacts(contacts_t_s: np.ndarray, contacts_is_run: np.ndarray | None) -> bool:
    """Tell whether the block brings no contacts (nor gait flags): then the queue stays as it is."""
    return (
        type(contacts_t_s) is np.ndarray
        and contacts_t_s.size == 0
        and (contacts_is_run is None or (type(contacts_is_run) is np.ndarray and contacts_is_run.size == 0))
    )


def _contact_rows(contacts_t_s: np.ndarray, contacts_is_run: np.ndarray | None) -> np.ndarray:
    c = as_float64(contacts_t_s, "contacts_t_s")
    if c.ndim > 1:
        raise ValidationError(f"contacts_t_s has shape {c.shape}; expected (c,), one time per contact")
    c = c.reshape(-1)
    n = c.shape[0]
    r = None
    if contacts_is_run is not None:
        r = np.asarray(contacts_is_run).reshape(-1)
        if r.shape != c.shape:
            raise ValidationError(
                f"contacts_is_run has {r.shape[0]} entries for {n} contacts; pass one per contact"
            )
    if n == 1:  # the usual block with a contact: one row, without column-slice assignments
        rows = np.empty((1, K.N_CONTACT_COLS))
        rows[0, K.C_T] = c[0]
        rows[0, K.C_RUN] = -1.0 if r is None else float(bool(r[0]))  # 1.0 running, 0.0 walking
    else:
        rows = np.empty((n, K.N_CONTACT_COLS))
        rows[:, K.C_T] = c
        rows[:, K.C_RUN] = -1.0 if r is None else r.astype(bool)  # 1.0 running, 0.0 walking
    if n and not finite_and_increasing(c):
        _refuse_contact_times(bool(np.all(np.isfinite(c))))
    return rows


def _refuse_contact_times(all_finite: bool) -> NoReturn:
    """Raise the error for contact times that are not finite and strictly increasing."""
    if not all_finite:
        raise ValidationError("contacts_t_s holds NaN or inf; pass the contact times of the step detector")
    raise ValidationError("contacts_t_s must be strictly increasing (the step detector's order)")


def _contact_rows_of(contacts_t_s: list[float], contacts_run: list[float]) -> np.ndarray:
    """Contact rows from plain lists: the step detector's contact times and run flags (1.0, 0.0).

    The pipeline's path: the same rows and checks as :func:`_contact_rows` of the same contacts as
    arrays (``is_run = run > 0.5``), without building the arrays first.
    """
    n = len(contacts_t_s)
    rows = np.empty((n, K.N_CONTACT_COLS))
    if n > 16:  # a batch (a whole recording in one block): columns at once, checked by numpy
        rows[:, K.C_T] = contacts_t_s
        rows[:, K.C_RUN] = np.greater(contacts_run, 0.5)  # 1.0 running, 0.0 walking
        c = rows[:, K.C_T]
        finite = bool(np.isfinite(c).all())
        if not (finite and bool((c[1:] > c[:-1]).all())):
            _refuse_contact_times(finite)
        return rows
    for i in range(n):
        rows[i, K.C_T] = contacts_t_s[i]
        rows[i, K.C_RUN] = 1.0 if contacts_run[i] > 0.5 else 0.0  # 1.0 running, 0.0 walking
    if n:
        finite = all(map(math.isfinite, contacts_t_s))
        if not (finite and all(a < b for a, b in itertools.pairwise(contacts_t_s))):
            _refuse_contact_times(finite)
    return rows


class _StreamingBase:
    """Queue of pending contacts shared by both estimators."""

    def _queue(self, rows: np.ndarray) -> np.ndarray:
        if rows.shape[0] and self._pending.shape[0]:
            last = self._pending[-1, K.C_T]
            if rows[0, K.C_T] <= last:
                raise ValidationError(
                    f"contact at {rows[0, K.C_T]:.3f} s is not after the previous one ({last:.3f} s); "
                    "pass each contact once, in time order"
                )
        if rows.shape[0] and self._n_done and rows[0, K.C_T] <= self._last_done_t:
            raise ValidationError(
                f"contact at {rows[0, K.C_T]:.3f} s is not after the last answered one "
                f"({self._last_done_t:.3f} s); pass each contact once, in time order"
            )
        if not rows.shape[0]:
            return self._pending
        if not self._pending.shape[0]:
            return rows  # fresh and contiguous (from _contact_rows)
        return np.ascontiguousarray(np.vstack([self._pending, rows]))

    def _finish(self, queue: np.ndarray, head: int, out: np.ndarray, n_out: int) -> np.ndarray:
        if head:
            self._pending = np.ascontiguousarray(queue[head:])
            self._n_done += head
            self._last_done_t = float(queue[head - 1, K.C_T])
        else:
            self._pending = queue  # contiguous already (the pending queue, or built by _queue)
        return out[:n_out]

    def _run(self, t, acc, gyro, queue, final: bool) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- the raw path (dsp.pipeline reads the kernels' rows without building results per block) -----
    def _update_rows(
        self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, contacts: np.ndarray | None
    ) -> np.ndarray:
        """Process a checked block (contiguous float64) and its contact rows (None: no contacts).

        Returns
        -------
        numpy.ndarray
            The rows the block completed (columns ``_stride_kernels.O_*``).
        """
        queue = self._pending if contacts is None else self._queue(contacts)
        return self._run(t, acc, gyro, queue, False)

    def _update(
        self, t_s, acc_mps2, gyro_rads, contacts_t_s, contacts_is_run, need_gyro: bool
    ) -> StrideResults:
        """Check a block, queue its contacts and run it: the public ``update`` of both estimators."""
        t, acc, gyro = _block_arrays(t_s, acc_mps2, gyro_rads, need_gyro=need_gyro)
        # most blocks bring no contact: nothing to queue
        contacts = (
            None
            if _no_contacts(contacts_t_s, contacts_is_run)
            else _contact_rows(contacts_t_s, contacts_is_run)
        )
        return StrideResults._from_rows(self._update_rows(t, acc, gyro, contacts))

    def _flush_rows(self) -> np.ndarray:
        """Answer every queued contact now; return the rows (columns ``_stride_kernels.O_*``)."""
        return self._run(_EMPTY, _NO_GYRO, _NO_GYRO, self._pending, True)

    def flush(self) -> StrideResults:
        """Answer every queued contact now (end of the recording); unknown strides are NaN.

        Returns
        -------
        StrideResults
            The remaining rows (none on a second call: the queue is empty).
        """
        return StrideResults._from_rows(self._flush_rows())


#: The estimators' settings when none are given (frozen: one instance serves every estimator; building it, and
#: running its checks, was a sizeable part of setting up a pipeline for a short recording).
_DEFAULT_SETTINGS = StrideSettings()


class FootStrideEstimator(_StreamingBase):
    """Streaming stride estimator for a shoe-mounted IMU (accelerometer and gyroscope).

    Strapdown navigation with zero-velocity updates: the attitude is integrated from the
    gyroscope and pulled towards gravity whenever the foot is at rest, the specific force is
    rotated to the navigation frame and gravity removed, velocity is integrated and its drift
    removed linearly between stances, and the position at each stance gives the stride
    (horizontal length and height change).  Each stride is attached to the contact that ends it.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz (40–1000).
    settings : StrideSettings, optional
        Constants; the defaults need no per-runner calibration.

    Notes
    -----
    Works in any mounting orientation (the vertical comes from gravity at stance; the heading
    is never needed).  A stride is known a little after the stance that ends it starts
    (``stance_lookahead_s`` plus half the stance window).  The first call compiles the kernel
    (or loads it from the numba cache).
    """

    placement = "foot"

    def __init__(self, *, sampling_rate_hz: float, settings: StrideSettings | None = None) -> None:
        self.sampling_rate_hz = validate_rate(sampling_rate_hz)
        self.settings = _DEFAULT_SETTINGS if settings is None else settings
        s = self.settings
        fs = self.sampling_rate_hz
        p = np.zeros(K.N_FOOT_PARAMS)
        w = max(3, round(s.stance_window_s * fs))
        if w % 2 == 0:
            w += 1
        delay = max(w // 2, round(s.stance_lookahead_s * fs))
        p[K.FP_FS] = fs
        p[K.FP_W] = w
        p[K.FP_DELAY] = delay
        p[K.FP_LOOKBACK] = max(1, round(s.stance_lookback_s * fs))
        p[K.FP_INV_VAR_A] = 1.0 / s.accel_noise_mps2**2
        p[K.FP_INV_VAR_W] = 1.0 / s.gyro_noise_rads**2
        p[K.FP_GAMMA_STILL] = s.still_threshold
        p[K.FP_GAMMA_ANCHOR] = s.anchor_threshold
        p[K.FP_MIN_SWING_S] = s.min_swing_s
        p[K.FP_TILT_GAIN] = _per_sample_gain(s.tilt_time_constant_s, fs)
        p[K.FP_G_GAIN] = _per_sample_gain(s.gravity_time_constant_s, fs)
        p[K.FP_GAP_S] = s.gap_s
        p[K.FP_MATCH_BEFORE_S] = s.landing_before_contact_s
        p[K.FP_MATCH_AFTER_S] = s.landing_after_contact_s
        p[K.FP_MAX_STRIDE_S] = s.max_stride_time_s
        p[K.FP_MAX_SWING_S] = s.max_swing_s
        p[K.FP_ANCHOR_TILT_GAIN] = s.anchor_tilt_gain
        p[K.FP_ANCHOR_MAX_TILT_RAD] = math.radians(s.anchor_max_tilt_deg)
        p[K.FP_CONTACT_LATENCY_S] = s.contact_latency_s
        p[K.FP_LAG_GAIN] = 0.2
        p[K.FP_MIN_ALONE_M] = s.min_stride_without_contact_m
        p[K.FP_SENSOR_HEIGHT_M] = s.sensor_height_m
        self._params = p
        self._samples_per_stride = max(1, math.floor(s.min_swing_s * fs))
        self._ring = np.zeros((int(p[K.FP_LOOKBACK] + delay + w + 8), K.N_FOOT_RING))
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (navigation, landings, queued contacts)."""
        self._state = np.zeros(K.N_FOOT_STATE)
        self._state[K.FS_Q] = 1.0
        self._state[K.FS_G] = 9.81
        self._state[K.FS_LAND_LAG] = self.settings.landing_lag_s
        self._state[K.FS_T_NAV] = -1e300
        self._ring[:] = 0.0
        self._records = np.zeros((K.N_RECORDS, K.N_REC_COLS))
        self._pending = np.zeros((0, K.N_CONTACT_COLS))
        self._n_done = 0
        self._last_done_t = -math.inf

    @property
    def pending_contacts(self) -> int:
        """Contacts received whose stride is not known yet."""
        return int(self._pending.shape[0])

    @property
    def flags(self) -> StrideFlags:
        """Counters of samples, repaired samples and gaps."""
        st = self._state
        return StrideFlags(int(st[K.FS_N]), int(st[K.FS_REPAIRED]), int(st[K.FS_N_GAPS]))

    def _run(self, t, acc, gyro, queue, final: bool) -> np.ndarray:
        # rows: the queued contacts, plus strides without a contact (unsettled ones and those this
        # block can complete: each needs at least min_swing_s of motion and one stance sample)
        out = np.empty((queue.shape[0] + K.N_RECORDS + t.shape[0] // self._samples_per_stride + 1, K.N_OUT))
        head, n_out = K._foot_block(
            t, acc, gyro, queue, self._params, self._state, self._ring, self._records, out, final
        )
        return self._finish(queue, head, out, n_out)

    def update(
        self,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyro_rads: np.ndarray | None,
        contacts_t_s: np.ndarray,
        contacts_is_run: np.ndarray | None = None,
    ) -> StrideResults:
        """Process one block and return the strides it completed.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s, increasing (continuing the previous block).
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s², gravity included.
        gyro_rads : numpy.ndarray
            Gyroscope, shape ``(n, 3)``, rad/s.
        contacts_t_s : numpy.ndarray
            Contact times the step detector produced for this same block, s (may be empty).
        contacts_is_run : numpy.ndarray, optional
            The detector's gait flag per contact (copied to the output).

        Returns
        -------
        StrideResults
            One row per contact whose stride became known (possibly a contact of an earlier block).

        Raises
        ------
        ValidationError
            On wrong shapes, a missing gyroscope, or contacts out of order.
        """
        return self._update(t_s, acc_mps2, gyro_rads, contacts_t_s, contacts_is_run, need_gyro=True)


class TrunkStrideEstimator(_StreamingBase):
    """Streaming step and stride length for a lower-back (sacrum, belt) IMU.

    The vertical acceleration of the sensor (gyro-aided attitude when a gyroscope is there,
    else the accelerometer projected on its low-passed gravity) is integrated twice over each
    step, between consecutive contacts, with the per-step mean and linear trend removed; the
    excursion ``h`` of the sensor gives the step length through the inverted-pendulum model
    (walking) or the running model, and the stride is the sum of the last two steps.  With a
    gyroscope, a turn shortens both: the step is the chord of its arc and the stride the
    resultant of two steps that differ in heading (heading change taken over the stride).

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz (40–1000).
    has_gyro : bool
        Whether the blocks will carry gyroscope data.
    runner_height_m : float, optional
        Body height, m; the pendulum length is ``leg_length_ratio`` times it.  Without it,
        ``default_height_m`` is used.
    leg_length_m : float, optional
        Pendulum length (sensor height above the ground), m; overrides ``runner_height_m``.
    settings : StrideSettings, optional
        Constants (its ``scale_walk`` and ``scale_run`` are the runner's calibration factors).

    Notes
    -----
    A contact's step is known as soon as the samples up to it have arrived, so the answer
    comes with the contact itself (no extra latency), except for a bout's first contact (none
    within ``max_step_s`` before it): it has no trunk motion to measure, and is answered with the
    bout's second contact, with the second step's length as its estimate (``docs/stride.md``,
    "A bout's first step").  Heights change nothing here
    (``height_change_m`` is NaN: a constant vertical velocity is invisible to an accelerometer).
    """

    placement = "lower_back"

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        has_gyro: bool,
        runner_height_m: float | None = None,
        leg_length_m: float | None = None,
        settings: StrideSettings | None = None,
    ) -> None:
        self.sampling_rate_hz = validate_rate(sampling_rate_hz)
        self.settings = _DEFAULT_SETTINGS if settings is None else settings
        self.has_gyro = validate_flag("has_gyro", has_gyro)
        s = self.settings
        fs = self.sampling_rate_hz
        if leg_length_m is None:
            height = s.default_height_m if runner_height_m is None else float(runner_height_m)
            if not (0.8 <= height <= 2.5):
                raise ValidationError(
                    f"runner_height_m={height:g} is outside 0.8-2.5 m; give the height in metres"
                )
            leg_length_m = s.leg_length_ratio * height
        leg = float(leg_length_m)
        if not (0.3 <= leg <= 1.5):
            raise ValidationError(
                f"leg_length_m={leg:g} is outside 0.3-1.5 m; give the sensor height in metres"
            )
        self.leg_length_m = leg
        p = np.zeros(K.N_TRUNK_PARAMS)
        p[K.TP_FS] = fs
        p[K.TP_HAS_GYRO] = 1.0 if self.has_gyro else 0.0
        p[K.TP_TILT_GAIN] = _per_sample_gain(s.trunk_tilt_time_constant_s, fs)
        p[K.TP_MAX_STEP_S] = s.max_step_s
        p[K.TP_MIN_STEP_S] = s.min_step_s
        p[K.TP_LEG_M] = leg
        p[K.TP_K_WALK] = s.pendulum_k_walk * s.scale_walk
        p[K.TP_K_RUN] = s.pendulum_k_run * s.scale_run
        p[K.TP_GAP_S] = s.gap_s
        p[K.TP_MAX_STRIDE_S] = s.max_stride_time_s
        self._params = p
        self._coef = butter2_lowpass(s.gravity_cutoff_hz, fs)
        self._ring = np.zeros((int((s.max_step_s + s.contact_latency_s + 0.2) * fs) + 8, K.N_TRUNK_RING))
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far (attitude, steps, queued contacts)."""
        self._held: np.ndarray | None = None  # a bout's first contact, waiting for its second step
        self._last_contact_t = -math.inf  # the newest contact answered by the kernel, s
        self._state = np.zeros(K.N_TRUNK_STATE)
        self._state[K.TS_Q] = 1.0
        self._state[K.TS_PREV_C] = -1e9
        self._state[K.TS_PREV2_C] = -1e9
        self._state[K.TS_PREV_STEP] = np.nan
        self._state[K.TS_PREV_PSI] = np.nan
        self._state[K.TS_PREV2_PSI] = np.nan
        self._state[K.TS_T_NOW] = -1e300
        self._ring[:] = 0.0
        self._pending = np.zeros((0, K.N_CONTACT_COLS))
        self._n_done = 0
        self._last_done_t = -math.inf

    @property
    def pending_contacts(self) -> int:
        """Contacts received whose step is not known yet (a bout's first waits for its second)."""
        return int(self._pending.shape[0]) + (self._held is not None)

    @property
    def flags(self) -> StrideFlags:
        """Counters of samples, repaired samples and gaps."""
        st = self._state
        return StrideFlags(int(st[K.TS_N]), int(st[K.TS_REPAIRED]), int(st[K.TS_N_GAPS]))

    def _run(self, t, acc, gyro, queue, final: bool) -> np.ndarray:
        if not self.has_gyro:
            gyro = _NO_GYRO
        out = np.empty((queue.shape[0], K.N_OUT))
        head, n_out = K._trunk_block(
            t, acc, gyro, self.has_gyro, queue, self._params, self._coef, self._state, self._ring, out, final
        )
        rows = self._finish(queue, head, out, n_out)
        if not rows.shape[0] and not (final and self._held is not None):
            return rows  # most blocks: nothing answered, nothing held
        return self._first_steps(rows, final)

    def _first_steps(self, rows: np.ndarray, final: bool) -> np.ndarray:
        """Give each bout's first contact a step length, from its second step (one step later).

        The kernel measures a step from the trunk's motion since the previous contact, so the
        first contact after a pause (no contact within ``max_step_s`` before it) has no step.
        That row is held back until the next contact is answered: if the next step is measured
        (it started at the held contact), the first step is taken to be as long as the second one,
        with the factor ``K`` of its own gait, so that the distance counts it; the second
        contact's stride stays unknown (half of it would be the estimate).  Otherwise (a bout of
        one step, or the end of the input) the held row is released unchanged.  The rows stay one
        per contact, in order, and depend only on the kernel's rows, so any chunking gives the
        batch result.

        Parameters
        ----------
        rows : numpy.ndarray
            The rows the kernel answered now (columns ``_stride_kernels.O_*``).
        final : bool
            End of the input: release a held row.

        Returns
        -------
        numpy.ndarray
            The rows to report now.
        """
        max_step_s = self._params[K.TP_MAX_STEP_S]
        out = []
        for r in rows:
            t = r[K.O_T]
            starts_bout = t - self._last_contact_t > max_step_s
            self._last_contact_t = t
            held = self._held
            if held is not None:
                self._held = None
                if math.isfinite(r[K.O_STEP]):
                    self._fill_first_step(held, r)
                out.append(held)
            if starts_bout and not math.isfinite(r[K.O_STEP]):
                self._held = r.copy()
            else:
                out.append(r)
        if final and self._held is not None:
            out.append(self._held)
            self._held = None
        if not out:
            return rows[:0]
        return np.ascontiguousarray(np.vstack(out))

    def _fill_first_step(self, first: np.ndarray, second: np.ndarray) -> None:
        """Set the held first row's step (edited in place) from the second row's."""
        p = self._params
        run2 = second[K.O_RUN] == 1.0
        run1 = first[K.O_RUN] == 1.0 if math.isfinite(first[K.O_RUN]) else run2
        # the second step is K(gait 2) * chord (no turn correction without a step before it):
        # the first step gets the same chord with the factor of its own gait
        k1 = p[K.TP_K_RUN] if run1 else p[K.TP_K_WALK]
        k2 = p[K.TP_K_RUN] if run2 else p[K.TP_K_WALK]
        step1 = second[K.O_STEP] * (k1 / k2)
        first[K.O_STEP] = step1
        first[K.O_READY] = second[K.O_READY]
        if not math.isfinite(first[K.O_RUN]):
            first[K.O_RUN] = second[K.O_RUN]
        # The second contact's stride is left unknown, as before: half of it would be this guess,
        # and a stride is a measurement (the coach, the grade and the scores read it). The estimate
        # only gives the step its share of the distance.

    def update(
        self,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyro_rads: np.ndarray | None,
        contacts_t_s: np.ndarray,
        contacts_is_run: np.ndarray | None = None,
    ) -> StrideResults:
        """Process one block and return the steps it completed.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s, increasing (continuing the previous block).
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s², gravity included.
        gyro_rads : numpy.ndarray or None
            Gyroscope, shape ``(n, 3)``, rad/s; required when built with ``has_gyro=True``.
        contacts_t_s : numpy.ndarray
            Contact times (both feet) the step detector produced for this same block, s.
        contacts_is_run : numpy.ndarray, optional
            The step detector's gait flag per contact (``is_run`` of its steps).  The estimator
            does not tell the gait itself (one rule, the detector's: ``docs/gait.md``): without
            the flag ``is_run`` is NaN, which is allowed only while the walking and running
            factors are equal (``pendulum_k_* × scale_*``; true of the defaults).

        Returns
        -------
        StrideResults
            One row per contact whose step became known.

        Raises
        ------
        ValidationError
            On wrong shapes, a missing gyroscope, contacts out of order, or contacts without
            ``contacts_is_run`` when the walking and running factors differ.
        """
        if (
            contacts_is_run is None
            and self._params[K.TP_K_WALK] != self._params[K.TP_K_RUN]
            and np.size(contacts_t_s) > 0
        ):
            raise ValidationError(
                "contacts_is_run is required when the walking and running stride factors differ "
                f"(scale_walk={self.settings.scale_walk:g}, scale_run={self.settings.scale_run:g}); "
                "pass the step detector's is_run"
            )
        return self._update(t_s, acc_mps2, gyro_rads, contacts_t_s, contacts_is_run, need_gyro=self.has_gyro)


def estimate_strides(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    gyro_rads: np.ndarray | None,
    contacts_t_s: np.ndarray,
    *,
    sampling_rate_hz: float,
    placement: str,
    runner_height_m: float | None = None,
    settings: StrideSettings | None = None,
    contacts_is_run: np.ndarray | None = None,
) -> StrideResults:
    """Estimate the stride of every contact of a whole recording (batch form of the estimators).

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, s.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s².
    gyro_rads : numpy.ndarray or None
        Gyroscope, shape ``(n, 3)``, rad/s (required for a foot).
    contacts_t_s : numpy.ndarray
        Every contact time of the step detector, s.
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``foot`` or ``lower_back`` (or an alias).
    runner_height_m : float, optional
        Body height, m (lower back; sets the pendulum length).
    settings : StrideSettings, optional
        Constants.
    contacts_is_run : numpy.ndarray, optional
        The step detector's gait flag per contact (see ``TrunkStrideEstimator.update``: needed
        at the lower back when the walking and running factors differ).

    Returns
    -------
    StrideResults
        One row per contact, in order; identical to streaming the same samples in blocks.
    """
    est = make_stride_estimator(
        sampling_rate_hz=sampling_rate_hz,
        placement=placement,
        has_gyro=gyro_rads is not None,
        runner_height_m=runner_height_m,
        settings=settings,
    )
    first = est.update(t_s, acc_mps2, gyro_rads, contacts_t_s, contacts_is_run)
    return StrideResults.concatenate([first, est.flush()])


def make_stride_estimator(
    *,
    sampling_rate_hz: float,
    placement: str,
    has_gyro: bool = True,
    runner_height_m: float | None = None,
    settings: StrideSettings | None = None,
) -> FootStrideEstimator | TrunkStrideEstimator:
    """Build the estimator that suits a placement.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``foot`` or ``lower_back`` (or an alias; a shank sensor has no stride model).
    has_gyro : bool
        Whether blocks will carry gyroscope data (required for a foot).
    runner_height_m : float, optional
        Body height, m (lower back).
    settings : StrideSettings, optional
        Constants.

    Returns
    -------
    FootStrideEstimator or TrunkStrideEstimator
        A fresh estimator.

    Raises
    ------
    ValidationError
        For a shank, or a foot without gyroscope.
    """
    where = canonical_placement(placement)
    has_gyro = validate_flag("has_gyro", has_gyro)
    if where == "foot":
        if not has_gyro:
            raise ValidationError(
                "a foot stride estimate needs the gyroscope (strapdown navigation); "
                "record with the gyroscope on, or wear the sensor at the lower back"
            )
        return FootStrideEstimator(sampling_rate_hz=sampling_rate_hz, settings=settings)
    if where == "lower_back":
        return TrunkStrideEstimator(
            sampling_rate_hz=sampling_rate_hz,
            has_gyro=has_gyro,
            runner_height_m=runner_height_m,
            settings=settings,
        )
    raise ValidationError(f"no stride estimator for placement {where!r}; use foot or lower_back")
