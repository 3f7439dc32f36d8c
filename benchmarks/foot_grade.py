"""Foot grade on flat ground, and synthetic ramps built on the real flat strides.

Usage::

    python -m benchmarks.foot_grade [FOLDER] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). Every foot recording of it, and the bundled demo run
(``firmware_py/data/demo_foot_run.csv``, a group of its own), is replayed as ``replay`` does
(``firmware_py.replay.replay_recording``). Every recording is on flat ground, so per group
(dataset / activity) it prints:

* the height change per stride (mean, median, sd; cm) and the grade it sums to over the strides'
  distance (%);
* the share of steps graded ``climb`` / ``descent`` (%);
* synthetic ramps: the group's strides in sequence (recordings joined, repeated to
  ``SEQUENCE_M``), a known grade added from ``RAMP_START_M`` on (each stride's height change gains
  the grade times its part beyond that point), fed to ``dsp.grade.GradeEstimator``: the distance
  into the ramp at which the state first reads the ramp's grade, the share of strides graded so
  from ``SETTLE_M`` into the ramp on, the median error of ``grade_pct`` there (points), and the
  share of strides graded climb or descent on the flat before the ramp (after its first
  ``grade_distance_m``);
* starts: a fresh estimator at every stride of the sequence, ``START_STRIDES`` strides each, the
  share graded climb or descent.

The numbers are for reading, not for tuning: part of the data is held out, and no recording has a
slope with truth.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import folder_argument, run_folder_study
from benchmarks.scoring import load_truth
from dsp.grade import CLIMB, DESCENT, GradeEstimator, GradeSettings
from firmware_py.logs import read_log
from firmware_py.replay import replay_recording

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The bundled demo run, a group of its own.
DEMO = REPO_ROOT / "firmware_py" / "data" / "demo_foot_run.csv"
#: Ramp grades tried, %.
RAMP_GRADES_PCT = (6.0, 8.0, 10.0, 15.0, -8.0, -10.0)
#: Length of each group's stride sequence, m.
SEQUENCE_M = 300.0
#: Where the ramp starts, m.
RAMP_START_M = 100.0
#: The ramp's grade is judged from this far into it, m.
SETTLE_M = 40.0
#: Strides after each start.
START_STRIDES = 25


def strides_of(path: Path) -> np.ndarray:
    """Replay one recording; rows ``(t_contact_s, stride_length_m, height_change_m, graded)``.

    ``graded`` is 1 for a step graded climb or descent, else 0; only steps with a stride length and
    a height change are kept (the grade share is over every step, see :func:`evaluate`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = replay_recording(read_log(path))
    rows = []
    for e in res.events:
        length, dz = e.stride_length_m, e.height_change_m
        if length is None or dz is None or not (math.isfinite(length) and math.isfinite(dz)):
            continue
        rows.append((e.t_s, length, dz, 1.0 if e.grade in (CLIMB, DESCENT) else 0.0))
    return np.array(rows).reshape(-1, 4)


def sequence(recordings: list[np.ndarray], total_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join the recordings' strides (repeating them) into one run of at least ``total_m``.

    Returns stride end times (s; each recording's own stride times, one median stride between
    recordings), lengths (m) and height changes (m).
    """
    usable = [r for r in recordings if len(r) >= 3]
    if not usable or sum(r[:, 1].sum() for r in usable) <= 0.0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    t_out, l_out, h_out = [], [], []
    t, d, k = 0.0, 0.0, 0
    while d < total_m:
        r = usable[k % len(usable)]
        k += 1
        dt = np.diff(r[:, 0])
        dt = np.concatenate([[np.median(dt)], dt])
        for i in range(len(r)):
            t += dt[i]
            d += r[i, 1]
            t_out.append(t)
            l_out.append(r[i, 1])
            h_out.append(r[i, 2])
            if d >= total_m:
                break
    return np.array(t_out), np.array(l_out), np.array(h_out)


def ramp(
    t: np.ndarray, length: np.ndarray, dz: np.ndarray, grade_pct: float, settings: GradeSettings | None = None
) -> dict[str, float]:
    """Feed the strides with a ramp of ``grade_pct`` from ``RAMP_START_M`` on; judge the grade states.

    Returns
    -------
    dict
        ``found_m`` (distance into the ramp of the first stride graded as the ramp, NaN if none),
        ``share_right`` (from ``SETTLE_M`` into the ramp on), ``median_error_pts`` (of
        ``grade_pct`` there) and ``flat_graded`` (share graded climb/descent before the ramp, after
        its first ``grade_distance_m``).
    """
    s = settings or GradeSettings()
    est = GradeEstimator(s)
    x1 = np.cumsum(length)
    on_ramp = np.clip(x1 - np.maximum(x1 - length, RAMP_START_M), 0.0, None)
    h = dz + grade_pct / 100.0 * on_ramp
    states = [est.update_stride(float(a), float(b), float(c)) for a, b, c in zip(t, length, h, strict=True)]
    grades = np.array([st.grade for st in states])
    pct = np.array([st.grade_pct for st in states])
    want = CLIMB if grade_pct > 0.0 else DESCENT
    hit = np.flatnonzero((x1 > RAMP_START_M) & (grades == want))
    settled = x1 >= RAMP_START_M + SETTLE_M
    flat = (x1 > s.grade_distance_m) & (x1 <= RAMP_START_M)
    return {
        "found_m": float(x1[hit[0]] - RAMP_START_M) if hit.size else math.nan,
        "share_right": float(np.mean(grades[settled] == want)) if settled.any() else math.nan,
        "median_error_pts": float(np.median(pct[settled] - grade_pct)) if settled.any() else math.nan,
        "flat_graded": float(np.mean(np.isin(grades[flat], (CLIMB, DESCENT)))) if flat.any() else math.nan,
    }


def starts(t: np.ndarray, length: np.ndarray, dz: np.ndarray) -> float:
    """Share of strides graded climb or descent in the ``START_STRIDES`` after a fresh start, any stride."""
    graded = total = 0
    for k in range(max(len(t) - START_STRIDES, 0)):
        est = GradeEstimator()
        for i in range(k, k + START_STRIDES):
            graded += est.update_stride(float(t[i]), float(length[i]), float(dz[i])).grade in (CLIMB, DESCENT)
            total += 1
    return graded / total if total else math.nan


def evaluate(folder: Path) -> dict[str, Any]:
    """Replay the foot recordings of ``folder`` (and the demo run); the report as a dict per group."""
    paths: dict[str, list[Path]] = {}
    for truth in load_truth(folder):
        if truth.meta.get("placement") == "foot" and truth.sidecar is not None:
            group = f"{truth.dataset} / {truth.meta.get('activity', '?')}"
            paths.setdefault(group, []).append(truth.sidecar.with_suffix(".csv"))
    if DEMO.is_file():
        paths["demo_foot_run"] = [DEMO]
    report: dict[str, Any] = {}
    for group, files in sorted(paths.items()):
        recs = [strides_of(p) for p in files]
        rows = np.concatenate(recs) if recs else np.zeros((0, 4))
        if not len(rows):
            continue
        cm = 100.0 * rows[:, 2]
        t, length, dz = sequence([r[:, :3] for r in recs], SEQUENCE_M)
        report[group] = {
            "recordings": len(files),
            "strides": len(rows),
            "height_mean_cm": float(cm.mean()),
            "height_median_cm": float(np.median(cm)),
            "height_sd_cm": float(cm.std()),
            "grade_pct": float(100.0 * rows[:, 2].sum() / rows[:, 1].sum()),
            "graded_share": float(rows[:, 3].mean()),
            "ramps": {f"{g:+g}": ramp(t, length, dz, g) for g in RAMP_GRADES_PCT} if len(t) else {},
            "starts_graded": starts(t, length, dz) if len(t) else math.nan,
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s report."""
    lines = [
        "| group | recs | strides | height per stride mean / median / sd cm | grade % "
        "| graded climb or descent % | after a start % |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for group, r in report.items():
        lines.append(
            f"| {group} | {r['recordings']} | {r['strides']} | {r['height_mean_cm']:+.2f} / "
            f"{r['height_median_cm']:+.2f} / {r['height_sd_cm']:.2f} | {r['grade_pct']:+.2f} | "
            f"{100.0 * r['graded_share']:.1f} | {100.0 * r['starts_graded']:.2f} |"
        )
    lines += [
        "",
        "Synthetic ramps on the real strides: found at m into the ramp / share right / median error pts",
    ]
    heads = [f"{g:+g} %" for g in RAMP_GRADES_PCT]
    lines += [
        "",
        "| group | " + " | ".join(heads) + " | flat graded % |",
        "|---|" + "---|" * (len(heads) + 1),
    ]
    for group, r in report.items():
        cells = []
        flat = []
        for g in RAMP_GRADES_PCT:
            c = r["ramps"].get(f"{g:+g}")
            if c is None:
                cells.append("·")
                continue
            cells.append(
                f"{c['found_m']:.1f} / {100.0 * c['share_right']:.0f} % / {c['median_error_pts']:+.2f}"
            )
            flat.append(c["flat_graded"])
        flat_s = f"{100.0 * np.nanmean(flat):.1f}" if flat else "·"
        lines.append(f"| {group} | " + " | ".join(cells) + f" | {flat_s} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.foot_grade", description=__doc__.split("\n\n")[0])
    folder_argument(ap)
    return run_folder_study(ap.parse_args(argv), evaluate, format_report)


if __name__ == "__main__":
    sys.exit(main())
