"""Speed of the step core and of the whole replay, on long logs built from real recordings.

Run ``python -m benchmarks.speed [--write-readme README.md] [--json FILE]``. It builds a
10-minute and a 1-hour 200 Hz log by repeating a bundled real recording (a shoe-worn run,
and a waist-worn jog resampled to 200 Hz), writes them as ``.csv`` and ``.cclog``, and
measures, in this process and as whole ``cadence-coach replay`` processes:

* step-core throughput (samples/s, one core, warm numba cache) per detector mode;
* replay of a file (read + detect + JSON) in-process, warm;
* the whole ``cadence-coach replay`` command, process start-up included.

Timings are medians of several runs. They are measurements for the README, never test
assertions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from firmware_py.cli import DATA_DIR
from firmware_py.logs import read_log, write_log
from firmware_py.logs.recording import Recording

REPO = Path(__file__).resolve().parents[1]
MARK_START = "<!-- speed:start -->"
MARK_END = "<!-- speed:end -->"


def _tiled(rec: Recording, minutes: float, rate_hz: float) -> Recording:
    """Repeat (and resample to ``rate_hz``) a recording until it lasts ``minutes``."""
    n = int(minutes * 60 * rate_hz)
    t_src = rec.t_s - rec.t_s[0]
    period = t_src[-1] + 1.0 / rec.sampling_rate_hz
    t = np.arange(n) / rate_hz
    phase = np.mod(t, period)
    acc = np.column_stack([np.interp(phase, t_src, rec.acc_mps2[:, i]) for i in range(3)])
    gyro = None
    if rec.gyro_rads is not None:
        gyro = np.column_stack([np.interp(phase, t_src, rec.gyro_rads[:, i]) for i in range(3)])
    return Recording(
        path="",
        t_s=t,
        acc_mps2=acc,
        gyro_rads=gyro,
        sampling_rate_hz=rate_hz,
        placement=rec.placement,
        placement_side=rec.placement_side,
        meta={"note": f"built from {Path(rec.path).name} by benchmarks.speed"},
    )


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(repeat: int = 5) -> dict:
    """Measure everything; return the results as a dict."""
    from dsp import detect_steps
    from firmware_py.replay import replay_recording, write_json

    sources = {
        "foot": read_log(DATA_DIR / "demo_foot_run.csv"),
        "lower_back": read_log(DATA_DIR / "demo_waist_run.csv"),
    }
    results: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "rows": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        for placement, src in sources.items():
            for minutes in (10, 60):
                rec = _tiled(src, minutes, 200.0)
                n = rec.n_samples
                # warm the cache
                detect_steps(
                    rec.t_s[:2000],
                    rec.acc_mps2[:2000],
                    None if rec.gyro_rads is None else rec.gyro_rads[:2000],
                    sampling_rate_hz=200.0,
                    placement=placement,
                )
                core_s = _median_time(
                    lambda rec=rec, placement=placement: detect_steps(
                        rec.t_s, rec.acc_mps2, rec.gyro_rads, sampling_rate_hz=200.0, placement=placement
                    ),
                    repeat,
                )
                row = {
                    "placement": placement,
                    "gyro": rec.gyro_rads is not None,
                    "minutes": minutes,
                    "samples": n,
                    "core_s": core_s,
                    "core_samples_per_s": n / core_s,
                }
                for ext in (".csv", ".cclog"):
                    path = tmpd / f"{placement}_{minutes}min{ext}"
                    if not path.exists():
                        write_log(rec, path)
                    out = tmpd / f"out_{placement}_{minutes}{ext}.json"

                    def replay_file(path=path, out=out):
                        if out.exists():
                            out.unlink()
                        write_json(replay_recording(read_log(path)), out)

                    row[f"replay_inproc{ext}_s"] = _median_time(replay_file, repeat)
                    cmd = [sys.executable, "-m", "firmware_py.cli", "replay", str(path), "--json", str(out)]
                    row[f"replay_process{ext}_s"] = _median_time(
                        lambda cmd=cmd: subprocess.run(cmd, check=True, capture_output=True),
                        max(2, repeat // 2),
                    )
                results["rows"].append(row)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import firmware_py.cli"], check=True)
        results["python_start_s"] = time.perf_counter() - t0
    return results


def format_markdown(res: dict) -> str:
    """Render the results as the README's speed table."""
    lines = [
        f"Measured by `python -m benchmarks.speed --write-readme README.md` on {time.strftime('%Y-%m-%d')}: "
        f"{res['machine']}, {res['cpus']} cores, Python {res['python']}; warm numba cache; medians. "
        "Logs are bundled real recordings repeated to length at 200 Hz.",
        "",
        "| log | samples | step core (samples/s, 1 core) | replay in-process .csv / .cclog (s) "
        "| `cadence-coach replay` process .csv / .cclog (s) |",
        "|---|---:|---:|---|---|",
    ]
    for r in res["rows"]:
        lines.append(
            f"| {r['placement']}{' + gyro' if r['gyro'] else ''}, {r['minutes']} min | {r['samples']:,} "
            f"| {r['core_samples_per_s'] / 1e6:.1f} M | {r['replay_inproc.csv_s']:.2f} / "
            f"{r['replay_inproc.cclog_s']:.2f} | {r['replay_process.csv_s']:.2f} / "
            f"{r['replay_process.cclog_s']:.2f} |"
        )
    lines.append("")
    lines.append(f"Python start-up with `import firmware_py.cli`: {res['python_start_s']:.2f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m benchmarks`` now writes the README's speed block.

    This module's own table (``run``/``format_markdown``) stays importable; the command forwards
    ``--write-readme`` and ``--json`` to ``python -m benchmarks`` so the two never disagree.
    """
    from benchmarks.__main__ import main as perf_main

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write-readme", metavar="README", help="replace the speed block in this README")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--repeat", type=int, default=5, help="(ignored: python -m benchmarks decides)")
    args = ap.parse_args(argv)
    forwarded = []
    if args.write_readme:
        forwarded += ["--write-readme", args.write_readme]
    if args.json:
        forwarded += ["--json", args.json]
    return perf_main(forwarded)


if __name__ == "__main__":
    sys.exit(main())
