"""Regression tests from the device-side review of session 6 (devrev7): a user's run on the fake bus."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest

from firmware_py.clock import FakeClock

DATA = Path(__file__).parents[1] / "firmware_py" / "data"

#: What the host's monotonic clock read at the start of a real-time run in the review (s since boot).
HOST_UPTIME_S = 12670.0


def _csv(tmp_path: Path, name: str = "demo_foot_run") -> Path:
    src = DATA / f"{name}.csv"
    dst = tmp_path / "run.csv"
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))  # the sidecar: placement, rate
    return dst


def _read(path: Path):
    from firmware_py.logs import read_log

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(path)


# ------------------------------------------------------------------ the run's time base
def test_a_device_log_counts_time_from_the_run_start_and_replays_as_live(tmp_path, monkeypatch, capsys):
    # the host's monotonic clock counts from boot: before, a real-time run's JSON and log read
    # t = 12670 s for the first steps of a run, with nothing in the header to relate it to
    from firmware_py import cli, run

    monkeypatch.setattr(run, "FakeClock", lambda: FakeClock(HOST_UPTIME_S))
    logs = tmp_path / "logs"
    live = tmp_path / "live.json"
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "lsm6dsox", "--fast", "--duration", "30"]
    assert cli.main([*args, "--data-dir", str(logs), "--json", str(live)]) == 0
    (log_path,) = logs.glob("*.cclog")
    log = _read(log_path)
    assert 0.0 <= log.t_s[0] < 0.1  # the first sample, at the start of the run
    assert log.t_s[-1] < 31.0
    assert log.meta["time_base"] == "start"
    assert log.meta["monotonic_origin_s"] == pytest.approx(HOST_UPTIME_S, abs=5.0)
    dt.datetime.fromisoformat(log.meta["start_time_utc"])  # the wall-clock time of t = 0
    ready = [e["t_s"] for e in log.meta["events"] if e["event"].get("kind") == "ready"]
    assert ready
    assert 1.9 < ready[0] < 3.0  # ready after the 2 s bias window, on the same base
    got = json.loads(live.read_text())
    assert got["steps"], "the demo run has steps in 30 s"
    assert all(0.0 < s["t"] < 31.0 for s in got["steps"])
    # the replay of the device's log gives exactly what the device decided live
    replayed = tmp_path / "replay.json"
    capsys.readouterr()
    assert cli.main(["replay", str(log_path), "--json", str(replayed)]) == 0
    again = json.loads(replayed.read_text())
    assert again["steps"] == got["steps"]
    assert again["cues"] == got["cues"]


def test_a_log_on_the_hosts_boot_time_base_still_replays(tmp_path):
    # logs written before the run's time base (no time_base key: times since the host's boot)
    import numpy as np

    from firmware_py.logs.cclog import read_cclog
    from firmware_py.recorder import Recorder

    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    rec = Recorder(tmp_path, header, clock=FakeClock(HOST_UPTIME_S))
    raw = np.zeros((300, 6), dtype=np.int16)
    raw[:, 2] = 9807
    rec.write(HOST_UPTIME_S + np.arange(300) / 100.0, raw)
    rec.close()
    log = read_cclog(rec.path)
    assert "time_base" not in log.meta
    assert log.t_s[0] == HOST_UPTIME_S
    assert log.n_samples == 300


def test_the_headers_start_time_is_the_wall_clock_time_of_t_zero(tmp_path):
    import numpy as np

    from firmware_py.logs.cclog import read_cclog
    from firmware_py.recorder import Recorder

    mono = FakeClock(500.0)
    wall0 = dt.datetime(2026, 12, 7, 8, 0, 0, tzinfo=dt.UTC)

    def wall_clock():
        return wall0 + dt.timedelta(seconds=mono.monotonic() - 500.0)

    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    origin = mono.monotonic()
    mono.advance(0.25)  # the recorder starts a quarter of a second after the run's t = 0
    rec = Recorder(tmp_path, header, clock=mono, wall_clock=wall_clock, time_origin_s=origin)
    rec.write(np.arange(10) / 100.0 + 0.3, np.zeros((10, 6), dtype=np.int16))
    rec.close()
    meta = read_cclog(rec.path).meta
    assert meta["start_time_utc"] == "2026-12-07T08:00:00.000+00:00"
    assert meta["monotonic_origin_s"] == 500.0
    assert meta["time_base"] == "start"


# ------------------------------------------------------------------ battery_low: one owner of the repeat
def test_the_coach_alone_decides_how_often_battery_low_repeats(tmp_path):
    # before, BatteryWatch repeated battery_low every its own repeat_s for the log and stderr while
    # the coach rate-limited the cue with device_repeat_s: two timers that had to be kept equal.
    # Now the coach's device_repeat_s decides, and the log says exactly the cues that were played.
    import dataclasses
    import threading

    import numpy as np

    from firmware_py.battery import BatteryWatch, open_battery
    from firmware_py.config import load_config, make_pipeline
    from firmware_py.imu.detect import open_imu
    from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
    from firmware_py.imu.fake_battery import FakePiSugar3
    from firmware_py.loop import LiveLoop
    from firmware_py.recorder import Recorder

    clock = FakeClock()
    rec = _read(_csv(tmp_path))
    source = SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    sugar = FakePiSugar3(clock=clock)
    sugar.drain(12.0, 0.0)  # low all along, never critical
    bus = FakeI2CBus([FAKE_IMUS["lsm6dsox"](source=source, clock=clock), sugar], clock=clock)

    def open_driver():
        return open_imu(bus, "auto", sampling_rate_hz=200.0, accel_range_g=16, clock=clock)

    cfg = load_config()
    cfg = dataclasses.replace(cfg, coach=dataclasses.replace(cfg.coach, device_repeat_s=30.0))
    pipe = make_pipeline(cfg, sampling_rate_hz=200.0, placement="foot", has_gyro=True, placement_side="right")
    header = {"sampling_rate_hz": 200.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001, "placement": "foot"}
    recorder = Recorder(tmp_path / "logs", header, clock=clock)
    watch = BatteryWatch(open_battery("pisugar3", bus, sysfs_root=None), poll_s=5.0)
    loop = LiveLoop(open_driver=open_driver, pipeline=pipe, recorder=recorder, clock=clock, battery=watch)
    report = loop.run(threading.Event(), duration_s=130.0)
    cued = [c.t_s for c in report.cues if c.kind == "battery_low"]
    assert len(cued) == 5  # at ~0, 30, 60, 90, 120 s
    from dsp.coach import DEVICE_REPEAT_SLACK_S

    # a reading that falls a few ms short of the repeat (sample-time jitter) is still due
    assert np.all(np.diff(cued) >= 30.0 - DEVICE_REPEAT_SLACK_S)
    assert np.all(np.diff(cued) < 35.0)  # the next reading (every 5 s) after device_repeat_s
    logged = [e["t_s"] for e in _read(recorder.path).meta["events"] if e["event"]["kind"] == "battery_low"]
    assert logged == cued  # said in the log exactly when cued


# ------------------------------------------------------------------ unplug and replug mid-run
def _unplugging_bus(at_s: float, for_s: float):
    """Make ``run`` open a fake bus whose IMU is unplugged at ``at_s`` of the bus clock for ``for_s``."""
    from firmware_py.bus import open_bus

    def opener(spec, **kw):
        bus = open_bus(spec, **kw)
        imu = next(d for d in bus.devices.values() if d.ID_REGISTER == "WHO_AM_I")
        rdwr = bus.i2c_rdwr
        done = []

        def i2c_rdwr(*msgs):
            if not done and bus.clock.monotonic() >= at_s:
                done.append(True)
                imu.unplug(for_s)
            return rdwr(*msgs)

        bus.i2c_rdwr = i2c_rdwr
        return bus

    return opener


def test_sensor_lost_and_back_are_timed_when_they_happen(tmp_path, monkeypatch, capsys):
    # before, both were stamped with the last sample before the fault: "sensor_back at 20.0 s:
    # IMU answering again after 5.0 s" in the journal and the log, for a replug at 25 s
    from firmware_py import cli, run

    monkeypatch.setattr(run, "open_bus", _unplugging_bus(at_s=20.0, for_s=5.0))
    logs = tmp_path / "logs"
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "icm42688", "--fast", "--duration", "40"]
    assert cli.main([*args, "--data-dir", str(logs)]) == 0
    err = capsys.readouterr().err
    assert "sensor_lost at 21.0 s: IMU not answering for 1.0 s" in err
    assert re.search(r"sensor_back at 25\.[01] s: IMU answering again after 5\.[01] s", err), err
    log = _read(next(logs.glob("*.cclog")))
    when = {
        e["event"]["kind"]: e["t_s"] for e in log.meta["events"] if e["event"]["kind"].startswith("sensor")
    }
    assert 20.9 <= when["sensor_lost"] <= 21.1
    assert 24.9 <= when["sensor_back"] <= 25.2
    (gap,) = log.meta["gap_blocks"]  # every sample the chip delivered is kept around one gap
    assert gap["t_before_s"] < 20.0 < 25.0 < gap["t_after_s"] < 25.2


# ------------------------------------------------------------------ live equals replay across an unplug
RUNNER_OFF_TARGET = """\
[coach]
baseline = "runner"
min_off_target_steps = 12
min_off_target_s = 8.0
repeat_s = 20.0
[runner]
height_m = 1.75
baseline_cadence_spm = 185
baseline_stride_length_m = 1.8
[targets]
stride_tolerance_pct = 40
"""


def test_an_unplug_during_an_off_target_stretch_gives_the_same_cues_live_and_in_replay(
    tmp_path, monkeypatch, capsys
):
    # a runner 20 steps/min under target; the sensor drops out for 2 s at 30 s. Before, the live
    # coach restarted its off-target stretch on `sensor_lost`, which a replay of the log never
    # sees: live cued at 17.5, 40.7 (level 1 again), 60.7 s; the replay at 17.5, 37.8, 58.1 s
    from firmware_py import cli, run
    from tests.conftest import FIXTURES

    jog = FIXTURES / "harlab_treadmill_jog" / "S028_jog.csv"
    config = tmp_path / "runner.toml"
    config.write_text(RUNNER_OFF_TARGET)

    monkeypatch.setattr(run, "open_bus", _unplugging_bus(at_s=30.0, for_s=2.0))
    logs, live = tmp_path / "logs", tmp_path / "live.json"
    args = ["run", "--bus", f"fake:{jog}", "--chip", "lsm6dsox", "--fast", "--duration", "75"]
    assert cli.main([*args, "--config", str(config), "--data-dir", str(logs), "--json", str(live)]) == 0
    assert "sensor_lost" in capsys.readouterr().err
    (log_path,) = logs.glob("*.cclog")
    replayed = tmp_path / "replay.json"
    assert cli.main(["replay", str(log_path), "--json", str(replayed)]) == 0
    got, again = json.loads(live.read_text()), json.loads(replayed.read_text())
    assert len(got["cues"]) >= 3  # cued before and after the unplug
    assert again["steps"] == got["steps"]
    assert again["cues"] == got["cues"]


# ------------------------------------------------------- the chip or address set is not the one wired
def test_a_wrong_chip_in_the_config_is_a_config_error_not_a_wait_for_the_sensor(tmp_path):
    # [device] chip = "mpu6050" on a board with an LSM6DSOX at 0x6a: before, the device waited
    # for ever ("no MPU-6050/6500/9250 answered ... check wiring"), cueing sensor_lost every minute
    import threading

    from firmware_py.bus import open_bus
    from firmware_py.exc import ConfigError
    from firmware_py.imu.detect import open_imu
    from firmware_py.run import _wait_for_sensor

    clock = FakeClock()
    bus = open_bus(f"fake:{_csv(tmp_path)}?chip=lsm6dsox", clock=clock)
    stop = threading.Event()
    timer = threading.Timer(5.0, stop.set)  # before the fix: gives up waiting instead of hanging
    timer.start()
    try:
        with pytest.raises(
            ConfigError, match=r"no MPU-6050/6500/9250 answers at 0x68 .* LSM6DSO/LSM6DSOX at 0x6a"
        ):
            _wait_for_sensor(lambda: open_imu(bus, "mpu6050", clock=clock), stop, clock, None, wait=True)
    finally:
        timer.cancel()


def test_a_wrong_address_names_the_imu_found_and_the_fix(tmp_path, capsys):
    from firmware_py import cli

    args = [
        "run",
        "--bus",
        f"fake:{_csv(tmp_path)}?chip=icm42688",
        "--address",
        "0x69",
        "--fast",
        "--no-record",
    ]
    assert cli.main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no IMU answers at 0x69" in line
    assert "ICM-42688-P at 0x68" in line
    assert 'chip = "auto" and leave address out' in line


def test_an_imu_that_misses_a_transfer_at_its_address_is_not_a_config_error(tmp_path):
    # a transient fault while the named chip is probed must stay a sensor fault (retried), not
    # become "wrong chip in the config"
    from firmware_py.bus import open_bus
    from firmware_py.exc import ConfigError, ImuNotFoundError
    from firmware_py.imu.detect import open_imu

    clock = FakeClock()
    bus = open_bus(f"fake:{_csv(tmp_path)}?chip=lsm6dsox", clock=clock)
    imu = bus.devices[0x6A]
    read = imu.read
    calls = []

    def first_probe_fails(length):
        if not calls:
            calls.append(True)
            raise OSError(121, "injected")
        return read(length)

    imu.read = first_probe_fails
    with pytest.raises(ImuNotFoundError) as err:
        open_imu(bus, "lsm6dsox", clock=clock)
    assert not isinstance(err.value, ConfigError)


# ------------------------------------------------------------------ no gyroscope
def test_a_gyroscope_that_never_moves_is_flagged_at_start(tmp_path, capsys):
    # a foot recording without gyroscope on a fake bus (or a chip whose gyro is off or broken):
    # before, the run detected 0 steps and said nothing about why
    import csv

    from firmware_py import cli

    src = _csv(tmp_path)
    rows = list(csv.reader(src.open()))
    with src.open("w", newline="") as f:
        csv.writer(f).writerows([rows[0], *([*r[:4], "", "", ""] for r in rows[1:])])
    sidecar = json.loads(src.with_suffix(".json").read_text())
    sidecar["has_gyro"] = False
    src.with_suffix(".json").write_text(json.dumps(sidecar))
    logs = tmp_path / "logs"
    args = ["run", "--bus", f"fake:{src}", "--chip", "lsm6dso", "--fast", "--duration", "10"]
    assert cli.main([*args, "--data-dir", str(logs)]) == 0
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "gyro_constant" in x]
    assert "the gyroscope read the same counts [0, 0, 0] on all three axes" in line
    assert "replace the sensor" in line
    kinds = [e["event"]["kind"] for e in _read(next(logs.glob("*.cclog"))).meta["events"]]
    assert "gyro_constant" in kinds


def test_a_constant_gyroscope_at_the_lower_back_is_not_told_to_move_there(tmp_path, capsys):
    # the advice "wear it at the lower back" was given to a sensor already worn there, whose step
    # detector works from the accelerometer alone
    from firmware_py import cli

    src = Path(__file__).parent / "fixtures" / "harlab_treadmill_jog" / "S028_jog.csv"
    args = ["run", "--bus", f"fake:{src}", "--chip", "lsm6dso", "--fast", "--duration", "10"]
    assert cli.main([*args, "--no-record", "--placement", "lower_back"]) == 0
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "gyro_constant" in x]
    assert "the lower-back detector does not need it" in line
    assert "wear it at the lower back" not in line


def test_a_live_gyroscope_is_not_flagged(tmp_path, capsys):
    from firmware_py import cli

    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "lsm6dso", "--fast", "--duration", "10"]
    assert cli.main([*args, "--no-record"]) == 0
    assert "gyro_constant" not in capsys.readouterr().err


# ------------------------------------------------------------------ hardware docs against the config
def test_wiring_names_the_config_key_of_every_alternative_part_and_each_is_valid(tmp_path):
    # before, wiring.md told a user with a passive piezo or a common-anode RGB LED to set "the
    # software" without naming a key: a piezo wired as documented only clicked
    from firmware_py.config import load_config

    text = (Path(__file__).parents[1] / "hardware" / "wiring.md").read_text()
    settings = set(re.findall(r"`\[pins\] (\w+) = ([^`]+)`", text))
    assert {("buzzer_kind", '"passive"'), ("led_kind", '"rgb"'), ("led_active_high", "false")} <= settings
    for key, value in settings:
        path = tmp_path / f"{key}.toml"
        path.write_text(f"[pins]\n{key} = {value}\n")
        load_config(path)  # a key and value the config accepts
    assert "software set to active-low" not in text


def test_every_config_setting_the_hardware_docs_quote_is_accepted_and_the_shoe_names_its_placement(tmp_path):
    # before, mounting.md never said that a shoe sensor needs [device] placement = "foot" (the
    # installed config says "lower_back": the wrong detector), and sent the sensor height to "the
    # profile" instead of the device's config file
    from firmware_py.config import load_config

    hardware = Path(__file__).parents[1] / "hardware"
    quoted = []
    for doc in sorted(hardware.glob("*.md")):
        quoted += re.findall(r"`\[(\w+)\] (\w+) = ([^`]+)`", doc.read_text())
    assert ("device", "placement", '"foot"') in quoted
    assert ("device", "placement_side", '"right"') in quoted
    for section, key, value in quoted:
        path = tmp_path / "quoted.toml"
        path.write_text(f"[{section}]\n{key} = {value}\n")
        load_config(path)


# ------------------------------------------------------------------ battery options on a simulated run
def test_fake_battery_with_a_source_that_does_not_read_it_is_a_usage_error(tmp_path, capsys):
    # before, `--fake-battery 10,1` with [battery] source = "none" was silently never read
    from firmware_py import cli

    config = tmp_path / "none.toml"
    config.write_text('[battery]\nsource = "none"\n')
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--fast", "--no-record", "--duration", "5"]
    assert cli.main([*args, "--fake-battery", "10,1", "--config", str(config)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert '[battery] source = "none"' in line
    assert 'set source = "auto" or "pisugar3"' in line


def test_the_pis_under_voltage_flag_is_not_read_on_a_simulated_run(tmp_path, capsys):
    # before: "battery.source = "hwmon": no rpi_volt hwmon device under None/class/hwmon" and exit 2
    # for the device's own config tried on a laptop
    from firmware_py import cli

    config = tmp_path / "hwmon.toml"
    config.write_text('[battery]\nsource = "hwmon"\n')
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--fast", "--no-record", "--duration", "5"]
    assert cli.main([*args, "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "None/class/hwmon" not in err
    assert 'source = "hwmon" reads the Pi\'s under-voltage flag, which a simulated run does not' in err


# ------------------------------------------------------------------ a pin error is said
def test_a_cue_cut_short_by_a_pin_error_is_said(monkeypatch):
    # before, a GPIO error while a cue played was kept in CueOutputs.last_error only: the cue was
    # lost without a word in the journal
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from dsp.coach import CueEvent
    from firmware_py.config import PinsConfig
    from firmware_py.outputs import CueOutputs

    said = []
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        with CueOutputs(
            PinsConfig(), pin_factory=factory, on_drop=lambda c, why: said.append((c.kind, why))
        ) as out:
            monkeypatch.setattr(out.buzzer, "on", lambda: (_ for _ in ()).throw(OSError("GPIO busy")))
            out.play(CueEvent(3.0, "run", 1, "running pays again"))
            assert out.wait_idle(10.0)
    finally:
        factory.reset()
    assert said == [("run", "pin error: GPIO busy")]


# ------------------------------------------------------------------ coaching off: the device still speaks
def test_with_coaching_off_the_device_still_cues_its_own_events(tmp_path, capsys):
    # [coach] enabled = false ("only record and report device events"): before, no device cue
    # played at all, so a runner recording without coaching never heard the battery run low
    from firmware_py import cli

    config = tmp_path / "record_only.toml"
    config.write_text("[coach]\nenabled = false\n")
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--fast", "--no-record", "--duration", "20"]
    assert cli.main([*args, "--fake-battery", "14,0", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "0 cues (and 2 device cues: battery_low, ready)" in out


# ------------------------------------------------------------------ memory: no list grows on the device
def test_the_device_loop_counts_gaps_without_keeping_them(tmp_path):
    # before, LoopReport.gaps and .cues grew by one item per lost stretch and per cue even on the
    # device (keep_events=False): hours of a flaky connector grew the memory for lists nobody reads
    import threading

    from firmware_py.config import load_config, make_pipeline
    from firmware_py.imu.detect import open_imu
    from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
    from firmware_py.loop import LiveLoop

    clock = FakeClock()
    rec = _read(_csv(tmp_path))
    imu = FAKE_IMUS["lsm6dsox"](
        source=SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz), clock=clock
    )
    bus = FakeI2CBus([imu], clock=clock)

    def open_driver():
        driver = open_imu(bus, "lsm6dsox", sampling_rate_hz=200.0, accel_range_g=16, clock=clock)
        if not imu.fault_rate:
            imu.inject_faults(0.1, seed=5)  # a storm from the first drain on
        return driver

    pipe = make_pipeline(load_config(), sampling_rate_hz=200.0, placement="foot", has_gyro=True)
    loop = LiveLoop(open_driver=open_driver, pipeline=pipe, recorder=None, clock=clock, keep_events=False)
    report = loop.run(threading.Event(), duration_s=60.0)
    assert report.n_gaps > 10  # a 10 % storm loses many stretches ...
    assert report.gaps == []  # ... which the device counts without keeping
    assert report.cue_counts["ready"] == 1  # and so are the cues
    assert report.cues == []


# ------------------------------------------------------------------ a barometer that dies mid-run
def test_a_barometer_that_stops_answering_is_said_when_it_is_dropped(tmp_path, monkeypatch, capsys):
    # before, after 20 failed readings the loop dropped the barometer without a word: the grade
    # fell back to the foot's height (or unknown) and nobody knew why
    from firmware_py import cli, run
    from firmware_py.bus import open_bus

    def dying_barometer(spec, **kw):
        bus = open_bus(spec, **kw)
        baro = next(d for d in bus.devices.values() if type(d).__name__ == "FakeBmp280")
        rdwr = bus.i2c_rdwr

        def i2c_rdwr(*msgs):  # the IMU's drains: unplug the barometer at 10 s, for good
            if bus.clock.monotonic() >= 10.0 and baro.plugged:
                baro.unplug()
            return rdwr(*msgs)

        bus.i2c_rdwr = i2c_rdwr
        return bus

    monkeypatch.setattr(run, "open_bus", dying_barometer)
    logs = tmp_path / "logs"
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "lsm6dsox", "--fast", "--duration", "20"]
    assert cli.main([*args, "--data-dir", str(logs)]) == 0
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "barometer_lost" in x]
    assert "the barometer failed 20 readings in a row" in line
    events = _read(next(logs.glob("*.cclog"))).meta["events"]
    lost = [e["t_s"] for e in events if e["event"]["kind"] == "barometer_lost"]
    assert len(lost) == 1
    assert 10.0 < lost[0] < 16.0  # 20 readings every 0.25 s after the unplug at 10 s
    assert max(e["t_s"] for e in events if e["event"]["kind"] == "pressure") < 10.1


# ------------------------------------------------------------------ a battery HAT that stops answering
def test_a_battery_that_stops_answering_is_said_and_so_is_its_return(tmp_path, monkeypatch, capsys):
    # before, failed battery readings were only counted (LoopReport.battery_errors, printed nowhere):
    # a HAT whose connector came loose left the run without battery_low or the critical stop, silently
    from firmware_py import cli, run
    from firmware_py.bus import open_bus

    def loose_hat(spec, **kw):
        bus = open_bus(spec, **kw)
        rdwr = bus.i2c_rdwr
        away = []

        def i2c_rdwr(*msgs):  # the IMU's drains: the HAT (0x57) is away from 20 s to 110 s
            if not away and bus.clock.monotonic() >= 20.0:
                away.append(True)
                bus.devices[0x57].unplug(90.0)
            return rdwr(*msgs)

        bus.i2c_rdwr = i2c_rdwr
        return bus

    monkeypatch.setattr(run, "open_bus", loose_hat)
    logs = tmp_path / "logs"
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "lsm6dsox", "--fast", "--duration", "150"]
    assert cli.main([*args, "--fake-battery", "50,0", "--data-dir", str(logs)]) == 0
    err = capsys.readouterr().err
    (unread,) = [x for x in err.splitlines() if "battery_unread" in x]
    assert "PiSugar 3 at 0x57 failed 4 readings in a row" in unread
    assert "battery_low and the critical stop wait until it answers again" in unread
    (back,) = [x for x in err.splitlines() if "battery_read at" in x]
    assert "battery read again after 6 failed readings" in back
    kinds = [e["event"]["kind"] for e in _read(next(logs.glob("*.cclog"))).meta["events"]]
    assert kinds.count("battery_unread") == 1
    assert kinds.count("battery_read") == 1


# ------------------------------------------------------------------ the mode button, in the log
def test_a_terrain_set_with_the_button_is_logged_where_a_replay_must_apply_it(tmp_path):
    # before, a press of the mode button changed the live targets and cues but left no trace in the
    # log, so no replay of it could give what the device gave. Now the log says which mode, after
    # which sample; a replay that sets it there gives exactly the live steps and cues
    import threading

    import numpy as np

    from firmware_py.config import load_config, make_pipeline
    from firmware_py.imu.detect import open_imu
    from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
    from firmware_py.loop import LiveLoop
    from firmware_py.recorder import Recorder
    from firmware_py.replay import recorded_gyro_bias, replay_recording

    config = tmp_path / "runner.toml"
    config.write_text(RUNNER_OFF_TARGET)
    cfg = load_config(config)
    clock = FakeClock()
    rec = _read(Path(__file__).parent / "fixtures" / "harlab_treadmill_jog" / "S028_jog.csv")
    source = SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    bus = FakeI2CBus([FAKE_IMUS["lsm6dsox"](source=source, clock=clock)], clock=clock)

    def open_driver():
        return open_imu(bus, "lsm6dsox", sampling_rate_hz=100.0, accel_range_g=8, clock=clock)

    probe = open_driver()
    rate, acc_lsb = probe.sampling_rate_hz, float(probe.scale(np.eye(6, dtype=np.int16)[:1])[0][0, 0])
    gyro_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[3:4])[1][0, 0])
    probe.close()

    def pipeline():
        return make_pipeline(cfg, sampling_rate_hz=rate, placement="lower_back", has_gyro=True)

    live = pipeline()

    class Button:  # pressed once at 30 s (a short press: technical by hand), as CueListener applies it
        def on_steps(self, events):
            if events[-1].t_s >= 30.0 and live.terrain_mode == "auto":
                live.set_terrain_mode("technical")

    header = {"sampling_rate_hz": rate, "acc_lsb_mps2": acc_lsb, "gyro_lsb_rads": gyro_lsb}
    recorder = Recorder(tmp_path / "logs", header, clock=clock)
    loop = LiveLoop(open_driver=open_driver, pipeline=live, recorder=recorder, clock=clock, listener=Button())
    report = loop.run(threading.Event(), duration_s=60.0)
    log = _read(recorder.path)
    modes = [
        (e["t_s"], e["event"]["mode"]) for e in log.meta["events"] if e["event"]["kind"] == "terrain_mode"
    ]
    assert len(modes) == 1
    assert modes[0][1] == "technical"
    assert 30.0 <= modes[0][0] < 31.0
    # a replay that applies the logged mode after the logged sample equals the device
    again = pipeline()
    gyro = log.gyro_rads - recorded_gyro_bias(log)
    k = int(np.searchsorted(log.t_s, modes[0][0], side="right"))
    first = again.process(log.t_s[:k], log.acc_mps2[:k], gyro[:k])
    again.set_terrain_mode(modes[0][1])
    rest = again.process(log.t_s[k:], log.acc_mps2[k:], gyro[k:])
    end = again.finish()
    replayed = first.steps + rest.steps + end.steps
    assert [(e.t_s, e.terrain, e.target_cadence_spm) for e in replayed] == [
        (e.t_s, e.terrain, e.target_cadence_spm) for e in report.events
    ]
    assert any(e.terrain == "technical" for e in replayed)
    live_cues = [c for c in report.cues if c.kind not in ("ready",)]
    assert [(c.t_s, c.kind, c.reason) for c in first.cues + rest.cues + end.cues] == [
        (c.t_s, c.kind, c.reason) for c in live_cues
    ]
    # and `cadence-coach replay` of the log applies the logged press itself (the recording has no
    # gyroscope: the fake chip's is dead, and the device and the replay went on without it)
    from firmware_py.exc import SensorWarning

    with pytest.warns(SensorWarning, match="gyroscope dead at start-up"):
        result = replay_recording(log, placement="lower_back", config=cfg)
    assert [(e.t_s, e.terrain, e.target_cadence_spm) for e in result.events] == [
        (e.t_s, e.terrain, e.target_cadence_spm) for e in report.events
    ]
    assert [(c.t_s, c.kind, c.reason) for c in result.cues] == [(c.t_s, c.kind, c.reason) for c in live_cues]


def test_a_log_with_an_unknown_terrain_mode_is_one_line_naming_the_file_and_time(tmp_path):
    import numpy as np

    from firmware_py.exc import LogFormatError
    from firmware_py.logs.cclog import CclogWriter
    from firmware_py.replay import replay_recording

    path = tmp_path / "run.cclog"
    t = np.arange(400) / 100.0
    acc = np.tile([0.0, 0.0, 9.81], (400, 1))
    with CclogWriter(path, {"sampling_rate_hz": 100.0, "has_gyro": False, "placement": "lower_back"}) as w:
        w.append(t[:200], acc[:200])
        w.append_event(1.99, {"kind": "terrain_mode", "mode": "muddy"})
        w.append(t[200:], acc[200:])
    with pytest.raises(LogFormatError) as info:
        replay_recording(_read(path))
    msg = str(info.value)
    assert msg.startswith(f"{path}: terrain_mode event at t=1.99 s holds 'muddy'")
    assert "\n" not in msg
