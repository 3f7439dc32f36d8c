"""Score replay predictions against the ground truth of the converted gait datasets.

This is the project's own implementation of the scoring conventions that the team's reference
scorer (``../shared/tools/score.py``) documents, written so that both give the same numbers for
any truth folder and prediction folder (``tests/test_scoring.py`` checks this on the real
development truth). In short:

* Truth: ``<truth>/<dataset>/<recording_id>.json`` sidecars; only recordings with step events
  are scored (``ground_truth.has_step_truth`` not false and a non-empty ``steps_t``).
* Predictions: ``<pred>/<dataset>/<recording_id>.json`` in the replay contract
  (``cadence-coach.replay/1``); a missing file is a recording with no detections.
* Matching: one-to-one between predicted step times and truth events inside the merged
  ``gt_intervals`` (maximum number of pairs, then minimum total time error; Hungarian
  assignment with :func:`scipy.optimize.linear_sum_assignment` on independent clusters), with
  a per-dataset tolerance (:data:`DATASET_RULES`, overridden by the sidecar's
  ``timing_tolerance_hint_s``). End-of-stance events (``gdind_footprints``) are matched around
  ``event - 0.40 x stride time`` and the first event of each interval is not scored.
* Feet: a one-foot prediction against both-feet truth is scored against the instrumented foot
  only; a both-feet prediction against one-foot truth must also find one other-foot contact in
  the middle half of every labelled stride.
* Cadence: ~10 s windows over the intervals; absolute error of the cadence from predicted step
  times and from the ``cadence_spm`` field against the truth cadence.
* Stride length: truth strides anchored to scored events, paired through the matches; distance
  from the summed predicted stride lengths.

Examples
--------
>>> from benchmarks.scoring import format_markdown, score_folder
>>> report = score_folder("../shared/datasets", "/tmp/pred")  # doctest: +SKIP
>>> print(format_markdown(report))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from firmware_py.exc import CadenceError

__all__ = [
    "CADENCE_WINDOW_S",
    "DATASET_RULES",
    "END_OF_STANCE",
    "INITIAL_CONTACT",
    "PAUSE_FACTOR",
    "CadenceWindow",
    "GroupRow",
    "MatchRule",
    "Prediction",
    "RecordingScore",
    "Report",
    "ScoringError",
    "Stats",
    "Truth",
    "format_markdown",
    "format_misses",
    "format_worst_recordings",
    "load_prediction",
    "load_truth",
    "match_times",
    "parse_prediction",
    "rule_for",
    "score_folder",
    "score_recording",
    "score_truths",
    "summarize",
]

#: Slack on every time comparison (s), so that events on a boundary count as inside.
EPS_S = 1e-9
#: Target length of a cadence window (s); an interval of length L gets round(L / 10 s) windows.
CADENCE_WINDOW_S = 10.0
#: An inter-event interval longer than this many times the median is a pause.
PAUSE_FACTOR = 2.5
#: The truth cadence of a window needs at least this many (non-pause) intervals.
MIN_TRUTH_INTERVALS = 3
#: Cost of a candidate pair outside the tolerance: larger than any sum of real time errors.
_NO_PAIR_COST = 1.0e6
_SIDE_ALIASES = {"l": "L", "left": "L", "r": "R", "right": "R"}


class ScoringError(CadenceError, ValueError):
    """A truth or prediction folder cannot be scored as it stands (the message says why)."""


@dataclass(frozen=True)
class MatchRule:
    """How the events of one dataset are matched.

    Parameters
    ----------
    tol_s : float
        Half-width of the match window around each event (s).
    center_stride_frac : float
        The window is centred at ``event + center_stride_frac * stride_time_s`` (0 for initial
        contacts; negative for events that come after the contact).
    skip_first_event : bool
        Do not score the first event of each truth interval (a start position, not a step).
    distance_skip_first : bool
        Leave out the first predicted step of each interval when summing the distance (the
        truth distance runs from the first contact to the last).
    event : str
        What the truth event is, for reports.
    """

    tol_s: float = 0.10
    center_stride_frac: float = 0.0
    skip_first_event: bool = False
    distance_skip_first: bool = False
    event: str = "initial contact"


#: Rule for initial-contact events (the default).
INITIAL_CONTACT = MatchRule()
#: Rule for end-of-stance events: a contact detector fires ~40 % of a stride earlier.
END_OF_STANCE = MatchRule(
    tol_s=0.25,
    center_stride_frac=-0.40,
    skip_first_event=True,
    event="end of stance (zero-velocity end); contact expected ~0.4 stride earlier",
)
#: Per-dataset rules; other datasets use :data:`INITIAL_CONTACT` (or :data:`END_OF_STANCE` when
#: their ``event_definition`` speaks of the end of stance).
DATASET_RULES: dict[str, MatchRule] = {
    "pyshoe_vicon": MatchRule(
        distance_skip_first=True, event="approx. initial contact from VICON foot speed"
    ),
    "voisard_ipol": MatchRule(event="heel strike (validated foot-IMU algorithms)"),
    "mobgap_example": MatchRule(event="initial contact (INDIP)"),
    "gaitmap_example": MatchRule(event="initial contact (mocap)"),
    "bach_shank_walkrun": MatchRule(event="initial contact (force plate 50 N)"),
    "adept_outdoor_run": MatchRule(tol_s=0.10, event="ankle-logger stride event moved onto the hip impact"),
    "harlab_treadmill_jog": MatchRule(
        tol_s=0.15, event="ankle-logger stride event moved onto the hip impact"
    ),
    "gdind_footprints": END_OF_STANCE,
}


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------
def _side(value: object) -> str | None:
    """Return ``"L"``, ``"R"`` or None (unknown, ``instrumented``, ...) for a side label."""
    if value is None:
        return None
    return _SIDE_ALIASES.get(str(value).strip().lower())


def _as_float(value: object) -> float:
    """Return ``value`` as a float, NaN where it is null or not a number."""
    if value is None:
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _times(values: Sequence[object] | None) -> np.ndarray:
    """Return a float array of times, NaN for nulls."""
    return np.array([_as_float(v) for v in (values or [])], dtype=float)


@dataclass(frozen=True)
class Truth:
    """One truth sidecar.

    Parameters
    ----------
    dataset : str
        Dataset name (the sidecar's ``dataset``, else its folder name).
    recording_id : str
        Recording name (the sidecar's ``recording_id``, else its file stem).
    meta : dict
        The whole sidecar.
    sidecar : Path, optional
        Where the sidecar was read from.
    """

    dataset: str
    recording_id: str
    meta: Mapping[str, Any]
    sidecar: Path | None = None

    @property
    def ground_truth(self) -> Mapping[str, Any]:
        """The sidecar's ``ground_truth`` object (empty when absent)."""
        return self.meta.get("ground_truth") or {}

    @property
    def has_step_truth(self) -> bool:
        """Whether the recording has step events to score."""
        gt = self.ground_truth
        return gt.get("has_step_truth") is not False and bool(gt.get("steps_t"))

    @property
    def placement(self) -> str | None:
        """Sensor placement (``lower_back``, ``foot`` or ``shank``)."""
        return self.meta.get("placement")

    def group_key(self, by: Sequence[str]) -> tuple[str, ...]:
        """Return the values of the sidecar fields ``by`` as strings (``"None"`` when absent)."""
        return tuple(str(self.meta.get(k)) for k in by)


def load_truth(root: str | Path) -> list[Truth]:
    """Read every ``<root>/<dataset>/<recording_id>.json`` sidecar, sorted by dataset and file.

    Parameters
    ----------
    root : str or Path
        Truth folder.

    Returns
    -------
    list of Truth
        Every sidecar found, with or without step truth.

    Raises
    ------
    ScoringError
        When the folder holds no sidecar or a sidecar is not valid JSON.
    """
    root = Path(root)
    truths: list[Truth] = []
    if root.is_dir():
        for ds_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(ds_dir.glob("*.json")):
                try:
                    meta = json.loads(path.read_text())
                except json.JSONDecodeError as exc:
                    raise ScoringError(f"{path}: not valid JSON ({exc})") from exc
                if not isinstance(meta, dict):
                    continue
                truths.append(
                    Truth(
                        dataset=str(meta.get("dataset", ds_dir.name)),
                        recording_id=str(meta.get("recording_id", path.stem)),
                        meta={"dataset": ds_dir.name, "recording_id": path.stem, **meta},
                        sidecar=path,
                    )
                )
    if not truths:
        raise ScoringError(f"no <dataset>/<recording_id>.json sidecars under the truth folder {root}")
    return truths


def rule_for(truth: Truth) -> MatchRule:
    """Return the matching rule of a recording.

    Parameters
    ----------
    truth : Truth
        The recording.

    Returns
    -------
    MatchRule
        The dataset's entry of :data:`DATASET_RULES` (else guessed from the event definition),
        with the sidecar's ``timing_tolerance_hint_s`` as tolerance where it gives one.
    """
    gt = truth.ground_truth
    rule = DATASET_RULES.get(truth.dataset)
    if rule is None:
        definition = str(gt.get("event_definition", "")).lower()
        is_end_of_stance = "end of" in definition and "stance" in definition
        rule = END_OF_STANCE if is_end_of_stance else INITIAL_CONTACT
    hint = gt.get("timing_tolerance_hint_s")
    if hint is not None:
        rule = replace(rule, tol_s=float(hint))
    return rule


@dataclass(frozen=True)
class Prediction:
    """The steps of one replayed recording, sorted by time.

    Parameters
    ----------
    t : numpy.ndarray
        Step times (s).
    side : tuple of str or None
        ``"L"``, ``"R"`` or None per step.
    cadence_spm : numpy.ndarray
        The ``cadence_spm`` field per step (steps/min), NaN where null.
    stride_length_m : numpy.ndarray
        The ``stride_length_m`` field per step (m), NaN where null.
    steps_feet : {"one", "both"} or None
        The prediction's declared ``steps_feet``.
    missing : bool
        True when there was no prediction file.
    """

    t: np.ndarray
    side: tuple[str | None, ...]
    cadence_spm: np.ndarray
    stride_length_m: np.ndarray
    steps_feet: str | None = None
    missing: bool = False

    @classmethod
    def empty(cls, *, missing: bool = True) -> Prediction:
        """Return a prediction without steps (a missing file unless ``missing=False``)."""
        none = np.zeros(0)
        return cls(none, (), none.copy(), none.copy(), None, missing)


def parse_prediction(obj: object, where: str = "prediction") -> Prediction:
    """Read a prediction object in the replay contract.

    Parameters
    ----------
    obj : object
        The decoded JSON: an object with a ``steps`` list (other keys are ignored).
    where : str
        Name of the source, for error messages.

    Returns
    -------
    Prediction
        The steps, sorted by time (stable).

    Raises
    ------
    ScoringError
        When ``steps`` is missing, a step has no finite ``t`` or ``steps_feet`` is not
        ``"one"``, ``"both"`` or absent.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("steps"), list):
        raise ScoringError(f"{where}: expected an object with a 'steps' list")
    steps = obj["steps"]
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("t") is None:
            raise ScoringError(f"{where}: steps[{i}] has no 't'")
        if not math.isfinite(_as_float(step["t"])):
            raise ScoringError(f"{where}: steps[{i}].t is not a finite number")
    feet = obj.get("steps_feet")
    if feet not in (None, "one", "both"):
        raise ScoringError(f"{where}: steps_feet must be 'one' or 'both', got {feet!r}")
    t = np.array([_as_float(s["t"]) for s in steps], dtype=float)
    order = np.argsort(t, kind="stable")
    ordered = [steps[i] for i in order]
    return Prediction(
        t=t[order],
        side=tuple(_side(s.get("side")) for s in ordered),
        cadence_spm=np.array([_as_float(s.get("cadence_spm")) for s in ordered], dtype=float),
        stride_length_m=np.array([_as_float(s.get("stride_length_m")) for s in ordered], dtype=float),
        steps_feet=feet,
    )


def load_prediction(path: str | Path) -> Prediction:
    """Read one prediction file; a missing file gives an empty, ``missing`` prediction.

    Parameters
    ----------
    path : str or Path
        ``<pred>/<dataset>/<recording_id>.json``.

    Returns
    -------
    Prediction
        The parsed steps.

    Raises
    ------
    ScoringError
        When the file is not valid JSON or not in the contract.
    """
    path = Path(path)
    if not path.exists():
        return Prediction.empty()
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ScoringError(f"{path}: not valid JSON ({exc})") from exc
    return parse_prediction(obj, str(path))


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def _merge_intervals(raw: Iterable[Sequence[object]]) -> list[tuple[float, float]]:
    """Sort intervals and merge those that overlap or touch."""
    spans = sorted((float(a), float(b)) for a, b, *_ in raw if a is not None and b is not None)  # type: ignore[arg-type]
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + EPS_S:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _within(t: np.ndarray, a: float, b: float, pad: float = 0.0) -> np.ndarray:
    """Mask of the times in ``[a - pad, b + pad]`` (with :data:`EPS_S` slack)."""
    return (t >= a - pad - EPS_S) & (t <= b + pad + EPS_S)


def _within_any(t: np.ndarray, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """Mask of the times inside any of the spans."""
    mask = np.zeros(t.shape, dtype=bool)
    for a, b in spans:
        mask |= _within(t, a, b)
    return mask


def _same_side_period(times: np.ndarray, sides: Sequence[str | None]) -> np.ndarray:
    """Time since the previous event with the same side label, in array order (s).

    Events without a previous one, and periods longer than :data:`PAUSE_FACTOR` x the median
    period, get the median period (1 s if there is no period at all).
    """
    period = np.full(times.size, np.nan)
    previous: dict[str | None, float] = {}
    for i, (ti, side) in enumerate(zip(times, sides, strict=True)):
        if side in previous:
            period[i] = ti - previous[side]
        previous[side] = ti
    known = np.isfinite(period)
    median = float(np.median(period[known])) if known.any() else 1.0
    period[~known] = median
    period[period > PAUSE_FACTOR * median] = median
    return period


def match_times(centres: np.ndarray, pred_t: np.ndarray, tol_s: float) -> list[tuple[int, int]]:
    """Match predicted times to event centres one-to-one.

    The matching has the largest number of pairs with ``|pred - centre| <= tol_s``, and among
    those the smallest total ``|pred - centre|``. Events whose candidate predictions overlap form
    a cluster; each cluster is one Hungarian assignment.

    Parameters
    ----------
    centres : numpy.ndarray
        Centre of each event's match window (s).
    pred_t : numpy.ndarray
        Predicted times (s), any order.
    tol_s : float
        Half-width of the match window (s).

    Returns
    -------
    list of (int, int)
        ``(event index, prediction index)`` pairs.
    """
    if centres.size == 0 or pred_t.size == 0:
        return []
    order = np.argsort(pred_t, kind="stable")
    p_sorted = pred_t[order]
    first = np.searchsorted(p_sorted, centres - tol_s - EPS_S, side="left")
    stop = np.searchsorted(p_sorted, centres + tol_s + EPS_S, side="right")
    events = [int(j) for j in np.argsort(first, kind="stable") if stop[j] > first[j]]

    clusters: list[list[int]] = []
    reach = -1
    for j in events:
        if not clusters or first[j] >= reach:
            clusters.append([])
        clusters[-1].append(j)
        reach = max(reach, int(stop[j]))

    pairs: list[tuple[int, int]] = []
    for cluster in clusters:
        col0 = min(int(first[j]) for j in cluster)
        col1 = max(int(stop[j]) for j in cluster)
        cost = np.full((len(cluster), col1 - col0), _NO_PAIR_COST)
        for row, j in enumerate(cluster):
            err = np.abs(p_sorted[first[j] : stop[j]] - centres[j])
            cost[row, first[j] - col0 : stop[j] - col0] = np.where(err <= tol_s + EPS_S, err, _NO_PAIR_COST)
        rows, cols = linear_sum_assignment(cost)
        pairs.extend(
            (cluster[r], int(order[col0 + c]))
            for r, c in zip(rows, cols, strict=True)
            if cost[r, c] < _NO_PAIR_COST
        )
    return pairs


def _cadence_windows(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Cut each span into ``max(1, round(L / 10 s))`` equal windows."""
    windows = []
    for a, b in spans:
        n = max(1, round((b - a) / CADENCE_WINDOW_S))
        width = (b - a) / n
        windows.extend((a + k * width, a + (k + 1) * width) for k in range(n))
    return windows


def _cadence_spm(times: np.ndarray, feet_factor: float, min_intervals: int) -> float | None:
    """Cadence (steps/min) from event times, pauses left out; None when it cannot be estimated."""
    if times.size < 2:
        return None
    gaps = np.diff(np.sort(times))
    gaps = gaps[gaps > 0]
    if gaps.size == 0:
        return None
    gaps = gaps[gaps <= PAUSE_FACTOR * np.median(gaps)]
    if gaps.size < min_intervals:
        return None
    return 60.0 * feet_factor / float(np.mean(gaps))


def _stride_anchors(
    strides: Mapping[str, Any], times: np.ndarray, sides: Sequence[str | None]
) -> dict[int, float]:
    """Map scored events to the truth stride length that ends there.

    A stride with a length is anchored to the event of its foot (or of unknown side) nearest to
    its ``t_end``, if that event is within half the stride time (1 s when ``t_start`` is
    unknown); an event keeps the first stride that claims it.
    """
    lengths = strides.get("length_m")
    anchors: dict[int, float] = {}
    if not lengths or times.size == 0:
        return anchors
    n = len(lengths)
    t_start = _times(strides.get("t_start") or [None] * n)
    t_end = _times(strides.get("t_end") or [None] * n)
    foot = strides.get("foot")
    feet = foot if isinstance(foot, list) else [foot] * n
    side_of = np.array([s or "" for s in sides], dtype=object)
    for k, length in enumerate(lengths):
        if length is None or not math.isfinite(float(length)) or not math.isfinite(t_end[k]):
            continue
        foot_k = _side(feet[k])
        allowed = np.ones(times.size, bool) if foot_k is None else (side_of == foot_k) | (side_of == "")
        cand = np.flatnonzero(allowed)
        if cand.size == 0:
            continue
        j = int(cand[np.argmin(np.abs(times[cand] - t_end[k]))])
        duration = t_end[k] - t_start[k] if math.isfinite(t_start[k]) else 2.0
        if abs(times[j] - t_end[k]) <= 0.5 * duration + EPS_S and j not in anchors:
            anchors[j] = float(length)
    return anchors


def _pred_feet(truth: Truth, pred: Prediction) -> str:
    """Which feet a prediction lists: declared, else from its L/R labels, else from the placement."""
    if pred.steps_feet:
        return pred.steps_feet
    if {"L", "R"} <= set(pred.side):
        return "both"
    return "both" if truth.placement == "lower_back" else "one"


# ---------------------------------------------------------------------------------------------
# Per recording
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CadenceWindow:
    """Cadence of one ~10 s window (steps/min).

    Parameters
    ----------
    t0_s, t1_s : float
        Window bounds (s).
    truth_spm : float
        Truth cadence.
    times_spm : float
        Cadence from the predicted step times (0 with fewer than 2 steps).
    field_spm : float
        Median ``cadence_spm`` of the predicted steps (0 when none has one).
    """

    t0_s: float
    t1_s: float
    truth_spm: float
    times_spm: float
    field_spm: float


@dataclass
class RecordingScore:
    """Raw scoring result of one recording (counts, matched offsets, cadence windows, strides).

    Parameters
    ----------
    dataset, recording_id : str
        The recording.
    group : tuple of str
        Its group key.
    placement : str
        Its placement (``str`` of the sidecar field).
    tp, fp, fn : int
        True positives, false positives (unmatched predictions inside the intervals), false
        negatives; other-foot zones included.
    n_gt : int
        Scored events (``tp + fn``).
    n_pred : int
        Predictions inside the intervals.
    n_pred_total : int
        All predictions.
    n_other_foot_expected, n_other_foot_found : int
        Other-foot zones of one-foot truth scored against both-feet predictions, and those found.
    side_checked, side_agree : int
        Matches where both carry an L/R label, and those where the labels agree.
    dt_s : numpy.ndarray
        ``pred - event`` of every match (s).
    cadence_windows : list of CadenceWindow
        Windows with a truth cadence.
    stride_pairs : numpy.ndarray
        ``(n, 2)`` array of (predicted, truth) stride lengths (m).
    n_gt_strides : int
        Truth strides anchored to a scored event.
    distance_gt_m, distance_pred_m : float or None
        Truth and predicted distance, where the sidecar has ``distance_m``.
    pred_missing : bool
        No prediction file.
    pred_feet, gt_feet : str
        Feet listed by the prediction and by the truth.
    side_mode : str
        Which feet were scored, in words.
    pred_has_cadence, pred_has_stride : bool
        The prediction gives at least one ``cadence_spm`` / ``stride_length_m``.
    missed_t_s : numpy.ndarray
        Times of the scored truth events left without a prediction (s, as in the truth; an
        unclaimed other-foot zone is given by its middle).
    false_t_s : numpy.ndarray
        Times of the predictions inside the intervals that matched nothing (s).
    """

    dataset: str
    recording_id: str
    group: tuple[str, ...]
    placement: str
    tp: int
    fp: int
    fn: int
    n_gt: int
    n_pred: int
    n_pred_total: int
    n_other_foot_expected: int
    n_other_foot_found: int
    side_checked: int
    side_agree: int
    dt_s: np.ndarray
    cadence_windows: list[CadenceWindow]
    stride_pairs: np.ndarray
    n_gt_strides: int
    distance_gt_m: float | None
    distance_pred_m: float | None
    pred_missing: bool
    pred_feet: str
    gt_feet: str
    side_mode: str
    pred_has_cadence: bool
    pred_has_stride: bool
    missed_t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    false_t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass
class _Matching:
    """Event matching for one choice of scored truth events."""

    n_gt: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    n_zones: int
    n_zone_hits: int
    side_checked: int
    side_agree: int
    dt_s: np.ndarray
    stride_pairs: np.ndarray
    n_gt_strides: int
    missed_t_s: np.ndarray
    false_t_s: np.ndarray


def _other_foot_zones(centres: np.ndarray) -> list[tuple[float, float]]:
    """Middle half of every labelled stride (between consecutive centres), pauses excluded."""
    c = np.sort(centres)
    gaps = np.diff(c)
    limit = PAUSE_FACTOR * np.median(gaps)
    return [(c[k] + 0.25 * gaps[k], c[k] + 0.75 * gaps[k]) for k in range(gaps.size) if gaps[k] <= limit]


def _match_selection(
    truth: Truth,
    rule: MatchRule,
    tol_s: float,
    spans: Sequence[tuple[float, float]],
    event_t: np.ndarray,
    event_side: Sequence[str | None],
    period_s: np.ndarray,
    scored: np.ndarray,
    pred: Prediction,
    other_foot: bool,
) -> _Matching:
    """Match the predictions to the scored events ``event_t[scored]``."""
    idx = np.flatnonzero(scored)
    times = event_t[idx]
    sides = [event_side[i] for i in idx]
    centres = times + rule.center_stride_frac * period_s[idx]
    pairs = match_times(centres, pred.t, tol_s)
    matched = {p for _, p in pairs}
    inside = _within_any(pred.t, spans)
    false_pos = [k for k in np.flatnonzero(inside) if k not in matched]

    n_zones = hits = 0
    matched_events = {g for g, _ in pairs}
    missed = [times[g] for g in range(times.size) if g not in matched_events]
    if other_foot and times.size >= 2:
        zones = _other_foot_zones(centres)
        n_zones = len(zones)
        claimed: set[int] = set()
        still_false = []
        for k in false_pos:
            zone = next((z for z, (a, b) in enumerate(zones) if a <= pred.t[k] <= b), None)
            if zone is None or zone in claimed:
                still_false.append(k)
            else:
                claimed.add(zone)
        hits = len(claimed)
        false_pos = still_false
        missed += [0.5 * (a + b) for z, (a, b) in enumerate(zones) if z not in claimed]

    tp = len(pairs) + hits
    with_sides = [(pred.side[p], sides[g]) for g, p in pairs]
    with_sides = [(a, b) for a, b in with_sides if a in ("L", "R") and b in ("L", "R")]
    anchors = _stride_anchors(truth.ground_truth.get("strides") or {}, times, sides)
    stride_pairs = [
        (float(pred.stride_length_m[p]), anchors[g])
        for g, p in pairs
        if g in anchors and math.isfinite(pred.stride_length_m[p])
    ]
    return _Matching(
        n_gt=idx.size + n_zones,
        n_pred=int(np.count_nonzero(inside)),
        tp=tp,
        fp=len(false_pos),
        fn=idx.size + n_zones - tp,
        n_zones=n_zones,
        n_zone_hits=hits,
        side_checked=len(with_sides),
        side_agree=sum(a == b for a, b in with_sides),
        dt_s=np.array([pred.t[p] - times[g] for g, p in pairs], dtype=float),
        stride_pairs=np.array(stride_pairs, dtype=float).reshape(-1, 2),
        n_gt_strides=len(anchors),
        missed_t_s=np.sort(np.array(missed, dtype=float)),
        false_t_s=np.sort(pred.t[np.array(false_pos, dtype=int)]),
    )


def score_recording(
    truth: Truth,
    pred: Prediction,
    *,
    by: Sequence[str] = ("dataset", "placement", "activity"),
    tol_scale: float = 1.0,
) -> RecordingScore:
    """Score the prediction of one recording.

    Parameters
    ----------
    truth : Truth
        The recording's sidecar (with step truth).
    pred : Prediction
        Its prediction (:meth:`Prediction.empty` for a missing file).
    by : sequence of str
        Sidecar fields of the group key.
    tol_scale : float
        Factor on the matching tolerance (sensitivity analysis).

    Returns
    -------
    RecordingScore
        Counts, offsets, cadence windows, stride pairs and distance.
    """
    rule = rule_for(truth)
    gt = truth.ground_truth
    tol_s = rule.tol_s * tol_scale
    spans = _merge_intervals(gt.get("gt_intervals") or [[0.0, truth.meta.get("duration_s", 0.0)]])
    event_t = _times(gt["steps_t"])
    event_side = [_side(s) for s in (gt.get("steps_side") or [None] * event_t.size)]
    gt_feet = gt.get("steps_feet_code", "both")
    pred_feet = _pred_feet(truth, pred)
    instrumented = _side(truth.meta.get("placement_side"))

    # events inside the intervals, minus the start position of end-of-stance truth
    scored = np.isfinite(event_t) & _within_any(event_t, spans)
    if rule.skip_first_event:
        for a, b in spans:
            in_span = np.flatnonzero(scored & _within(event_t, a, b))
            if in_span.size:
                scored[in_span[np.argmin(event_t[in_span])]] = False

    # stride time of every event, from all finite events (both feet where labelled)
    period_s = np.full(event_t.size, np.nan)
    finite = np.flatnonzero(np.isfinite(event_t))
    if finite.size:
        period_s[finite] = _same_side_period(event_t[finite], [event_side[i] for i in finite])

    side_mode = "all"
    feet_to_try: list[str | None] = [None]
    if gt_feet == "both" and pred_feet == "one":
        side_mode = "gt filtered to instrumented foot"
        feet_to_try = [instrumented] if instrumented else sorted({s for s in event_side if s}) or [None]
    other_foot = gt_feet == "one" and pred_feet == "both"
    if other_foot:
        side_mode = "pred both feet vs one-foot gt: other-foot contacts ignored"

    best: _Matching | None = None
    for foot in feet_to_try:
        selection = scored if foot is None else scored & np.array([s == foot for s in event_side], bool)
        m = _match_selection(
            truth, rule, tol_s, spans, event_t, event_side, period_s, selection, pred, other_foot
        )
        if best is None or m.tp > best.tp:
            best = m
    assert best is not None

    # cadence over ~10 s windows
    truth_factor = 2.0 if gt_feet == "one" else 1.0
    pred_factor = 2.0 if pred_feet == "one" else 1.0
    all_events = event_t[np.isfinite(event_t)]
    windows = []
    for a, b in _cadence_windows(spans):
        c_truth = _cadence_spm(all_events[_within(all_events, a, b)], truth_factor, MIN_TRUTH_INTERVALS)
        if c_truth is None:
            continue
        in_window = _within(pred.t, a, b)
        c_times = _cadence_spm(pred.t[in_window], pred_factor, 1)
        given = pred.cadence_spm[in_window]
        given = given[np.isfinite(given)]
        windows.append(
            CadenceWindow(
                t0_s=a,
                t1_s=b,
                truth_spm=c_truth,
                times_spm=0.0 if c_times is None else c_times,
                field_spm=float(np.median(given)) if given.size else 0.0,
            )
        )

    # distance: summed predicted stride lengths inside the intervals (+- tolerance)
    distance_gt = distance_pred = None
    if gt.get("distance_m") is not None:
        weight = 0.5 if pred_feet == "both" else 1.0
        distance_pred = 0.0
        for a, b in spans:
            sel = np.flatnonzero(_within(pred.t, a, b, pad=tol_s))
            if rule.distance_skip_first:
                sel = sel[1:]
            distance_pred += float(np.nansum(pred.stride_length_m[sel])) * weight
        distance_gt = float(gt["distance_m"])

    return RecordingScore(
        dataset=truth.dataset,
        recording_id=truth.recording_id,
        group=truth.group_key(by),
        placement=str(truth.placement),
        tp=best.tp,
        fp=best.fp,
        fn=best.fn,
        n_gt=best.n_gt,
        n_pred=best.n_pred,
        n_pred_total=int(pred.t.size),
        n_other_foot_expected=best.n_zones,
        n_other_foot_found=best.n_zone_hits,
        side_checked=best.side_checked,
        side_agree=best.side_agree,
        dt_s=best.dt_s,
        cadence_windows=windows,
        stride_pairs=best.stride_pairs,
        n_gt_strides=best.n_gt_strides,
        distance_gt_m=distance_gt,
        distance_pred_m=distance_pred,
        pred_missing=pred.missing,
        pred_feet=pred_feet,
        gt_feet=str(gt_feet),
        side_mode=side_mode,
        pred_has_cadence=bool(np.isfinite(pred.cadence_spm).any()),
        pred_has_stride=bool(np.isfinite(pred.stride_length_m).any()),
        missed_t_s=best.missed_t_s,
        false_t_s=best.false_t_s,
    )


# ---------------------------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Pooled numbers of a set of recordings (the field names are those of score.py's JSON).

    Parameters
    ----------
    n_recordings : int
        Recordings pooled.
    n_gt, n_pred, tp, fp, fn : int
        Scored events, predictions inside the intervals, and the confusion counts.
    precision, recall, f1 : float
        From the pooled counts (NaN when undefined).
    n_other_foot_expected, n_other_foot_found : int
        Other-foot zones (one-foot truth, both-feet prediction) and those found.
    side_agreement : float
        Share of L/R-labelled matches whose labels agree.
    dt_median_ms, dt_mae_ms : float
        Median and mean absolute ``pred - event`` of the matches (ms).
    n_cadence_windows : int
        Cadence windows pooled.
    cadence_times_abs_err_median_spm, cadence_times_abs_err_p95_spm : float
        |cadence error| from step times, median and 95th percentile (steps/min).
    cadence_field_abs_err_median_spm, cadence_field_abs_err_p95_spm : float
        The same from the ``cadence_spm`` field (NaN when no prediction gives it).
    n_stride_pairs, n_gt_strides : int
        Stride pairs and anchored truth strides.
    stride_mae_m, stride_mape_pct, stride_bias_m : float
        Stride-length error over the pairs.
    n_distance : int
        Recordings with a distance error (0 when no prediction gives stride lengths).
    distance_abs_err_pct_mean, distance_err_pct_mean : float
        Mean |distance error| and mean signed distance error over those recordings (%).
    """

    n_recordings: int
    n_gt: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    n_other_foot_expected: int
    n_other_foot_found: int
    side_agreement: float
    dt_median_ms: float
    dt_mae_ms: float
    n_cadence_windows: int
    cadence_times_abs_err_median_spm: float
    cadence_times_abs_err_p95_spm: float
    cadence_field_abs_err_median_spm: float
    cadence_field_abs_err_p95_spm: float
    n_stride_pairs: int
    n_gt_strides: int
    stride_mae_m: float
    stride_mape_pct: float
    stride_bias_m: float
    n_distance: int
    distance_abs_err_pct_mean: float
    distance_err_pct_mean: float

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict (NaN as None)."""
        return {f.name: _json_number(getattr(self, f.name)) for f in fields(self)}


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def _p95(x: np.ndarray) -> float:
    return float(np.percentile(x, 95)) if x.size else math.nan


def summarize(scores: Sequence[RecordingScore], *, has_cadence: bool, has_stride: bool) -> Stats:
    """Pool recordings: events, offsets, cadence windows, stride pairs and distances.

    Parameters
    ----------
    scores : sequence of RecordingScore
        Recordings to pool.
    has_cadence : bool
        Whether the prediction set gives ``cadence_spm`` at all (else the field errors are NaN).
    has_stride : bool
        Whether the prediction set gives ``stride_length_m`` at all (else no distance errors).

    Returns
    -------
    Stats
        The pooled numbers.
    """
    tp = sum(s.tp for s in scores)
    fp = sum(s.fp for s in scores)
    fn = sum(s.fn for s in scores)
    dt = np.concatenate([s.dt_s for s in scores]) if scores else np.zeros(0)
    windows = [w for s in scores for w in s.cadence_windows]
    err_times = np.array([abs(w.times_spm - w.truth_spm) for w in windows], dtype=float)
    err_field = np.array([abs(w.field_spm - w.truth_spm) for w in windows], dtype=float)
    if not has_cadence:
        err_field = np.zeros(0)
    pairs = np.concatenate([s.stride_pairs for s in scores]) if scores else np.zeros((0, 2))
    stride_err = pairs[:, 0] - pairs[:, 1]
    dist = [
        (s.distance_pred_m - s.distance_gt_m) / s.distance_gt_m * 100.0  # type: ignore[operator]
        for s in scores
        if s.distance_gt_m
    ]
    if not has_stride:
        dist = []
    return Stats(
        n_recordings=len(scores),
        n_gt=tp + fn,
        n_pred=sum(s.n_pred for s in scores),
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_ratio(tp, tp + fp),
        recall=_ratio(tp, tp + fn),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        n_other_foot_expected=sum(s.n_other_foot_expected for s in scores),
        n_other_foot_found=sum(s.n_other_foot_found for s in scores),
        side_agreement=_ratio(sum(s.side_agree for s in scores), sum(s.side_checked for s in scores)),
        dt_median_ms=_median(dt) * 1000.0,
        dt_mae_ms=float(np.mean(np.abs(dt))) * 1000.0 if dt.size else math.nan,
        n_cadence_windows=len(windows),
        cadence_times_abs_err_median_spm=_median(err_times),
        cadence_times_abs_err_p95_spm=_p95(err_times),
        cadence_field_abs_err_median_spm=_median(err_field),
        cadence_field_abs_err_p95_spm=_p95(err_field),
        n_stride_pairs=int(pairs.shape[0]),
        n_gt_strides=sum(s.n_gt_strides for s in scores),
        stride_mae_m=float(np.mean(np.abs(stride_err))) if stride_err.size else math.nan,
        stride_mape_pct=float(np.mean(np.abs(stride_err) / pairs[:, 1]) * 100.0)
        if stride_err.size
        else math.nan,
        stride_bias_m=float(np.mean(stride_err)) if stride_err.size else math.nan,
        n_distance=len(dist),
        distance_abs_err_pct_mean=float(np.mean(np.abs(dist))) if dist else math.nan,
        distance_err_pct_mean=float(np.mean(dist)) if dist else math.nan,
    )


@dataclass(frozen=True)
class GroupRow:
    """One row of a report.

    Parameters
    ----------
    key : dict
        Group field -> value (e.g. ``{"dataset": ..., "placement": ..., "activity": ...}``).
    label : str
        Row label for tables.
    stats : Stats
        The pooled numbers.
    """

    key: Mapping[str, str]
    label: str
    stats: Stats

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"group": key, **stats}`` (the shape of score.py's JSON groups)."""
        return {"group": dict(self.key), **self.stats.to_dict()}


@dataclass
class Report:
    """Scores of one prediction folder against one truth folder.

    Parameters
    ----------
    truth_root, pred_root : str
        The folders scored.
    by : tuple of str
        Sidecar fields of the group key.
    only : dict
        Field -> allowed values that restricted the recordings.
    tol_scale : float
        Factor on every tolerance.
    has_cadence, has_stride : bool
        The prediction set gives ``cadence_spm`` / ``stride_length_m`` at all.
    groups : list of GroupRow
        One row per group, sorted by key.
    placements : list of GroupRow
        One pooled row per placement (``all <placement>``), sorted.
    overall : Stats
        Every scored recording pooled.
    recordings : list of RecordingScore
        Raw per-recording results, in truth order.
    recording_rows : list of GroupRow
        Per-recording stats (key: dataset and recording_id).
    n_missing_prediction_files : int
        Recordings without a prediction file (scored as zero detections).
    n_skipped_no_step_truth : int
        Sidecars without step truth (not scored).
    """

    truth_root: str
    pred_root: str
    by: tuple[str, ...]
    only: dict[str, list[str]]
    tol_scale: float
    has_cadence: bool
    has_stride: bool
    groups: list[GroupRow]
    placements: list[GroupRow]
    overall: Stats
    recordings: list[RecordingScore] = field(repr=False)
    recording_rows: list[GroupRow] = field(repr=False)
    n_missing_prediction_files: int = 0
    n_skipped_no_step_truth: int = 0

    @property
    def has_stride_truth(self) -> bool:
        """Whether any scored recording has anchored truth stride lengths."""
        return self.overall.n_gt_strides > 0

    @property
    def has_distance_truth(self) -> bool:
        """Whether any scored recording has a truth distance."""
        return any(r.distance_gt_m for r in self.recordings)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict (groups in the shape of score.py's JSON)."""
        recordings = []
        for raw, row in zip(self.recordings, self.recording_rows, strict=True):
            recordings.append(
                {
                    "dataset": raw.dataset,
                    "recording_id": raw.recording_id,
                    "placement": raw.placement,
                    "side_mode": raw.side_mode,
                    "pred_feet": raw.pred_feet,
                    "gt_feet": raw.gt_feet,
                    "pred_missing": raw.pred_missing,
                    "distance_gt_m": _json_number(raw.distance_gt_m),
                    "distance_pred_m": _json_number(raw.distance_pred_m),
                    **row.stats.to_dict(),
                }
            )
        return {
            "truth": self.truth_root,
            "pred": self.pred_root,
            "by": list(self.by),
            "only": self.only,
            "tol_scale": self.tol_scale,
            "pred_has_cadence_spm": self.has_cadence,
            "pred_has_stride_length_m": self.has_stride,
            "n_missing_prediction_files": self.n_missing_prediction_files,
            "n_skipped_no_step_truth": self.n_skipped_no_step_truth,
            "groups": [g.to_dict() for g in self.groups],
            "placements": [g.to_dict() for g in self.placements],
            "overall": self.overall.to_dict(),
            "recordings": recordings,
        }


def _json_number(x: Any) -> Any:
    if isinstance(x, float | np.floating) and not math.isfinite(x):
        return None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


def score_truths(
    truths: Sequence[Truth],
    predictions: Mapping[tuple[str, str], Prediction],
    *,
    by: Sequence[str] = ("dataset", "placement", "activity"),
    only: Mapping[str, Iterable[str]] | None = None,
    tol_scale: float = 1.0,
    truth_root: str = "",
    pred_root: str = "",
) -> Report:
    """Score in-memory predictions against loaded truth.

    Parameters
    ----------
    truths : sequence of Truth
        Sidecars (those without step truth are counted and skipped).
    predictions : mapping
        ``(dataset, recording_id) -> Prediction``; absent keys are missing predictions.
    by : sequence of str
        Sidecar fields to group by.
    only : mapping, optional
        Sidecar field -> allowed values (compared as strings); other recordings are not scored.
    tol_scale : float
        Factor on every matching tolerance.
    truth_root, pred_root : str
        Recorded in the report.

    Returns
    -------
    Report
        Per-group, per-placement, overall and per-recording numbers.

    Raises
    ------
    ScoringError
        When no recording is left to score.
    """
    by = tuple(by)
    allowed = {k: {str(v) for v in vals} for k, vals in (only or {}).items()}
    scored = [t for t in truths if t.has_step_truth]
    n_skipped = len(truths) - len(scored)
    scored = [t for t in scored if all(str(t.meta.get(k)) in vals for k, vals in allowed.items())]
    if not scored:
        raise ScoringError("no recording with step truth is left to score (check 'only')")

    results = [
        score_recording(
            t, predictions.get((t.dataset, t.recording_id), Prediction.empty()), by=by, tol_scale=tol_scale
        )
        for t in scored
    ]
    flags = {
        "has_cadence": any(r.pred_has_cadence for r in results),
        "has_stride": any(r.pred_has_stride for r in results),
    }

    def rows(key_of: Any, names: Sequence[str], label_of: Any) -> list[GroupRow]:
        pools: dict[tuple[str, ...], list[RecordingScore]] = {}
        for r in results:
            pools.setdefault(key_of(r), []).append(r)
        return [
            GroupRow(dict(zip(names, key, strict=True)), label_of(key), summarize(pool, **flags))
            for key, pool in sorted(pools.items())
        ]

    return Report(
        truth_root=truth_root,
        pred_root=pred_root,
        by=by,
        only={k: sorted(v) for k, v in allowed.items()},
        tol_scale=tol_scale,
        groups=rows(lambda r: r.group, by, " / ".join),
        placements=rows(lambda r: (r.placement,), ("placement",), lambda k: f"all {k[0]}"),
        overall=summarize(results, **flags),
        recordings=results,
        recording_rows=[
            GroupRow(
                {"dataset": r.dataset, "recording_id": r.recording_id},
                f"{r.dataset}/{r.recording_id}",
                summarize([r], **flags),
            )
            for r in results
        ],
        n_missing_prediction_files=sum(r.pred_missing for r in results),
        n_skipped_no_step_truth=n_skipped,
        **flags,
    )


def score_folder(
    truth_root: str | Path,
    pred_root: str | Path,
    *,
    by: Sequence[str] = ("dataset", "placement", "activity"),
    only: Mapping[str, Iterable[str]] | None = None,
    tol_scale: float = 1.0,
) -> Report:
    """Score a prediction folder against a truth folder.

    Parameters
    ----------
    truth_root : str or Path
        ``<truth>/<dataset>/<recording_id>.json`` sidecars.
    pred_root : str or Path
        ``<pred>/<dataset>/<recording_id>.json`` predictions (missing files: no detections).
    by : sequence of str
        Sidecar fields to group by.
    only : mapping, optional
        Sidecar field -> allowed values, e.g. ``{"placement": ["lower_back"]}``.
    tol_scale : float
        Factor on every matching tolerance (sensitivity analysis).

    Returns
    -------
    Report
        Per-group, per-placement, overall and per-recording numbers.

    Raises
    ------
    ScoringError
        When the truth folder holds no sidecar, nothing is left to score, or a prediction file
        is not in the contract.
    """
    truths = load_truth(truth_root)
    pred_root = Path(pred_root)
    wanted = [t for t in truths if t.has_step_truth]
    preds = {
        (t.dataset, t.recording_id): load_prediction(pred_root / t.dataset / f"{t.recording_id}.json")
        for t in wanted
    }
    return score_truths(
        truths,
        preds,
        by=by,
        only=only,
        tol_scale=tol_scale,
        truth_root=str(truth_root),
        pred_root=str(pred_root),
    )


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
_DOT = "·"


def _fmt(x: float, spec: str) -> str:
    return _DOT if x is None or not math.isfinite(x) else format(x, spec)


def _pair(a: float, b: float, spec: str) -> str:
    return _DOT if not math.isfinite(a) else f"{_fmt(a, spec)} / {_fmt(b, spec)}"


def _stride_cell(s: Stats) -> str:
    if s.n_gt_strides == 0:
        return _DOT
    if not s.n_stride_pairs:
        return f"{_DOT} (0/{s.n_gt_strides})"
    return f"{s.stride_mae_m:.3f} / {s.stride_mape_pct:.1f}% ({s.n_stride_pairs}/{s.n_gt_strides})"


def _distance_cell(s: Stats) -> str:
    if not s.n_distance:
        return _DOT
    return f"{s.distance_err_pct_mean:+.1f} (\\|{s.distance_abs_err_pct_mean:.1f}\\|)"


def format_markdown(report: Report, *, stride: bool | None = None, pooled: bool = True) -> str:
    """Return the report as a markdown table.

    Columns: group | recordings | events | P | R | F1 | dt ms | cadence (times) med/p95 |
    cadence (field) med/p95 | stride MAE m / MAPE % | distance err %.

    Parameters
    ----------
    report : Report
        The scores.
    stride : bool, optional
        Include the stride and distance columns; by default only when the truth has stride
        lengths or distances.
    pooled : bool
        Add the ``all <placement>`` rows.

    Returns
    -------
    str
        The table, followed by notes on missing predictions and skipped recordings.
    """
    if stride is None:
        stride = report.has_stride_truth or report.has_distance_truth
    head = [
        "group",
        "recordings",
        "events",
        "P",
        "R",
        "F1",
        "dt ms",
        "cadence (times) med/p95",
        "cadence (field) med/p95",
    ]
    align = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---"]
    if stride:
        head += ["stride MAE m / MAPE % (pairs)", "distance err % signed (\\|abs\\|)"]
        align += ["---", "---"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    rows = [(g.label, g.stats) for g in report.groups]
    if pooled:
        rows += [(f"**{g.label}**", g.stats) for g in report.placements]
    for label, s in rows:
        cells = [
            label,
            str(s.n_recordings),
            str(s.n_gt),
            _fmt(s.precision, ".3f"),
            _fmt(s.recall, ".3f"),
            f"**{_fmt(s.f1, '.3f')}**",
            _fmt(s.dt_median_ms, "+.0f"),
            _pair(s.cadence_times_abs_err_median_spm, s.cadence_times_abs_err_p95_spm, ".1f"),
            _pair(s.cadence_field_abs_err_median_spm, s.cadence_field_abs_err_p95_spm, ".1f"),
        ]
        if stride:
            cells += [_stride_cell(s), _distance_cell(s)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    if report.tol_scale != 1.0:
        notes.append(f"Tolerances scaled x{report.tol_scale:g}.")
    if report.n_missing_prediction_files:
        notes.append(
            f"{report.n_missing_prediction_files} recording(s) had no prediction file "
            "(scored as zero detections)."
        )
    if report.n_skipped_no_step_truth:
        notes.append(f"{report.n_skipped_no_step_truth} recording(s) without step truth not scored.")
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines)


def format_misses(report: Report, placement: str | None = None) -> str:
    """Return a markdown table of every missed event and false positive, recording by recording.

    Parameters
    ----------
    report : Report
        The scores.
    placement : str, optional
        Only recordings with this placement.

    Returns
    -------
    str
        One row per recording with a miss or a false positive: the truth times left without a
        prediction and the unmatched prediction times (s), for classifying them by hand.
    """
    lines = [
        "| recording | placement | events | missed (truth t, s) | false positives (pred t, s) |",
        "|---|---|---:|---|---|",
    ]
    for raw, row in zip(report.recordings, report.recording_rows, strict=True):
        if placement is not None and raw.placement != placement:
            continue
        if not (raw.missed_t_s.size or raw.false_t_s.size):
            continue
        missed = ", ".join(f"{x:.2f}" for x in raw.missed_t_s)
        false = ", ".join(f"{x:.2f}" for x in raw.false_t_s)
        lines.append(f"| {row.label} | {raw.placement} | {raw.n_gt} | {missed} | {false} |")
    return "\n".join(lines)


def format_worst_recordings(report: Report, n: int = 15) -> str:
    """Return a markdown table of the ``n`` recordings with the lowest F1.

    Parameters
    ----------
    report : Report
        The scores.
    n : int
        Number of recordings listed.

    Returns
    -------
    str
        The table (F1 ascending; undefined F1 last; more missed events first on ties).
    """

    def badness(item: tuple[RecordingScore, GroupRow]) -> tuple[float, int]:
        f1 = item[1].stats.f1
        return (f1 if math.isfinite(f1) else 2.0, -(item[1].stats.fn + item[1].stats.fp))

    worst = sorted(zip(report.recordings, report.recording_rows, strict=True), key=badness)[:n]
    lines = [
        "| recording | placement | events | TP | FP | FN | P | R | F1 | dt ms | cadence (times) med | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for raw, row in worst:
        s = row.stats
        note = "no prediction file" if raw.pred_missing else raw.side_mode if raw.side_mode != "all" else ""
        lines.append(
            f"| {row.label} | {raw.placement} | {s.n_gt} | {s.tp} | {s.fp} | {s.fn} | "
            f"{_fmt(s.precision, '.3f')} | {_fmt(s.recall, '.3f')} | {_fmt(s.f1, '.3f')} | "
            f"{_fmt(s.dt_median_ms, '+.0f')} | {_fmt(s.cadence_times_abs_err_median_spm, '.1f')} | {note} |"
        )
    return "\n".join(lines)
