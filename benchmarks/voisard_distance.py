"""Voisard foot distance against the nominal 20 m: the U-turn, the legs, the sensor (issue #4).

Usage::

    python -m benchmarks.voisard_distance [FOLDER] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``, which holds no voisard recording). Every
``voisard_ipol`` recording whose sidecar gives ``ground_truth.u_turn_interval`` is used: the foot
sensors (trial 1, ``lf``/``rf``) and the lower back of the same trials.

The protocol is: stand, walk 10 m, U-turn, walk back 10 m, stop; the sidecars give ``distance_m``
= 20 m and the authors' U-turn interval. For every foot recording this prints:

* **scored**: the distance as ``../shared/tools/score.py`` sums it (``benchmarks.scoring``: the
  replay's ``stride_length_m`` inside ``gt_intervals``), and its error against 20 m;
* the same strides split by the U-turn interval: **out** the strides wholly outside it (a stride
  spans ``[t_contact − stride time, t_contact]``), **turn** those inside it or overlapping it;
* the foot's strapdown path (the default foot estimator, fed one sample at a time, its landing
  positions read after each sample; every landing, also those whose contact the detector missed):
  **path** the sum of its landing-to-landing chords;
* the path's geometry (:func:`leg_geometry`): the course axis (principal axis of the landings),
  **A1** the along-course distance from the first rest to the farthest landing (the turn), **A2**
  from there back to the final rest, **sep** the lateral distance between the two legs, the
  closure (start rest to end rest) and **excess** = path − A1 − A2, the part of the path that
  did not progress along the course (the turn's sideways and back-and-forth path: a semicircle of
  radius ``r`` whose apex is in A1 and A2 adds ``(π − 2)·r``);
* **g rest**: the accelerometer's magnitude over the first second (standing still) against
  ``STANDARD_GRAVITY_MPS2``. Strapdown navigation removes the gravity it learns at rest, so
  a gain error of the accelerometer is not seen there but scales every stride by the same factor;
  **scaled** repeats the replay with the accelerometer divided by ``g rest / 9.81`` (what a sensor
  with that gain error would read once corrected; a diagnostic, not a method of the device).

Pooled rows follow (mean over recordings; left feet and right feet apart), then the lower-back
sensor of the same trials (scored distance, out / turn split with its own strides, ×0.5 since its
contacts are both feet's) as a cross-check, and the paired left − right differences of each
subject (the two feet walked the same course: a difference in A1 + A2 that follows the difference
in ``g rest`` is a sensor gain, not the walk). The numbers are for reading, not for tuning: part
of the data is held out, and nothing here changes the estimator.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import dsp._stride_kernels as K
from benchmarks.accuracy import folder_argument, run_folder_study
from benchmarks.scoring import Truth, load_truth, parse_prediction, score_recording
from dsp.stride import FootStrideEstimator
from firmware_py.logs import read_log
from firmware_py.replay import replay_recording, to_json

#: The dataset studied.
DATASET = "voisard_ipol"
#: Landings this close (along the course) to the farthest one belong to the turn, not to a leg, m.
TURN_ZONE_M = 1.0
#: Standard gravity, m/s² (Paris, where the set was recorded: 9.809).
STANDARD_GRAVITY_MPS2 = 9.81
#: Standing still at the start of every recording (the crop keeps 3 s before the first event), s.
REST_S = 1.0
#: Recordings that lost more than this in gaps (wireless sensor) are left out of the paired rows, s.
LOST_LIMIT_S = 0.5


@dataclass(frozen=True)
class FootPath:
    """The foot's strapdown path in the navigation frame (heading from the gyroscope alone).

    Attributes
    ----------
    t_land_s : numpy.ndarray
        Landing times (first stance sample of each landing), s, shape ``(n,)``.
    landings_xy_m : numpy.ndarray
        Horizontal position at each landing, m, shape ``(n, 2)``.
    start_xy_m, end_xy_m : numpy.ndarray
        Position at the first rest (where the first stride starts) and at the last sample, m.
    """

    t_land_s: np.ndarray
    landings_xy_m: np.ndarray
    start_xy_m: np.ndarray
    end_xy_m: np.ndarray

    @property
    def stride_lengths_m(self) -> np.ndarray:
        """Landing-to-landing chords, the first from the start rest, m (the estimator's strides)."""
        pts = np.vstack([self.start_xy_m, self.landings_xy_m])
        return np.linalg.norm(np.diff(pts, axis=0), axis=1)


def foot_path(
    t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray, sampling_rate_hz: float
) -> FootPath:
    """Navigate one foot recording with the default foot estimator and keep its landing positions.

    The estimator is fed one sample at a time without contacts (its navigation does not depend
    on them) and its state is read after each sample: the position of the latest landing is kept
    when the landing time changes. Only the estimator's private state is read; its behaviour is
    the replay's.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, s, shape ``(n,)``.
    acc_mps2, gyro_rads : numpy.ndarray
        Accelerometer (m/s², gravity included) and gyroscope (rad/s), shape ``(n, 3)``.
    sampling_rate_hz : float
        Nominal rate, Hz.

    Returns
    -------
    FootPath
        Landings, start and end positions (empty landings when the foot never took a stride).
    """
    est = FootStrideEstimator(sampling_rate_hz=sampling_rate_hz)
    st = est._state
    no_contacts = np.zeros(0)
    start = None
    last_t = math.nan
    times, xy = [], []

    def look() -> None:
        nonlocal start, last_t
        if st[K.FS_HAVE_LAND] != 1.0:
            return
        if start is None:  # set at rest before the first stride: where the walk starts
            start = st[K.FS_PLAND : K.FS_PLAND + 2].copy()
        t_land = st[K.FS_TLAND]
        if t_land > -1e8 and t_land != last_t:
            last_t = t_land
            times.append(t_land)
            xy.append(st[K.FS_PLAND : K.FS_PLAND + 2].copy())

    for i in range(t_s.size):
        est.update(t_s[i : i + 1], acc_mps2[i : i + 1], gyro_rads[i : i + 1], no_contacts)
        look()
    est.flush()
    look()
    end = st[K.FS_P : K.FS_P + 2].copy()
    if start is None:
        start = end.copy()
    return FootPath(np.asarray(times), np.asarray(xy).reshape(-1, 2), start, end)


def split_by_interval(
    t_end_s: np.ndarray, duration_s: np.ndarray, length_m: np.ndarray, interval_s: Sequence[float]
) -> tuple[float, float, int]:
    """Split strides by whether they overlap an interval.

    Parameters
    ----------
    t_end_s, duration_s, length_m : numpy.ndarray
        Each stride's end time (s), duration (s) and length (m); a stride spans
        ``[t_end − duration, t_end]``. NaN lengths are left out.
    interval_s : sequence of float
        ``(start, end)`` of the interval, s.

    Returns
    -------
    tuple
        ``(outside_m, overlapping_m, n_overlapping)``: the summed lengths of the strides wholly
        outside the interval and of those inside it or overlapping it (a stride that only touches
        an end of it is outside), and the number of the latter.
    """
    a, b = float(interval_s[0]), float(interval_s[1])
    t1 = np.asarray(t_end_s, dtype=float)
    t0 = t1 - np.asarray(duration_s, dtype=float)
    length = np.asarray(length_m, dtype=float)
    ok = np.isfinite(length)
    overlap = ok & (t1 > a) & (t0 < b)
    outside = ok & ~overlap
    return float(length[outside].sum()), float(length[overlap].sum()), int(overlap.sum())


def leg_geometry(start_xy: np.ndarray, landings_xy: np.ndarray, end_xy: np.ndarray) -> dict[str, float]:
    """Read the out-and-back course from a path: legs along the course, their separation, the rest.

    The course axis is the principal axis of the landings, pointing from the start towards the
    farthest landing along it (the turn). The path runs start → landings → end.

    Parameters
    ----------
    start_xy, end_xy : numpy.ndarray
        Positions at the first and last rest, m, shape ``(2,)``.
    landings_xy : numpy.ndarray
        Positions of the landings in order, m, shape ``(n, 2)``, ``n`` ≥ 2.

    Returns
    -------
    dict
        ``path_m`` (summed chords start → landings → end), ``a1_m`` (along-course distance from
        the start to the farthest landing), ``a2_m`` (from that landing back to the end),
        ``excess_m`` (``path_m − a1_m − a2_m``), ``sep_m`` (signed lateral distance between the
        return leg and the outbound leg: medians of their landings farther than ``TURN_ZONE_M``
        from the turn along the course; NaN when a leg has none), ``closure_m`` (start to end) and
        ``closure_along_m`` (its along-course part, ``a1_m − a2_m``).
    """
    land = np.asarray(landings_xy, dtype=float).reshape(-1, 2)
    start = np.asarray(start_xy, dtype=float)
    end = np.asarray(end_xy, dtype=float)
    pts = np.vstack([start, land, end])
    path = float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())
    centred = land - land.mean(axis=0)
    _w, vecs = np.linalg.eigh(centred.T @ centred)
    u = vecs[:, -1]
    s_land = land @ u
    if s_land.max() - start @ u < start @ u - s_land.min():
        u = -u
        s_land = -s_land
    n_axis = np.array([-u[1], u[0]])
    i_far = int(np.argmax(s_land))
    s_far = s_land[i_far]
    a1 = float(s_far - start @ u)
    a2 = float(s_far - end @ u)
    n_land = land @ n_axis
    legs = s_land < s_far - TURN_ZONE_M
    idx = np.arange(land.shape[0])
    out_n = n_land[legs & (idx < i_far)]
    back_n = n_land[legs & (idx > i_far)]
    sep = float(np.median(back_n) - np.median(out_n)) if out_n.size and back_n.size else math.nan
    return {
        "path_m": path,
        "a1_m": a1,
        "a2_m": a2,
        "excess_m": path - a1 - a2,
        "sep_m": sep,
        "closure_m": float(np.linalg.norm(end - start)),
        "closure_along_m": a1 - a2,
    }


def _quiet_replay(rec: Any):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return replay_recording(rec)


def _scored_strides(res: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contact time, stride time and length of every step row with a stride (as the score sums)."""
    rows = [
        (e.t_s, e.stride_length_m / e.speed_mps, e.stride_length_m)
        for e in res.events
        if e.stride_length_m is not None and e.speed_mps
    ]
    arr = np.array(rows, dtype=float).reshape(-1, 3)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def _read(truth: Truth):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(truth.sidecar.with_suffix(".csv"))


def study_foot(truth: Truth) -> dict[str, Any]:
    """Every quantity of the report for one foot recording (see the module docstring)."""
    rec = _read(truth)
    gt = truth.ground_truth
    nominal = float(gt["distance_m"])
    res = _quiet_replay(rec)
    score = score_recording(truth, parse_prediction(to_json(res)))
    t_c, dur, length = _scored_strides(res)
    out_m, turn_m, n_turn = split_by_interval(t_c, dur, length, gt["u_turn_interval"])
    path = foot_path(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    chords = path.stride_lengths_m
    t_prev = np.concatenate([[rec.t_s[0]], path.t_land_s[:-1]])
    p_out, p_turn, _ = split_by_interval(path.t_land_s, path.t_land_s - t_prev, chords, gt["u_turn_interval"])
    geo = leg_geometry(path.start_xy_m, path.landings_xy_m, path.end_xy_m)
    lost = sum(max(0.0, b - a - 1.0 / rec.sampling_rate_hz) for a, b in rec.gaps)
    rest = rec.t_s < rec.t_s[0] + REST_S
    g_rest = float(np.linalg.norm(rec.acc_mps2[rest].mean(axis=0)))
    gain = g_rest / STANDARD_GRAVITY_MPS2
    scaled_rec = replace(rec, acc_mps2=rec.acc_mps2 / gain)
    scaled = score_recording(truth, parse_prediction(to_json(_quiet_replay(scaled_rec))))
    scaled_path = foot_path(rec.t_s, rec.acc_mps2 / gain, rec.gyro_rads, rec.sampling_rate_hz)
    scaled_geo = leg_geometry(scaled_path.start_xy_m, scaled_path.landings_xy_m, scaled_path.end_xy_m)
    return {
        "subject": str(truth.meta.get("subject", {}).get("id", truth.recording_id.split("_")[0])),
        "side": str(truth.meta.get("placement_side")),
        "nominal_m": nominal,
        "u_turn_s": float(gt["u_turn_interval"][1] - gt["u_turn_interval"][0]),
        "speed_mps": float(gt.get("speed_mps_mean") or math.nan),
        "lost_s": float(lost),
        "scored_m": float(score.distance_pred_m),
        "scored_err_pct": 100.0 * (score.distance_pred_m - nominal) / nominal,
        "scored_out_m": out_m,
        "scored_turn_m": turn_m,
        "n_turn": n_turn,
        "path_out_m": p_out,
        "path_turn_m": p_turn,
        **geo,
        "g_rest_mps2": g_rest,
        "gain_pct": 100.0 * (gain - 1.0),
        "scaled_scored_m": float(scaled.distance_pred_m),
        "scaled_err_pct": 100.0 * (scaled.distance_pred_m - nominal) / nominal,
        "scaled_a1_m": scaled_geo["a1_m"],
        "scaled_a2_m": scaled_geo["a2_m"],
        "scaled_excess_m": scaled_geo["excess_m"],
    }


def study_lower_back(truth: Truth) -> dict[str, Any]:
    """Scored distance of one lower-back recording and its out / turn split (×0.5: both feet)."""
    gt = truth.ground_truth
    nominal = float(gt["distance_m"])
    res = _quiet_replay(_read(truth))
    score = score_recording(truth, parse_prediction(to_json(res)))
    t_c, dur, length = _scored_strides(res)
    out_m, turn_m, _ = split_by_interval(t_c, dur, length, gt["u_turn_interval"])
    return {
        "subject": str(truth.meta.get("subject", {}).get("id", truth.recording_id.split("_")[0])),
        "scored_m": float(score.distance_pred_m),
        "scored_err_pct": 100.0 * (score.distance_pred_m - nominal) / nominal,
        "scored_out_m": 0.5 * out_m,
        "scored_turn_m": 0.5 * turn_m,
    }


def _trial(truth: Truth) -> tuple[str, Any]:
    subject = truth.meta.get("subject") or {}
    return str(subject.get("id")), subject.get("trial")


def evaluate(folder: Path) -> dict[str, Any]:
    """Study every voisard trial with foot sensors and a U-turn interval in ``folder``.

    Returns
    -------
    dict
        ``feet`` (recording id → :func:`study_foot`), ``lower_back`` (recording id →
        :func:`study_lower_back`, the trials that have foot recordings), ``pooled`` (means over the
        foot recordings: all, left, right) and ``pairs`` (per subject, left − right).
    """
    truths = [
        t
        for t in load_truth(folder)
        if t.dataset == DATASET and t.has_step_truth and (t.ground_truth.get("u_turn_interval") is not None)
    ]
    feet = {t.recording_id: study_foot(t) for t in truths if t.placement == "foot"}
    trials = {_trial(t) for t in truths if t.placement == "foot"}
    lower = {
        t.recording_id: study_lower_back(t)
        for t in truths
        if t.placement == "lower_back" and _trial(t) in trials
    }
    pooled = {}
    for name, side in (("all", None), ("left", "left"), ("right", "right")):
        rows = [r for r in feet.values() if side is None or r["side"] == side]
        if rows:
            numbers = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
            pooled[name] = {k: float(np.mean([r[k] for r in rows])) for k in numbers}
            pooled[name]["n"] = len(rows)
    if lower:
        keys = next(iter(lower.values())).keys() - {"subject"}
        pooled["lower_back"] = {k: float(np.mean([r[k] for r in lower.values()])) for k in keys}
        pooled["lower_back"]["n"] = len(lower)
    pairs = {}
    by_subject: dict[str, dict[str, dict[str, Any]]] = {}
    for r in feet.values():
        by_subject.setdefault(r["subject"], {})[r["side"]] = r
    for subject, sides in sorted(by_subject.items()):
        if {"left", "right"} <= sides.keys():
            lf, rf = sides["left"], sides["right"]
            pairs[subject] = {
                "lost_s": max(lf["lost_s"], rf["lost_s"]),
                "d_gain_pct": lf["gain_pct"] - rf["gain_pct"],
                "d_legs_pct": 100.0 * ((lf["a1_m"] + lf["a2_m"]) / (rf["a1_m"] + rf["a2_m"]) - 1.0),
                "d_scored_pct": 100.0 * (lf["scored_m"] / rf["scored_m"] - 1.0),
                "d_scaled_legs_pct": 100.0
                * ((lf["scaled_a1_m"] + lf["scaled_a2_m"]) / (rf["scaled_a1_m"] + rf["scaled_a2_m"]) - 1.0),
                "sep_mean_m": 0.5 * (abs(lf["sep_m"]) + abs(rf["sep_m"])),
            }
    return {"feet": feet, "lower_back": lower, "pooled": pooled, "pairs": pairs}


def _f(x: float, spec: str = "{:.2f}") -> str:
    return "–" if x is None or not math.isfinite(x) else spec.format(x)


FOOT_COLUMNS = (
    ("scored m", "scored_m", "{:.2f}"),
    ("err %", "scored_err_pct", "{:+.1f}"),
    ("out m", "scored_out_m", "{:.2f}"),
    ("turn m (n)", "scored_turn_m", "{:.2f}"),
    ("path m", "path_m", "{:.2f}"),
    ("path out / turn m", "path_out_m", "{:.2f}"),
    ("A1 m", "a1_m", "{:.2f}"),
    ("A2 m", "a2_m", "{:.2f}"),
    ("excess m", "excess_m", "{:.2f}"),
    ("sep m", "sep_m", "{:+.2f}"),
    ("closure m", "closure_m", "{:.2f}"),
    ("lost s", "lost_s", "{:.2f}"),
    ("g rest %", "gain_pct", "{:+.1f}"),
    ("scaled err %", "scaled_err_pct", "{:+.1f}"),
    ("scaled A1+A2 m", "scaled_a1_m", "{:.2f}"),
)


def _foot_cells(r: dict[str, Any]) -> list[str]:
    cells = []
    for _title, key, spec in FOOT_COLUMNS:
        if key == "scored_turn_m":
            cells.append(f"{_f(r[key], spec)} ({_f(r['n_turn'], '{:.0f}')})")
        elif key == "path_out_m":
            cells.append(f"{_f(r['path_out_m'], spec)} / {_f(r['path_turn_m'], spec)}")
        elif key == "scaled_a1_m":
            cells.append(_f(r["scaled_a1_m"] + r["scaled_a2_m"], spec))
        else:
            cells.append(_f(r[key], spec))
    return cells


def budget(p: dict[str, float]) -> list[tuple[str, float]]:
    """Where the pooled scored distance departs from the nominal one, in m (they sum to it).

    ``p`` is a pooled row of :func:`evaluate`. Returns ``(what, metres)`` rows: the landings the
    score does not count (strides whose contact the detector missed, and shuffles; negative), the
    turn's path beyond its progress along the course (``excess_m``), the accelerometer's gain
    (A1 + A2 minus the same from the scaled replay) and what the gain-corrected legs walked beyond
    the nominal distance.
    """
    return [
        ("landings the score does not count", p["scored_m"] - p["path_m"]),
        ("the turn's path beyond its progress along the course (excess)", p["excess_m"]),
        (
            "the accelerometer's gain (A1 + A2, as read − scaled)",
            p["a1_m"] + p["a2_m"] - p["scaled_a1_m"] - p["scaled_a2_m"],
        ),
        (
            "the legs, gain-corrected, beyond the nominal distance",
            p["scaled_a1_m"] + p["scaled_a2_m"] - p["nominal_m"],
        ),
    ]


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s report."""
    feet, pooled = report["feet"], report["pooled"]
    if not feet:
        return "No voisard_ipol foot recording with a U-turn interval in this folder."
    head = "| recording | " + " | ".join(c[0] for c in FOOT_COLUMNS) + " |"
    lines = [
        "Voisard foot recordings (nominal 20 m = 10 m, U-turn, 10 m). err = scored − nominal; out / turn:",
        "scored strides wholly outside / overlapping the authors' U-turn interval (n overlapping); path:",
        "the strapdown path's chords (every landing); A1, A2: along-course legs of the path (start →",
        "turn, turn → end); excess = path − A1 − A2; sep: lateral distance between the legs; lost: time",
        "lost in gaps; g rest: |a| standing, against 9.81 m/s²; scaled: accelerometer divided by that gain.",
        "",
        head,
        "|" + "---|" * (len(FOOT_COLUMNS) + 1),
    ]
    for rid, r in sorted(feet.items()):
        lines.append(f"| {rid} | " + " | ".join(_foot_cells(r)) + " |")
    for name in ("all", "left", "right"):
        if name in pooled:
            p = dict(pooled[name])
            lines.append(f"| **mean {name}** ({p['n']:.0f}) | " + " | ".join(_foot_cells(p)) + " |")
    rows = list(feet.values())
    med = {
        k: float(np.median([r[k] for r in rows])) for k, v in rows[0].items() if isinstance(v, (int, float))
    }
    lines.append("| median all | " + " | ".join(_foot_cells(med)) + " |")
    p = pooled["all"]
    nominal = p["nominal_m"]
    lines += [
        "",
        f"Budget of the pooled scored distance, {p['scored_m']:.2f} m against {nominal:.0f} m "
        f"(mean of {p['n']:.0f}):",
        "",
    ]
    for what, metres in budget(p):
        lines.append(f"* {what}: {metres:+.2f} m ({100.0 * metres / nominal:+.1f} %)")
    r_turn = 0.5 * float(np.mean([abs(r["sep_m"]) for r in rows if math.isfinite(r["sep_m"])]))
    lines.append(
        f"* turn radius from the legs' separation: r = {r_turn:.2f} m; a semicircle adds (π − 2)·r = "
        f"{(math.pi - 2.0) * r_turn:.2f} m to the path beyond A1 + A2, and its apex puts up to 2r = "
        f"{2.0 * r_turn:.2f} m into A1 + A2 when it lies beyond the turning mark"
    )
    legs = np.array([(r["scaled_a1_m"] + r["scaled_a2_m"]) / r["nominal_m"] for r in rows])
    speed = np.array([r["speed_mps"] for r in rows])
    if np.all(np.isfinite(speed)) and len(rows) >= 3:
        lines.append(
            f"* gain-corrected A1 + A2 against the walking speed: r = {np.corrcoef(legs, speed)[0, 1]:+.2f}"
        )
    if report["lower_back"]:
        lb = pooled["lower_back"]
        lines += [
            "",
            f"Lower back, the same {lb['n']:.0f} trials (its own strides, ×0.5): "
            f"scored {lb['scored_m']:.2f} m ({lb['scored_err_pct']:+.1f} %), "
            f"out {lb['scored_out_m']:.2f} m, turn {lb['scored_turn_m']:.2f} m; "
            f"the feet: scored {p['scored_m']:.2f} m, out {p['scored_out_m']:.2f} m, "
            f"turn {p['scored_turn_m']:.2f} m.",
        ]
        feet_legs: dict[str, list[float]] = {}
        for r in rows:
            feet_legs.setdefault(r["subject"], []).append(r["scaled_a1_m"] + r["scaled_a2_m"])
        lb_m = {r["subject"]: r["scored_m"] for r in report["lower_back"].values()}
        both = sorted(feet_legs.keys() & lb_m.keys())
        if len(both) >= 3:
            x = np.array([np.mean(feet_legs[k]) for k in both])
            y = np.array([lb_m[k] for k in both])
            lines.append(
                f"Per subject, the lower back's scored distance against the feet's gain-corrected A1 + A2 "
                f"(mean of the feet): r = {np.corrcoef(x, y)[0, 1]:+.2f} ({len(both)} subjects; the feet "
                f"range over {x.min():.2f}–{x.max():.2f} m)."
            )
    if report["pairs"]:
        lines += [
            "",
            "Left − right foot, per subject (the same walk): g rest gain, A1 + A2, scored, and A1 + A2 of",
            "the scaled replay, all in %; sep: mean |lateral distance between the legs| of the two feet (m);",
            f"lost: the larger of the two feet's gaps (s; pairs above {LOST_LIMIT_S} s are left out of the",
            "second mean).",
            "",
            "| subject | Δ gain % | Δ (A1+A2) % | Δ scored % | Δ scaled (A1+A2) % | sep m | lost s |",
            "|---|---|---|---|---|---|---|",
        ]
        pairs = report["pairs"]
        keys = ("d_gain_pct", "d_legs_pct", "d_scored_pct", "d_scaled_legs_pct")
        for subject, q in pairs.items():
            lines.append(
                f"| {subject} | "
                + " | ".join(_f(q[k], "{:+.1f}") for k in keys)
                + f" | {q['sep_mean_m']:.2f} | {q['lost_s']:.2f} |"
            )
        for label, sel in (
            ("mean", list(pairs.values())),
            (f"mean, lost ≤ {LOST_LIMIT_S} s", [q for q in pairs.values() if q["lost_s"] <= LOST_LIMIT_S]),
        ):
            if sel:
                means = [float(np.mean([q[k] for q in sel])) for k in keys]
                sep = float(np.mean([q["sep_mean_m"] for q in sel]))
                lines.append(
                    f"| **{label}** ({len(sel)}) | "
                    + " | ".join(_f(m, "{:+.1f}") for m in means)
                    + f" | {sep:.2f} | |"
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.voisard_distance",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    folder_argument(ap)
    return run_folder_study(ap.parse_args(argv), evaluate, format_report)


if __name__ == "__main__":
    sys.exit(main())
