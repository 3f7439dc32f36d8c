"""``cadence-coach`` command line: replay, convert, demo, precompile, detect.

Every user mistake ends in one line on stderr naming the file, field or option at fault
and the fix, with exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import warnings
from pathlib import Path

from firmware_py import __version__
from firmware_py.exc import CadenceError, LogWriteError, UsageError

DATA_DIR = Path(__file__).resolve().parent / "data"
#: The bundled real recording the demo replays (see firmware_py/data/ATTRIBUTION.md).
DEMO_RECORDINGS = ("demo_waist_run.csv", "demo_foot_run.csv")


def _one_line_warnings() -> None:
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"cadence-coach: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show


def _render_cues_wav(result, path, cfg) -> None:
    """Write a replay's cues as the runner's device plays them (``--cues-wav``, the demo).

    The buzzer kind of ``[pins]``, and only the outputs fitted there: a profile with
    ``vibration = "none"`` has no rumble, one with ``buzzer = "none"`` no beeps.
    """
    from firmware_py.cues_wav import render_wav

    rec = result.recording
    render_wav(
        result.cues,
        path,
        start_s=float(rec.t_s[0]),
        duration_s=rec.duration_s,
        buzzer_kind=cfg.pins.buzzer_kind,
        buzzer=cfg.pins.buzzer is not None,
        vibration=cfg.pins.vibration is not None,
    )


def _cmd_replay(args: argparse.Namespace) -> int:
    from firmware_py.config import load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import (
        check_outputs_spare_inputs,
        counted,
        find_recordings,
        recorded_config,
        replay_recording,
        replay_tree,
        summarize,
        write_csv,
        write_json,
        write_plot,
    )

    path = Path(args.path)
    args.placement = _check_placement(args.placement)
    # without --config or --profile, each device log is coached as its header recorded
    cfg = load_config(args.config, profile=args.profile) if args.config or args.profile else None
    if not os.path.lexists(path):
        # before the extension check: `replay runs/` with a typo must not read "no extension is not
        # a log format"
        raise UsageError(
            f"{path}: no such file or folder; fix: give a .csv or .cclog recording or a folder of them"
        )
    if path.is_dir():
        if args.cues_wav:
            raise UsageError("--cues-wav takes one recording, not a folder")
        for option, value in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot)):
            if value is not None and Path(value).exists() and not Path(value).is_dir():
                raise UsageError(
                    f"{option} {value}: is a file, but for a folder of recordings {option} names a folder "
                    f"(its outputs mirror {path}'s layout); fix: give a folder name"
                )
        found = find_recordings(path)
        n_found = len(found)
        # a device log that is empty or does not start with the .cclog magic (a power cut before
        # its first write, a copy gone wrong) is not a recording: say so instead of skipping it
        # without a word (a .csv without a t,ax,ay,az header, such as index.csv, is skipped quietly)
        skipped = sorted(set(path.rglob("*.[cC][cC][lL][oO][gG]")) - set(found))
        if skipped and not args.quiet:
            names = ", ".join(str(p.relative_to(path)) for p in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            print(
                f"cadence-coach: warning: {path}: {len(skipped)} .cclog file(s) skipped, not device logs "
                f"(empty, or no .cclog magic): {names}{more}; replay one alone to see why",
                file=sys.stderr,
            )
        if n_found == 0:
            raise UsageError(
                f"{path}: no recordings in this folder or below it; fix: give a folder holding "
                ".csv (t,ax,ay,az,gx,gy,gz) or .cclog recordings, or one recording"
            )
        done = replay_tree(
            [path],
            Path(args.json) if args.json else None,
            csv_out=Path(args.csv) if args.csv else None,
            plot_out=Path(args.plot) if args.plot else None,
            placement=args.placement,
            jobs=args.jobs,
            progress=not args.quiet,
            config=cfg,
        )
        print(f"replayed {len(done)} of {n_found} recordings from {path}")
        if len(done) < n_found:
            print(
                f"cadence-coach: {n_found - len(done)} of {n_found} recordings in {path} could not be "
                "replayed (each named above); fix them or move them out of the folder",
                file=sys.stderr,
            )
            return 2
        return 0
    outputs = {"--json": args.json, "--csv": args.csv, "--plot": args.plot, "--cues-wav": args.cues_wav}
    check_outputs_spare_inputs(path, {k: None if v is None else Path(v) for k, v in outputs.items()})
    rec = read_log(path)
    cfg = cfg or recorded_config(rec) or load_config()
    result = replay_recording(rec, placement=args.placement, config=cfg)
    if args.cues_wav:
        _render_cues_wav(result, args.cues_wav, cfg)
    s = summarize(result)  # once: the JSON holds it too
    if args.json:
        write_json(result, Path(args.json), summary=s)
    if args.csv:
        write_csv(result, Path(args.csv))
    if args.plot:
        write_plot(result, Path(args.plot))
    cad = s["cadence_spm_median"]
    dist = s["distance_m"]
    print(
        f"{path}: {s['n_steps']} steps ({'one foot' if result.steps_feet == 'one' else 'both feet'}), "
        f"cadence median {f'{cad:.1f}' if cad is not None else '-'} spm, "
        f"walking {s['time_walking_s']:.0f} s, running {s['time_running_s']:.0f} s, "
        f"distance {f'{dist:.0f} m' if dist is not None else '-'}, {counted(len(result.cues), 'cue')}"
    )
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from firmware_py.calibrate import calibrate

    args.placement = _check_placement(args.placement)
    if Path(args.profile).suffix.lower() != ".toml":
        raise UsageError(
            f"--profile {args.profile}: calibrate writes your stride scales into a .toml file (e.g. "
            "runner.toml, or /etc/cadence-coach/config.toml on the device); a coaching profile such "
            "as brief or gentle is chosen with [coach] profile in that file"
        )
    res = calibrate(args.recording, args.distance_m, profile_path=args.profile, placement=args.placement)
    print(
        f"{args.recording}: estimated {res['estimated_distance_m']:.1f} m for {res['distance_m']:.1f} m "
        f"(ratio {res['ratio']:.3f}); stride scales walk {res['scale_walk']:.3f}, run {res['scale_run']:.3f}"
        + (
            f"; written to {res['profile_path']}"
            if res["written"]
            else "; nothing written (a foot sensor measures its strides: it needs no calibration)"
        )
    )
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from firmware_py.logs.convert import convert

    rec = convert(Path(args.input), Path(args.output))
    print(f"{args.input} -> {args.output}: {rec.n_samples} samples")
    return 0


def _pin_roles(pins) -> dict[int, str]:
    """BCM pin number -> what is wired there, from ``[pins]`` (outputs and the mode button)."""
    roles = {pins.buzzer: "buzzer", pins.vibration: "vibration motor", pins.button: "mode button"}
    if pins.led_kind == "rgb":
        roles.update(zip(pins.rgb, ("LED red", "LED green", "LED blue"), strict=True))
    else:
        roles[pins.led] = "LED"
    return {k: v for k, v in roles.items() if k is not None}


def _simulated_cue_hardware(cfg, cues) -> dict[str, int]:
    """Play cues on gpiozero mock pins (on a simulated clock) and count each pin's changes."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from firmware_py.clock import FakeClock
    from firmware_py.outputs import CueOutputs

    factory = MockFactory(pin_class=MockPWMPin)
    with CueOutputs(
        cfg.pins, pin_factory=factory, clock=FakeClock(), max_pending=max(4, len(cues) + 1)
    ) as out:
        for c in cues:
            out.play(c)
            out.wait_idle(10.0)
        roles = _pin_roles(cfg.pins)
        changes = {}
        for info, pin in sorted(factory.pins.items(), key=lambda kv: getattr(kv[0], "number", 0)):
            name = getattr(info, "name", str(info))
            bcm = next((n for n in getattr(info, "names", ()) if isinstance(n, int)), None)
            role = roles.get(bcm)
            if bcm is not None and bcm == cfg.pins.button:
                continue  # an input: the runner presses it, no cue drives it
            changes[f"{role} ({name})" if role else name] = len(pin.states) - 1
    factory.reset()
    return changes


def _cmd_demo(args: argparse.Namespace) -> int:
    import numpy as np

    from firmware_py.config import builtin_config_dir, load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import counted, replay_recording, summarize, write_csv, write_json, write_plot

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LogWriteError(
            f"{out}: cannot make the report folder ({exc.strerror or exc}); fix: give --out a folder "
            "that can be created and written"
        ) from exc
    profile = builtin_config_dir() / "runner.example.toml"
    cfg = load_config(profile)
    baseline = cfg.runner.baseline_cadence_spm
    lines = [
        "# cadence-coach demo report",
        "",
        f"Software {__version__}. No sensor attached: bundled real recordings were replayed through the",
        "same pipeline the device runs live (see firmware_py/data/ATTRIBUTION.md for their sources),",
        f"coached with the example runner profile `{profile.name}` (baseline "
        + (f"{baseline:g} steps/min" if baseline is not None else "learnt in the run")
        + f"; profile `{cfg.coach.profile}`),",
        "and the cues played on simulated cue hardware (gpiozero mock pins).",
        "",
        "| recording | placement | steps | cadence median (p10-p90) spm | stride median m | distance m "
        "| speed m/s | walking s | running s | cues | max latency s |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    table2 = [
        "",
        "| recording | moving s | on target % of judged time, per terrain | time per terrain s "
        "| time per grade s |",
        "|---|---:|---|---|---|",
    ]
    details = []
    for name in DEMO_RECORDINGS:
        src = DATA_DIR / name
        rec = read_log(src)
        result = replay_recording(rec, config=cfg)
        stem = Path(name).stem
        write_json(result, out / f"{stem}.json")
        write_csv(result, out / f"{stem}.csv")
        _render_cues_wav(result, out / f"{stem}-cues.wav", cfg)
        plotted = True
        try:
            write_plot(result, out / f"{stem}.png")
        except CadenceError:
            plotted = False
        s = summarize(result)
        strides = [e.stride_length_m for e in result.events if e.stride_length_m is not None]
        stride_m = float(np.median(strides)) if strides else None

        def num(x, fmt):
            return "-" if x is None else format(x, fmt)

        lines.append(
            f"| {name} | {result.placement} | {s['n_steps']} | "
            f"{num(s['cadence_spm_median'], '.1f')} ({num(s['cadence_spm_p10'], '.0f')}-"
            f"{num(s['cadence_spm_p90'], '.0f')}) | {num(stride_m, '.2f')} | {num(s['distance_m'], '.1f')} | "
            f"{num(s['mean_speed_mps'], '.2f')} | {s['time_walking_s']:.0f} | {s['time_running_s']:.0f} | "
            f"{len(result.cues)} | {num(s['latency_s_max'], '.3f')} |"
        )
        table2.append(
            f"| {name} | {s['moving_time_s']:.1f} | "
            + (
                ", ".join(
                    f"{k} {100.0 * v['on_target_share']:.0f}"
                    for k, v in s["terrain"].items()
                    if v["on_target_share"] is not None
                )
                or "-"
            )
            + " | "
            + (", ".join(f"{k} {v['time_s']:.1f}" for k, v in s["terrain"].items()) or "-")
            + " | "
            + (", ".join(f"{k} {v['time_s']:.1f}" for k, v in s["grade"].items()) or "-")
            + " |"
        )
        pins = _simulated_cue_hardware(cfg, result.cues)
        details.append(f"\n## {name}\n")
        if plotted:
            details.append(f"![{stem}]({stem}.png)\n")
        truth = _demo_truth_line(src.with_suffix(".json"), s, result)
        if truth:
            details.append(truth + "\n")
        details.append(
            f"Per step (every contact, its cadence, stride, speed, distance, terrain and target): "
            f"`{stem}.json` (the replay JSON, with the cues and the summary) and `{stem}.csv`.\n"
        )
        details.append(f"Cues (hear them: `{stem}-cues.wav`):\n")
        for c in result.cues or []:
            details.append(f"- {c.t_s:7.2f} s **{c.kind}** (level {c.level}): {c.reason}")
        if not result.cues:
            details.append(
                f"- none: no off-target stretch reached the cue delay ({cfg.coach.min_off_target_steps} "
                f"steps and {cfg.coach.min_off_target_s:g} s)"
            )
        details.append(
            "\nSimulated cue hardware (state changes of each output pin, set-up included: the LED's "
            "first is the mode display): " + ", ".join(f"{k}: {v}" for k, v in pins.items())
        )
        print(
            f"{name}: {s['n_steps']} steps, cadence median {num(s['cadence_spm_median'], '.1f')} spm, "
            f"{counted(len(result.cues), 'cue')}"
        )
    lines += [*table2, "", *_DEMO_LEGEND]
    try:
        (out / "report.md").write_text("\n".join(lines + details) + "\n")
    except OSError as exc:
        raise LogWriteError(
            f"{out / 'report.md'}: cannot write the report ({exc.strerror or exc}); fix: check the folder"
        ) from exc
    print(f"report written to {out / 'report.md'}")
    return 0


#: How to read the demo report's tables (every number, and where it comes from in the JSON).
_DEMO_LEGEND = (
    "How to read these tables (each number is in the recording's JSON, `summary` unless said):",
    "",
    "- **steps**: the contacts listed (`n_steps`); a foot sensor lists its own foot's, one per stride,",
    "  a lower-back sensor both feet's.",
    "- **cadence**: median, 10th and 90th percentile of the steps' `cadence_spm` (steps per minute,",
    "  both feet; walking included).",
    "- **stride median**: median of the steps' `stride_length_m` (two steps).",
    "- **distance**: `distance_m`, the sum of the strides (foot) or steps (lower back) from the start.",
    "- **speed**: `mean_speed_mps` = distance / moving time.",
    "- **moving, walking, running, time per terrain and grade**: the intervals between contacts,",
    "  each counted to the contact that ends it, pauses longer than a stride left out (1.1 s between",
    "  the steps of a lower-back sensor, 2.2 s between the contacts of one foot). Grade is `unknown`",
    "  where nothing measures height (the lower back without a barometer) and until a foot's first",
    "  strides are in.",
    "- **on target**: the share of the judged running time (`on_target` not null) whose steps were",
    "  on target: cadence not below the target band, stride not above it.",
    "- **max latency**: the largest `emitted_at - t`, contact to the sample that decided it.",
)


def _demo_truth_line(sidecar: Path, s: dict, result) -> str:
    """One line comparing a bundled recording's replay with the ground truth of its sidecar."""
    import json

    import numpy as np

    try:
        gt = json.loads(sidecar.read_text()).get("ground_truth") or {}
    except (OSError, ValueError):
        return ""
    parts = []
    if gt.get("steps_t"):
        spans = gt.get("gt_intervals") or [[-math.inf, math.inf]]
        ours = sum(any(a <= e.t_s <= b for a, b in spans) for e in result.events)
        where = "; ".join(f"{a:.1f}-{b:.1f} s" for a, b in spans)
        n = len(gt["steps_t"])
        if gt.get("steps_feet_code") == "one" and result.steps_feet == "both":
            parts.append(
                f"{n} contacts of one foot in {where}, about {2 * n} steps of both feet (here {ours})"
            )
        else:
            parts.append(f"{n} contacts in {where} (here {ours})")
    if gt.get("cadence_steps_per_min_median") is not None:
        parts.append(
            f"cadence median {gt['cadence_steps_per_min_median']:.1f} spm "
            f"(here {s['cadence_spm_median']:.1f}, the whole recording)"
        )
    if gt.get("distance_m") is not None and s["distance_m"] is not None:
        parts.append(f"distance {gt['distance_m']:.1f} m (here {s['distance_m']:.1f} m)")
    if gt.get("speed_mps_protocol") is not None:
        run = [e.speed_mps for e in result.events if e.gait == "run" and e.speed_mps is not None]
        here = f"{float(np.median(run)):.2f}" if run else "-"
        parts.append(
            f"treadmill belt {gt['speed_mps_protocol']:.2f} m/s (here the running steps' median "
            f"`speed_mps` {here} m/s)"
        )
    if not parts:
        return ""
    # named with its folder: the report folder holds a replay JSON of the same name
    where = f"{sidecar.parent.parent.name}/{sidecar.parent.name}/{sidecar.name}"
    return f"Ground truth of the recording (its sidecar, `{where}`): " + "; ".join(parts) + "."


def _cmd_detect(args: argparse.Namespace) -> int:
    from firmware_py.imu.detect import detect_main

    bus = args.bus
    if bus is None:  # the bus the device runs on: [device] bus of --config (smbus:1 by default)
        from firmware_py.config import load_config

        bus = load_config(args.config).device.bus if args.config else "smbus:1"
    return detect_main(bus)


def _cmd_run(args: argparse.Namespace) -> int:
    from firmware_py.run import _fake_source, run_device

    args.placement = _check_placement(args.placement)
    source = _fake_source(args.bus) if args.bus else None
    if source is not None and args.json:
        from firmware_py.replay import check_outputs_spare_inputs

        check_outputs_spare_inputs(source, {"--json": Path(args.json)})
    return run_device(args)


def _cmd_precompile(args: argparse.Namespace) -> int:
    import time

    from dsp.warmup import aot_allowed, aot_module_path, build_aot, kernel_backend, warm_up

    t0 = time.perf_counter()
    path = aot_module_path()
    if kernel_backend() == "aot":
        print(f"AOT kernels {path} are current: nothing to compile (numba is not used)")
        return 0
    if args.aot and not aot_allowed():
        raise UsageError("--aot with CADENCE_AOT=0 or NUMBA_DISABLE_JIT=1: the module would not be used")
    # A module that is there but not current was built for other kernel sources, numba, numpy or
    # CPU (a software update): rebuild it, or the device would quietly run on the JIT from now on
    # (about three times the memory). The unit's ExecStartPre runs plain `precompile`.
    stale = not args.aot and path.is_file() and aot_allowed()
    if args.aot or stale:
        if stale:
            print(f"the AOT kernel module {path} is stale (other kernel sources, numba, numpy or CPU)")
        print(f"building the AOT kernel module {path} (a few minutes on a Zero 2 W)")
        if build_aot():
            print(f"built the AOT kernels in {time.perf_counter() - t0:.2f} s")
            return 0
        print(
            "cadence-coach: building the AOT kernels failed (it needs a C and C++ compiler and the Python "
            "headers: sudo apt install gcc g++ python3-dev); warming the numba JIT cache instead",
            file=sys.stderr,
        )
    n = warm_up()
    print(f"compiled or loaded {n} kernel variants in {time.perf_counter() - t0:.2f} s")
    return 1 if args.aot else 0


#: The chips ``run --chip`` names (kept equal to ``firmware_py.config.CHIPS`` by a test; not imported
#: from there so that ``--help`` does not load numpy).
CHIP_NAMES = ("mpu6050", "mpu6500", "mpu9250", "lsm6ds3", "lsm6dsl", "lsm6dso", "lsm6dsox", "icm42688")


def _number_in(lo: float, hi: float, unit: str, *, above: bool = False):
    """Make an argparse type: a finite number from ``lo`` (excluded when ``above``) to ``hi`` (may be inf)."""

    def parse(text: str) -> float:
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and (x > lo if above else x >= lo) and x <= hi):
            lower = f"above {lo:g}" if above else f"from {lo:g}"
            upper = f" up to {hi:g}" if math.isfinite(hi) else ""
            raise argparse.ArgumentTypeError(f"{text!r}: give a number {lower}{upper} ({unit})")
        return x

    return parse


def positive_int(text: str) -> int:
    """Parse a count option (``--jobs``): a whole number of at least 1."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of at least 1")
    return n


def _check_placement(placement: str | None) -> str | None:
    """Return ``--placement`` by its canonical name (``shoe`` -> ``foot``, as in a sidecar).

    A misspelt one is refused once, before any recording is read.
    """
    if placement is None:
        return None
    from firmware_py.logs.recording import normalise_placement

    try:
        return normalise_placement(placement)
    except ValueError as exc:
        raise UsageError(f"--placement {placement}: {exc}") from exc


def _i2c_address(text: str) -> int:
    """Parse ``--address``: a 7-bit I2C address, 0x08-0x77 (as ``[device] address``)."""
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if not 0x08 <= value <= 0x77:
        raise argparse.ArgumentTypeError(f"{text!r}: give an I2C address from 0x08 to 0x77, e.g. 0x69")
    return value


def _chip_name(text: str) -> str:
    """Parse ``--chip``: ``auto`` or a supported chip name."""
    if text not in ("auto", *CHIP_NAMES):
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: auto, {', '.join(CHIP_NAMES)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``cadence-coach`` (exposed for documentation and tests)."""
    ap = argparse.ArgumentParser(
        prog="cadence-coach", description="Wearable cadence coach for trail runners (Raspberry Pi + IMU)."
    )
    ap.add_argument("--version", action="version", version=f"cadence-coach {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser(
        "replay",
        help="replay a recorded log (or a folder of logs) through the pipeline",
        description="Replay a recording (a .csv with its JSON sidecar, or a device .cclog) through the "
        "pipeline the device runs live: steps, cadence, stride, speed, distance, terrain, grade and "
        "cues. A folder is replayed with everything below it, on all cores.",
    )
    r.add_argument("path", help="a .csv or .cclog recording, or a folder of them")
    r.add_argument(
        "--placement", help="lower_back (waist, belt), foot (shoe) or shank (shin); overrides the log's own"
    )
    r.add_argument("--json", help="write the replay JSON here (a folder when PATH is a folder)")
    r.add_argument("--csv", help="write one row per step here (a folder when PATH is a folder)")
    r.add_argument(
        "--plot",
        help="draw the signal with its steps, cadence and stride against their targets, distance and "
        "cues to this image (.png, .svg, .pdf, ...; a folder when PATH is a folder)",
    )
    r.add_argument(
        "--jobs", type=positive_int, default=None, help="worker processes for a folder (default: all cores)"
    )
    r.add_argument(
        "--config", default=None, help="configuration file (TOML): coach, runner, stride calibration"
    )
    r.add_argument("--profile", default=None, help="coaching profile: brief, gentle, or a TOML file")
    r.add_argument(
        "--cues-wav",
        default=None,
        help="render the cues as the profile's buzzer and vibration motor ([pins]) play them, on the "
        "run's time line, to this WAV (one recording only)",
    )
    r.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no warnings for a folder (errors still show)",
    )
    r.set_defaults(func=_cmd_replay)

    cal = sub.add_parser(
        "calibrate",
        help="fit your stride scale on a run of known length (lower back)",
        description="Lower back: replay a run over a course of known length and write the stride scales "
        "(walk, run) that make its distance right into the [stride] section of a runner profile; then "
        "replay or run with --config PROFILE. A foot sensor measures its strides: nothing to calibrate.",
    )
    cal.add_argument(
        "recording", help="a .csv or .cclog of a course of known length (a 400 m lap, a measured segment)"
    )
    cal.add_argument("--distance-m", type=float, required=True, help="the course's true length, m")
    cal.add_argument(
        "--profile", default="runner.toml", help="runner profile TOML to update (default ./runner.toml)"
    )
    cal.add_argument("--placement", default=None, help="overrides the recording's placement")
    cal.set_defaults(func=_cmd_calibrate)

    c = sub.add_parser(
        "convert",
        help="convert a log between .csv and .cclog (lossless for samples)",
        description="Convert a recording; each file's format comes from its extension (.csv or .cclog). "
        "Sample values survive both ways bit for bit; a .csv gets a JSON sidecar beside it with the "
        "placement, side and rate.",
    )
    c.add_argument("input", help="the recording to read: a .csv (t,ax,ay,az,gx,gy,gz) or a .cclog device log")
    c.add_argument("output", help="the file to write: .csv or .cclog (not the input itself)")
    c.set_defaults(func=_cmd_convert)

    d = sub.add_parser(
        "demo",
        help="replay the bundled real recordings and write a report (no Pi needed)",
        description="Replay the bundled real recordings (a waist-worn treadmill jog, a shoe-worn run) "
        "with the example runner profile and write OUT/report.md, with a plot, the per-step JSON and CSV "
        "and a WAV of the cues for each. This is what ./run.sh runs.",
    )
    d.add_argument("--out", default="report", help="report folder (default: ./report)")
    d.set_defaults(func=_cmd_demo)

    live = sub.add_parser(
        "run",
        help="run the coach live: read the IMU, record, detect steps, cue",
        description="The live loop: drain the IMU's FIFO, record every sample to a .cclog, detect steps, "
        "coach and cue. Off a Pi, --bus fake:RECORDING.csv simulates the sensor from a recording. Exit "
        "status: 0 a clean stop, 2 an error to fix (one line), 3 out of memory, 4 battery critical.",
    )
    live.add_argument(
        "--bus",
        default=None,
        help="smbus:N on a Pi, or fake:RECORDING.csv (or .cclog) to simulate one from a recording, or "
        "fake for a sensor at rest that runs until --duration or Ctrl-C (default: [device] bus, smbus:1)",
    )
    live.add_argument(
        "--chip",
        default=None,
        type=_chip_name,
        help=f"auto (scan the bus) or one of {', '.join(CHIP_NAMES)} (default: [device] chip, auto)",
    )
    live.add_argument("--address", type=_i2c_address, default=None, help="I2C address, e.g. 0x69")
    live.add_argument(
        "--rate",
        type=_number_in(50.0, 1000.0, "Hz"),
        default=None,
        help="sampling rate, Hz, 50-1000 (default: [device] sampling_rate_hz, 200)",
    )
    live.add_argument(
        "--placement", default=None, help="lower_back (waist, belt), foot (shoe) or shank (shin)"
    )
    live.add_argument(
        "--side", default=None, choices=("left", "right"), help="left or right (foot or shank sensor)"
    )
    live.add_argument("--config", default=None, help="configuration file (TOML); built-in defaults otherwise")
    live.add_argument("--profile", default=None, help="coaching profile: brief, gentle, or a TOML file")
    live.add_argument(
        "--data-dir",
        default=None,
        help="folder for the recorded logs (default: [recording] data_dir; ./logs on a fake bus)",
    )
    live.add_argument(
        "--pins",
        choices=("gpio", "mock", "none"),
        default=None,
        help="cue hardware: real GPIO (default on a Pi), gpiozero mock pins (default on a fake bus), none",
    )
    live.add_argument("--no-record", action="store_true", help="do not record a log")
    live.add_argument(
        "--fast", action="store_true", help="with a fake bus: run on a simulated clock, as fast as possible"
    )
    live.add_argument(
        "--duration",
        type=_number_in(0.0, math.inf, "s", above=True),
        default=None,
        help="stop after this many seconds (of the run's clock)",
    )
    live.add_argument("--json", default=None, help="write the replay contract of this run here when it ends")
    live.add_argument(
        "--fake-battery",
        default=None,
        metavar="START[,DRAIN]",
        help="with a fake bus: a simulated PiSugar 3 at START %% losing DRAIN %% per minute (e.g. 20,2)",
    )
    live.set_defaults(func=_cmd_run)

    det = sub.add_parser(
        "detect",
        help="scan the I2C bus and name the sensors found",
        description="Scan the I2C bus and name the IMU (and barometer) that answer, or say how to fix "
        "the bus or the wiring. On the device, stop the service first (sudo systemctl stop cadence-coach).",
    )
    det.add_argument(
        "--bus",
        default=None,
        help="smbus:N, or fake for a simulated sensor (default: [device] bus of --config, else smbus:1)",
    )
    det.add_argument(
        "--config",
        default=None,
        help="the device's configuration file (e.g. /etc/cadence-coach/config.toml): scan its [device] bus",
    )
    det.set_defaults(func=_cmd_detect)

    p = sub.add_parser(
        "precompile",
        help="compile every numba kernel the device uses into the cache",
        description="Compile (or load from the cache) every numba kernel the device uses, so that the "
        "live loop starts without compiling (the service runs it before each start); with --aot, "
        "build them into a native module instead.",
    )
    p.add_argument(
        "--aot",
        action="store_true",
        help="build them ahead of time into a native module in the cache folder: run and replay then "
        "start without numba (less memory, faster start; needs gcc, g++ and python3-dev)",
    )
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
        Exit status: 0 on success, 2 on a user error, 3 out of memory, 4 when ``run`` stopped for a
        critical battery (``firmware_py.battery.EXIT_BATTERY_CRITICAL``).
    """
    # One BLAS thread: nothing here multiplies matrices, and each OpenBLAS thread reserves
    # buffers that a 512 MB Pi (or a memory-limited service) cannot spare. Set before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _one_line_warnings()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CadenceError, ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"cadence-coach: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        print(f"cadence-coach: {_OUT_OF_MEMORY}", file=sys.stderr)
        return 3
    except OSError as exc:
        if not _is_library_load_failure(exc):
            raise
        print(f"cadence-coach: {_OUT_OF_MEMORY} ({str(exc).split('. ')[0]})", file=sys.stderr)
        return 3


_OUT_OF_MEMORY = (
    "out of memory while loading the signal-processing kernels (numba/llvmlite need about 150 MB): "
    "close other programs, or raise the service's memory limit (MemoryMax=/LimitAS= in "
    "cadence-coach.service); the log recorded so far is intact"
)


def _is_library_load_failure(exc: OSError) -> bool:
    """Tell a shared library that failed to map (llvmlite under a memory limit) from other OS errors."""
    text = str(exc)
    return exc.errno == errno.ENOMEM or "shared object" in text or "cannot allocate memory" in text.lower()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
