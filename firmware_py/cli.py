"""``cadence-coach`` command line: replay, convert, demo, precompile, detect.

Every user mistake ends in one line on stderr naming the file, field or option at fault
and the fix, with exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from firmware_py import __version__
from firmware_py.exc import CadenceError

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The bundled real recording the demo replays (see firmware_py/data/ATTRIBUTION.md).
DEMO_RECORDINGS = ("demo_waist_run.csv", "demo_foot_run.csv")


def _one_line_warnings() -> None:
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"cadence-coach: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def _cmd_replay(args: argparse.Namespace) -> int:
    from firmware_py.logs import read_log
    from firmware_py.replay import replay_recording, replay_tree, summarize, write_csv, write_json, write_plot

    path = Path(args.path)
    if path.is_dir():
        done = replay_tree(
            [path],
            Path(args.json) if args.json else None,
            csv_out=Path(args.csv) if args.csv else None,
            plot_out=Path(args.plot) if args.plot else None,
            placement=args.placement,
            jobs=args.jobs,
            progress=not args.quiet,
        )
        print(f"replayed {len(done)} recordings from {path}")
        return 0
    result = replay_recording(read_log(path), placement=args.placement)
    if args.json:
        write_json(result, Path(args.json))
    if args.csv:
        write_csv(result, Path(args.csv))
    if args.plot:
        write_plot(result, Path(args.plot))
    s = summarize(result)
    cad = s["cadence_spm_median"]
    print(
        f"{path}: {s['n_steps']} steps ({result.steps_feet} foot), "
        f"cadence median {cad if cad is not None else '-'} spm, "
        f"walking {s['time_walking_s']:.0f} s, running {s['time_running_s']:.0f} s"
    )
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from firmware_py.logs.convert import convert

    rec = convert(Path(args.input), Path(args.output))
    print(f"{args.input} -> {args.output}: {rec.n_samples} samples")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from firmware_py.logs import read_log
    from firmware_py.replay import replay_recording, summarize, write_csv, write_json, write_plot

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# cadence-coach demo report",
        "",
        f"Software {__version__}. No sensor attached: bundled real recordings were replayed through the",
        "same pipeline the device runs live (see firmware_py/data/ATTRIBUTION.md for their sources).",
        "",
        "| recording | placement | steps | contacts (both feet) | cadence median (p10-p90) spm "
        "| walking s | running s | max latency s |",
        "|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for name in DEMO_RECORDINGS:
        src = DATA_DIR / name
        result = replay_recording(read_log(src))
        stem = Path(name).stem
        write_json(result, out / f"{stem}.json")
        write_csv(result, out / f"{stem}.csv")
        plotted = True
        try:
            write_plot(result, out / f"{stem}.png")
        except CadenceError:
            plotted = False
        s = summarize(result)
        lines.append(
            f"| {name} | {result.placement} | {s['n_steps']} | {s['n_contacts_both_feet']} | "
            f"{s['cadence_spm_median']} ({s['cadence_spm_p10']}-{s['cadence_spm_p90']}) | "
            f"{s['time_walking_s']:.0f} | {s['time_running_s']:.0f} | {s['latency_s_max']} |"
        )
        if plotted:
            lines.append(f"\n![{stem}]({stem}.png)\n")
        print(f"{name}: {s['n_steps']} steps, cadence median {s['cadence_spm_median']} spm")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"report written to {out / 'report.md'}")
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from firmware_py.imu.detect import detect_main

    return detect_main(args.bus)


def _cmd_run(args: argparse.Namespace) -> int:
    from firmware_py.run import run_device

    return run_device(args)


def _cmd_precompile(args: argparse.Namespace) -> int:
    import time

    from dsp.warmup import warm_up

    t0 = time.perf_counter()
    n = warm_up()
    print(f"compiled or loaded {n} kernel variants in {time.perf_counter() - t0:.2f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``cadence-coach`` (exposed for documentation and tests)."""
    ap = argparse.ArgumentParser(
        prog="cadence-coach", description="Wearable cadence coach for trail runners (Raspberry Pi + IMU)."
    )
    ap.add_argument("--version", action="version", version=f"cadence-coach {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("replay", help="replay a recorded log (or a folder of logs) through the pipeline")
    r.add_argument("path", help="a .csv or .cclog recording, or a folder of them")
    r.add_argument("--placement", help="lower_back (waist, belt), foot or shank; overrides the log's own")
    r.add_argument("--json", help="write the replay JSON here (a folder when PATH is a folder)")
    r.add_argument("--csv", help="write one row per step here (a folder when PATH is a folder)")
    r.add_argument(
        "--plot", help="draw signal, steps and cadence to this PNG (a folder when PATH is a folder)"
    )
    r.add_argument(
        "--jobs", type=int, default=None, help="worker processes for a folder (default: all cores)"
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_replay)

    c = sub.add_parser("convert", help="convert a log between .csv and .cclog (lossless for samples)")
    c.add_argument("input")
    c.add_argument("output")
    c.set_defaults(func=_cmd_convert)

    d = sub.add_parser("demo", help="replay the bundled real recordings and write a report (no Pi needed)")
    d.add_argument("--out", default="report", help="report folder (default: ./report)")
    d.set_defaults(func=_cmd_demo)

    live = sub.add_parser("run", help="run the coach live: read the IMU, record, detect steps, cue")
    live.add_argument(
        "--bus", default="smbus:1", help="smbus:N on a Pi, or fake:RECORDING.csv to simulate one"
    )
    live.add_argument(
        "--chip", default="auto", help="auto, mpu6050, lsm6ds3, lsm6dsl, lsm6dso, lsm6dsox, icm42688"
    )
    live.add_argument("--address", type=lambda x: int(x, 0), default=None, help="I2C address, e.g. 0x69")
    live.add_argument("--rate", type=float, default=None, help="sampling rate, Hz (default 200)")
    live.add_argument("--placement", default=None, help="lower_back (waist, belt), foot or shank")
    live.add_argument("--side", default=None, help="left or right (foot or shank sensor)")
    live.add_argument("--data-dir", default="logs", help="folder for the recorded logs (default ./logs)")
    live.add_argument("--no-record", action="store_true", help="do not record a log")
    live.add_argument(
        "--fast", action="store_true", help="with a fake bus: run on a simulated clock, as fast as possible"
    )
    live.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (of the run's clock)"
    )
    live.add_argument("--json", default=None, help="write the replay contract of this run here when it ends")
    live.set_defaults(func=_cmd_run)

    det = sub.add_parser("detect", help="scan the I2C bus and name the sensors found")
    det.add_argument(
        "--bus", default="smbus:1", help="smbus:N (default smbus:1), or fake for a simulated sensor"
    )
    det.set_defaults(func=_cmd_detect)

    p = sub.add_parser("precompile", help="compile every numba kernel the device uses into the cache")
    p.set_defaults(func=_cmd_precompile)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cadence-coach`` console script.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a user error.
    """
    _one_line_warnings()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CadenceError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"cadence-coach: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
