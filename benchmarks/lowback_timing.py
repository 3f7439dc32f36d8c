"""Lower-back contact timing: the detector's half-climb contact against the forward-acceleration peak.

Usage::

    python -m benchmarks.lowback_timing [FOLDER] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). Every lower-back recording with step truth is
replayed through the step detector (``dsp.detect_steps``), and each detected contact is timed in
three ways:

* ``half-climb``: the detector's own contact (where the 5 Hz vertical step signal's climb to the
  hump is half done);
* ``forward peak``: where the forward acceleration peaks just before the front leg brakes the
  trunk (Zijlstra & Hof 2003), i.e. the lowest backward acceleration from the earliest contact the
  detector may report (``refine_s`` before the hump) to the hump;
* ``mean``: the mean of the two.

The backward acceleration is computed causally, as a streaming kernel would: the horizontal
acceleration (``a`` minus its part along the detector's gravity estimate) projected on the running
mean (time constant ``AXIS_MEMORY_S``, updated only within a step period of the last contact) of
its product with the step signal. While the front leg loads, the ground pushes the trunk up and
back, so that mean points backward; the sideways sway alternates from step to step and averages
out. The projection is low-passed at ``BACKWARD_CUTOFF_HZ``.

Printed: per group and subject, the offset of each timing from the nearest true event (median,
interquartile range, share within ±0.1 s, over contacts within 0.3 s of an event); and per group
the F1 of each timing with the accuracy command's scorer (``benchmarks.scoring``). The numbers are
for reading, not for tuning: part of the data is held out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter, lfilter_zi

from benchmarks.accuracy import folder_argument, labelled_logs, run_folder_study
from benchmarks.scoring import Prediction, score_recording, summarize
from dsp import StepSettings, detect_steps
from dsp._filters import butter2_lowpass

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Low-pass of the backward acceleration, Hz.
BACKWARD_CUTOFF_HZ = 10.0
#: Time constant of the running mean that gives the backward axis, s.
AXIS_MEMORY_S = 4.0
#: The timings compared, in the order printed.
TIMINGS = ("half-climb", "forward peak", "mean")
#: Contacts farther than this from every true event are left out of the offsets, s.
NEAR_S = 0.3


def _ba(cutoff_hz: float, fs: float) -> tuple[np.ndarray, np.ndarray]:
    c = butter2_lowpass(cutoff_hz, fs)
    return c[:3], np.array([1.0, c[3], c[4]])


def backward_acceleration(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    contacts_t_s: np.ndarray,
    emitted_t_s: np.ndarray,
    fs: float,
    settings: StepSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the step signal and the causal backward acceleration of a recording.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, s.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², any orientation.
    contacts_t_s, emitted_t_s : numpy.ndarray
        The detector's contacts and the times they were decided, s (the axis is learnt only within
        ``max_period_s`` of the last contact decided before each sample).
    fs : float
        Sampling rate, Hz.
    settings : StepSettings, optional
        Detector constants (gravity and step-signal cut-offs, ``max_period_s``).

    Returns
    -------
    step_signal, backward : numpy.ndarray
        The 5 Hz vertical step signal and the backward acceleration, m/s², shape ``(n,)`` each.
    """
    s = settings or StepSettings()
    b, a = _ba(s.gravity_cutoff_hz, fs)
    zi = lfilter_zi(b, a)
    g = np.column_stack([lfilter(b, a, acc_mps2[:, j], zi=zi * acc_mps2[0, j])[0] for j in range(3)])
    gn = np.maximum(np.linalg.norm(g, axis=1), 1e-9)
    along = np.einsum("ij,ij->i", acc_mps2, g) / gn  # a · ĝ
    b5, a5 = _ba(s.step_cutoff_hz, fs)
    step = lfilter(b5, a5, along - gn)
    h = acc_mps2 - (along / gn)[:, None] * g
    j = np.searchsorted(emitted_t_s, t_s, side="right") - 1
    last = np.where(j >= 0, contacts_t_s[np.maximum(j, 0)], -np.inf)
    walking = t_s - last <= s.max_period_s
    decay = np.exp(-1.0 / (fs * AXIS_MEMORY_S))
    axis = np.zeros(3)
    raw = np.zeros(t_s.size)
    for i in range(t_s.size):
        if walking[i]:
            axis = decay * axis + (1.0 - decay) * h[i] * step[i]
        norm = np.sqrt(axis @ axis)
        raw[i] = h[i] @ axis / norm if norm > 0.0 else 0.0
    bb, ab = _ba(BACKWARD_CUTOFF_HZ, fs)
    return step, lfilter(bb, ab, raw)


def contact_timings(
    t_s: np.ndarray, acc_mps2: np.ndarray, fs: float, settings: StepSettings | None = None
) -> dict[str, np.ndarray]:
    """Detect the contacts of a lower-back recording and time each in every way of :data:`TIMINGS`.

    Returns
    -------
    dict
        Contact times per timing, s (sorted, the same number each).
    """
    s = settings or StepSettings()
    steps = detect_steps(t_s, acc_mps2, sampling_rate_hz=fs, placement="lower_back", settings=s)
    _, back = backward_acceleration(t_s, acc_mps2, steps.t_s, steps.emitted_at_s, fs, s)
    look = max(1, int(s.lookahead_s * fs + 0.5))
    hump = np.searchsorted(t_s, steps.emitted_at_s) - look  # the hump's sample (decided look samples later)
    first = np.maximum(hump - int(s.refine_s * fs + 0.5), 1)
    peak = np.array([q0 + int(np.argmin(back[q0 : c + 1])) for q0, c in zip(first, hump, strict=True)], int)
    half = np.searchsorted(t_s, steps.t_s)
    return {
        "half-climb": steps.t_s.copy(),
        "forward peak": np.sort(t_s[peak]) if peak.size else np.zeros(0),
        "mean": np.sort(t_s[(half + peak) // 2]) if peak.size else np.zeros(0),
    }


def subject_of(meta: dict[str, Any], recording_id: str) -> str:
    """Return the subject a recording belongs to (the sidecar's ``subject.id``, else the recording)."""
    subject = meta.get("subject")
    sid = subject.get("id") if isinstance(subject, dict) else None
    return str(sid) if sid else recording_id


def offsets(times: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Signed offset of each time from its nearest event, s, for the times within :data:`NEAR_S` of one."""
    if times.size == 0 or events.size == 0:
        return np.zeros(0)
    ev = np.sort(events)
    j = np.clip(np.searchsorted(ev, times), 1, max(ev.size - 1, 1))
    lo = ev[j - 1]
    hi = ev[np.minimum(j, ev.size - 1)]
    d = np.where(np.abs(hi - times) < np.abs(times - lo), times - hi, times - lo)
    return d[np.abs(d) < NEAR_S]


def _offset_stats(d: np.ndarray) -> dict[str, float]:
    if d.size == 0:
        return {"n": 0, "median_ms": float("nan"), "iqr_ms": float("nan"), "within_100ms": float("nan")}
    q25, q50, q75 = np.percentile(d, [25, 50, 75])
    return {
        "n": int(d.size),
        "median_ms": 1000.0 * float(q50),
        "iqr_ms": 1000.0 * float(q75 - q25),
        "within_100ms": float(np.mean(np.abs(d) <= 0.1)),
    }


def evaluate(folder: Path) -> dict[str, Any]:
    """Time every lower-back recording of ``folder`` in each way and score it.

    Returns
    -------
    dict
        ``{"groups": {group: {timing: {"f1", "tp", "fp", "fn", "n_events"}}},
        "subjects": {group: {subject: {timing: offset stats}}}}``.
    """
    scores: dict[str, dict[str, list[Any]]] = {}
    offs: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {}
    for truth, log in labelled_logs(folder, lambda truth: truth.placement == "lower_back"):
        timed = contact_timings(log.t_s, log.acc_mps2, float(log.sampling_rate_hz))
        group = "/".join(truth.group_key(("dataset", "placement", "activity")))
        events = np.asarray([x for x in truth.ground_truth["steps_t"] if x is not None], float)
        subject = subject_of(dict(truth.meta), truth.recording_id)
        for name, times in timed.items():
            pred = Prediction(
                times, (None,) * times.size, np.full(times.size, np.nan), np.full(times.size, np.nan), "both"
            )
            scores.setdefault(group, {}).setdefault(name, []).append(score_recording(truth, pred))
            offs.setdefault(group, {}).setdefault(subject, {}).setdefault(name, []).append(
                offsets(times, events)
            )
    groups = {}
    for group, per in scores.items():
        groups[group] = {}
        for name, rs in per.items():
            st = summarize(rs, has_cadence=False, has_stride=False)
            groups[group][name] = {"f1": st.f1, "tp": st.tp, "fp": st.fp, "fn": st.fn, "n_events": st.n_gt}
    subjects = {
        group: {
            sub: {name: _offset_stats(np.concatenate(ds)) for name, ds in per.items()}
            for sub, per in subs.items()
        }
        for group, subs in offs.items()
    }
    return {"groups": groups, "subjects": subjects}


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s result."""
    lines = ["| group | events | " + " | ".join(f"F1 {n}" for n in TIMINGS) + " |"]
    lines.append("|---|---:|" + "---:|" * len(TIMINGS))
    for group, per in sorted(report["groups"].items()):
        n = next(iter(per.values()))["n_events"]
        cells = " | ".join(
            f"{per[name]['f1']:.4f} ({per[name]['tp']}/{per[name]['fp']}/{per[name]['fn']})"
            for name in TIMINGS
        )
        lines.append(f"| {group} | {n} | {cells} |")
    lines.append("")
    lines.append("F1 (true positives / false positives / misses).")
    lines.append("")
    head = " | ".join(f"{name}: median / IQR ms, share ±0.1 s" for name in TIMINGS)
    lines.append(f"| group | subject | contacts | {head} |")
    lines.append("|---|---|---:|" + "---|" * len(TIMINGS))
    for group, subs in sorted(report["subjects"].items()):
        for sub, per in sorted(subs.items()):
            n = per["half-climb"]["n"]
            cells = " | ".join(
                f"{per[name]['median_ms']:+.0f} / {per[name]['iqr_ms']:.0f}, {per[name]['within_100ms']:.3f}"
                for name in TIMINGS
            )
            lines.append(f"| {group} | {sub} | {n} | {cells} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.lowback_timing", description=__doc__.split("\n\n")[0]
    )
    folder_argument(ap)
    return run_folder_study(ap.parse_args(argv), evaluate, format_report)


if __name__ == "__main__":
    sys.exit(main())
