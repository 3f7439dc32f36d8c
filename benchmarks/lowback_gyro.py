"""Lower-back steps: the accelerometer's vertical against a gyro-aided one (issue #2, session 7).

Usage::

    python -m benchmarks.lowback_gyro [FOLDER] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). Every lower-back recording with a gyroscope and step
truth is replayed through the *unchanged* step detector (``dsp.detect_steps``) several ways:

* ``accelerometer``: the samples as recorded (the detector's vertical is its 0.5 Hz low-pass of
  each axis, ``a_v = a · ĝ - |g|``);
* ``gyro, tau=T s``: the vertical component of the samples rotated into a gravity-aligned frame by
  a gyro-aided attitude (a complementary filter, as the stride estimator's trunk mode: the
  gyroscope integrated, the tilt pulled towards the accelerometer with time constant ``T``); the
  horizontal components are zeroed, so that the detector's vertical is the gyro-aided one;
* ``gyro, bias removed, ...``: the same after removing the gyroscope's mean over a standing second
  at the start (:func:`standing_gyro_bias`), as the device does at start-up;
* ``..., horizontal kept``: the rotated samples whole (the detector's 0.5 Hz low-pass then also
  sees the horizontal acceleration that lasts, a turn's centripetal acceleration).

Printed: per group the F1 (true positives / false positives / misses) of each and the misses near
the authors' U-turn interval (voisard; within ``TURN_PAD_S``, which also takes the steps into and
out of the turn); the tilt between the detector's 0.5 Hz gravity and the gyro-aided vertical
(median and 95th percentile inside and outside the U-turns); and the step signal's hump at each
U-turn event (the largest value from 50 ms before to 250 ms after it) with either vertical. The
numbers are for reading, not for tuning: part of the data is held out.
"""

from __future__ import annotations

import argparse
import math
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

#: Time constants of the complementary filter's tilt correction, s: about two strides (the stride
#: estimator's choice), about twice a U-turn (1.2-2.5 s on voisard), and long beside any turn.
TAUS_S = (1.0, 4.0, 10.0)
#: A second whose |a| varies less than this (standard deviation) is standing still, m/s².
STILL_ACC_STD_MPS2 = 0.05
#: Misses this close to the authors' U-turn interval count as U-turn misses, s.
TURN_PAD_S = 0.3
#: The gyro-aided variant whose step signal is compared with the accelerometer's at the U-turn events.
REFERENCE = f"gyro, bias removed, tau={TAUS_S[1]:g} s"
#: Humps below this count as this in the alternation measure (|log| of consecutive humps' ratio), m/s².
ALT_MIN_MPS2 = 0.05
#: A U-turn event's hump is the step signal's largest value this long before to ... s
HUMP_BEFORE_S = 0.05
#: ... this long after it, s.
HUMP_AFTER_S = 0.25


def _quat_mul(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float, float]:
    a0, a1, a2, a3 = a
    b0, b1, b2, b3 = b
    return (
        a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
        a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
        a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1,
        a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0,
    )


def _rotate(q: Sequence[float], x: float, y: float, z: float) -> tuple[float, float, float]:
    w, qx, qy, qz = q
    cx = qy * z - qz * y
    cy = qz * x - qx * z
    cz = qx * y - qy * x
    dx = qy * cz - qz * cy
    dy = qz * cx - qx * cz
    dz = qx * cy - qy * cx
    return x + 2.0 * (w * cx + dx), y + 2.0 * (w * cy + dy), z + 2.0 * (w * cz + dz)


def _normalised(q: Sequence[float]) -> tuple[float, float, float, float]:
    n = math.sqrt(sum(v * v for v in q))
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def _q_from_gravity(ax: float, ay: float, az: float) -> tuple[float, float, float, float]:
    n = math.sqrt(ax * ax + ay * ay + az * az)
    ux, uy, uz = ax / n, ay / n, az / n
    if 1.0 + uz < 1e-9:
        return (0.0, 1.0, 0.0, 0.0)
    return _normalised((1.0 + uz, uy, -ux, 0.0))


def gyro_aided_world(
    t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray, fs: float, tau_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the accelerometer rotated into a gravity-aligned frame by a complementary filter.

    The attitude starts from the first sample's specific force, is propagated by the gyroscope and
    then turned, every sample, a share ``1 - exp(-1 / (fs tau_s))`` of the way that makes the
    measured specific force point up (about a horizontal axis: the heading is left alone), as
    ``dsp._stride_kernels`` does in trunk mode.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, s.
    acc_mps2, gyro_rads : numpy.ndarray
        Accelerometer (m/s²) and gyroscope (rad/s), shape ``(n, 3)``, sensor frame.
    fs : float
        Sampling rate, Hz.
    tau_s : float
        Time constant of the tilt correction, s.

    Returns
    -------
    world : numpy.ndarray
        Specific force in the world frame (z up, heading arbitrary), shape ``(n, 3)``, m/s².
    up : numpy.ndarray
        The world's z axis (the vertical) in the sensor frame, unit vectors, shape ``(n, 3)``.
    """
    gain = 1.0 - math.exp(-1.0 / (fs * tau_s))
    out = np.empty_like(acc_mps2)
    up = np.empty_like(acc_mps2)
    q = _q_from_gravity(*acc_mps2[0])
    last_t = float(t_s[0])
    for i in range(t_s.size):
        dt = float(t_s[i]) - last_t
        last_t = float(t_s[i])
        wx, wy, wz = (float(v) for v in gyro_rads[i])
        n = math.sqrt(wx * wx + wy * wy + wz * wz)
        if n > 1e-12:
            s = math.sin(0.5 * n * dt) / n
            q = _normalised(_quat_mul(q, (math.cos(0.5 * n * dt), wx * s, wy * s, wz * s)))
        ax, ay, az = (float(v) for v in acc_mps2[i])
        ux, uy, uz = _rotate(q, ax, ay, az)
        un = math.sqrt(ux * ux + uy * uy + uz * uz)
        if un > 1e-9:
            ux, uy, uz = ux / un, uy / un, uz / un
            ex, ey = uy, -ux  # u × z
            sn = math.sqrt(ex * ex + ey * ey)
            if sn > 1e-12:
                h = 0.5 * gain * math.atan2(sn, uz)
                sh = math.sin(h) / sn
                q = _normalised(_quat_mul((math.cos(h), ex * sh, ey * sh, 0.0), q))
        out[i] = _rotate(q, ax, ay, az)
        up[i] = _rotate((q[0], -q[1], -q[2], -q[3]), 0.0, 0.0, 1.0)
    return out, up


def detector_tilt_deg(acc_mps2: np.ndarray, up: np.ndarray, fs: float) -> np.ndarray:
    """Angle between the detector's 0.5 Hz gravity and the gyro-aided vertical, per sample, degrees.

    Parameters
    ----------
    acc_mps2 : numpy.ndarray
        Accelerometer, sensor frame, shape ``(n, 3)``, m/s².
    up : numpy.ndarray
        The gyro-aided vertical in the sensor frame, unit vectors, shape ``(n, 3)``
        (:func:`gyro_aided_world`).
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    numpy.ndarray
        Angle per sample, degrees.
    """
    s = StepSettings()
    c = butter2_lowpass(s.gravity_cutoff_hz, fs)
    b, a = c[:3], np.array([1.0, c[3], c[4]])
    zi = lfilter_zi(b, a)
    g = np.column_stack([lfilter(b, a, acc_mps2[:, j], zi=zi * acc_mps2[0, j])[0] for j in range(3)])
    cosang = np.einsum("ij,ij->i", g, up) / np.maximum(np.linalg.norm(g, axis=1), 1e-12)
    return np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))


def step_signal(acc_mps2: np.ndarray, fs: float, settings: StepSettings | None = None) -> np.ndarray:
    """Return the trunk detector's step signal: ``a · ĝ - |g|``, low-passed at 5 Hz, m/s².

    ``ĝ`` and ``|g|`` come from the 0.5 Hz low-pass of each axis.

    The same filters as ``dsp._step_kernels`` (gravity settled on the first sample, the step filter
    at zero), in floating point of its own: for reading, not for bit-identity.
    """
    s = settings or StepSettings()
    c = butter2_lowpass(s.gravity_cutoff_hz, fs)
    b, a = c[:3], np.array([1.0, c[3], c[4]])
    zi = lfilter_zi(b, a)
    g = np.column_stack([lfilter(b, a, acc_mps2[:, j], zi=zi * acc_mps2[0, j])[0] for j in range(3)])
    gn = np.maximum(np.linalg.norm(g, axis=1), 1e-9)
    c5 = butter2_lowpass(s.step_cutoff_hz, fs)
    return lfilter(c5[:3], np.array([1.0, c5[3], c5[4]]), np.einsum("ij,ij->i", acc_mps2, g) / gn - gn)


def standing_gyro_bias(
    t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray, fs: float
) -> np.ndarray | None:
    """Return the gyroscope's mean over the stillest second of the first three, if it was still then.

    What the device does at start-up (it measures the bias while the wearer stands still): still
    is a standard deviation of |a| below :data:`STILL_ACC_STD_MPS2` over the second.

    Returns
    -------
    numpy.ndarray or None
        The bias, rad/s, shape ``(3,)``; None when no second of the first three was still.
    """
    n1 = max(2, round(fs))
    norm = np.linalg.norm(acc_mps2, axis=1)
    best, best_std = None, STILL_ACC_STD_MPS2
    for i0 in range(0, max(1, int(np.searchsorted(t_s, t_s[0] + 2.0))), max(1, n1 // 10)):
        std = float(np.std(norm[i0 : i0 + n1]))
        if i0 + n1 <= norm.size and std < best_std:
            best, best_std = i0, std
    if best is None:
        return None
    return gyro_rads[best : best + n1].mean(axis=0)


def _variants(
    t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, fs: float
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """Return the accelerometer blocks fed to the detector, by variant name.

    Returns
    -------
    feeds : dict
        Variant name to accelerometer block.
    tilt : numpy.ndarray
        The tilt of the detector's gravity from the gyro-aided vertical (``TAUS_S[1]``, bias
        removed where known), degrees.
    bias : numpy.ndarray or None
        The gyroscope's bias from a standing second, rad/s (None without one).
    """
    out = {"accelerometer": acc}
    bias = standing_gyro_bias(t, acc, gyro, fs)
    unbiased = gyro - bias if bias is not None else gyro
    tilt = np.zeros(t.size)
    for label, rate in (("", gyro), ("bias removed, ", unbiased)):
        for tau in TAUS_S:
            world, up = gyro_aided_world(t, acc, rate, fs, tau)
            z_only = np.zeros_like(world)
            z_only[:, 2] = world[:, 2]
            out[f"gyro, {label}tau={tau:g} s"] = z_only
            if label and tau == TAUS_S[1]:
                out[f"gyro, {label}tau={tau:g} s, horizontal kept"] = world
                tilt = detector_tilt_deg(acc, up, fs)
    return out, tilt, bias


def evaluate(folder: Path) -> dict[str, Any]:
    """Replay every lower-back recording with a gyroscope in ``folder`` each way and score it.

    Returns
    -------
    dict
        ``"groups"``: per group and variant, ``f1``, ``tp``, ``fp``, ``fn``, ``n_events`` and the
        U-turn counts (``turn_misses``, ``turn_events``, ``turn_misses_shared``: also missed with
        the accelerometer's vertical); ``"tilt"``: per group, ``"turn"`` and ``"straight"``, the
        median and 95th percentile of :func:`detector_tilt_deg`; ``"turn_humps"``: per group with
        U-turns, the humps at the U-turn events (:data:`REFERENCE` against the accelerometer);
        ``"bias_known"``: per group, recordings with a standing second and recordings;
        ``"bias_dps"``: per group, the median, 90th percentile and largest |bias| found, °/s.
    """
    scores: dict[str, dict[str, list[Any]]] = {}
    turn: dict[str, dict[str, list[int]]] = {}
    tilts: dict[str, dict[str, list[np.ndarray]]] = {}
    n_biased: dict[str, list[int]] = {}
    bias_dps: dict[str, list[float]] = {}
    humps: dict[str, dict[str, list[np.ndarray]]] = {}
    for truth, log in labelled_logs(
        folder, lambda truth: truth.placement == "lower_back" and bool(truth.meta.get("has_gyro"))
    ):
        if log.gyro_rads is None:
            continue
        fs = float(log.sampling_rate_hz)
        group = "/".join(truth.group_key(("dataset", "placement", "activity")))
        events = np.asarray([x for x in truth.ground_truth["steps_t"] if x is not None], float)
        u = truth.ground_truth.get("u_turn_interval")
        in_turn_ev = np.zeros(events.size, bool)
        in_turn_t = np.zeros(log.t_s.size, bool)
        if u:
            in_turn_ev = (events >= u[0] - TURN_PAD_S) & (events <= u[1] + TURN_PAD_S)
            in_turn_t = (log.t_s >= u[0]) & (log.t_s <= u[1])
        feeds, tilt, bias = _variants(log.t_s, log.acc_mps2, log.gyro_rads, fs)
        n_bias = n_biased.setdefault(group, [0, 0])
        n_bias[0] += int(bias is not None)
        n_bias[1] += 1
        if bias is not None:
            bias_dps.setdefault(group, []).append(math.degrees(float(np.linalg.norm(bias))))
        tl = tilts.setdefault(group, {"turn": [], "straight": []})
        tl["turn"].append(tilt[in_turn_t])
        tl["straight"].append(tilt[~in_turn_t & (log.t_s > 3.0)])
        missed_turn: dict[str, np.ndarray] = {}
        for name, acc in feeds.items():
            steps = detect_steps(log.t_s, acc, sampling_rate_hz=fs, placement="lower_back")
            times = steps.t_s
            pred = Prediction(
                times, (None,) * times.size, np.full(times.size, np.nan), np.full(times.size, np.nan), "both"
            )
            rs = score_recording(truth, pred)
            scores.setdefault(group, {}).setdefault(name, []).append(rs)
            missed = np.asarray(rs.missed_t_s, float)
            missed_turn[name] = in_turn_ev & np.isin(np.round(events, 4), np.round(missed, 4))
            n_turn_miss = int(missed_turn[name].sum())
            cnt = turn.setdefault(group, {}).setdefault(name, [0, 0, 0])
            cnt[0] += n_turn_miss
            cnt[1] += int(in_turn_ev.sum())
            cnt[2] += int(np.sum(missed_turn[name] & missed_turn["accelerometer"]))
        if in_turn_ev.any():
            hp = humps.setdefault(group, {"accelerometer": [], REFERENCE: [], "missed": []})
            for name in ("accelerometer", REFERENCE):
                sig = step_signal(feeds[name], fs)
                hp[name].append(
                    np.array(
                        [
                            sig[(log.t_s >= e - HUMP_BEFORE_S) & (log.t_s <= e + HUMP_AFTER_S)].max(
                                initial=0.0
                            )
                            for e in events[in_turn_ev]
                        ]
                    )
                )
            hp["missed"].append(missed_turn["accelerometer"][in_turn_ev])
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for group, per in scores.items():
        groups[group] = {}
        for name, rs in per.items():
            st = summarize(rs, has_cadence=False, has_stride=False)
            groups[group][name] = {
                "f1": st.f1,
                "tp": st.tp,
                "fp": st.fp,
                "fn": st.fn,
                "n_events": st.n_gt,
                "turn_misses": turn[group][name][0],
                "turn_events": turn[group][name][1],
                "turn_misses_shared": turn[group][name][2],
            }
    tilt_stats = {}
    for group, parts in tilts.items():
        tilt_stats[group] = {}
        for where, arrs in parts.items():
            v = np.concatenate(arrs) if arrs else np.zeros(0)
            tilt_stats[group][where] = [float(np.median(v)), float(np.percentile(v, 95))] if v.size else []
    floor = StepSettings().floor_mps2
    hump_stats = {}
    for group, hp in humps.items():
        h_acc = np.concatenate(hp["accelerometer"])
        h_gyro = np.concatenate(hp[REFERENCE])
        miss = np.concatenate(hp["missed"])
        # alternation: how much a U-turn step's hump differs from the one before (same recording)
        alt = {
            name: np.concatenate(
                [np.abs(np.diff(np.log(np.maximum(h, ALT_MIN_MPS2)))) for h in hp[name] if h.size > 1]
                or [np.zeros(0)]
            )
            for name in ("accelerometer", REFERENCE)
        }
        hump_stats[group] = {
            "n_events": int(h_acc.size),
            "median_accelerometer": float(np.median(h_acc)),
            "median_gyro": float(np.median(h_gyro)),
            "median_gyro_minus_accelerometer": float(np.median(h_gyro - h_acc)),
            "below_floor_accelerometer": int(np.sum(h_acc < floor)),
            "below_floor_gyro": int(np.sum(h_gyro < floor)),
            "n_missed": int(miss.sum()),
            "missed_median_accelerometer": float(np.median(h_acc[miss])) if miss.any() else float("nan"),
            "missed_median_gyro": float(np.median(h_gyro[miss])) if miss.any() else float("nan"),
            "missed_below_floor_accelerometer": int(np.sum(h_acc[miss] < floor)),
            "missed_below_floor_gyro": int(np.sum(h_gyro[miss] < floor)),
            "alternation_accelerometer": float(np.median(alt["accelerometer"]))
            if alt["accelerometer"].size
            else float("nan"),
            "alternation_gyro": float(np.median(alt[REFERENCE])) if alt[REFERENCE].size else float("nan"),
        }
    bias_stats = {
        group: [float(np.median(v)), float(np.percentile(v, 90)), float(np.max(v))]
        for group, v in bias_dps.items()
    }
    return {
        "groups": groups,
        "tilt": tilt_stats,
        "bias_known": n_biased,
        "bias_dps": bias_stats,
        "turn_humps": hump_stats,
    }


def format_report(report: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s result."""
    lines = [
        "| group | variant | F1 | tp / fp / misses | U-turn misses (events; shared with the accelerometer) |",
        "|---|---|---:|---|---|",
    ]
    for group, per in sorted(report["groups"].items()):
        for name, r in per.items():
            turn = (
                f"{r['turn_misses']} ({r['turn_events']}; {r['turn_misses_shared']})"
                if r["turn_events"]
                else "·"
            )
            lines.append(f"| {group} | {name} | {r['f1']:.4f} | {r['tp']} / {r['fp']} / {r['fn']} | {turn} |")
    lines.append("")
    lines.append(
        "Tilt of the detector's 0.5 Hz gravity from the gyro-aided vertical "
        f"(bias removed, tau = {TAUS_S[1]:g} s), degrees:"
    )
    lines.append("")
    lines.append("| group | in U-turns: median / p95 | elsewhere (after the first 3 s): median / p95 |")
    lines.append("|---|---|---|")
    for group, st in sorted(report["tilt"].items()):
        cells = [f"{v[0]:.1f} / {v[1]:.1f}" if v else "·" for v in (st["turn"], st["straight"])]
        lines.append(f"| {group} | {cells[0]} | {cells[1]} |")
    lines.append("")
    lines.append(
        f"Step-signal hump at the U-turn events (accelerometer / {REFERENCE}), m/s², and how many are "
        f"below the {StepSettings().floor_mps2:g} m/s² floor:"
    )
    lines.append("")
    lines.append(
        "| group | events | median hump | median of the difference | below the floor "
        "| the accelerometer's misses: median hump, below the floor | alternation |"
    )
    lines.append("|---|---:|---|---:|---|---|---|")
    for group, h in sorted(report["turn_humps"].items()):
        lines.append(
            f"| {group} | {h['n_events']} | {h['median_accelerometer']:.2f} / {h['median_gyro']:.2f} | "
            f"{h['median_gyro_minus_accelerometer']:+.3f} | {h['below_floor_accelerometer']} / "
            f"{h['below_floor_gyro']} | {h['n_missed']} misses: {h['missed_median_accelerometer']:.2f} / "
            f"{h['missed_median_gyro']:.2f}, {h['missed_below_floor_accelerometer']} / "
            f"{h['missed_below_floor_gyro']} | "
            f"{h['alternation_accelerometer']:.2f} / {h['alternation_gyro']:.2f} |"
        )
    lines.append("")
    lines.append(
        "Alternation: median |log(h[k+1] / h[k])| of consecutive U-turn humps (0.69: one twice the other)."
    )
    lines.append("")
    for group, (nb, nr) in sorted(report["bias_known"].items()):
        line = f"{group}: gyroscope bias from a standing second in {nb} of {nr} recordings"
        b = report["bias_dps"].get(group)
        if b:
            line += f" (|bias| median {b[0]:.2f} °/s, 90th percentile {b[1]:.2f}, largest {b[2]:.2f})"
        lines.append(line + ".")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.lowback_gyro", description=__doc__.split("\n\n")[0]
    )
    folder_argument(ap)
    return run_folder_study(ap.parse_args(argv), evaluate, format_report)


if __name__ == "__main__":
    sys.exit(main())
