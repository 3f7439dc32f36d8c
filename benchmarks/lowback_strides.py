"""Lower-back stride length, stride by stride: where the error is, and what calibration gives.

Usage::

    python -m benchmarks.lowback_strides [FOLDER] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). Three tables are printed:

* **Breakdown.** Every reference stride with a length (``ground_truth.strides``) of a lower-back
  recording is paired with the detected contact nearest to its end (within ``--tolerance-s``), and
  the error of our stride there is grouped: first and last stride of a labelled interval, heading
  change over the stride (yaw rate about gravity, from the gyroscope), true length and stride time.
  This pairing is simpler than the scorer's one-to-one matching, so it pairs a few more strides.
  The last row rescales each recording by the one factor that fits its strides best (see below).
* **Against the feet.** Where a lower-back recording has foot recordings of the same subject and
  trial (``voisard_ipol`` trial 1), the foot estimator measures each stride at the reference
  contacts of that foot, and the lower-back stride at the same contact is compared with it,
  apart for the strides around ``ground_truth.u_turn_interval``. The row "straight, best scale of
  the recording" rescales each recording's straight strides by the one factor that fits them
  best (least squares): the floor that no per-runner calibration of a scale can go below. The
  row after it does the same for the straight strides whose heading changes by less than
  ``STEADY_HEADING_DEG`` over the lower-back stride (the others are near the start or the turn).
* **Calibration.** ``fit_scales`` (the code behind ``cadence-coach calibrate``) on one recording
  of a subject, then the subject's other recordings scored with that ``scale_walk``. With
  ``u_turn_interval`` (voisard): calibrate on the first leg (half of ``distance_m``), score trial 1
  against the feet. Otherwise (mobgap): calibrate on a one-interval recording with ``distance_m``
  (from its first contact to its last), score the subject's other recordings against their strides.

The numbers are for reading, not for tuning: part of the data is held out.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy import folder_argument, run_folder_study
from dsp import detect_steps
from dsp.stride import StrideSettings, estimate_strides
from firmware_py.calibrate import fit_scales
from firmware_py.logs import read_log

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Strides whose end lies this close to a U-turn (before its start, after its end) are turning, s.
U_TURN_MARGIN_S = (0.3, 1.0)
#: A "straight" stride whose heading changes by less than this is also steady, degrees.
STEADY_HEADING_DEG = 5.0


@dataclass
class Rec:
    """One recording: samples, sidecar and the lower-back estimate with the detected contacts."""

    path: Path
    meta: dict[str, Any]
    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray | None
    sampling_rate_hz: float

    @property
    def truth(self) -> dict[str, Any]:
        """The sidecar's ``ground_truth``."""
        return self.meta.get("ground_truth") or {}

    @property
    def height_m(self) -> float | None:
        """Subject height, m (None when the sidecar has none)."""
        h = (self.meta.get("subject") or {}).get("height_m")
        return float(h) if h else None


def load(path: Path) -> Rec:
    """Read a recording and its sidecar."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data gaps and repaired timestamps: reported elsewhere
        log = read_log(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    return Rec(path, meta, log.t_s, log.acc_mps2, log.gyro_rads, log.sampling_rate_hz)


def lowback_strides(rec: Rec, *, scale_walk: float = 1.0, contacts_t_s: np.ndarray | None = None):
    """Contacts and lower-back strides of a recording (detected contacts unless given).

    Returns
    -------
    StrideResults
        One row per contact.
    """
    if contacts_t_s is None:
        steps = detect_steps(
            rec.t_s,
            rec.acc_mps2,
            rec.gyro_rads,
            sampling_rate_hz=rec.sampling_rate_hz,
            placement="lower_back",
        )
        contacts_t_s, is_run = steps.t_s, steps.is_run
    else:
        is_run = None
    return estimate_strides(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        contacts_t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="lower_back",
        runner_height_m=rec.height_m,
        settings=StrideSettings(scale_walk=scale_walk),
        contacts_is_run=is_run,
    )


def heading_change_rad(rec: Rec, t0: float, t1: float) -> float:
    """Absolute heading change over ``[t0, t1]``: the gyroscope projected on gravity, integrated (rad)."""
    if rec.gyro_rads is None:
        return math.nan
    sel = (rec.t_s >= t0) & (rec.t_s <= t1)
    if np.count_nonzero(sel) < 2:
        return math.nan
    g = rec.acc_mps2[sel].mean(axis=0)  # gravity: the mean specific force over a stride
    g /= max(float(np.linalg.norm(g)), 1e-9)
    return abs(float(np.trapezoid(rec.gyro_rads[sel] @ g, rec.t_s[sel])))


def pair(contacts_t_s: np.ndarray, values: np.ndarray, t_s: float, tol_s: float) -> float:
    """Value at the contact nearest to ``t_s`` (NaN when none lies within ``tol_s``)."""
    if contacts_t_s.size == 0:
        return math.nan
    j = int(np.argmin(np.abs(contacts_t_s - t_s)))
    return float(values[j]) if abs(contacts_t_s[j] - t_s) <= tol_s else math.nan


def _stats(err: np.ndarray) -> dict[str, float]:
    e = err[np.isfinite(err)]
    if not e.size:
        return {"n": 0, "mae_m": math.nan, "bias_m": math.nan, "sum_abs_m": 0.0}
    return {
        "n": int(e.size),
        "mae_m": float(np.abs(e).mean()),
        "bias_m": float(e.mean()),
        "sum_abs_m": float(np.abs(e).sum()),
    }


def breakdown(recs: Sequence[Rec], tol_s: float) -> dict[str, dict[str, float]]:
    """Error of each paired reference stride, grouped (see the module docstring)."""
    rows = []
    for rec in recs:
        st = rec.truth.get("strides") or {}
        lengths = st.get("length_m") or []
        if not lengths:
            continue
        res = lowback_strides(rec)
        spans = rec.truth.get("gt_intervals") or []
        mine = []
        for t0, t1, true_m in zip(st["t_start"], st["t_end"], lengths, strict=True):
            if true_m is None:
                continue
            pred = pair(res.t_contact_s, res.stride_length_m, t1, tol_s)
            span = next(((a, b) for a, b in spans if a - 0.05 <= t0 and t1 <= b + 0.05), (math.nan, math.nan))
            mine.append(
                [pred - true_m, true_m, t1 - t0, abs(t0 - span[0]) < 0.05, abs(t1 - span[1]) < 0.05,
                 math.degrees(heading_change_rad(rec, t0, t1)), math.nan]
            )  # fmt: skip
        if mine:
            m = np.array(mine, dtype=float)
            m[:, 6] = best_scale_errors(m[:, 0], m[:, 1])
            rows += m.tolist()
    if not rows:
        return {}
    a = np.array(rows, dtype=float)
    err, true_m, dur, first, last, turn, err_best = a.T
    groups = {
        "all": np.ones_like(err, bool),
        "first stride of an interval": first > 0,
        "last stride of an interval": last > 0,
        "heading change > 30 deg": turn > 30,
        "heading change < 15 deg": turn < 15,
        "true stride < 0.9 m": true_m < 0.9,
        "true stride >= 0.9 m": true_m >= 0.9,
        "stride time > 1.3 s": dur > 1.3,
    }
    out = {name: _stats(err[sel]) for name, sel in groups.items()}
    out["all, best scale of the recording"] = _stats(err_best)
    out["all"]["unpaired"] = int(np.count_nonzero(~np.isfinite(err)))
    return out


def _siblings(rec: Rec, folder: Path) -> list[Rec]:
    """Foot recordings of the same subject and trial as a lower-back recording."""
    subj = rec.meta.get("subject") or {}
    out = []
    for p in sorted(folder.glob("*.json")):
        m = json.loads(p.read_text())
        s = m.get("subject") or {}
        same = s.get("id") == subj.get("id") and s.get("trial") == subj.get("trial")
        if m.get("placement") == "foot" and same and p.with_suffix(".csv").exists():
            out.append(load(p.with_suffix(".csv")))
    return out


def foot_reference(rec: Rec, feet: Sequence[Rec]) -> list[tuple[float, float]]:
    """``(contact time, stride length)`` of every foot stride at the reference contacts of its side."""
    ref = []
    for foot in feet:
        side = (foot.meta.get("placement_side") or "")[:1].upper()
        gt = foot.truth
        c = np.array([t for t, s in zip(gt["steps_t"], gt["steps_side"], strict=True) if s == side])
        if not c.size or foot.gyro_rads is None:
            continue
        res = estimate_strides(
            foot.t_s,
            foot.acc_mps2,
            foot.gyro_rads,
            c,
            sampling_rate_hz=foot.sampling_rate_hz,
            placement="foot",
        )
        keep = res.has_contact & np.isfinite(res.stride_length_m)
        ref += list(zip(res.t_contact_s[keep].tolist(), res.stride_length_m[keep].tolist(), strict=True))
    return sorted(ref)


def stride_heading_change_deg(rec: Rec, contacts_t_s: np.ndarray, t_s: float, tol_s: float = 0.1) -> float:
    """Heading change over the lower-back stride that ends at the contact nearest to ``t_s``, degrees.

    The stride runs from the contact two before that one; NaN when there is none within ``tol_s``
    or no two contacts before it.
    """
    if contacts_t_s.size == 0:
        return math.nan
    j = int(np.argmin(np.abs(contacts_t_s - t_s)))
    if abs(contacts_t_s[j] - t_s) > tol_s or j < 2:
        return math.nan
    return math.degrees(heading_change_rad(rec, float(contacts_t_s[j - 2]), float(contacts_t_s[j])))


def _turning(rec: Rec, t_s: float) -> bool:
    u = rec.truth.get("u_turn_interval")
    return bool(u) and u[0] - U_TURN_MARGIN_S[0] <= t_s <= u[1] + U_TURN_MARGIN_S[1]


def against_feet(
    rec: Rec, ref: Sequence[tuple[float, float]], *, scale_walk: float = 1.0, contacts: str = "detected"
):
    """Errors of the lower-back strides against the foot strides, straight and turning."""
    c = np.asarray(rec.truth["steps_t"], dtype=float) if contacts == "reference" else None
    res = lowback_strides(rec, scale_walk=scale_walk, contacts_t_s=c)
    tol = 0.06 if contacts == "reference" else 0.1
    err = np.array([pair(res.t_contact_s, res.stride_length_m, t, tol) - L for t, L in ref])
    turn = np.array([_turning(rec, t) for t, _ in ref], bool)
    return err, turn


def best_scale_errors(err: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Errors left after the one scale that fits a recording best.

    Parameters
    ----------
    err : numpy.ndarray
        Estimate minus reference, per stride, m (NaN: unpaired).
    ref : numpy.ndarray
        Reference stride lengths, m.

    Returns
    -------
    numpy.ndarray
        ``k·estimate − reference`` with ``k = Σ est·ref / Σ est²`` over the paired strides (the
        least-squares scale); NaN where ``err`` is.
    """
    est = err + ref
    ok = np.isfinite(est)
    if not np.any(ok):
        return np.full_like(err, np.nan)
    k = float(np.sum(est[ok] * ref[ok]) / np.sum(est[ok] ** 2))
    return k * est - ref


def calibration(folder: Path, recs: Sequence[Rec]) -> dict[str, Any]:
    """Fit ``scale_walk`` on one recording of a subject, score another (see the module docstring)."""
    by_subject: dict[str, list[Rec]] = {}
    for r in recs:
        by_subject.setdefault(str((r.meta.get("subject") or {}).get("id")), []).append(r)
    out: dict[str, Any] = {"runs": []}
    for sid, group in sorted(by_subject.items()):
        for cal in group:
            gt = cal.truth
            spans = gt.get("gt_intervals") or []
            if not gt.get("distance_m") or len(spans) != 1:
                continue
            a, b = spans[0]
            if gt.get("u_turn_interval"):  # first leg only, from standing
                t0, t1, d, count_after = a - 0.5, gt["u_turn_interval"][0], 0.5 * gt["distance_m"], -math.inf
            else:  # first contact to last: the step that ends at the first contact is not in it
                t0, t1, d, count_after = a - 0.3, b + 0.3, gt["distance_m"], a + 0.1
            sel = (cal.t_s >= t0) & (cal.t_s <= t1)
            gyro = None if cal.gyro_rads is None else cal.gyro_rads[sel]
            part = Rec(cal.path, cal.meta, cal.t_s[sel], cal.acc_mps2[sel], gyro, cal.sampling_rate_hz)
            res = lowback_strides(part)
            m = res.t_contact_s > count_after
            try:
                scale = fit_scales(res.step_length_m[m], res.is_run[m] == 1.0, d)["scale_walk"]
            except ValueError:
                continue
            for test in group:
                if test is cal:
                    continue
                feet = _siblings(test, folder)
                if feet:
                    ref = foot_reference(test, feet)
                    e0, turn = against_feet(test, ref)
                    e1, _ = against_feet(test, ref, scale_walk=scale)
                    e0, e1 = e0[~turn], e1[~turn]
                elif not gt.get("u_turn_interval") and (test.truth.get("strides") or {}).get("length_m"):
                    st = test.truth["strides"]
                    ref = [
                        (te, L) for te, L in zip(st["t_end"], st["length_m"], strict=True) if L is not None
                    ]
                    r0, r1 = lowback_strides(test), lowback_strides(test, scale_walk=scale)
                    e0 = np.array([pair(r0.t_contact_s, r0.stride_length_m, t, 0.1) - L for t, L in ref])
                    e1 = np.array([pair(r1.t_contact_s, r1.stride_length_m, t, 0.1) - L for t, L in ref])
                else:
                    continue
                out["runs"].append(
                    {"subject": sid, "calibrated_on": cal.path.stem, "tested_on": test.path.stem,
                     "scale_walk": scale, "before": _stats(e0), "after": _stats(e1)}
                )  # fmt: skip
    return out


def evaluate(root: Path, tol_s: float = 0.1) -> dict[str, Any]:
    """Run the three evaluations over every lower-back recording with a gyroscope under ``root``."""
    report: dict[str, Any] = {"breakdown": {}, "against_feet": {}, "calibration": {}}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        recs = []
        for p in sorted(folder.glob("*.json")):
            m = json.loads(p.read_text())
            if m.get("placement") == "lower_back" and m.get("has_gyro") and p.with_suffix(".csv").exists():
                recs.append(load(p.with_suffix(".csv")))
        if not recs:
            continue
        b = breakdown(recs, tol_s)
        if b:
            report["breakdown"][folder.name] = b
        errs: dict[str, list[np.ndarray]] = {
            "straight": [],
            "turning": [],
            "straight, reference contacts": [],
            "straight, best scale of the recording": [],
            f"straight, heading change < {STEADY_HEADING_DEG:g} deg, best scale": [],
        }
        for r in recs:
            feet = _siblings(r, folder)
            if not feet:
                continue
            ref = foot_reference(r, feet)
            e, turn = against_feet(r, ref)
            errs["straight"].append(e[~turn])
            errs["turning"].append(e[turn])
            lengths = np.array([L for _, L in ref], dtype=float)
            errs["straight, best scale of the recording"].append(best_scale_errors(e[~turn], lengths[~turn]))
            c = lowback_strides(r).t_contact_s
            heading = np.array([stride_heading_change_deg(r, c, t) for t, _ in ref])
            steady = ~turn & (heading < STEADY_HEADING_DEG)
            errs[f"straight, heading change < {STEADY_HEADING_DEG:g} deg, best scale"].append(
                best_scale_errors(e[steady], lengths[steady])
            )
            e, turn = against_feet(r, ref, contacts="reference")
            errs["straight, reference contacts"].append(e[~turn])
        if errs["straight"]:
            report["against_feet"][folder.name] = {k: _stats(np.concatenate(v)) for k, v in errs.items()}
        cal = calibration(folder, recs)
        if cal["runs"]:
            report["calibration"][folder.name] = cal
    return report


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s result."""
    lines = []
    for name, groups in report["breakdown"].items():
        lines += [
            f"### {name}: breakdown (stride error, m)",
            "",
            "| strides | n | MAE | bias | sum \\|err\\| |",
        ]
        lines.append("|---|---:|---:|---:|---:|")
        for g, s in groups.items():
            lines.append(f"| {g} | {s['n']} | {s['mae_m']:.3f} | {s['bias_m']:+.3f} | {s['sum_abs_m']:.2f} |")
        lines += [f"\nunpaired reference strides: {groups['all']['unpaired']}", ""]
    for name, groups in report["against_feet"].items():
        lines += [f"### {name}: lower back against the foot sensors (m)", "", "| strides | n | MAE | bias |"]
        lines.append("|---|---:|---:|---:|")
        lines += [f"| {g} | {s['n']} | {s['mae_m']:.3f} | {s['bias_m']:+.3f} |" for g, s in groups.items()]
        lines.append("")
    for name, cal in report["calibration"].items():
        runs = cal["runs"]
        scales = np.array([r["scale_walk"] for r in runs])
        before = np.array([r["before"]["mae_m"] for r in runs])
        after = np.array([r["after"]["mae_m"] for r in runs])
        lines += [
            f"### {name}: calibrate on one recording, score another",
            "",
            f"{len(runs)} pairs of recordings, {len({r['subject'] for r in runs})} subjects; scale_walk "
            f"{scales.min():.3f}-{scales.max():.3f} (median {np.median(scales):.3f}); stride MAE "
            f"{np.nanmean(before):.3f} -> {np.nanmean(after):.3f} m (mean over pairs)",
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.lowback_strides", description=__doc__.split("\n\n")[0]
    )
    folder_argument(ap)
    ap.add_argument("--tolerance-s", type=float, default=0.1, help="pairing window around a stride's end, s")
    args = ap.parse_args(argv)
    return run_folder_study(args, lambda folder: evaluate(folder, args.tolerance_s), format_report)


if __name__ == "__main__":
    sys.exit(main())
