"""Replay recordings with ground truth under controlled perturbations and score each variant.

Usage::

    python -m benchmarks.robustness [FOLDER] [--max-per-group N] [--jobs N]
                                    [--only NAME ...] [--out DIR] [--json FILE]

``FOLDER`` is a truth folder ``<dataset>/<recording>.{csv,json}`` (default: ``../shared/datasets``
beside the checkout, else ``tests/fixtures``). From each dataset x placement x activity group the
first ``--max-per-group`` recordings with step truth (by file name; 0: all) are read, perturbed
in memory, replayed through the same pipeline as ``cadence-coach replay``
(:func:`firmware_py.replay.replay_recording`) and scored with the accuracy command's scorer
(:func:`benchmarks.scoring.score_folder`, grouped like :mod:`benchmarks.accuracy`). The table
gives, per perturbation and group, step F1, cadence |error| (median / p95 from the step times,
spm) and stride MAPE (%), each with its change from the unperturbed baseline.

The perturbations model what unseen recordings differ in (other sensors, rates, mountings):

* ``rotation seed k``: one random proper rotation of the sensor frame (the same for acc and gyro);
  ``upside down`` (180 deg about x); ``axes cycled`` (x, y, z) -> (y, z, x), a proper rotation
  (a swap of two axes is a reflection, which no mounting produces);
* ``rate R Hz``: resampled with :func:`scipy.signal.resample_poly` (its anti-aliasing FIR),
  where R differs from the recording's rate by more than 10 %; the truth (seconds) is unchanged;
* ``no gyro``: gyroscope removed (a foot sensor then warns, ``dsp.PlacementWarning``, and detects
  the contacts of both feet from the accelerometer: scored against one-foot truth, and no stride);
* ``MEMS noise``: white noise at an MPU-6050's densities (accelerometer 400 ug/sqrt(Hz),
  gyroscope 0.005 deg/s/sqrt(Hz)) over the recording's Nyquist band, and ``MEMS noise x10``;
* ``gyro bias 5 deg/s``: a constant +-5 deg/s on each gyro axis (random signs), uncalibrated;
* ``clip +-8 g`` / ``clip +-4 g``: accelerometer range saturation (foot sensors only: heel strikes);
* ``clock +2 %`` / ``clock -2 %``: the chip samples 2 % faster / slower than its nominal rate,
  and the log stamps samples at the nominal rate, so log time = true time x (1 +- 0.02). The
  truth is moved to the log's time base, so F1 measures detection; cadence and stride are then
  off by what a wrong clock must cost (cadence by the factor, a length integrated twice over
  time by its square) and no detector can undo that without a reference clock.

Predictions and the perturbed sidecars go to ``--out`` (``<out>/<perturbation>/{truth,pred}``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import resample_poly
from scipy.spatial.transform import Rotation

from benchmarks.accuracy import (
    GROUP_BY,
    SHARED_ROOT,
    AccuracyError,
    check_writable,
    display_path,
    recording_file,
    truth_with_steps,
    write_output,
)
from benchmarks.scoring import Report, Stats, Truth, score_folder

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: Standard gravity, m/s^2 (for the MEMS data-sheet units).
G_MPS2 = 9.80665
#: MPU-6050 accelerometer noise density, g/sqrt(Hz) (data sheet: 400 ug/sqrt(Hz)).
ACC_NOISE_G_PER_RTHZ = 400e-6
#: MPU-6050 gyroscope noise density, deg/s/sqrt(Hz) (data sheet: 0.005).
GYRO_NOISE_DPS_PER_RTHZ = 0.005
#: Uncalibrated gyroscope bias of a cheap MEMS part, deg/s.
GYRO_BIAS_DPS = 5.0
#: Sampling clock error, relative.
CLOCK_ERROR = 0.02
#: Target rates of the resampling perturbations, Hz.
DEFAULT_RATES_HZ = (50.0, 100.0, 400.0)
#: A target rate within this fraction of the recording's own is not a change of rate.
RATE_SAME = 0.1
#: Seeds of the random-rotation perturbations.
DEFAULT_ROTATION_SEEDS = (1, 2, 3)


class RobustnessError(Exception):
    """A one-line error that ends the command with exit status 2."""


@dataclass(frozen=True)
class Perturbation:
    """One controlled change of a recording.

    Parameters
    ----------
    name : str
        Label in the table (also the output folder, made file-safe).
    kind : str
        ``rotation``, ``rate``, ``no_gyro``, ``noise``, ``gyro_bias``, ``clip`` or ``clock``.
    value : float
        The kind's parameter (seed, rate Hz, noise factor, bias deg/s, range g, clock error).
    placements : tuple of str
        Placements it applies to (empty: every placement).
    """

    name: str
    kind: str
    value: float = 0.0
    placements: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """File-safe folder name."""
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)

    def applies(self, truth: Truth) -> bool:
        """Whether the perturbation is run on this recording (a rate change: not to about its own rate)."""
        if self.placements and truth.meta.get("placement") not in self.placements:
            return False
        if self.kind == "rate":
            try:
                fs = float(truth.meta.get("sample_rate_hz"))
            except (TypeError, ValueError):
                return True
            return abs(self.value / fs - 1.0) > RATE_SAME
        return True


BASELINE = Perturbation("baseline", "none")


def default_perturbations(rates_hz: Sequence[float] = DEFAULT_RATES_HZ) -> list[Perturbation]:
    """Return every perturbation of the default run, in table order."""
    perts = [Perturbation(f"rotation seed {s}", "rotation", float(s)) for s in DEFAULT_ROTATION_SEEDS]
    perts += [Perturbation("upside down", "rotation", -1.0), Perturbation("axes cycled", "rotation", -2.0)]
    perts += [Perturbation(f"rate {r:g} Hz", "rate", float(r)) for r in rates_hz]
    perts += [
        Perturbation("no gyro", "no_gyro"),
        Perturbation("MEMS noise", "noise", 1.0),
        Perturbation("MEMS noise x10", "noise", 10.0),
        Perturbation(f"gyro bias {GYRO_BIAS_DPS:g} deg/s", "gyro_bias", GYRO_BIAS_DPS),
        Perturbation("clip +-8 g", "clip", 8.0, ("foot",)),
        Perturbation("clip +-4 g", "clip", 4.0, ("foot",)),
        Perturbation(f"clock +{100 * CLOCK_ERROR:g} %", "clock", CLOCK_ERROR),
        Perturbation(f"clock -{100 * CLOCK_ERROR:g} %", "clock", -CLOCK_ERROR),
    ]
    return perts


# ---------------------------------------------------------------------------------------------
# The perturbations
# ---------------------------------------------------------------------------------------------
def rotation_matrix(value: float) -> np.ndarray:
    """Return the proper rotation of a ``rotation`` perturbation (``value``: seed, or -1 / -2)."""
    if value == -1.0:  # upside down: 180 deg about x
        return np.diag([1.0, -1.0, -1.0])
    if value == -2.0:  # (x, y, z) -> (y, z, x): new x reads old y, ...
        return np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    return Rotation.random(random_state=int(value)).as_matrix()


def rate_ratio(from_hz: float, to_hz: float) -> Fraction:
    """Return up/down of a resampling from ``from_hz`` to about ``to_hz`` (small integers)."""
    return Fraction(to_hz / from_hz).limit_denominator(1000)


def _resample(x: np.ndarray, ratio: Fraction) -> np.ndarray:
    # padtype="line": the zero padding of the default would turn gravity into an edge transient
    return resample_poly(x, ratio.numerator, ratio.denominator, axis=0, padtype="line")


def perturb(rec: Any, pert: Perturbation, seed: int) -> Any:
    """Return a perturbed copy of a recording.

    Parameters
    ----------
    rec : firmware_py.logs.recording.Recording
        The recording as read.
    pert : Perturbation
        What to change.
    seed : int
        Seed of the random parts (noise, bias signs), fixed per recording.

    Returns
    -------
    Recording
        The perturbed recording (``rec`` is not modified).
    """
    acc = np.array(rec.acc_mps2, dtype=float)
    gyro = None if rec.gyro_rads is None else np.array(rec.gyro_rads, dtype=float)
    t = np.array(rec.t_s, dtype=float)
    fs = float(rec.sampling_rate_hz)
    meta = copy.deepcopy(rec.meta)
    rng = np.random.default_rng(seed)
    if pert.kind == "none":
        pass
    elif pert.kind == "rotation":
        r = rotation_matrix(pert.value)
        acc = acc @ r.T
        gyro = None if gyro is None else gyro @ r.T
    elif pert.kind == "rate":
        ratio = rate_ratio(fs, pert.value)
        n = acc.shape[0]
        acc = _resample(acc, ratio)
        gyro = None if gyro is None else _resample(gyro, ratio)
        fs = fs * float(ratio)
        # new sample i lies at the original's fractional index i / ratio: its time is read off the
        # original timestamps (which keep the recording's clock, jitter and dropped samples)
        index = np.arange(acc.shape[0]) / float(ratio)
        keep = index <= n - 1
        acc = acc[keep]
        gyro = None if gyro is None else gyro[keep]
        t = np.interp(index[keep], np.arange(n), t)
    elif pert.kind == "no_gyro":
        gyro = None
    elif pert.kind == "noise":
        band = math.sqrt(fs / 2.0)
        acc = acc + rng.normal(0.0, pert.value * ACC_NOISE_G_PER_RTHZ * G_MPS2 * band, acc.shape)
        if gyro is not None:
            sigma = pert.value * math.radians(GYRO_NOISE_DPS_PER_RTHZ) * band
            gyro = gyro + rng.normal(0.0, sigma, gyro.shape)
    elif pert.kind == "gyro_bias":
        if gyro is not None:
            gyro = gyro + math.radians(pert.value) * rng.choice([-1.0, 1.0], size=3)
    elif pert.kind == "clip":
        acc = np.clip(acc, -pert.value * G_MPS2, pert.value * G_MPS2)
        meta["accel_range_g"] = pert.value
    elif pert.kind == "clock":
        t = t[0] + (t - t[0]) * (1.0 + pert.value)
        fs = fs / (1.0 + pert.value)
    else:
        raise RobustnessError(f"unknown perturbation kind {pert.kind!r}")
    meta["sample_rate_hz"] = fs
    meta["has_gyro"] = gyro is not None
    return replace(rec, t_s=t, acc_mps2=acc, gyro_rads=gyro, sampling_rate_hz=fs, meta=meta, gaps=[])


def _scale_times(value: Any, factor: float, t0: float) -> Any:
    if isinstance(value, list):
        return [_scale_times(v, factor, t0) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return t0 + (value - t0) * factor
    return value


#: Truth fields that hold times on the CSV time base (moved by a clock error).
_TIME_FIELDS = ("steps_t", "foot_flat_t", "gt_intervals")


def perturb_truth(meta: dict[str, Any], pert: Perturbation, t0: float) -> dict[str, Any]:
    """Return the sidecar on the perturbed recording's time base (only a clock error moves it)."""
    if pert.kind != "clock":
        return meta
    out = copy.deepcopy(meta)
    factor = 1.0 + pert.value
    gt = out.get("ground_truth") or {}
    for key in _TIME_FIELDS:
        if key in gt:
            gt[key] = _scale_times(gt[key], factor, t0)
    strides = gt.get("strides")
    if isinstance(strides, dict):
        for key in ("t_start", "t_end"):
            if key in strides:
                strides[key] = _scale_times(strides[key], factor, t0)
    if isinstance(out.get("duration_s"), (int, float)):
        out["duration_s"] = out["duration_s"] * factor
    return out


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
def select_truths(folder: Path, max_per_group: int) -> list[Truth]:
    """Return the first ``max_per_group`` recordings with step truth of each group (0: all)."""
    truths, _ = truth_with_steps(folder)
    by_group: dict[tuple[str, ...], list[Truth]] = {}
    for t in truths:
        if recording_file(t) is None:
            continue
        key = tuple(str(t.meta.get(k, t.dataset if k == "dataset" else "")) for k in GROUP_BY)
        by_group.setdefault(key, []).append(t)
    chosen: list[Truth] = []
    for key in sorted(by_group):
        group = by_group[key]
        chosen += group if max_per_group <= 0 else group[:max_per_group]
    return chosen


def _work_one(args: tuple[str, Perturbation, str, str, int]) -> tuple[str, str | None]:
    """Read, perturb, replay and write one recording; return (recording, error or None)."""
    src, pert, truth_path, pred_path, seed = args
    from firmware_py.exc import CadenceError
    from firmware_py.logs import read_log
    from firmware_py.replay import replay_recording, write_json

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = read_log(src)
            meta = json.loads(Path(truth_path).read_text())
            Path(pred_path).parent.mkdir(parents=True, exist_ok=True)
            out_truth = Path(pred_path).parents[2] / "truth" / Path(truth_path).parent.name
            out_truth.mkdir(parents=True, exist_ok=True)
            t0 = float(rec.t_s[0]) if rec.n_samples else 0.0
            (out_truth / Path(truth_path).name).write_text(json.dumps(perturb_truth(meta, pert, t0)))
            result = replay_recording(perturb(rec, pert, seed))
            write_json(result, Path(pred_path))
        return src, None
    except (CadenceError, ValueError) as exc:
        return src, str(exc)


@dataclass
class Outcome:
    """The scores of one perturbation.

    Parameters
    ----------
    pert : Perturbation
        The perturbation.
    report : Report or None
        Its scores (None when it applied to no recording).
    errors : list of str
        One line per recording that could not be replayed.
    """

    pert: Perturbation
    report: Report | None
    errors: list[str]


def run_perturbations(
    folder: Path,
    truths: Sequence[Truth],
    perts: Sequence[Perturbation],
    out: Path,
    *,
    jobs: int,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Replay ``truths`` under every perturbation (the baseline first) and score each.

    Parameters
    ----------
    folder : Path
        Truth folder the recordings come from.
    truths : sequence of Truth
        The recordings.
    perts : sequence of Perturbation
        The perturbations; the unperturbed baseline is always run first.
    out : Path
        Output folder (emptied per perturbation).
    jobs : int
        Worker processes.
    progress : callable, optional
        Called with a short message as work finishes.

    Returns
    -------
    list of Outcome
        The baseline, then one per perturbation, in order.
    """
    del folder  # the recordings are found from their sidecars
    all_perts = [BASELINE, *[p for p in perts if p != BASELINE]]
    work: list[tuple[str, Perturbation, str, str, int]] = []
    for pert in all_perts:
        shutil.rmtree(out / pert.folder, ignore_errors=True)
        for i, t in enumerate(truths):
            if not pert.applies(t) or t.sidecar is None:
                continue
            src = recording_file(t)
            pred = out / pert.folder / "pred" / t.dataset / f"{t.recording_id}.json"
            work.append((str(src), pert, str(t.sidecar), str(pred), 1000 + i))
    errors: dict[str, list[str]] = {p.name: [] for p in all_perts}
    if jobs <= 1:
        results = map(_work_one, work)
    else:
        pool = ProcessPoolExecutor(max_workers=jobs)
        results = pool.map(_work_one, work, chunksize=1)
    for k, ((src, err), item) in enumerate(zip(results, work, strict=True), 1):
        if err is not None:
            errors[item[1].name].append(f"{display_path(Path(src))}: {err}")
        if progress is not None and (k % 10 == 0 or k == len(work)):
            progress(f"{k}/{len(work)} replays")
    if jobs > 1:
        pool.shutdown()
    outcomes = []
    for pert in all_perts:
        truth_dir, pred_dir = out / pert.folder / "truth", out / pert.folder / "pred"
        report = score_folder(truth_dir, pred_dir, by=GROUP_BY) if truth_dir.is_dir() else None
        outcomes.append(Outcome(pert, report, errors[pert.name]))
    return outcomes


# ---------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------
def _rows(report: Report | None) -> dict[str, Stats]:
    if report is None:
        return {}
    return {row.label: row.stats for row in report.groups}


def _num(x: float, fmt: str) -> str:
    return "·" if x is None or not math.isfinite(x) else format(x, fmt)


def _delta(x: float, base: float | None, fmt: str) -> str:
    if base is None or x is None or not (math.isfinite(x) and math.isfinite(base)):
        return ""
    d = x - base
    return f" ({d:+{fmt}})" if abs(d) >= 0.5 * 10 ** -int(fmt.strip(".f") or 0) else ""


def format_table(outcomes: Sequence[Outcome]) -> str:
    """Return the markdown table: per perturbation and group, F1, cadence and stride vs baseline."""
    base = _rows(outcomes[0].report) if outcomes else {}
    lines = [
        "| perturbation | group | rec | F1 (vs baseline) | cadence med / p95 spm | stride MAPE % |",
        "|---|---|---:|---|---|---|",
    ]
    for oc in outcomes:
        rows = _rows(oc.report)
        for label, s in rows.items():
            b = base.get(label) if oc.pert is not BASELINE else None
            f1 = f"{_num(s.f1, '.3f')}{_delta(s.f1, b.f1 if b else None, '.3f')}"
            med, p95 = s.cadence_times_abs_err_median_spm, s.cadence_times_abs_err_p95_spm
            b_med = b.cadence_times_abs_err_median_spm if b else None
            b_p95 = b.cadence_times_abs_err_p95_spm if b else None
            cad = f"{_num(med, '.1f')}{_delta(med, b_med, '.1f')}"
            cad += f" / {_num(p95, '.1f')}{_delta(p95, b_p95, '.1f')}"
            stride = "·"
            if s.n_stride_pairs:
                stride = f"{_num(s.stride_mape_pct, '.1f')}"
                stride += _delta(s.stride_mape_pct, b.stride_mape_pct if b else None, ".1f")
            lines.append(f"| {oc.pert.name} | {label} | {s.n_recordings} | {f1} | {cad} | {stride} |")
        for err in oc.errors[:3]:
            lines.append(f"| {oc.pert.name} | *not replayed* | | {err} | | |")
        if len(oc.errors) > 3:
            lines.append(f"| {oc.pert.name} | *not replayed* | | … and {len(oc.errors) - 3} more | | |")
    return "\n".join(lines)


def _json_ready(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    return {
        "perturbations": [
            {
                "name": oc.pert.name,
                "kind": oc.pert.kind,
                "value": oc.pert.value,
                "errors": oc.errors,
                "groups": [] if oc.report is None else [row.to_dict() for row in oc.report.groups],
            }
            for oc in outcomes
        ]
    }


def _rate_hz(text: str) -> float:
    """Parse one ``--rates`` value: a sampling rate in Hz, above 0."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0.0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a sampling rate in Hz, above 0")
    return x


def _parser() -> argparse.ArgumentParser:
    shared = SHARED_ROOT / "datasets"
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.robustness",
        description="Score the step and stride accuracy under rotations, rate changes, noise, "
        "bias, clipping and clock errors.",
    )
    ap.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=shared if shared.is_dir() else REPO_ROOT / "tests" / "fixtures",
        help="truth folder (default: ../shared/datasets when it exists, else tests/fixtures)",
    )
    ap.add_argument(
        "--max-per-group",
        type=int,
        default=3,
        metavar="N",
        help="recordings per dataset x placement x activity group, the first by name "
        "(0: all; default %(default)s)",
    )
    ap.add_argument("--jobs", type=int, default=2, metavar="N", help="worker processes (default %(default)s)")
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="run only the perturbations whose name contains one of these (e.g. rotation rate)",
    )
    ap.add_argument(
        "--rates",
        type=_rate_hz,
        nargs="+",
        default=list(DEFAULT_RATES_HZ),
        metavar="HZ",
        help="resampling targets (default: %(default)s)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "cadence-coach-robustness",
        help="where the perturbed truth and predictions go (default: %(default)s)",
    )
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers as JSON")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.robustness``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if not args.folder.is_dir():
            raise RobustnessError(f"{args.folder}: not a folder")
        if args.json is not None:
            check_writable(args.json, "--json")
        perts = default_perturbations(args.rates)
        if args.only:
            unknown = [s for s in args.only if not any(s.lower() in p.name.lower() for p in perts)]
            if unknown:
                raise RobustnessError(
                    f"--only {' '.join(unknown)}: no perturbation's name contains it; names: "
                    + ", ".join(p.name for p in perts)
                )
            perts = [p for p in perts if any(s.lower() in p.name.lower() for s in args.only)]
        truths = select_truths(args.folder, args.max_per_group)
        if not truths:
            raise RobustnessError(f"{args.folder}: no recordings with step truth")
        t0 = time.perf_counter()

        def progress(msg: str) -> None:
            if not args.quiet:
                print(f"\r{msg}", end="", file=sys.stderr, flush=True)

        outcomes = run_perturbations(
            args.folder,
            truths,
            perts,
            args.out,
            jobs=max(1, args.jobs or os.cpu_count() or 1),
            progress=progress,
        )
        if not args.quiet:
            print(file=sys.stderr)
    except (RobustnessError, AccuracyError) as exc:
        print(f"robustness: error: {exc}", file=sys.stderr)
        return 2
    print(
        f"## {display_path(args.folder)}: {len(truths)} recordings "
        f"({'all' if args.max_per_group <= 0 else f'at most {args.max_per_group}'} per group), "
        f"{len(outcomes) - 1} perturbations, {time.perf_counter() - t0:.0f} s\n"
    )
    print(format_table(outcomes))
    if args.json is not None:
        try:
            write_output(args.json, json.dumps(_json_ready(outcomes), indent=1) + "\n", "--json")
        except AccuracyError as exc:
            print(f"robustness: error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
