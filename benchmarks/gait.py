"""Walk or run: the share of steps the detector flags ``run``, against what the recordings say.

Usage::

    python -m benchmarks.gait [FOLDER] [--json FILE] [--signals] [--no-gyro]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). Every recording with step truth is replayed through
the step detector (``dsp.detect_steps``, whose flag the replay's ``gait`` field and the coach use),
and each detected contact is given the label of the stretch of the recording it falls in:

* most sidecars label a whole recording (``activity``: ``walk``, ``walk_fast`` or ``run``;
  ``walk_fast`` counts as walking);
* ``adept_outdoor_run`` labels its running bouts only (``gt_intervals``: runs of consistent strides
  under 0.95 s); the rest of the run holds its stops and walking breaks, unlabelled;
* ``harlab_treadmill_jog`` labels its jog (``gt_intervals``); the 10 s before it are the end of the
  protocol's treadmill walk at 2.5 mph (the jog follows it), the 10 s after it the belt stopping
  (unlabelled).

Label quality, read before the numbers: ``pyshoe_vicon``'s ``run`` comes from the stride rate
(over 135 steps/min), not from the authors; ``gdind_footprints``' ``walk_fast`` recordings vary the
pace and hold stretches at 140-160 steps/min whose foot barely rests (jogging, by the look of it);
harlab's S002 walks at 105 steps/min for the first 17 s of its labelled jog (its ankle-logger
alignment is the set's worst, 64 % of strides within 20 ms).

Printed: per dataset x placement x activity x stretch, the recordings, the contacts, and the share
flagged ``run``; with ``--signals`` also the percentiles of the trunk evidence per group: the
lowest 5 Hz vertical step signal since the previous contact (the detector's flight test) and the
lowest raw vertical acceleration, m/s². ``--no-gyro`` replays the foot recordings without their
gyroscope (the limb detector). The numbers are for reading, not for tuning: part of the data is
held out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter, lfilter_zi

from benchmarks.accuracy import folder_argument, labelled_logs, run_folder_study
from benchmarks.scoring import Truth
from dsp import StepSettings, detect_steps
from dsp._filters import butter2_lowpass

#: Datasets whose ``gt_intervals`` are their labelled running bouts (the rest is not labelled).
RUN_BOUTS = frozenset({"adept_outdoor_run", "harlab_treadmill_jog"})
#: Datasets whose protocol walks just before the first running bout (the margin before it).
WALK_BEFORE_RUN = frozenset({"harlab_treadmill_jog"})
#: The gait of each sidecar ``activity``.
ACTIVITY_GAIT = {"walk": "walk", "walk_fast": "walk", "run": "run"}
#: Names of the stretches, in the order printed.
STRETCHES = ("whole recording", "run bouts", "before the run", "outside the run bouts")
#: Percentiles of the ``--signals`` table.
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)


def labelled_stretches(truth: Truth, duration_s: float) -> list[tuple[float, float, str, str | None]]:
    """Return the stretches of a recording with their name and gait label (None: not labelled).

    Parameters
    ----------
    truth : Truth
        The recording's sidecar.
    duration_s : float
        End of the recording, s.

    Returns
    -------
    list of tuple
        ``(t0_s, t1_s, stretch, gait)``, in time order, covering ``[-inf, inf]``; a contact at a
        boundary belongs to the first stretch that holds it.
    """
    gait = ACTIVITY_GAIT.get(str(truth.meta.get("activity")))
    if truth.dataset not in RUN_BOUTS:
        return [(-np.inf, np.inf, "whole recording", gait)]
    bouts = sorted((float(a), float(b)) for a, b in truth.ground_truth.get("gt_intervals") or [])
    if not bouts:
        return [(-np.inf, np.inf, "outside the run bouts", None)]
    out: list[tuple[float, float, str, str | None]] = []
    first = bouts[0][0]
    if truth.dataset in WALK_BEFORE_RUN:
        out.append((-np.inf, first, "before the run", "walk"))
    else:
        out.append((-np.inf, first, "outside the run bouts", None))
    for i, (a, b) in enumerate(bouts):
        out.append((a, b, "run bouts", "run"))
        nxt = bouts[i + 1][0] if i + 1 < len(bouts) else np.inf
        out.append((b, nxt, "outside the run bouts", None))
    del duration_s  # the stretches are open-ended: a contact past the end still has one
    return out


def count_gait(
    contacts_t_s: np.ndarray, is_run: np.ndarray, stretches: Sequence[tuple[float, float, str, str | None]]
) -> dict[str, list[int]]:
    """Count the contacts and the run-flagged contacts in each named stretch.

    Parameters
    ----------
    contacts_t_s : numpy.ndarray
        Contact times, s.
    is_run : numpy.ndarray
        The detector's flag per contact (True: run).
    stretches : sequence of tuple
        As :func:`labelled_stretches` returns: ``(t0_s, t1_s, stretch, gait)``.

    Returns
    -------
    dict
        ``{stretch: [run-flagged contacts, contacts]}`` for the stretches that hold a contact.
    """
    counts: dict[str, list[int]] = {}
    t = np.asarray(contacts_t_s, float)
    run = np.asarray(is_run, bool)
    taken = np.zeros(t.size, bool)
    for a, b, name, _gait in stretches:
        sel = (t >= a) & (t <= b) & ~taken
        taken |= sel
        if sel.any():
            c = counts.setdefault(name, [0, 0])
            c[0] += int(np.count_nonzero(run[sel]))
            c[1] += int(np.count_nonzero(sel))
    return counts


def _lowpass(x: np.ndarray, cutoff_hz: float, fs: float) -> np.ndarray:
    """Causal 2nd-order Butterworth low-pass of ``x`` along axis 0, started settled on its first sample."""
    c = butter2_lowpass(cutoff_hz, fs)
    b, a = c[:3], np.array([1.0, c[3], c[4]])
    zi = lfilter_zi(b, a)
    zi = np.outer(zi, x[0]) if x.ndim > 1 else zi * x[0]
    return lfilter(b, a, x, axis=0, zi=zi)[0]


def trunk_step_minima(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    contacts_t_s: np.ndarray,
    fs: float,
    settings: StepSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest step signal and lowest raw vertical acceleration from each contact's predecessor to it.

    The vertical is the projection on gravity (each axis low-passed at ``gravity_cutoff_hz``) minus
    its magnitude, as the detector computes it; the step signal is that low-passed at
    ``step_cutoff_hz``. Offline (scipy), so close to, not bit-equal with, the kernel's own minimum.

    Returns
    -------
    tuple of numpy.ndarray
        Per contact, m/s² (NaN for the first contact and after more than 2.5 s without one).
    """
    s = settings or StepSettings()
    g = _lowpass(acc_mps2, s.gravity_cutoff_hz, fs)
    gn = np.maximum(np.linalg.norm(g, axis=1), 1e-9)
    av = np.einsum("ij,ij->i", acc_mps2, g) / gn - gn
    sig = _lowpass(av, s.step_cutoff_hz, fs)
    k = np.searchsorted(t_s, contacts_t_s, side="right")
    smin = np.full(contacts_t_s.size, np.nan)
    amin = np.full(contacts_t_s.size, np.nan)
    for i in range(1, contacts_t_s.size):
        if contacts_t_s[i] - contacts_t_s[i - 1] > 2.5 or k[i] <= k[i - 1]:
            continue
        smin[i] = sig[k[i - 1] : k[i]].min()
        amin[i] = av[k[i - 1] : k[i]].min()
    return smin, amin


def evaluate(folder: Path, signals: bool = False, no_gyro: bool = False) -> dict[str, Any]:
    """Replay every recording with step truth in ``folder`` and count its gait flags per stretch.

    With ``no_gyro`` the foot recordings are replayed without their gyroscope.

    Returns
    -------
    dict
        ``{"groups": {key: {"recordings", "run", "steps", "gait"}}}`` with ``key`` =
        ``dataset/placement/activity/stretch``, and with ``signals`` also ``"signals":
        {key: {"step_min": [...], "raw_min": [...]}}`` (percentiles :data:`PERCENTILES`).
    """
    groups: dict[str, dict[str, Any]] = {}
    minima: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for truth, log in labelled_logs(folder, lambda truth: True):
        fs = float(log.sampling_rate_hz)
        gyro = None if no_gyro and truth.placement == "foot" else log.gyro_rads
        steps = detect_steps(log.t_s, log.acc_mps2, gyro, sampling_rate_hz=fs, placement=truth.placement)
        stretches = labelled_stretches(truth, float(log.t_s[-1]))
        gaits = {name: gait for _a, _b, name, gait in stretches}
        head = f"{truth.dataset}/{truth.placement}/{truth.meta.get('activity')}"
        for name, (n_run, n) in count_gait(steps.t_s, steps.is_run, stretches).items():
            g = groups.setdefault(
                f"{head}/{name}", {"recordings": 0, "run": 0, "steps": 0, "gait": gaits[name]}
            )
            g["recordings"] += 1
            g["run"] += n_run
            g["steps"] += n
        if signals and truth.placement != "foot" and steps.t_s.size > 1:
            smin, amin = trunk_step_minima(log.t_s, log.acc_mps2, steps.t_s, fs)
            for a, b, name, _gait in stretches:
                sel = (steps.t_s >= a) & (steps.t_s <= b)
                minima.setdefault(f"{head}/{name}", []).append((smin[sel], amin[sel]))
    report: dict[str, Any] = {"groups": groups}
    if signals:
        sig = {}
        for key, parts in minima.items():
            smin = np.concatenate([p[0] for p in parts])
            amin = np.concatenate([p[1] for p in parts])
            ok = np.isfinite(smin)
            if ok.any():
                sig[key] = {
                    "n": int(ok.sum()),
                    "step_min": [float(x) for x in np.percentile(smin[ok], PERCENTILES)],
                    "raw_min": [float(x) for x in np.percentile(amin[ok], PERCENTILES)],
                }
        report["signals"] = sig
    return report


def _share(n_run: int, n: int) -> str:
    return f"{n_run}/{n} = {100.0 * n_run / n:.1f} %" if n else "·"


def pooled(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, list[int]]:
    """Pool the labelled groups by placement and label: ``{"placement / gait": [run-flagged, contacts]}``."""
    out: dict[str, list[int]] = {}
    for key, g in groups.items():
        if g["gait"] is None:
            continue
        placement = key.split("/")[1]
        c = out.setdefault(f"{placement} / labelled {g['gait']}", [0, 0])
        c[0] += g["run"]
        c[1] += g["steps"]
    return dict(sorted(out.items()))


def format_report(report: Mapping[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s result."""
    lines = ["| dataset / placement / activity | stretch | label | recordings | flagged run |"]
    lines.append("|---|---|---|---:|---:|")

    def order(key: str) -> tuple[str, int]:
        head, name = key.rsplit("/", 1)
        return head, STRETCHES.index(name) if name in STRETCHES else len(STRETCHES)

    for key in sorted(report["groups"], key=order):
        g = report["groups"][key]
        head, name = key.rsplit("/", 1)
        label = g["gait"] or "not labelled"
        share = _share(g["run"], g["steps"])
        lines.append(f"| {head.replace('/', ' / ')} | {name} | {label} | {g['recordings']} | {share} |")
    for key, (n_run, n) in pooled(report["groups"]).items():
        lines.append(f"| **all {key}** | | | | {_share(n_run, n)} |")
    if "signals" in report:
        lines.append("")
        pct = " / ".join(f"p{p}" for p in PERCENTILES)
        head = f"step signal min since the last contact, {pct}"
        lines.append(f"| group (trunk detector) | contacts | {head} | raw vertical min |")
        lines.append("|---|---:|---|---|")
        for key in sorted(report["signals"], key=order):
            s = report["signals"][key]
            cells = " | ".join(" / ".join(f"{x:.1f}" for x in s[col]) for col in ("step_min", "raw_min"))
            lines.append(f"| {key.replace('/', ' / ')} | {s['n']} | {cells} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gait", description=__doc__.split("\n\n")[0])
    folder_argument(ap)
    ap.add_argument(
        "--signals",
        action="store_true",
        help="also the trunk evidence per group (step signal and raw vertical minima)",
    )
    ap.add_argument(
        "--no-gyro", action="store_true", help="replay the foot recordings without their gyroscope"
    )
    args = ap.parse_args(argv)
    return run_folder_study(
        args, lambda folder: evaluate(folder, signals=args.signals, no_gyro=args.no_gyro), format_report
    )


if __name__ == "__main__":
    sys.exit(main())
