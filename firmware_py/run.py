"""``cadence-coach run``: wire the bus, driver, recorder, pipeline and cues, then run the loop."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from dsp.coach import DEVICE_EVENT_KINDS
from dsp.pipeline import Pipeline
from firmware_py import __version__
from firmware_py.bus import open_bus
from firmware_py.clock import Clock, FakeClock, SystemClock
from firmware_py.config import load_config, make_pipeline
from firmware_py.exc import UsageError
from firmware_py.imu.detect import open_imu
from firmware_py.loop import LiveLoop
from firmware_py.recorder import Recorder
from firmware_py.replay import counted, result_from_pipeline, write_json


def _fake_source(spec: str) -> Path | None:
    """Return the recording behind a ``fake:PATH`` bus spec, if any."""
    kind, _, rest = spec.partition(":")
    if kind.strip().lower() != "fake" or not rest:
        return None
    return Path(rest.partition("?")[0])


def _spec_with_chip(spec: str, chip: str) -> str:
    """Make a fake bus simulate the chip the user asked for."""
    if _fake_source(spec) is None and not spec.startswith("fake"):
        return spec
    if chip == "auto" or "chip=" in spec:
        return spec
    query = spec.partition("?")[2]
    sep = "&" if query else "?"
    return f"{spec}{sep}chip={chip}"


class CueListener:
    """Plays the coach's cues on the cue hardware and hands button presses to the pipeline.

    Parameters
    ----------
    outputs : firmware_py.outputs.CueOutputs or None
        The buzzer, LED, vibration motor and button (None: no cue hardware).
    pipeline : dsp.pipeline.Pipeline
        Receives the terrain mode set with the button, from the loop's own thread.
    """

    def __init__(self, outputs: Any, pipeline: Pipeline) -> None:
        self.outputs = outputs
        self.pipeline = pipeline

    def on_steps(self, events: list) -> None:
        """Apply a mode chosen with the button (between steps, in the loop's thread)."""
        if self.outputs is not None and self.outputs.mode != self.pipeline.terrain_mode:
            self.pipeline.set_terrain_mode(self.outputs.mode)

    def on_cues(self, cues: list) -> None:
        """Play each cue (the outputs queue them; playing never blocks the loop)."""
        if self.outputs is not None:
            for c in cues:
                self.outputs.play(c)

    def on_device(self, kind: str, t_s: float, reason: str) -> None:
        """Say device events on stderr (the journal on the device): they are rare and matter.

        A recording stopped by a full card cannot say why in its own log, and a lost sensor is
        what a runner asks about after the run; only ``ready`` (every start) is left out.
        """
        if kind != "ready":
            print(f"cadence-coach: {kind} at {t_s:.1f} s: {reason}", file=sys.stderr)


def _open_barometer(bus: Any, clock: Clock) -> Any:
    """Set up a BMP280/BMP388 if one answers on the bus (for the grade), else None."""
    from firmware_py.exc import CadenceError
    from firmware_py.imu.baro import Bmp280, Bmp388
    from firmware_py.imu.detect import scan

    drivers = {"bmp280": Bmp280, "bmp388": Bmp388}
    for found in scan(bus):
        cls = drivers.get(found.chip.lower()) if found.kind == "baro" else None
        if cls is None:
            continue
        try:
            baro = cls(bus, found.address, clock=clock)
            baro.setup()
            return baro
        except (OSError, CadenceError):
            return None
    return None


def _battery_watch(cfg: Any, bus: Any, args: argparse.Namespace, clock: Clock, simulated: bool) -> Any:
    """Build the battery monitor the config asks for (None: no battery to read).

    On a simulated bus ``--fake-battery START[,DRAIN]`` puts a fake PiSugar 3 on the bus first; the
    host's own under-voltage flag is not read there (the host is not the device).
    """
    from firmware_py.battery import BatteryWatch, open_battery

    bat = cfg.battery
    fake_spec = getattr(args, "fake_battery", None)
    if simulated and bat.source == "hwmon":
        # the Pi's own under-voltage flag: the host running a simulation is not the device
        print(
            'cadence-coach: note: [battery] source = "hwmon" reads the Pi\'s under-voltage flag, which a '
            'simulated run does not; no battery is read (--fake-battery with source = "auto" simulates one)',
            file=sys.stderr,
        )
        return None
    if fake_spec is not None:
        from firmware_py.imu.fake_battery import FakePiSugar3, parse_fake_battery

        start, drain = parse_fake_battery(fake_spec)
        sugar = FakePiSugar3(bat.address, clock=clock)
        sugar.drain(start, drain)
        bus.attach(sugar)
    monitor = open_battery(bat.source, bus, address=bat.address, sysfs_root=None if simulated else "/sys")
    if monitor is None:
        return None
    if bat.source == "pisugar3" and not monitor.probe():  # type: ignore[attr-defined]
        print(
            f'cadence-coach: warning: battery.source = "pisugar3" but no PiSugar 3 answers at '
            f"0x{bat.address:02x}; it is tried again every {bat.poll_s:g} s",
            file=sys.stderr,
        )
    return BatteryWatch(
        monitor,
        low_percent=bat.low_percent,
        critical_percent=bat.critical_percent,
        poll_s=bat.poll_s,
    )


def _say_dropped(cue: Any, why: str) -> None:
    """Say on stderr (the journal on the device) that a cue was not played, and why."""
    print(
        f"cadence-coach: cue {cue.kind} (level {cue.level}) at {cue.t_s:.1f} s not played ({why}): "
        f"{cue.reason}",
        file=sys.stderr,
    )


def _device_cue_policy(cfg: Any) -> Any:
    """Build a coach that only decides the device's own cues (a run with ``[coach] enabled = false``).

    It is never fed a step, so it never coaches; it plays ``ready``, ``sensor_lost``,
    ``recording_stopped`` and ``battery_low`` with the same rule as a coaching run (the same
    event at most every ``[coach] device_repeat_s``).
    """
    from dsp.coach import Coach
    from firmware_py.config import coach_settings

    return Coach(coach_settings(cfg))


#: Seconds between two attempts to reach an IMU that did not answer at start.
SENSOR_RETRY_S = 1.0


def _wait_for_sensor(
    open_driver: Any, stop: threading.Event, clock: Clock, outputs: Any, *, wait: bool, repeat_s: float = 60.0
) -> Any:
    """Open the IMU; on the device, wait for one that does not answer yet (None: stopped meanwhile).

    Parameters
    ----------
    open_driver : callable
        Builds and sets up the driver (raises OSError or a CadenceError when no IMU answers).
    stop : threading.Event
        Set by SIGTERM/SIGINT: give up waiting.
    clock : Clock
        Time for the retries.
    outputs : CueOutputs or None
        Plays ``sensor_lost`` when the IMU does not answer, again every ``repeat_s``.
    wait : bool
        False (a simulated run): the first failure is raised at once, with its fix.
    repeat_s : float
        Time between two ``sensor_lost`` cues while waiting, s.
    """
    from dsp.coach import DEVICE_EVENT_LEVELS, CueEvent
    from firmware_py.exc import CadenceError, ConfigError

    try:
        return open_driver()
    except ConfigError:
        raise
    except (OSError, CadenceError) as exc:
        if not wait:
            raise
        print(f"cadence-coach: {exc}", file=sys.stderr)
        print(
            "cadence-coach: waiting for the IMU (retrying every second; SIGTERM or Ctrl-C stops)",
            file=sys.stderr,
        )
        reason = f"no IMU answering at start: {exc}"
    t0 = clock.monotonic()
    next_cue = t0
    while not stop.is_set():
        now = clock.monotonic()
        if outputs is not None and now >= next_cue:
            outputs.play(CueEvent(now - t0, "sensor_lost", DEVICE_EVENT_LEVELS["sensor_lost"], reason))
            next_cue = now + repeat_s
        clock.sleep(SENSOR_RETRY_S)
        if stop.is_set():
            break
        try:
            driver = open_driver()
        except ConfigError:
            raise
        except (OSError, CadenceError):
            continue
        print(f"cadence-coach: IMU answering after {clock.monotonic() - t0:.0f} s", file=sys.stderr)
        return driver
    return None


def _cue_outputs(kind: str, cfg: Any, clock: Clock, holder: Any = None) -> Any:
    """Build the cue hardware: ``gpio`` (real pins), ``mock`` (gpiozero's mock pins) or ``none``.

    The mode button's first short press in automatic mode selects the other terrain than the one
    the coach has in force (``holder.coach.terrain``: ``holder`` is the pipeline, or anything whose
    ``coach`` becomes its coach once it exists), as docs/cues.md says.
    """
    if kind == "none":
        return None
    from firmware_py.outputs import CueOutputs

    factory = None
    if kind == "mock":
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        factory = MockFactory(pin_class=MockPWMPin)

    def current_terrain() -> str | None:
        coach = holder.coach if holder is not None else None
        return coach.terrain if coach is not None else None

    return CueOutputs(
        cfg.pins, pin_factory=factory, clock=clock, current_terrain=current_terrain, on_drop=_say_dropped
    )


def run_device(args: argparse.Namespace) -> int:
    """Run the live loop as the CLI arguments say; returns the exit status."""
    cfg = load_config(args.config, profile=args.profile)
    dev = cfg.device
    clock: Clock = FakeClock() if args.fast else SystemClock()
    chip_arg = args.chip or dev.chip
    spec = _spec_with_chip(args.bus or dev.bus, chip_arg)
    source = _fake_source(spec)
    if args.fast and source is None and not spec.startswith("fake"):
        raise UsageError("--fast runs on a simulated clock and needs a fake bus (--bus fake:RECORDING.csv)")
    if getattr(args, "fake_battery", None) is not None and not spec.startswith("fake"):
        raise UsageError("--fake-battery needs a fake bus (--bus fake:RECORDING.csv)")
    if getattr(args, "fake_battery", None) is not None and cfg.battery.source not in ("auto", "pisugar3"):
        raise UsageError(
            f'--fake-battery simulates a PiSugar 3, which [battery] source = "{cfg.battery.source}" does '
            'not read: set source = "auto" or "pisugar3" (or leave --fake-battery out)'
        )
    placement = args.placement or (cfg.device.placement if source is None else None)
    side = args.side or (cfg.device.placement_side if source is None else None)
    duration = args.duration
    if source is not None:
        from firmware_py.logs import read_log

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = read_log(source)
        placement = placement or rec.placement
        side = side or rec.placement_side
        if duration is None:
            duration = rec.duration_s  # the fake loops its recording: play it once
        rate = args.rate or rec.sampling_rate_hz
    else:
        rate = args.rate or dev.sampling_rate_hz
    if placement is None:
        raise UsageError(
            "placement unknown: pass --placement lower_back|foot|shank (or set it in the config)"
        )
    accel_range_g = dev.accel_range_g or (16 if placement in ("foot", "shank") else 8)
    chip = "auto" if spec.startswith("fake") else chip_arg
    address = args.address if args.address is not None else dev.address
    if spec.startswith("fake"):
        query = parse_qs(spec.partition("?")[2])
        if "address" in query:
            address = int(query["address"][0], 0)
    # a fake bus here simulates the device: no test reads its transaction log or its chip's truth
    bus_opened_s = clock.monotonic()  # a fake chip plays its recording from here on
    state: dict[str, Any] = {"bus": open_bus(spec, clock=clock, keep_history=False)}

    def open_driver():
        return open_imu(
            state["bus"],
            chip,
            address,
            sampling_rate_hz=min(max(rate, 50.0), 1000.0),
            accel_range_g=accel_range_g,
            gyro_range_dps=dev.gyro_range_dps,
            clock=clock,
        )

    def reopen_bus() -> None:
        with contextlib.suppress(OSError):
            state["bus"].close()
        state["bus"] = open_bus(spec, clock=clock) if not spec.startswith("fake") else state["bus"]

    has_gyro = True  # every supported IMU chip has one

    def device_pipeline(sampling_rate_hz: float) -> Pipeline:
        return make_pipeline(
            cfg,
            sampling_rate_hz=sampling_rate_hz,
            placement=placement,
            has_gyro=has_gyro,
            placement_side=side,
            accel_range_g=accel_range_g,
            gyro_range_dps=dev.gyro_range_dps,
        )

    # Load (or compile) the kernels the device's pipeline calls before the sensor starts filling its
    # FIFO: a first block that waits for numba would let the FIFO overflow and open a gap at the
    # start of every run. A throwaway pipeline built like the device's loads exactly those (not the
    # other placements': they would cost memory for nothing). With the ahead-of-time compiled
    # kernels (precompile --aot) there is nothing to load.
    from dsp.warmup import kernel_backend, warm_up_pipeline

    if kernel_backend() != "aot":
        warm_up_pipeline(device_pipeline(min(max(rate, 50.0), 1000.0)))  # the rate the driver asks for
    stop = threading.Event()
    stopped_by: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        # the first SIGTERM/SIGINT asks for a clean stop (flush the log); a second one, if the
        # clean stop is stuck, takes the default action at once
        if stop.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        stopped_by.append(signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not in the main thread (tests)
            signal.signal(sig, on_signal)
    pins = args.pins or ("mock" if spec.startswith("fake") else "gpio")
    if args.fast and args.pins is None:
        pins = "none"  # cue patterns play in real time; a --fast run has nobody to hear them
    # cue patterns keep their own (real) time: a simulated clock must not be moved by them; the
    # button asks the coach for the terrain in force once the pipeline exists
    coach_ref = SimpleNamespace(coach=None)
    outputs = _cue_outputs(pins, cfg, SystemClock(), coach_ref)
    try:
        # a simulated run fails at once; the device waits for its sensor, saying so (a shoe sensor
        # not plugged in yet must not leave a silent device restarted every 2 s by systemd)
        probe = _wait_for_sensor(
            open_driver,
            stop,
            clock,
            outputs,
            wait=source is None and not args.fast,
            repeat_s=cfg.coach.device_repeat_s,
        )
    except BaseException:
        if outputs is not None:
            outputs.close()
        raise
    if probe is None:
        if outputs is not None:
            outputs.close()
        print("cadence-coach: stopped while waiting for the IMU; nothing recorded", file=sys.stderr)
        return 0
    real_rate = probe.sampling_rate_hz
    acc_lsb = float(probe.scale(_unit_raw(0))[0][0, 0])
    gyro_lsb = float(probe.scale(_unit_raw(3))[1][0, 0])
    probe.close()
    pipeline = device_pipeline(real_rate)
    coach_ref.coach = pipeline.coach
    # the run's time base, not the host's boot (which the monotonic clock counts from): t = 0 now,
    # as the recorder reads the wall clock for its header; on a fake bus, when its chip started
    # playing the recording, so that a simulated run's times are the recording's. The driver
    # keeps the host's times; the loop shifts what it hands to the log and the pipeline, so live
    # and a replay of the log read the same numbers
    time_origin_s = bus_opened_s if spec.startswith("fake") else clock.monotonic()
    recorder = None
    if not args.no_record and cfg.recording.enabled:
        header = {
            "sampling_rate_hz": real_rate,
            "acc_lsb_mps2": acc_lsb,
            "gyro_lsb_rads": gyro_lsb,
            "chip": type(probe).__name__.lower(),
            "accel_range_g": accel_range_g,
            "gyro_range_dps": dev.gyro_range_dps,
            "placement": pipeline.placement,
            "placement_side": side,
            "software_version": __version__,
            "config": cfg.to_dict(),
        }
        # a simulated run on a laptop records next to the user, not in the device's folder
        data_dir = args.data_dir or ("logs" if spec.startswith("fake") else cfg.recording.data_dir)
        recorder = Recorder(
            data_dir,
            header,
            clock=clock,
            fsync_interval_s=cfg.recording.fsync_interval_s,
            min_free_mb=cfg.recording.min_free_mb,
            # no RTC on a Pi: note in the log when NTP (or anyone) steps the wall clock mid-run
            watch_wall_clock=isinstance(clock, SystemClock),
            time_origin_s=time_origin_s,
        )
        if recorder.low_disk:
            print(f"cadence-coach: warning: little free space in {data_dir}", file=sys.stderr)
        if not recorder.recording:
            print(f"cadence-coach: warning: {recorder.stopped_reason}", file=sys.stderr)
    barometer = _open_barometer(state["bus"], clock)
    battery = _battery_watch(cfg, state["bus"], args, clock, spec.startswith("fake"))
    loop = LiveLoop(
        barometer=barometer,
        battery=battery,
        open_driver=open_driver,
        pipeline=pipeline,
        recorder=recorder,
        clock=clock,
        reopen_bus=reopen_bus,
        listener=CueListener(outputs, pipeline),
        keep_events=bool(args.json),
        time_origin_s=time_origin_s,
        device_cues=_device_cue_policy(cfg) if pipeline.coach is None else None,
    )
    try:
        report = loop.run(stop, duration_s=duration)
    finally:
        with contextlib.suppress(OSError):
            state["bus"].close()
        if outputs is not None:
            outputs.wait_idle(5.0)
            outputs.close()
    # the coaching cues, as the replay JSON lists them; the device's own (ready, ...) apart
    counts = report.cue_counts
    n_device = sum(n for kind, n in counts.items() if kind in DEVICE_EVENT_KINDS)
    summary = f"{report.n_steps} steps, {counted(sum(counts.values()) - n_device, 'cue')}"
    if n_device:
        kinds = ", ".join(kind for kind in counts if kind in DEVICE_EVENT_KINDS)
        summary += f" (and {n_device} device cue{'s' if n_device > 1 else ''}: {kinds})"
    if outputs is not None and outputs.dropped:
        summary += f" ({outputs.dropped} not played: stale or queue full, see above)"
    summary += f" from {report.samples} samples"
    if recorder is not None and recorder.path is not None:
        summary += f"; log: {recorder.path}"
    if stopped_by:
        # say why the run ended (the journal shows a stop and a crash apart)
        closed = "log flushed and closed" if recorder is not None and recorder.path is not None else "no log"
        print(f"cadence-coach: stopped by {stopped_by[0]}: {closed}", file=sys.stderr)
    print(summary)
    if args.json:
        result = result_from_pipeline(
            pipeline,
            report.updates,
            source=spec,
            sampling_rate_hz=real_rate,
            placement_side=side,
            duration_s=(report.last_t_s - report.first_t_s) if report.samples else 0.0,
            extra_gaps=report.n_gaps,
            rest_gravity_mps2=report.rest_gravity_mps2,
        )
        write_json(result, Path(args.json))
    if report.battery_critical is not None:
        from firmware_py.battery import EXIT_BATTERY_CRITICAL

        print(
            f"cadence-coach: battery critical ({report.battery_critical}): recording closed, run stopped",
            file=sys.stderr,
        )
        return EXIT_BATTERY_CRITICAL
    return 0


def _unit_raw(column: int):
    import numpy as np

    raw = np.zeros((1, 6), dtype=np.int16)
    raw[0, column] = 1
    return raw
