"""Train and evaluate the terrain classifier on the terrain-labelled recordings.

Usage::

    python -m benchmarks.terrain [--datasets ../shared/datasets] [--write-readme README.md] [--fit]

Every recording under ``--datasets`` whose sidecar has ``ground_truth.terrain_segments`` is
read (today only ``ncsu_shin_terrain``: shank, 40 Hz, walking).  Its contacts come from our own
step detector (:func:`dsp.detect_steps`); each contact takes the label of the segment that
holds its time: ``solid_ground`` is smooth; ``grass``, ``stairs_up`` and ``stairs_down`` are
technical.  Standing has no contacts, so it is never scored.

The model reads each window of features relative to the runner's own baseline (see
``dsp/_terrain_kernels.py``).  For training, that baseline is rebuilt here with the same
recurrence, started from the training subjects' mean level-walking stride and fed by every
stride not *labelled* stairs; at run time (and in the evaluation) the classifier feeds it the
strides it does not *call* stairs.

Evaluation is leave-one-subject-out: for each subject, the model (baseline prior,
standardisation and weights) is fitted on the strides of the other subjects and the classifier
(with its runner baseline and decision layer) is replayed on the held-out subject.  The
score is the per-step balanced accuracy (mean of the recall of smooth and of technical) of the
terrain state, per subject and pooled over all held-out steps; the balanced accuracy of the raw
``p_technical >= 0.5`` and the recall of each surface are shown too.

* ``--fit`` refits on every subject and rewrites ``dsp/_terrain_model.py``.
* ``--write-readme README.md`` replaces the text between ``<!-- terrain:start -->`` and
  ``<!-- terrain:end -->`` with the command, the date and the tables.

The data have no licence: they are read from the shared folder at run time and never copied.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from dsp import _terrain_model as M
from dsp.steps import canonical_placement, detect_steps
from dsp.terrain import (
    CLASS_NAMES,
    FEATURE_NAMES,
    TerrainModel,
    TerrainSettings,
    classify_terrain,
)

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Default location of the shared datasets, beside the checkout.
DEFAULT_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
#: Where ``--fit`` writes the model.
MODEL_PATH = REPO_ROOT / "dsp" / "_terrain_model.py"
#: Markers of the generated block in the README.
README_START = "<!-- terrain:start -->"
README_END = "<!-- terrain:end -->"
#: Source label -> model class (index into CLASS_NAMES); class 0 is smooth.
LABEL_TO_CLASS = {"solid_ground": 0, "grass": 1, "stairs_up": 2, "stairs_down": 3}
#: L2 penalty on the standardised weights (the training loss is a weighted mean).
L2_PENALTY = 1e-2


class TerrainBenchError(Exception):
    """A one-line error that ends the command with exit status 2."""


@dataclass
class Recording:
    """One terrain-labelled recording, its contacts, features and labels.

    Parameters
    ----------
    recording_id : str
        Name of the recording.
    subject : str
        Subject id (the unit of cross-validation).
    placement : str
        Canonical placement.
    sampling_rate_hz : float
        Sampling rate, Hz.
    t_s, acc_mps2, gyro_rads : numpy.ndarray
        Samples.
    contacts_t_s : numpy.ndarray
        Contacts from the step detector, s.
    labels : numpy.ndarray
        Class index per contact (-1 for a label outside :data:`LABEL_TO_CLASS`).
    features : numpy.ndarray
        Per-stride features per contact (NaN rows for invalid strides).
    valid : numpy.ndarray
        Whether each contact's stride had features.
    window_features : numpy.ndarray
        Window mean of the features per contact (NaN rows where there is none).
    """

    recording_id: str
    subject: str
    placement: str
    sampling_rate_hz: float
    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray | None
    contacts_t_s: np.ndarray
    labels: np.ndarray
    features: np.ndarray
    valid: np.ndarray
    window_features: np.ndarray
    _windows: dict = field(default_factory=dict, repr=False)

    def window_features_for(self, window_strides: int) -> np.ndarray:
        """Window mean of the features over ``window_strides`` valid strides, as the classifier forms it."""
        if window_strides not in self._windows:
            model = dataclasses.replace(TerrainModel.shipped(), window_strides=int(window_strides))
            self._windows[window_strides] = replay(self, model).window_features
        return self._windows[window_strides]


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    data = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 4:
        raise TerrainBenchError(f"{path}: expected the columns t,ax,ay,az[,gx,gy,gz]")
    gyro = data[:, 4:7] if data.shape[1] >= 7 and np.isfinite(data[:, 4:7]).any() else None
    return data[:, 0], data[:, 1:4], gyro


def label_contacts(contacts_t_s: np.ndarray, segments: list) -> np.ndarray:
    """Return the class of the segment holding each contact (-1 where none or unknown).

    Parameters
    ----------
    contacts_t_s : numpy.ndarray
        Contact times, s.
    segments : list
        ``[[t0, t1, label], ...]`` (``t0 <= t < t1``).

    Returns
    -------
    numpy.ndarray
        int class indices.
    """
    out = np.full(contacts_t_s.shape[0], -1, dtype=np.int64)
    for t0, t1, label in segments:
        cls = LABEL_TO_CLASS.get(str(label), -1)
        out[(contacts_t_s >= float(t0)) & (contacts_t_s < float(t1))] = cls
    return out


def load_recordings(datasets: Path) -> list[Recording]:
    """Read every recording with terrain segments, detect its contacts and compute its features.

    Parameters
    ----------
    datasets : Path
        The shared datasets folder (``<dataset>/<recording>.json`` sidecars beside their CSVs).

    Returns
    -------
    list of Recording
        Sorted by name.
    """
    if not datasets.is_dir():
        raise TerrainBenchError(f"{datasets}: no such folder; pass --datasets PATH")
    recs = []
    for sidecar in sorted(datasets.glob("*/*.json")):
        meta = json.loads(sidecar.read_text())
        segments = (meta.get("ground_truth") or {}).get("terrain_segments")
        if not segments:
            continue
        t, acc, gyro = _read_csv(sidecar.with_suffix(".csv"))
        fs = float(meta["sample_rate_hz"])
        placement = canonical_placement(meta["placement"])
        steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement=placement)
        res = classify_terrain(t, acc, gyro, steps.t_s, sampling_rate_hz=fs, placement=placement)
        subject = str((meta.get("subject") or {}).get("id", meta["recording_id"]))
        recs.append(
            Recording(
                recording_id=str(meta["recording_id"]),
                subject=f"{meta.get('dataset', sidecar.parent.name)}/{subject}",
                placement=placement,
                sampling_rate_hz=fs,
                t_s=t,
                acc_mps2=acc,
                gyro_rads=gyro,
                contacts_t_s=steps.t_s,
                labels=label_contacts(steps.t_s, segments),
                features=res.features,
                valid=res.valid,
                window_features=res.window_features,
            )
        )
    if not recs:
        raise TerrainBenchError(f"{datasets}: no recording with ground_truth.terrain_segments")
    return recs


@dataclass
class SmoothCheck:
    """False-technical rate of the shipped model on one set of level-ground recordings.

    Parameters
    ----------
    dataset : str
        Dataset name.
    recordings : int
        Recordings read.
    contacts : int
        Contacts from the step detector.
    decided : int
        Contacts with a probability (the model applies and the window is full).
    technical : int
        Contacts whose terrain state is technical (all of them are false alarms).
    has_gyro : bool
        Whether the recordings carry a gyroscope (the model needs one).
    """

    dataset: str
    recordings: int
    contacts: int
    decided: int
    technical: int
    has_gyro: bool


def smooth_ground_check(datasets: Path, model: TerrainModel | None = None) -> list[SmoothCheck]:
    """Replay the classifier on the shank recordings that have no terrain labels (level ground).

    Every such recording in the shared data is flat (treadmill or lab floor), so each contact
    whose state turns technical is a false alarm.

    Returns
    -------
    list of SmoothCheck
        One entry per dataset.
    """
    out: dict[str, SmoothCheck] = {}
    for sidecar in sorted(datasets.glob("*/*.json")):
        meta = json.loads(sidecar.read_text())
        if (meta.get("ground_truth") or {}).get("terrain_segments") or "placement" not in meta:
            continue
        if canonical_placement(meta["placement"]) not in M.PLACEMENTS:
            continue
        t, acc, gyro = _read_csv(sidecar.with_suffix(".csv"))
        fs = float(meta["sample_rate_hz"])
        steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="shank")
        res = classify_terrain(t, acc, gyro, steps.t_s, sampling_rate_hz=fs, placement="shank", model=model)
        name = str(meta.get("dataset", sidecar.parent.name))
        c = out.setdefault(name, SmoothCheck(name, 0, 0, 0, 0, gyro is not None))
        c.recordings += 1
        c.contacts += res.n_contacts
        c.decided += int(np.isfinite(res.p_technical).sum())
        c.technical += int(res.terrain.sum())
        c.has_gyro = c.has_gyro and gyro is not None
    return list(out.values())


def _smooth_check_line(c: SmoothCheck) -> str:
    rate = c.technical / c.contacts if c.contacts else float("nan")
    why = "" if c.has_gyro else " (no gyroscope: the model does not apply and the state stays smooth)"
    return (
        f"{c.dataset}: {c.recordings} level-ground recordings, {c.contacts} contacts, {c.decided} decided, "
        f"false technical {c.technical} ({rate:.1%}){why}"
    )


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------
def fit_model(
    x: np.ndarray, y: np.ndarray, l2: float = L2_PENALTY, baseline_prior: np.ndarray | None = None
) -> TerrainModel:
    """Fit the standardisation and a multinomial logistic regression.

    The loss is the weighted cross-entropy in which smooth strides carry half of the total
    weight and the technical strides the other half, shared by the surfaces in proportion to
    their strides (so every technical step counts alike, as in the balanced accuracy the model
    is scored by), plus ``l2/2 · |W|²`` on the standardised weights.

    Parameters
    ----------
    x : numpy.ndarray
        Model inputs (window features, minus the runner baseline for a model with one),
        ``(n, 12)``, all finite.
    y : numpy.ndarray
        Class per row (0 smooth, 1 grass, 2 stairs up, 3 stairs down).
    l2 : float
        L2 penalty.
    baseline_prior : numpy.ndarray, optional
        Start of the runner baseline, stored in the model (see :func:`baseline_prior`).

    Returns
    -------
    TerrainModel
        The fitted parameters, with the class shares of the loss as ``class_prior`` (no
        transition matrix: :func:`fit_on` adds the one of its training labels).
    """
    n, nf = x.shape
    k = len(CLASS_NAMES)
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd <= 0.0] = 1.0
    z = np.hstack([(x - mu) / sd, np.ones((n, 1))])
    counts = np.array([max(1, int((y == c).sum())) for c in range(k)])
    share = class_shares(y)
    sw = (share / counts)[y]
    onehot = np.eye(k)[y]

    def loss_grad(w_flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = w_flat.reshape(k, nf + 1)
        logits = z @ w.T
        logits -= logits.max(axis=1, keepdims=True)
        lse = np.log(np.exp(logits).sum(axis=1))
        p = np.exp(logits - lse[:, None])
        loss = -(sw * ((logits * onehot).sum(axis=1) - lse)).sum() + 0.5 * l2 * (w[:, :-1] ** 2).sum()
        g = ((p - onehot) * sw[:, None]).T @ z
        g[:, :-1] += l2 * w[:, :-1]
        return float(loss), g.ravel()

    res = minimize(loss_grad, np.zeros(k * (nf + 1)), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    w = res.x.reshape(k, nf + 1)
    # a class absent from the training rows gets a tiny share, so the class HMM never divides by 0
    prior = np.maximum(share, 1e-6)
    return TerrainModel(
        feature_mean=tuple(float(v) for v in mu),
        feature_scale=tuple(float(v) for v in sd),
        weights=tuple(tuple(float(v) for v in row[:-1]) for row in w),
        bias=tuple(float(v) for v in w[:, -1]),
        baseline_prior=None if baseline_prior is None else tuple(float(v) for v in baseline_prior),
        class_prior=tuple(float(v) for v in prior / prior.sum()),
    )


def class_shares(y: np.ndarray) -> np.ndarray:
    """Return the share of the training weight of each class (the class prior of the fitted model).

    Smooth strides carry half of the weight, the technical strides the other half, shared by
    surface in proportion to their strides; a class without strides gets nothing (and when no
    technical stride is present, smooth gets everything).

    Parameters
    ----------
    y : numpy.ndarray
        Class per training row.

    Returns
    -------
    numpy.ndarray
        ``(4,)`` shares summing to 1.
    """
    k = len(CLASS_NAMES)
    counts = np.array([max(1, int((y == c).sum())) for c in range(k)])
    present = np.array([(y == c).any() for c in range(k)], dtype=float)
    tech = counts[1:] * present[1:]
    share = np.concatenate([[0.5], 0.5 * tech / max(1, tech.sum())]) * present
    return share / share.sum()


def label_transitions(recs: list[Recording], pseudo_count: float = 1.0) -> np.ndarray:
    """Estimate the class HMM's transition matrix from the labels of consecutive contacts.

    Each pair of consecutive labelled contacts of a recording counts one transition from the
    first one's class to the second one's; every cell starts at ``pseudo_count`` (add-one
    smoothing), so no transition is impossible.  This is how long each surface lasts in the
    training walks, in strides: a flight of stairs a few, grass tens, level ground more.

    Parameters
    ----------
    recs : list of Recording
        The training recordings.
    pseudo_count : float
        Count added to every cell.

    Returns
    -------
    numpy.ndarray
        ``(4, 4)``, rows sum to 1: row = class now, column = class at the next contact.
    """
    k = len(CLASS_NAMES)
    counts = np.full((k, k), float(pseudo_count))
    for r in recs:
        a, b = r.labels[:-1], r.labels[1:]
        ok = (a >= 0) & (b >= 0)
        np.add.at(counts, (a[ok], b[ok]), 1.0)
    total = counts.sum(axis=1, keepdims=True)
    # a class never seen (possible only without pseudo-counts) may be followed by any class
    return np.where(total > 0.0, counts / np.where(total > 0.0, total, 1.0), 1.0 / k)


def baseline_prior(recs: list[Recording]) -> np.ndarray:
    """Return the mean features of the strides labelled level ground (the baseline's start)."""
    x = np.vstack([r.features[r.valid & (r.labels == 0)] for r in recs])
    return x.mean(axis=0)


def labelled_baseline(rec: Recording, prior: np.ndarray) -> np.ndarray:
    """Rebuild the runner baseline of a training recording from its labels.

    The recurrence is the kernel's (``dsp/_terrain_kernels.py``, constants from
    ``dsp/_terrain_model.py``), but a stride joins the baseline when it is not *labelled*
    stairs, instead of when the classifier does not call it stairs.

    Returns
    -------
    numpy.ndarray
        ``(n, 12)``: the baseline before each contact's stride, as in ``TerrainResults.baseline``.
    """
    base = np.array(prior, dtype=np.float64)
    k = 0
    out = np.empty_like(rec.features)
    for i in range(rec.features.shape[0]):
        out[i] = base
        if rec.valid[i] and rec.labels[i] not in (2, 3):
            k += 1
            a = max(1.0 / (M.BASELINE_PRIOR_STRIDES + k), 1.0 / M.BASELINE_STRIDES)
            base = base + a * (rec.features[i] - base)
    return out


def training_rows(
    recs: list[Recording], prior: np.ndarray | None, window_strides: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack the model inputs of the labelled contacts that have window features.

    With a ``prior``, the inputs are the window features minus the labelled runner baseline
    (:func:`labelled_baseline`); without, the window features themselves.  ``window_strides``
    (default: the recordings' own ``window_features``) sets the strides averaged.
    """

    def wf(r: Recording) -> np.ndarray:
        return r.window_features if window_strides is None else r.window_features_for(window_strides)

    if prior is None:
        x = np.vstack([wf(r) for r in recs])
    else:
        x = np.vstack([wf(r) - labelled_baseline(r, prior) for r in recs])
    y = np.concatenate([r.labels for r in recs])
    ok = np.isfinite(x).all(axis=1) & (y >= 0)
    return x[ok], y[ok]


@dataclass(frozen=True)
class Candidate:
    """One modelling choice that the nested evaluation may pick: features, baseline, penalty, window.

    Parameters
    ----------
    name : str
        Short label shown in the output.
    features : tuple of str
        The features the model reads (a subset of :data:`FEATURE_NAMES`; the others get weight 0).
    baseline : bool
        Read the features relative to the runner baseline (else as they are).
    l2 : float
        L2 penalty on the standardised weights.
    window_strides : int
        Valid strides averaged into the model's input.
    settings : TerrainSettings
        Hysteresis and dwell the classifier is replayed with (default: the classifier's defaults).
    """

    name: str
    features: tuple[str, ...]
    baseline: bool
    l2: float
    window_strides: int = int(M.WINDOW_STRIDES)
    settings: TerrainSettings = field(default_factory=TerrainSettings)

    @property
    def fit_key(self) -> tuple:
        """What the fitted model depends on (the settings only act at replay)."""
        return (self.features, self.baseline, self.l2, self.window_strides)


#: The two features added in round 1 of issue #5 (the shank's roll and yaw).
OFFAXIS_FEATURES = ("offaxis_rms_rads", "offaxis_fraction")
#: The feature added in round 4 of issue #5 (the shank's rotation in terminal swing).
TERMINAL_FEATURES = ("terminal_swing_rad",)
#: Feature sets, named by their count: all of them, without the round-4 feature (the round-3
#: model), without the off-axis features.
FEATURE_SETS: tuple[tuple[str, ...], ...] = (
    FEATURE_NAMES,
    tuple(f for f in FEATURE_NAMES if f not in TERMINAL_FEATURES),
    tuple(f for f in FEATURE_NAMES if f not in OFFAXIS_FEATURES),
)
#: Window alternatives, strides: the round-1 window first, then longer ones (more strides per
#: decision), then (round 5) a single stride: with an HMM doing the averaging over strides, each
#: decision can be one stride's own evidence (a 2-stride mean counts every stride twice).
WINDOWS = (2, 3, 4, 1)
#: Decision layers (class probabilities -> terrain state), named: the round-1 hysteresis (0.6 /
#: 0.4, dwell 2 contacts and 2 s) first, then the two-state HMM with a switch probability of
#: 1/20, 1/10 or 1/5 per decision (terrain bouts of 5-20 strides; the flights of stairs here last
#: 4-8) and an evidence weight of 1 (p_technical taken as calibrated) or 2, then (round 5) the HMM
#: over the four classes, with the transitions learnt from the training labels and the class
#: probabilities read as calibrated (e = 1).
DECISIONS: tuple[tuple[str, TerrainSettings], ...] = (
    ("hysteresis", TerrainSettings(decision="hysteresis")),
    *(
        (f"hmm q={q:g} e={e:g}", TerrainSettings(decision="hmm", switch_p=q, evidence_weight=e))
        for q in (0.05, 0.1, 0.2)
        for e in (1.0, 2.0)
    ),
    ("class hmm e=1", TerrainSettings(decision="class_hmm", evidence_weight=1.0)),
)
#: What the nested evaluation chooses from, by an inner leave-one-subject-out on the training
#: subjects of each outer fold: the feature set (:data:`FEATURE_SETS`), the round-1 choices
#: (runner baseline, penalty, window), their alternatives, and the decision layer
#: (:data:`DECISIONS`).  Ties go to the earlier one.
CANDIDATES: tuple[Candidate, ...] = tuple(
    Candidate(
        f"{len(feats)} feat, {'baseline' if base else 'no baseline'}, l2={l2:g}, window {w}, {dname}",
        feats,
        base,
        l2,
        w,
        dsettings,
    )
    for w in WINDOWS
    for feats in FEATURE_SETS
    for base in (True, False)
    for l2 in (L2_PENALTY, 0.1)
    for dname, dsettings in DECISIONS
)
#: The shipped modelling choice (the default arguments of :func:`fit_on`): all the features, the
#: runner baseline, the default penalty and window, and the default decision layer of
#: :class:`TerrainSettings`.  ``--fit`` ships whatever candidate scores best; the tests check
#: that this one is it.
SHIPPED = next(
    c
    for c in CANDIDATES
    if c.features == FEATURE_NAMES
    and c.baseline
    and c.l2 == L2_PENALTY
    and c.window_strides == int(M.WINDOW_STRIDES)
    and c.settings == TerrainSettings()
)


def fit_on(recs: list[Recording], candidate: Candidate = SHIPPED) -> tuple[TerrainModel, int]:
    """Fit the baseline prior, standardisation and weights on ``recs``; return the model and its rows.

    Features left out by ``candidate`` get weight 0 (mean 0, scale 1), so the model keeps the
    kernel's shape.
    """
    prior = baseline_prior(recs)
    x, y = training_rows(recs, prior if candidate.baseline else None, candidate.window_strides)
    cols = [FEATURE_NAMES.index(f) for f in candidate.features]
    nf = len(FEATURE_NAMES)
    sub = fit_model(x if cols == list(range(nf)) else x[:, cols], y, l2=candidate.l2)
    mu, scale, w = np.zeros(nf), np.ones(nf), np.zeros((len(CLASS_NAMES), nf))
    mu[cols], scale[cols], w[:, cols] = sub.feature_mean, sub.feature_scale, np.array(sub.weights)
    model = TerrainModel(
        feature_mean=tuple(float(v) for v in mu),
        feature_scale=tuple(float(v) for v in scale),
        weights=tuple(tuple(float(v) for v in row) for row in w),
        bias=sub.bias,
        baseline_prior=tuple(float(v) for v in prior) if candidate.baseline else None,
        window_strides=candidate.window_strides,
        transition=tuple(tuple(float(v) for v in row) for row in label_transitions(recs)),
        class_prior=sub.class_prior,
    )
    return model, x.shape[0]


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------
@dataclass
class Scores:
    """Per-step scores of one group of held-out contacts.

    Parameters
    ----------
    name : str
        Group name.
    n_smooth, n_technical : int
        Scored contacts of each kind.
    recall_smooth, recall_technical : float
        Recall of the terrain state.
    balanced_accuracy : float
        Mean of the two recalls (terrain state).
    balanced_accuracy_raw : float
        Same for ``p_technical >= 0.5`` (contacts without a decision count as smooth).
    recall_class : dict
        Recall of the terrain state per surface (smooth = state 0, others = state 1).
    changes_per_min : float
        Changes of the terrain state per minute of the recordings (first to last contact); NaN
        when not measured.
    """

    name: str
    n_smooth: int
    n_technical: int
    recall_smooth: float
    recall_technical: float
    balanced_accuracy: float
    balanced_accuracy_raw: float
    recall_class: dict
    changes_per_min: float = float("nan")


def state_changes(recs: list[Recording], states: list[np.ndarray]) -> tuple[int, float]:
    """Count the changes of a per-contact state; return them and the minutes they span.

    Parameters
    ----------
    recs : list of Recording
        The recordings (their contact times give the duration).
    states : list of numpy.ndarray
        One state per contact of each recording (the terrain state, or the labels' technical flag).

    Returns
    -------
    changes : int
        Changes between consecutive contacts, summed over the recordings.
    minutes : float
        First to last contact, summed over the recordings, min.
    """
    changes = sum(int(np.count_nonzero(np.diff(np.asarray(x, dtype=int)))) for x in states)
    minutes = sum(float(r.contacts_t_s[-1] - r.contacts_t_s[0]) / 60.0 for r in recs if r.contacts_t_s.size)
    return changes, minutes


def _with_rate(sc: Scores, changes: int, minutes: float) -> Scores:
    return dataclasses.replace(sc, changes_per_min=changes / minutes if minutes > 0 else float("nan"))


def _recall(pred: np.ndarray, truth: np.ndarray, value: int) -> float:
    m = truth == value
    return float((pred[m] == value).mean()) if m.any() else float("nan")


def score(name: str, labels: np.ndarray, state: np.ndarray, p: np.ndarray) -> Scores:
    """Score the terrain state and the raw probability of a group of contacts.

    Parameters
    ----------
    name : str
        Group name.
    labels : numpy.ndarray
        Class per contact (contacts with -1 are ignored).
    state : numpy.ndarray
        Terrain state per contact (0/1).
    p : numpy.ndarray
        ``p_technical`` per contact (NaN: no decision).

    Returns
    -------
    Scores
        Recalls and balanced accuracies.
    """
    m = labels >= 0
    y = labels[m]
    truth = (y > 0).astype(int)
    st = state[m].astype(int)
    raw = (np.nan_to_num(p[m], nan=0.0) >= 0.5).astype(int)
    rs, rt = _recall(st, truth, 0), _recall(st, truth, 1)
    ba_raw = float(np.nanmean([_recall(raw, truth, 0), _recall(raw, truth, 1)]))
    per_class = {}
    for c, cname in enumerate(CLASS_NAMES):
        mc = y == c
        per_class[cname] = float((st[mc] == (1 if c else 0)).mean()) if mc.any() else float("nan")
    return Scores(
        name=name,
        n_smooth=int((truth == 0).sum()),
        n_technical=int((truth == 1).sum()),
        recall_smooth=rs,
        recall_technical=rt,
        balanced_accuracy=float(np.nanmean([rs, rt])),
        balanced_accuracy_raw=ba_raw,
        recall_class=per_class,
    )


def replay(rec: Recording, model: TerrainModel, settings: TerrainSettings | None = None):
    """Run the classifier with ``model`` over one recording; return its TerrainResults."""
    return classify_terrain(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        rec.contacts_t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        settings=settings,
        model=model,
    )


def leave_one_subject_out(
    recs: list[Recording],
    settings: TerrainSettings | None = None,
    candidate: Candidate = SHIPPED,
    fits: dict | None = None,
) -> tuple[list[Scores], Scores]:
    """Fit on all subjects but one, replay the held-out one; repeat for every subject.

    Parameters
    ----------
    recs : list of Recording
        The recordings (several subjects).
    settings : TerrainSettings, optional
        Replay settings; default ``candidate.settings``.
    candidate : Candidate
        What to fit.
    fits : dict, optional
        A cache of fitted models, keyed by training recordings and :attr:`Candidate.fit_key`.

    Returns
    -------
    per_subject : list of Scores
        One entry per held-out subject.
    pooled : Scores
        All held-out contacts together.
    """
    subjects = sorted({r.subject for r in recs})
    if len(subjects) < 2:
        raise TerrainBenchError("leave-one-subject-out needs at least two subjects")
    settings = settings or candidate.settings
    per, all_y, all_s, all_p = [], [], [], []
    n_changes, minutes = 0, 0.0
    for subj in subjects:
        train = [r for r in recs if r.subject != subj]
        key = (tuple(r.recording_id for r in train), candidate.fit_key)
        if fits is None or key not in fits:
            model, _ = fit_on(train, candidate)
            if fits is not None:
                fits[key] = model
        else:
            model = fits[key]
        ys, ss, ps = [], [], []
        held = [r for r in recs if r.subject == subj]
        for r in held:
            res = replay(r, model, settings)
            ys.append(r.labels)
            ss.append(res.terrain)
            ps.append(res.p_technical)
        y_, s_, p_ = np.concatenate(ys), np.concatenate(ss), np.concatenate(ps)
        c, mins = state_changes(held, ss)
        per.append(_with_rate(score(subj, y_, s_, p_), c, mins))
        n_changes, minutes = n_changes + c, minutes + mins
        all_y.append(y_)
        all_s.append(s_)
        all_p.append(p_)
    pooled = score("pooled", np.concatenate(all_y), np.concatenate(all_s), np.concatenate(all_p))
    return per, _with_rate(pooled, n_changes, minutes)


def choose_candidate(
    recs: list[Recording], candidates: Sequence[Candidate] = CANDIDATES
) -> tuple[Candidate, dict, list[Scores], Scores]:
    """Pick the candidate with the best pooled leave-one-subject-out score on ``recs`` (ties: the earlier).

    This is what ``--fit`` ships.  Its own leave-one-subject-out score is optimistic (the choice
    saw every subject); :func:`nested_leave_one_subject_out` repeats this whole procedure without
    the held-out subject.

    Returns
    -------
    chosen : Candidate
        The best candidate.
    ba : dict
        Pooled balanced accuracy of every candidate, by name.
    per_subject : list of Scores
        The chosen candidate's leave-one-subject-out scores per subject.
    pooled : Scores
        The same, pooled.
    """
    fits: dict = {}
    runs = {c.name: leave_one_subject_out(recs, None, c, fits) for c in candidates}
    ba = {name: run[1].balanced_accuracy for name, run in runs.items()}
    chosen = max(candidates, key=lambda c: (ba[c.name], -candidates.index(c)))
    return chosen, ba, *runs[chosen.name]


@dataclass
class NestedFold:
    """One outer fold of the nested evaluation.

    Parameters
    ----------
    subject : str
        The held-out subject (never seen by the choice nor the fit).
    chosen : Candidate
        The candidate with the best inner leave-one-subject-out score on the other subjects.
    inner_ba : dict
        Inner pooled balanced accuracy of every candidate, by name.
    scores : Scores
        The chosen candidate, fitted on all the other subjects, replayed on the held-out one.
    """

    subject: str
    chosen: Candidate
    inner_ba: dict
    scores: Scores


def nested_leave_one_subject_out(
    recs: list[Recording],
    candidates: Sequence[Candidate] = CANDIDATES,
) -> tuple[list[NestedFold], Scores]:
    """Leave-one-subject-out in which the modelling choice is itself made without the held-out subject.

    For each outer subject, every candidate is scored by a leave-one-subject-out over the
    *other* subjects only (inner folds: fit on all of them but one, replay that one); the
    candidate with the best pooled inner balanced accuracy (ties: the earlier one) is then fitted
    on all the other subjects and replayed on the outer subject.  The pooled score of the outer
    folds is an honest estimate for the whole procedure "choose among ``candidates``, then fit".

    Returns
    -------
    folds : list of NestedFold
        One per outer subject.
    pooled : Scores
        All outer held-out contacts together.

    Raises
    ------
    TerrainBenchError
        With fewer than three subjects (the inner folds need two).
    """
    subjects = sorted({r.subject for r in recs})
    if len(subjects) < 3:
        raise TerrainBenchError("nested leave-one-subject-out needs at least three subjects")
    folds, all_y, all_s, all_p = [], [], [], []
    n_changes, minutes = 0, 0.0
    for subj in subjects:
        train = [r for r in recs if r.subject != subj]
        chosen, inner, _, _ = choose_candidate(train, candidates)
        model, _ = fit_on(train, chosen)
        held = [r for r in recs if r.subject == subj]
        res = [replay(r, model, chosen.settings) for r in held]
        y_ = np.concatenate([r.labels for r in held])
        s_ = np.concatenate([x.terrain for x in res])
        p_ = np.concatenate([x.p_technical for x in res])
        c, mins = state_changes(held, [x.terrain for x in res])
        folds.append(NestedFold(subj, chosen, inner, _with_rate(score(subj, y_, s_, p_), c, mins)))
        n_changes, minutes = n_changes + c, minutes + mins
        all_y.append(y_)
        all_s.append(s_)
        all_p.append(p_)
    pooled = score("pooled", np.concatenate(all_y), np.concatenate(all_s), np.concatenate(all_p))
    return folds, _with_rate(pooled, n_changes, minutes)


def oracle_ceiling(
    recs: list[Recording], settings: TerrainSettings | None = None, window_strides: int | None = None
) -> Scores:
    """Score a perfect per-stride classifier put through the same window and decision layer.

    Each stride's "probability" is 1 for a technical label and 0 for smooth (for the class HMM:
    1 for its labelled class, 0 for the others), averaged over the model's window of strides; the
    decision layer (hysteresis and dwell, the HMM, or the class HMM with the transitions and class
    shares of the labels of ``recs``) is that of ``settings``.  This is the
    best per-step balanced accuracy that the smoothing allows on these labels (short flights of
    stairs separated by landings cost steps at every transition).
    """
    s = settings or TerrainSettings()
    w = int(M.WINDOW_STRIDES if window_strides is None else window_strides)
    k = len(CLASS_NAMES)
    trans = label_transitions(recs)
    prior = np.maximum(class_shares(np.concatenate([r.labels[r.labels >= 0] for r in recs])), 1e-6)
    ys, ss, ps = [], [], []
    for r in recs:
        tech = (r.labels > 0).astype(float)
        onehot = np.eye(k)[np.maximum(r.labels, 0)]
        state, n_since, t_since = 0, 0, r.contacts_t_s[0] if r.contacts_t_s.size else 0.0
        post = 0.0
        cpost = np.eye(k)[0]
        states = np.zeros(r.labels.shape[0], dtype=int)
        p = np.full(r.labels.shape[0], np.nan)
        for i, tc in enumerate(r.contacts_t_s):
            n_since += 1
            if i >= w - 1 and np.all(r.labels[i - w + 1 : i + 1] >= 0):
                p[i] = tech[i - w + 1 : i + 1].mean()
            if s.decision == "class_hmm":
                if np.isfinite(p[i]):
                    pcl = np.maximum(onehot[i - w + 1 : i + 1].mean(axis=0), 1e-9)
                    lik = np.exp(s.evidence_weight * np.log(pcl / prior))
                    cpost = (cpost @ trans) * lik
                    cpost /= cpost.sum()
                    state = int(1.0 - cpost[0] >= 0.5)
            elif s.decision == "hmm":
                if np.isfinite(p[i]):
                    pr = (1.0 - s.switch_p) * post + s.switch_p * (1.0 - post)
                    pc = min(max(p[i], 1e-9), 1.0 - 1e-9)
                    z = np.log(pr / (1.0 - pr)) + s.evidence_weight * np.log(pc / (1.0 - pc))
                    post = 1.0 / (1.0 + np.exp(-z))
                    state = int(post >= 0.5)
            elif np.isfinite(p[i]) and n_since >= s.min_dwell_steps and tc - t_since >= s.min_dwell_s:
                new = (
                    1
                    if (state == 0 and p[i] >= s.enter_p)
                    else 0
                    if (state == 1 and p[i] <= s.exit_p)
                    else state
                )
                if new != state:
                    state, n_since, t_since = new, 0, tc
            states[i] = state
        ys.append(r.labels)
        ss.append(states)
        ps.append(p)
    return score("oracle", np.concatenate(ys), np.concatenate(ss), np.concatenate(ps))


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------
def _fmt(v: float) -> str:
    return "·" if not np.isfinite(v) else f"{v:.3f}"


def _fmt2(v: float) -> str:
    return "·" if not np.isfinite(v) else f"{v:.2f}"


def label_changes_per_min(recs: list[Recording]) -> float:
    """Return the changes per minute between smooth and technical labels (a perfect state's rate)."""
    c, mins = state_changes(recs, [r.labels > 0 for r in recs])
    return c / mins if mins > 0 else float("nan")


def format_markdown(
    recs: list[Recording],
    per: list[Scores],
    pooled: Scores,
    oracle: Scores,
    command: str,
    smooth: list[SmoothCheck] | None = None,
    nested: tuple[list[NestedFold], Scores] | None = None,
    chosen: Candidate | None = None,
) -> str:
    """Return the README block: provenance, the leave-one-subject-out tables and notes."""
    placements = sorted({r.placement for r in recs})
    datasets = sorted({r.subject.split("/")[0] for r in recs})
    truth_rate = label_changes_per_min(recs)
    window = chosen.window_strides if chosen else M.WINDOW_STRIDES
    lines = [
        "",
        f"_Generated by `{command}` on {dt.date.today().isoformat()}: {len(recs)} recordings of "
        f"{len(per)} subjects ({', '.join(datasets)}; placement: {', '.join(placements)}), contacts from "
        "our step detector, labels from the segment holding each contact (solid ground = smooth; grass, "
        "stairs up, stairs down = technical). Leave-one-subject-out: fitted on the other subjects, "
        "replayed with its decision layer on the held-out one"
        + (f"; the shipped choice ({chosen.name}) was made on all {len(per)} subjects" if chosen else "")
        + "._",
        "",
        "| held-out subject | smooth steps | technical steps | BA terrain state | BA raw p≥0.5 "
        "| recall smooth | recall grass | recall stairs up | recall stairs down | state changes / min |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in [*per, pooled]:
        rc = s.recall_class
        name = f"**{s.name}**" if s is pooled else s.name
        lines.append(
            f"| {name} | {s.n_smooth} | {s.n_technical} | **{_fmt(s.balanced_accuracy)}** | "
            f"{_fmt(s.balanced_accuracy_raw)} | {_fmt(rc['smooth'])} | {_fmt(rc['grass'])} | "
            f"{_fmt(rc['stairs_up'])} | {_fmt(rc['stairs_down'])} | {_fmt2(s.changes_per_min)} |"
        )
    if nested is not None:
        folds, npooled = nested
        lines += [
            "",
            "Nested leave-one-subject-out (the honest figure): for each held-out subject, one of "
            f"{len(CANDIDATES)} candidate models (all {len(FEATURE_NAMES)} features, or without the round-4 "
            "terminal swing, "
            "or without the two off-axis features; with or without the runner baseline, L2 penalty 0.01 "
            "or 0.1, a window of 1, 2, 3 or 4 strides; decision "
            "layer: the round-1 hysteresis and dwell, the two-state HMM with a switch probability of "
            "0.05, 0.1 or 0.2 per decision and an evidence weight of 1 or 2, or the HMM over the four "
            "classes with the transitions of the training labels) is chosen "
            "by an inner leave-one-subject-out on the other subjects only, then fitted on them and "
            "replayed on the held-out one. The plain table above uses the shipped choice, which was made "
            "by looking at these same subjects.",
            "",
            "| held-out subject | choice of the inner folds | inner BA | BA terrain state | recall smooth "
            "| recall grass | recall stairs up | recall stairs down | state changes / min |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for f in folds:
            rc = f.scores.recall_class
            lines.append(
                f"| {f.subject} | {f.chosen.name} | {_fmt(f.inner_ba[f.chosen.name])} | "
                f"**{_fmt(f.scores.balanced_accuracy)}** | {_fmt(rc['smooth'])} | {_fmt(rc['grass'])} | "
                f"{_fmt(rc['stairs_up'])} | {_fmt(rc['stairs_down'])} | {_fmt2(f.scores.changes_per_min)} |"
            )
        rc = npooled.recall_class
        lines.append(
            f"| **pooled** | | | **{_fmt(npooled.balanced_accuracy)}** | {_fmt(rc['smooth'])} | "
            f"{_fmt(rc['grass'])} | {_fmt(rc['stairs_up'])} | {_fmt(rc['stairs_down'])} | "
            f"{_fmt2(npooled.changes_per_min)} |"
        )
    lines += [
        "",
        f"Only {', '.join(placements)} data with terrain labels exist (walking, 40 Hz); the lower back and "
        "foot placements are untested on real terrain and the classifier reports no terrain there by "
        f"default. Ceiling set by the {window}-stride window and the decision layer alone (a "
        f"perfect per-stride classifier): BA {_fmt(oracle.balanced_accuracy)}. The labels themselves "
        f"change {_fmt2(truth_rate)} times per minute. Target of the issue: "
        "BA ≥ 0.85 on subjects not used for tuning. Details: [docs/terrain.md](docs/terrain.md).",
        "",
    ]
    if smooth:
        lines += ["Level-ground shank recordings without terrain labels (shipped model):", ""]
        lines += [f"* {_smooth_check_line(c)}." for c in smooth]
        lines.append("")
    return "\n".join(lines)


def replace_readme_block(text: str, block: str) -> str:
    """Return ``text`` with the part between the terrain markers replaced by ``block``.

    Raises
    ------
    TerrainBenchError
        When the markers are missing or out of order.
    """
    start = text.find(README_START)
    end = text.find(README_END, start + len(README_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise TerrainBenchError(f"add the markers {README_START} and {README_END} to the README first")
    return text[: start + len(README_START)] + block + text[end:]


def _tuple_lines(name: str, values: Sequence[float], doc: str) -> list[str]:
    return [f"#: {doc}", f"{name} = (", *[f"    {float(v)!r}," for v in values], ")"]


def _string_lines(name: str, text: str, doc: str, width: int = 90) -> list[str]:
    words, chunks, cur = text.split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            chunks.append(cur + " ")
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    chunks.append(cur)
    if len(chunks) == 1:
        return [f"#: {doc}", f"{name} = {json.dumps(text)}"]
    return [f"#: {doc}", f"{name} = (", *[f"    {json.dumps(c)}" for c in chunks], ")"]


def _str_tuple_lines(name: str, values: Sequence[str], doc: str) -> list[str]:
    if len(values) == 1:
        return [f"#: {doc}", f"{name} = ({json.dumps(str(values[0]))},)"]
    return [f"#: {doc}", f"{name} = (", *[f"    {json.dumps(str(v))}," for v in values], ")"]


def model_source(
    model: TerrainModel,
    recs: list[Recording],
    n_rows: int,
    pooled: Scores | None,
    nested: Scores | None = None,
) -> str:
    """Return the text of ``dsp/_terrain_model.py`` for ``model``."""
    subjects = sorted({r.subject for r in recs})
    trained_on = (
        f"{len(recs)} recordings, {len(subjects)} subjects ({', '.join(subjects)}), {n_rows} strides, "
        f"fitted {dt.date.today().isoformat()}"
    )
    lines = [
        '"""Trained parameters of the terrain classifier, as plain data.',
        "",
        "Generated by ``python -m benchmarks.terrain --fit``; do not edit by hand.  The feature",
        "definitions (cut-off, windows, thresholds) are part of the model: changing one means refitting.",
        "The training data (``ncsu_shin_terrain``) have no licence and are not in the repository; only",
        "these fitted numbers are.",
        '"""',
        "",
        "#: Format of this file.",
        f"MODEL_VERSION = {json.dumps(M.MODEL_VERSION)}",
        *_string_lines("TRAINED_ON", trained_on, "What the model was fitted on."),
    ]
    if pooled is not None:
        lines += [
            "#: Leave-one-subject-out per-step balanced accuracy of the terrain state at fitting time.",
            f"LOSO_BALANCED_ACCURACY = {round(pooled.balanced_accuracy, 4)!r}",
        ]
    if nested is not None:
        lines += [
            "#: Nested leave-one-subject-out balanced accuracy (choice made without the held-out subject).",
            f"NESTED_LOSO_BALANCED_ACCURACY = {round(nested.balanced_accuracy, 4)!r}",
        ]
    lines += [
        *_str_tuple_lines(
            "PLACEMENTS",
            M.PLACEMENTS,
            "Placements the model was trained for (others get no terrain unless explicitly allowed).",
        ),
        "#: The features need a gyroscope.",
        f"REQUIRES_GYRO = {bool(M.REQUIRES_GYRO)!r}",
        "#: Sampling rate of the training data, Hz.",
        f"SAMPLING_RATE_HZ = {float(M.SAMPLING_RATE_HZ)!r}",
        "#: Low-pass applied to acceleration and rotation rate before the features, Hz (clamped to 0.45 fs).",
        f"FEATURE_CUTOFF_HZ = {float(M.FEATURE_CUTOFF_HZ)!r}",
        "#: Loading window after a contact for load_peak_mps2, s.",
        f"LOAD_WINDOW_S = {float(M.LOAD_WINDOW_S)!r}",
        "#: Window before a contact that gives the acceleration at contact, s.",
        f"CONTACT_WINDOW_S = {float(M.CONTACT_WINDOW_S)!r}",
        "#: |ω| below this counts as still (stance) for still_fraction, rad/s.",
        f"STILL_RADS = {float(M.STILL_RADS)!r}",
        "#: Valid strides averaged into the classifier's input.",
        f"WINDOW_STRIDES = {model.window!r}",
        "#: Weight of the baseline prior when the runner baseline starts, strides.",
        f"BASELINE_PRIOR_STRIDES = {float(M.BASELINE_PRIOR_STRIDES)!r}",
        "#: Time constant of the runner baseline (exponential mean over strides), strides.",
        f"BASELINE_STRIDES = {float(M.BASELINE_STRIDES)!r}",
        "#: A stride with p(stairs up) + p(stairs down) at or above this does not update the baseline.",
        f"BASELINE_GATE_P = {float(M.BASELINE_GATE_P)!r}",
        *_str_tuple_lines(
            "CLASS_NAMES", CLASS_NAMES, "Classes (row order of WEIGHTS and BIAS); class 0 is smooth ground."
        ),
        *_str_tuple_lines(
            "FEATURE_NAMES", FEATURE_NAMES, "Features (column order of WEIGHTS), units in the names."
        ),
    ]
    lines += _tuple_lines(
        "FEATURE_MEAN",
        model.feature_mean,
        "Mean of each model input (window features minus the runner baseline) over the training strides.",
    )
    lines += _tuple_lines("FEATURE_SCALE", model.feature_scale, "Standard deviation of each model input.")
    if model.baseline_prior is not None:
        lines += _tuple_lines(
            "BASELINE_PRIOR",
            model.baseline_prior,
            "Start of the runner baseline: mean features of the training strides on level ground.",
        )
    lines.append("#: Weights on the standardised features, one row per class.")
    lines.append("WEIGHTS = (")
    for row in model.weights:
        lines += ["    (", *[f"        {float(v)!r}," for v in row], "    ),"]
    lines.append(")")
    lines += _tuple_lines("BIAS", model.bias, "Class offsets.")
    if model.class_prior is not None:
        lines += _tuple_lines(
            "CLASS_PRIOR",
            model.class_prior,
            "Class shares of the training weight (the class HMM reads p_class / CLASS_PRIOR as likelihoods).",
        )
    if model.transition is not None:
        lines += [
            "#: Class HMM: probability that a decided stride of class i (row) is followed by one of",
            "#: class j (column), from the consecutive contacts of the training labels (add-one).",
        ]
        lines.append("TRANSITION = (")
        for row in model.transition:
            lines += ["    (", *[f"        {float(v)!r}," for v in row], "    ),"]
        lines.append(")")
    return "\n".join(lines) + "\n"


def _print_table(per: list[Scores], pooled: Scores, oracle: Scores, truth_rate: float) -> None:
    print(
        f"{'held-out':<28} {'smooth':>6} {'tech':>5} {'BA':>6} {'BA raw':>6} {'chg/min':>7}  recall per class"
    )
    for s in [*per, pooled]:
        rc = " ".join(f"{k}={_fmt(v)}" for k, v in s.recall_class.items())
        print(
            f"{s.name:<28} {s.n_smooth:>6} {s.n_technical:>5} {_fmt(s.balanced_accuracy):>6} "
            f"{_fmt(s.balanced_accuracy_raw):>6} {_fmt2(s.changes_per_min):>7}  {rc}"
        )
    print(f"ceiling of the window + decision layer (perfect strides): BA {_fmt(oracle.balanced_accuracy)}")
    print(f"the labels change {_fmt2(truth_rate)} times per minute")


def _print_nested(folds: list[NestedFold], pooled: Scores) -> None:
    print(f"nested leave-one-subject-out (choice among {len(CANDIDATES)} candidates by inner folds):")
    for f in [*folds, None]:
        s = pooled if f is None else f.scores
        rc = " ".join(f"{k}={_fmt(v)}" for k, v in s.recall_class.items())
        choice = "" if f is None else f"{f.chosen.name} (inner {_fmt(f.inner_ba[f.chosen.name])})"
        print(
            f"{s.name:<28} {_fmt(s.balanced_accuracy):>6} {_fmt2(s.changes_per_min):>6}/min  "
            f"{choice:<56} {rc}"
        )


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.terrain",
        description="Leave-one-subject-out evaluation (and fitting) of the terrain classifier.",
    )
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS, help="the shared datasets folder")
    ap.add_argument("--write-readme", type=Path, metavar="README.md", help="update the terrain block there")
    ap.add_argument(
        "--fit", action="store_true", help="refit on all subjects and rewrite dsp/_terrain_model.py"
    )
    ap.add_argument(
        "--skip-nested", action="store_true", help="skip the nested leave-one-subject-out (1-2 minutes)"
    )
    return ap


def run(args: argparse.Namespace, command: str) -> int:
    """Run the command; see the module docstring."""
    readme_text = None
    if args.write_readme is not None:
        if not args.write_readme.is_file():
            raise TerrainBenchError(f"{args.write_readme}: no such README")
        readme_text = args.write_readme.read_text()
        replace_readme_block(readme_text, "")  # fail early when the markers are missing
    t0 = time.perf_counter()
    recs = load_recordings(args.datasets)
    chosen, ba, per, pooled = choose_candidate(recs)
    oracle = oracle_ceiling(recs, chosen.settings, chosen.window_strides)
    print(
        f"{len(recs)} recordings, {len({r.subject for r in recs})} subjects, placements: "
        f"{', '.join(sorted({r.placement for r in recs}))} (no other placement has terrain labels)"
    )
    best = sorted(ba.items(), key=lambda kv: -kv[1])[:3]
    print(f"choice on all subjects: {chosen.name} (best LOSO BA of {len(ba)} candidates: ", end="")
    print(", ".join(f"{_fmt(v)} {k}" for k, v in best) + ")")
    if chosen.settings != TerrainSettings():
        print(f"note: the defaults of TerrainSettings differ from the chosen settings {chosen.settings}")
    _print_table(per, pooled, oracle, label_changes_per_min(recs))
    nested = None
    if not args.skip_nested and len({r.subject for r in recs}) >= 3:
        nested = nested_leave_one_subject_out(recs)
        _print_nested(*nested)
    smooth = smooth_ground_check(args.datasets)
    for c in smooth:
        print(_smooth_check_line(c))
    if args.fit:
        model, n_rows = fit_on(recs, chosen)
        MODEL_PATH.write_text(model_source(model, recs, n_rows, pooled, nested[1] if nested else None))
        print(f"wrote {MODEL_PATH.relative_to(REPO_ROOT)} ({n_rows} strides)")
    if readme_text is not None:
        block = format_markdown(recs, per, pooled, oracle, command, smooth, nested, chosen)
        args.write_readme.write_text(replace_readme_block(readme_text, block))
        print(f"updated the terrain block of {args.write_readme}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse arguments, run, turn known errors into one line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks.terrain", *argv])
    try:
        return run(args, command)
    except TerrainBenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
