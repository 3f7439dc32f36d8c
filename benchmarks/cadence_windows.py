"""Where the per-step cadence field misses: every ~10 s scoring window, classified.

Usage::

    python -m benchmarks.accuracy --jobs 2 --quiet            # replays into /tmp/cadence-coach-accuracy
    python -m benchmarks.cadence_windows [PRED] [--truth DIR] [--threshold SPM] [--list]

``PRED`` is a folder of replay predictions ``<dataset>/<recording>.json`` (default: the accuracy
command's output for ``../shared/datasets``), scored against the truth sidecars (default:
``../shared/datasets``) with :mod:`benchmarks.scoring`.  For each dataset group it prints the
field's error (median / p95 over windows) beside two references:

* ``times``: the cadence of the predicted step times with the truth's own estimator (the window
  mean of the intervals);
* ``true contacts``: the detector's per-step estimate (:func:`dsp.steps.cadence_of_contacts`) run
  on the truth's own events, scored like the field: what the field would read with perfect
  detection.  Where it misses too, the error is a property of a per-step causal estimate scored
  against a window mean (a window holding a change of pace), not of detection.

and it classifies every window whose field misses by more than ``--threshold`` (3 spm, the
target of issue #2) by its first matching cause: ``detection`` (a missed or false contact inside
the window), ``bout edge`` (the window begins or ends a labelled span: a bout's start or stop),
``pace change`` (the truth's cadence over the window's second half differs from its first half
by more than 5 %), else ``other``; and counts those where the true contacts miss as well.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.scoring import (
    Prediction,
    ScoringError,
    Truth,
    _merge_intervals,
    _pred_feet,
    _side,
    _times,
    load_prediction,
    load_truth,
    score_recording,
)
from dsp.steps import cadence_of_contacts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TRUTH = REPO_ROOT.parent / "shared" / "datasets"
#: Where ``python -m benchmarks.accuracy`` puts the predictions of ``../shared/datasets`` (its
#: default ``--out`` is in the system's temporary folder, which is not /tmp everywhere).
DEFAULT_PRED = Path(tempfile.gettempdir()) / "cadence-coach-accuracy" / "datasets"
#: A window's pace changes when its halves' truth cadences differ by more than this fraction.
PACE_CHANGE = 0.05
CAUSES = ("detection", "bout edge", "pace change", "other")


@dataclass(frozen=True)
class WindowRow:
    """One scoring window of one recording.

    Parameters
    ----------
    group : str
        ``dataset / placement / activity``.
    recording : str
        Recording id.
    t0_s, t1_s : float
        Window bounds, s.
    truth_spm, times_spm, field_spm, contacts_spm : float
        Truth cadence, the cadence of the predicted times, the median field, and the median
        per-step estimate on the true contacts (NaN when the window has none), steps/min.
    missed, false : int
        Missed truth events and false predictions inside the window.
    cause : str
        One of :data:`CAUSES` (meaningful where the field misses).
    """

    group: str
    recording: str
    t0_s: float
    t1_s: float
    truth_spm: float
    times_spm: float
    field_spm: float
    contacts_spm: float
    missed: int
    false: int
    cause: str

    @property
    def field_err(self) -> float:
        """|field - truth|, steps/min."""
        return abs(self.field_spm - self.truth_spm)


def _true_contacts_cadence(truth: Truth, pred: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """Return the truth events the prediction stands for, and the detector's estimate on them."""
    gt = truth.ground_truth
    t = _times(gt["steps_t"])
    sides = [_side(s) for s in (gt.get("steps_side") or [None] * t.size)]
    keep = np.isfinite(t)
    gt_one = gt.get("steps_feet_code", "both") == "one"
    pred_one = _pred_feet(truth, pred) == "one"
    inst = _side(truth.meta.get("placement_side"))
    if pred_one and not gt_one and inst is not None:  # a foot sensor: its own foot's events
        keep &= np.array([s == inst for s in sides], bool)
    one_foot = gt_one or (pred_one and inst is not None)
    t = np.unique(t[keep])
    if t.size == 0:
        return t, t.copy()
    if one_foot:
        return t, cadence_of_contacts(t, placement="foot", has_gyro=True)
    return t, cadence_of_contacts(t, placement="lower_back")


def _half_cadences(events: np.ndarray) -> tuple[float, float]:
    """Mean-interval cadence of the first and second half of a window's intervals (unscaled)."""
    d = np.diff(events)
    if d.size < 4:
        return math.nan, math.nan
    h = d.size // 2
    return 60.0 / float(np.mean(d[:h])), 60.0 / float(np.mean(d[h:]))


def window_rows(truth: Truth, pred: Prediction) -> list[WindowRow]:
    """Score one recording and return its cadence windows with their causes.

    Parameters
    ----------
    truth : Truth
        The recording's sidecar (with step truth).
    pred : Prediction
        Its prediction.

    Returns
    -------
    list of WindowRow
        One row per scored window.
    """
    score = score_recording(truth, pred)
    gt = truth.ground_truth
    spans = _merge_intervals(gt.get("gt_intervals") or [[0.0, truth.meta.get("duration_s", 0.0)]])
    events = np.sort(_times(gt["steps_t"]))
    events = events[np.isfinite(events)]
    t_true, c_true = _true_contacts_cadence(truth, pred)
    group = " / ".join(score.group)
    rows = []
    for w in score.cadence_windows:
        inside = (t_true >= w.t0_s - 1e-9) & (t_true <= w.t1_s + 1e-9)
        vals = c_true[inside]
        vals = vals[np.isfinite(vals)]
        missed = int(np.sum((score.missed_t_s >= w.t0_s) & (score.missed_t_s <= w.t1_s)))
        false = int(np.sum((score.false_t_s >= w.t0_s) & (score.false_t_s <= w.t1_s)))
        edge = any(abs(w.t0_s - a) < 1e-6 or abs(w.t1_s - b) < 1e-6 for a, b in spans)
        first, second = _half_cadences(events[(events >= w.t0_s - 1e-9) & (events <= w.t1_s + 1e-9)])
        if missed or false:
            cause = "detection"
        elif edge:
            cause = "bout edge"
        elif abs(second - first) > PACE_CHANGE * first:
            cause = "pace change"
        else:
            cause = "other"
        rows.append(
            WindowRow(
                group=group,
                recording=truth.recording_id,
                t0_s=w.t0_s,
                t1_s=w.t1_s,
                truth_spm=w.truth_spm,
                times_spm=w.times_spm,
                field_spm=w.field_spm,
                contacts_spm=float(np.median(vals)) if vals.size else math.nan,
                missed=missed,
                false=false,
                cause=cause,
            )
        )
    return rows


def _pair(x: np.ndarray) -> str:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return "·"
    return f"{np.median(x):.1f} / {np.percentile(x, 95):.1f}"


def format_table(rows: Sequence[WindowRow], threshold_spm: float) -> str:
    """Return the per-group markdown table of errors and causes.

    Parameters
    ----------
    rows : sequence of WindowRow
        Every window.
    threshold_spm : float
        A window whose field misses by more than this is classified.

    Returns
    -------
    str
        Markdown.
    """
    cols = ["group", "windows", "times med/p95", "field med/p95", "true contacts med/p95"]
    cols += [f"field > {threshold_spm:g} spm", *CAUSES, "true contacts also >"]
    head = "| " + " | ".join(cols) + " |\n|---|---:|---|---|---|---:|" + "---:|" * (len(CAUSES) + 1) + "\n"
    lines = []
    for g in sorted({r.group for r in rows}):
        rs = [r for r in rows if r.group == g]
        big = [r for r in rs if r.field_err > threshold_spm]
        counts = [sum(r.cause == c for r in big) for c in CAUSES]
        also = sum(abs(r.contacts_spm - r.truth_spm) > threshold_spm for r in big)
        truth = np.array([r.truth_spm for r in rs])
        cells = [g, str(len(rs))]
        for name in ("times_spm", "field_spm", "contacts_spm"):
            cells.append(_pair(np.abs(np.array([getattr(r, name) for r in rs]) - truth)))
        cells += [str(len(big)), *map(str, counts), str(also)]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def format_list(rows: Sequence[WindowRow], threshold_spm: float) -> str:
    """Return one line per window whose field misses by more than ``threshold_spm``, worst first."""
    big = sorted((r for r in rows if r.field_err > threshold_spm), key=lambda r: (r.group, -r.field_err))
    return "\n".join(
        f"{r.group} | {r.recording} | {r.t0_s:.1f}-{r.t1_s:.1f} s | truth {r.truth_spm:.1f} | times "
        f"{r.times_spm:.1f} | field {r.field_spm:.1f} | true contacts {r.contacts_spm:.1f} | "
        f"missed {r.missed} false {r.false} | {r.cause}"
        for r in big
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.cadence_windows", description=__doc__.split("\n")[0]
    )
    ap.add_argument(
        "pred", nargs="?", type=Path, default=DEFAULT_PRED, help="predictions (default: %(default)s)"
    )
    ap.add_argument("--truth", type=Path, default=DEFAULT_TRUTH, help="truth sidecars (default: %(default)s)")
    ap.add_argument("--threshold", type=float, default=3.0, help="classify windows missing by more (spm)")
    ap.add_argument("--list", action="store_true", help="also list every such window")
    args = ap.parse_args(argv)
    rows: list[WindowRow] = []
    try:
        truths = [t for t in load_truth(args.truth) if t.has_step_truth]
        paths = [args.pred / t.dataset / f"{t.recording_id}.json" for t in truths]
        if not any(p.is_file() for p in paths):
            raise ScoringError(
                f"{args.pred}: no predictions for the recordings of {args.truth}; fix: run "
                "`python -m benchmarks.accuracy` first (it replays into --out, by default "
                f"{DEFAULT_PRED.parent}), or give its <out>/<folder name> and the matching --truth"
            )
        for truth, path in zip(truths, paths, strict=True):
            rows.extend(window_rows(truth, load_prediction(path)))
    except ScoringError as exc:
        print(f"cadence_windows: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows, args.threshold))
    if args.list:
        print(format_list(rows, args.threshold))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
