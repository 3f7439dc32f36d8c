"""Battery monitoring: PiSugar 3 register decoding, the hwmon under-voltage flag, the decisions
(hysteresis, repeat, confirmed critical), absorbed errors, and the live loop on a fake bus with a
fake PiSugar 3: the battery_low cue on gpiozero mock pins, the clean stop when critical, exit 4.
"""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import gpiozero.pins.mock
import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from dsp.coach import DEVICE_EVENT_LEVELS
from firmware_py.battery import (
    EXIT_BATTERY_CRITICAL,
    BatteryReading,
    BatteryWatch,
    HwmonUnderVoltage,
    PiSugar3Battery,
    find_rpi_volt,
    open_battery,
)
from firmware_py.cli import main
from firmware_py.clock import FakeClock
from firmware_py.config import PinsConfig, load_config, make_pipeline
from firmware_py.exc import ConfigError, UsageError
from firmware_py.imu.detect import format_report, open_imu, scan
from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
from firmware_py.imu.fake_battery import FakePiSugar3, parse_fake_battery
from firmware_py.logs import read_log
from firmware_py.loop import LiveLoop
from firmware_py.outputs import LEVELS, CueOutputs
from firmware_py.recorder import Recorder
from firmware_py.run import CueListener
from tests.conftest import FIXTURES

FOOT = FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv"
BUZZER = 17


class RegisterBus:
    """A bare bus holding fixed register bytes at 0x57 (no fake logic: the known answers)."""

    def __init__(self, regs: dict[int, int]) -> None:
        self.regs = regs
        self.reads: list[int] = []

    def read_byte_data(self, addr: int, reg: int, force=None) -> int:
        if addr != 0x57:
            raise OSError(121, "NACK")
        self.reads.append(reg)
        return self.regs.get(reg, 0)


class Scripted:
    """A battery source that returns the given readings (an exception instance is raised)."""

    name = "scripted"

    def __init__(self, items) -> None:
        self.items = list(items)

    def read(self) -> BatteryReading:
        item = self.items.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, BatteryReading):
            return item
        return BatteryReading("scripted", percent=item, voltage_v=3.7)


def kinds(events):
    return [e.kind for e in events]


def announced(events):
    """Kinds of the events that are said whatever the coach decides (not reminders)."""
    return [e.kind for e in events if not e.reminder]


# -------------------------------------------------------------------------- register decoding
def test_pisugar3_known_answers_from_register_bytes():
    # VH 0x0E, VL 0x2E -> 0x0E2E = 3630 mV; 0x2A = 14 %; CTR1 0xC0: bit 7 power plugged
    bus = RegisterBus({0x00: 0x03, 0x02: 0xC0, 0x22: 0x0E, 0x23: 0x2E, 0x2A: 14})
    sugar = PiSugar3Battery(bus)
    assert sugar.probe()
    r = sugar.read()
    assert (r.percent, r.voltage_v, r.external_power, r.under_voltage) == (14.0, 3.63, True, False)
    assert r.describe() == "battery 14 % (3.63 V), charging, PiSugar 3 at 0x57"
    # single-byte reads only, as the vendor's manager does (no block read on this controller)
    assert set(bus.reads) == {0x00, 0x02, 0x22, 0x23, 0x2A}
    bus.regs[0x02] = 0x40  # charging allowed, nothing plugged in
    assert sugar.read().external_power is False
    assert not PiSugar3Battery(RegisterBus({0x00: 0x02})).probe()  # a PiSugar 2 / other id


@pytest.mark.parametrize(
    ("regs", "what"),
    [({0x2A: 101, 0x22: 0x0E, 0x23: 0x2E}, "101 %"), ({0x2A: 50, 0x22: 0x00, 0x23: 0x00}, "0.000 V")],
)
def test_pisugar3_implausible_values_are_an_oserror(regs, what):
    with pytest.raises(OSError, match=what):
        PiSugar3Battery(RegisterBus({0x00: 3, **regs})).read()


def test_fake_pisugar3_follows_its_curve_at_register_level():
    clock = FakeClock()
    sugar = FakePiSugar3(clock=clock, curve=[(0.0, 50.0), (100.0, 10.0)])
    bus = FakeI2CBus([sugar], clock=clock)
    assert bus.read_byte_data(0x57, 0x00) == 3
    assert bus.read_byte_data(0x57, 0x2A) == 50
    clock.sleep(90.0)  # 50 - 0.4 * 90 = 14 %; LiPo curve between 10 % (3.62 V) and 20 % (3.70 V)
    assert bus.read_byte_data(0x57, 0x2A) == 14
    assert (bus.read_byte_data(0x57, 0x22), bus.read_byte_data(0x57, 0x23)) == (0x0E, 0x44)  # 3652 mV
    assert bus.read_byte_data(0x57, 0x02) & 0x80 == 0
    bus.write_byte_data(0x57, 0x2A, 99)  # read-only: ignored
    assert bus.read_byte_data(0x57, 0x2A) == 14
    sugar.external_power = True
    assert bus.read_byte_data(0x57, 0x02) & 0x80
    clock.sleep(1000.0)
    assert bus.read_byte_data(0x57, 0x2A) == 10  # held flat after the last point
    sugar.drain(30.0, 6.0)
    clock.sleep(60.0)
    assert bus.read_byte_data(0x57, 0x2A) == 24


def test_detect_names_the_pisugar3_at_0x57():
    clock = FakeClock()
    bus = FakeI2CBus([FakePiSugar3(clock=clock)], clock=clock)
    report = format_report(scan(bus))
    assert "0x57  PiSugar 3 battery controller (id 0x03)  [battery]" in report


@pytest.mark.parametrize(("spec", "expected"), [("20", (20.0, 1.0)), ("20,2.5", (20.0, 2.5))])
def test_fake_battery_option_parses(spec, expected):
    assert parse_fake_battery(spec) == expected


@pytest.mark.parametrize("spec", ["", "x", "120", "20,-1", "1,2,3"])
def test_fake_battery_option_errors_are_one_line(spec):
    with pytest.raises(UsageError, match="START\\[,DRAIN\\]"):
        parse_fake_battery(spec)


# ------------------------------------------------------------------------------------- hwmon
def _sysfs(tmp_path: Path, alarm: str | None = "0") -> Path:
    for i, name in enumerate(["cpu_thermal", "rpi_volt"]):
        d = tmp_path / "class" / "hwmon" / f"hwmon{i}"
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
    if alarm is not None:
        (tmp_path / "class" / "hwmon" / "hwmon1" / "in0_lcrit_alarm").write_text(alarm + "\n")
    return tmp_path


def test_hwmon_under_voltage_flag_is_found_and_read(tmp_path):
    root = _sysfs(tmp_path)
    path = find_rpi_volt(root)
    assert path == root / "class" / "hwmon" / "hwmon1"
    mon = open_battery("auto", None, sysfs_root=root)
    assert isinstance(mon, HwmonUnderVoltage)
    assert mon.read().under_voltage is False
    (path / "in0_lcrit_alarm").write_text("1\n")
    r = mon.read()
    assert r.under_voltage
    assert r.percent is None
    assert r.describe().startswith("under-voltage on the Pi's 5 V supply, Pi under-voltage flag")
    (path / "in0_lcrit_alarm").write_text("garbage\n")
    with pytest.raises(OSError):
        mon.read()


def test_under_voltage_warns_but_never_stops_the_run(tmp_path):
    # the flag cannot tell a dying power bank from a thin cable: a warning, repeated while it
    # lasts, never the critical stop that would end a recording the Pi may keep powering
    root = _sysfs(tmp_path, "1")
    watch = BatteryWatch(open_battery("hwmon", None, sysfs_root=root), poll_s=10.0)
    seen = [k for i in range(20) for k in kinds(watch.poll(10.0 * i))]
    assert "battery_critical" not in seen
    assert seen.count("battery_low") == 20  # announced once, then a reminder at every reading
    assert watch.state == "low"
    # and one under-voltage between good readings is only a warning, then OK
    watch = BatteryWatch(open_battery("hwmon", None, sysfs_root=root), poll_s=10.0)
    alarm = find_rpi_volt(root) / "in0_lcrit_alarm"
    assert kinds(watch.poll(0.0)) == ["battery_low"]
    alarm.write_text("0\n")
    assert kinds(watch.poll(10.0)) == ["battery_ok"]


def test_source_choice(tmp_path):
    clock = FakeClock()
    with_sugar = FakeI2CBus([FakePiSugar3(clock=clock)], clock=clock)
    empty = FakeI2CBus([], clock=clock)
    root = _sysfs(tmp_path)
    assert isinstance(open_battery("auto", with_sugar, sysfs_root=root), PiSugar3Battery)
    assert isinstance(open_battery("auto", empty, sysfs_root=root), HwmonUnderVoltage)
    assert open_battery("auto", empty, sysfs_root=tmp_path / "nothing") is None
    assert open_battery("auto", empty, sysfs_root=None) is None
    assert open_battery("none", with_sugar, sysfs_root=root) is None
    # asked for by name, it is read even when it does not answer yet (failures are counted)
    assert isinstance(open_battery("pisugar3", empty, sysfs_root=None), PiSugar3Battery)
    with pytest.raises(ConfigError, match="no rpi_volt hwmon device"):
        open_battery("hwmon", empty, sysfs_root=tmp_path / "nothing")
    with pytest.raises(ConfigError, match="pijuice"):
        open_battery("pijuice", empty)


# --------------------------------------------------------------------------------- decisions
def test_low_has_hysteresis_and_reminds_while_low():
    watch = BatteryWatch(Scripted([20, 14.9, 15.5, 16, 17.9, 18.0, 14]), low_percent=15, poll_s=10)
    events = [watch.poll(t) for t in (0, 10, 20, 30, 40, 50, 60)]
    # 14.9 enters low; 15.5..17.9 wobble above the threshold but below 15 + 3: still low (a
    # reminder, which the coach cues at most every device_repeat_s); 18.0 clears it; 14 enters low
    assert [announced(e) for e in events] == [
        [],
        ["battery_low"],
        [],
        [],
        [],
        ["battery_ok"],
        ["battery_low"],
    ]
    assert [kinds(e) for e in events][2:5] == [["battery_low"]] * 3
    assert all(e.reminder for ev in events[2:5] for e in ev)


def test_poll_reads_only_when_due():
    src = Scripted([50, 50])
    watch = BatteryWatch(src, poll_s=15)
    watch.poll(0.0)
    for t in np.arange(0.025, 15.0, 0.025):  # every block of the loop: no reading
        watch.poll(float(t))
    assert watch.readings == 1
    assert len(src.items) == 1
    watch.poll(15.0)
    assert watch.readings == 2


def test_critical_needs_two_readings_in_a_row_and_then_stops_reading():
    watch = BatteryWatch(Scripted([4, 6, 4, 4, 50]), poll_s=1, low_percent=15, critical_percent=5)
    got = [announced(watch.poll(t)) for t in (0, 1, 2, 3, 4)]
    assert got == [["battery_low"], [], [], ["battery_critical"], []]
    assert watch.state == "critical"
    assert watch.readings == 4


def test_external_power_means_not_low_and_never_critical():
    plugged = BatteryReading("s", percent=3.0, voltage_v=3.4, external_power=True)
    watch = BatteryWatch(Scripted([10, plugged, plugged, plugged, 10]), poll_s=1)
    got = [kinds(watch.poll(t)) for t in (0, 1, 2, 3, 4)]
    assert got == [["battery_low"], ["battery_ok"], [], [], ["battery_low"]]


def test_bus_errors_and_bad_readings_are_absorbed_and_counted():
    clock = FakeClock()
    sugar = FakePiSugar3(clock=clock, curve=[(0.0, 10.0)])
    bus = FakeI2CBus([sugar], clock=clock)
    watch = BatteryWatch(PiSugar3Battery(bus), poll_s=1)
    sugar.inject_faults(1.0, seed=3)
    assert watch.poll(0.0) == []
    assert watch.errors == 1
    sugar.inject_faults(0.0)
    sugar.unplug(5.0)
    assert watch.poll(1.0) == []
    assert watch.errors == 2
    sugar.replug()
    sugar.garbage = 1  # a garbled transfer: 255 %
    assert watch.poll(2.0) == []
    assert watch.errors == 3
    assert kinds(watch.poll(3.0)) == ["battery_low"]
    assert watch.readings == 1
    assert watch.state == "low"


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match="critical_percent < low_percent"):
        BatteryWatch(Scripted([]), low_percent=5, critical_percent=5)


# ------------------------------------------------------------------------------------- config
def test_battery_config_defaults_and_errors(tmp_path):
    cfg = load_config()
    b = cfg.battery
    assert (b.source, b.address, b.low_percent, b.critical_percent, b.poll_s) == (
        "auto",
        0x57,
        15.0,
        5.0,
        15.0,
    )
    cases = [
        (
            "[battery]\ncritical_percent = 20\n",
            "battery.critical_percent = 20.0: not below battery.low_percent",
        ),
        (
            '[battery]\nsource = "pijuice"\n',
            'battery.source = "pijuice": not allowed; allowed: one of "auto"',
        ),
        ("[battery]\naddress = 0x99\n", "battery.address = 153: out of range"),
        ("[battery]\npoll_s = 0\n", "battery.poll_s = 0: out of range; allowed: a number from 1 to 600 (s)"),
        ("[battery]\nlow_percent = 95\n", "battery.low_percent = 95: out of range"),
    ]
    for text, message in cases:
        p = tmp_path / "c.toml"
        p.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(p)
        assert message in str(info.value)
        assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------- live loop
@pytest.fixture
def pin_clock(monkeypatch):
    fake = FakeClock(1000.0)
    monkeypatch.setattr(gpiozero.pins.mock, "monotonic", fake.monotonic)
    return fake


def _live(tmp_path, clock, sugar, outputs=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = read_log(FOOT)
    source = SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    imu = FAKE_IMUS["lsm6dsox"](source=source, clock=clock)
    bus = FakeI2CBus([imu, sugar], clock=clock)

    def open_driver():
        return open_imu(bus, "auto", sampling_rate_hz=200.0, accel_range_g=16, clock=clock)

    probe = open_driver()
    rate = probe.sampling_rate_hz
    acc_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[:1])[0][0, 0])
    gyro_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[3:4])[1][0, 0])
    probe.close()
    cfg = load_config()
    pipe = make_pipeline(cfg, sampling_rate_hz=rate, placement="foot", has_gyro=True, placement_side="right")
    header = {
        "sampling_rate_hz": rate,
        "acc_lsb_mps2": acc_lsb,
        "gyro_lsb_rads": gyro_lsb,
        "placement": "foot",
    }
    recorder = Recorder(tmp_path / "logs", header, clock=clock)
    watch = BatteryWatch(open_battery("auto", bus, sysfs_root=None), poll_s=5.0)
    loop = LiveLoop(
        open_driver=open_driver,
        pipeline=pipe,
        recorder=recorder,
        clock=clock,
        battery=watch,
        listener=CueListener(outputs, pipe),
    )
    return loop, recorder, bus


def test_live_loop_cues_battery_low_on_mock_pins_then_stops_cleanly_when_critical(tmp_path, pin_clock):
    clock = FakeClock()
    sugar = FakePiSugar3(clock=clock)
    sugar.drain(16.0, 6.0)  # below 15 % after 10 s; below 5 % after 110 s
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        with CueOutputs(PinsConfig(), pin_factory=factory, clock=pin_clock) as outputs:
            loop, recorder, _bus = _live(tmp_path, clock, sugar, outputs)
            report = loop.run(threading.Event(), duration_s=600.0)
            assert outputs.wait_idle(30.0)
        buzz = [(round(s.timestamp, 6), float(s.state)) for s in factory.pin(BUZZER).states[1:]]
    finally:
        factory.reset()
    # the run ended early, on the confirmed critical reading (polls every 5 s)
    assert report.battery_critical is not None
    assert report.battery_critical.startswith("battery 4 %")
    assert report.stopped_reason == "battery critical"
    assert 110.0 <= report.last_t_s <= 125.0
    cue_kinds = [c.kind for c in report.cues]
    # low at ~10 s, again after device_repeat_s (60 s), then recording_stopped
    assert cue_kinds == ["ready", "battery_low", "battery_low", "recording_stopped"]
    low = [c for c in report.cues if c.kind == "battery_low"]
    assert low[1].t_s - low[0].t_s >= 60.0
    assert "PiSugar 3 at 0x57" in low[0].reason
    assert "%" in low[0].reason
    # the battery_low pattern on the buzzer pin: 3 x (300 ms on, 600 ms off)
    ons = [dt for dt, v in buzz if v == 0.0]  # time each beep lasted
    offs = [dt for dt, v in buzz if v == 1.0]
    low_pattern = [(0.3, 0.6), (0.3, 0.6), (0.3, None)]
    pairs = list(zip(ons, [*offs[1:], None], strict=True))
    found = [
        i
        for i in range(len(pairs) - 2)
        if all(
            pairs[i + k][0] == pytest.approx(on) and (off is None or pairs[i + k][1] == pytest.approx(off))
            for k, (on, off) in enumerate(low_pattern)
        )
    ]
    # two battery_low cues, each played LEVELS[2][0] times (device level 2 for battery_low)
    repeats = LEVELS[DEVICE_EVENT_LEVELS["battery_low"]][0]
    assert len(found) == 2 * repeats, buzz
    assert sum(1 for on in ons if on == pytest.approx(0.3)) == 2 * repeats * 3
    # the log was closed cleanly, says why, and replays
    log = read_log(recorder.path)
    assert log.n_samples == report.samples
    events = [e["event"] for e in log.meta["events"]]
    stops = [e for e in events if e["kind"] == "recording_stopped"]
    assert len(stops) == 1
    assert stops[0]["reason"].startswith("battery critical: battery 4 %")
    assert [e["kind"] for e in events if e["kind"].startswith("battery_")] == [
        "battery_low",
        "battery_low",
        "battery_critical",
    ]
    readings = [e for e in events if e["kind"] == "battery"]
    assert len(readings) >= 20
    assert readings[0]["percent"] == 16.0
    assert main(["replay", str(recorder.path), "--quiet"]) == 0


def test_run_cli_exits_4_with_one_line_on_a_critical_battery(tmp_path, capsys):
    status = main(
        [
            "run",
            "--bus",
            f"fake:{FOOT}",
            "--chip",
            "lsm6dsox",
            "--fast",
            "--duration",
            "300",
            "--fake-battery",
            "8,6",
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert status == EXIT_BATTERY_CRITICAL == 4
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("cadence-coach: battery_low at 0.")
    assert err[-1].startswith("cadence-coach: battery critical (battery ")
    assert err[-1].endswith("recording closed, run stopped")
    (log,) = tmp_path.glob("*.cclog")
    rec = read_log(log)
    assert rec.duration_s < 80.0  # stopped at ~60 s (15 s polls), not at 300 s
    assert main(["replay", str(log), "--quiet"]) == 0


def test_fake_battery_needs_a_fake_bus(capsys):
    assert main(["run", "--bus", "smbus:99", "--fake-battery", "20"]) == 2
    assert "--fake-battery needs a fake bus" in capsys.readouterr().err


class UnplugWhenReady:
    """Pulls the IMU out as soon as the device is ready (the sensor is lost for good)."""

    def __init__(self, imu) -> None:
        self.imu = imu
        self.device: list[str] = []

    def on_device(self, kind, t_s, reason) -> None:
        self.device.append(kind)
        if kind == "ready":
            self.imu.unplug()


def test_battery_is_read_while_the_sensor_is_lost_and_can_still_stop_the_run(tmp_path):
    clock = FakeClock()
    sugar = FakePiSugar3(clock=clock)
    sugar.drain(6.0, 6.0)  # below 5 % after 15 s
    loop, recorder, bus = _live(tmp_path, clock, sugar)
    imu = next(d for a, d in bus.devices.items() if a != 0x57)
    loop.listener = listener = UnplugWhenReady(imu)
    report = loop.run(threading.Event(), duration_s=600.0)
    assert report.battery_critical is not None
    # low from the first reading (before the 2 s bias window ends), then the sensor is lost, and
    # the battery, still read meanwhile, ends the run
    assert listener.device == ["battery_low", "ready", "sensor_lost", "battery_critical", "recording_stopped"]
    assert clock.monotonic() < 60.0  # not the 600 s of a sensor that never comes back
    logged = [e["event"] for e in read_log(recorder.path).meta["events"]]
    assert [e["kind"] for e in logged[-3:]] == ["battery_critical", "recording_stopped", "cue"]
    assert logged[-1]["cue"] == "recording_stopped"


def test_an_explicit_pisugar3_that_does_not_answer_is_a_warning_not_an_error(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[battery]\nsource = "pisugar3"\n')
    args = ["run", "--bus", f"fake:{FOOT}", "--fast", "--duration", "5", "--config", str(cfg)]
    assert main([*args, "--data-dir", str(tmp_path)]) == 0
    assert 'battery.source = "pisugar3" but no PiSugar 3 answers at 0x57' in capsys.readouterr().err
