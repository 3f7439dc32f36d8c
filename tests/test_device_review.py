"""Regression tests from the device-side review (session 5, devqa6): run's cue hardware and clock."""

from __future__ import annotations

from types import SimpleNamespace

import gpiozero.pins.mock
import pytest

from dsp.coach import CueEvent
from firmware_py.clock import FakeClock
from firmware_py.config import load_config
from firmware_py.run import _cue_outputs


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(1000.0)
    monkeypatch.setattr(gpiozero.pins.mock, "monotonic", fake.monotonic)  # the button's debounce
    return fake


def _press(outputs, clock, held_s):
    pin = outputs.button.pin
    pin.drive_low()
    clock.advance(held_s)
    pin.drive_high()
    clock.advance(0.5)


@pytest.mark.parametrize(("in_force", "first_press"), [("technical", "smooth"), ("smooth", "technical")])
def test_run_button_first_press_selects_the_other_terrain_than_the_coachs(clock, in_force, first_press):
    # docs/cues.md: "in automatic mode it selects the other terrain than the detected one"; run's
    # cue hardware must ask the coach which terrain is in force (a shin sensor detects technical)
    pipeline = SimpleNamespace(coach=SimpleNamespace(terrain=in_force))
    out = _cue_outputs("mock", load_config(None), clock, pipeline)
    try:
        _press(out, clock, 0.2)
        assert out.mode == first_press
        _press(out, clock, 1.5)
        assert out.mode == "auto"
    finally:
        out.close()


def test_run_says_which_cue_was_not_played(clock, capsys):
    out = _cue_outputs("mock", load_config(None), clock, SimpleNamespace(coach=None))
    try:
        with out._cv:  # both wait: the level-3 sensor_lost plays ≈ 4.6 s, the coaching cue goes stale
            out.play(CueEvent(12.0, "sensor_lost", 3, "IMU not answering"))
            out.play(CueEvent(12.5, "quicken_steps", 1, "cadence 150 spm below target 170±5 spm"))
        assert out.wait_idle(20.0)
    finally:
        out.close()
    err = capsys.readouterr().err
    assert "cue quicken_steps (level 1) at 12.5 s not played (stale): cadence 150 spm" in err
    assert "sensor_lost" not in err


# ------------------------------------------------------------------ wall clock jumps (no RTC on a Pi)
def test_recorder_notes_an_ntp_step_of_the_wall_clock_in_the_log(tmp_path):
    import datetime as dt

    import numpy as np

    from firmware_py.logs.cclog import read_cclog
    from firmware_py.recorder import Recorder

    mono = FakeClock(50.0)
    boot_guess = dt.datetime(2026, 12, 6, 18, 0, 0, tzinfo=dt.UTC)  # fake-hwclock: last shutdown
    wall = {"offset_s": 0.0}

    def wall_clock():
        return boot_guess + dt.timedelta(seconds=mono.monotonic() - 50.0 + wall["offset_s"])

    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    rec = Recorder(tmp_path, header, clock=mono, wall_clock=wall_clock, watch_wall_clock=True)
    raw = np.zeros((100, 6), dtype=np.int16)
    for k in range(6):  # 6 s of samples, one block a second
        if k == 3:
            wall["offset_s"] = 14 * 3600.0 + 0.25  # NTP syncs: the wall clock jumps 14 h ahead
        rec.write(k + np.arange(100) / 100.0, raw)
        mono.advance(1.0)
    rec.close()
    log = read_cclog(rec.path)
    assert log.meta["start_time_utc"].startswith("2026-12-06T18:00:00")  # what the clock said
    jumps = [e for e in log.meta["events"] if e["event"].get("kind") == "wall_clock"]
    assert len(jumps) == 1  # one jump, noted once; the steady clock afterwards is not a jump
    ev = jumps[0]
    assert ev["event"]["jump_s"] == pytest.approx(14 * 3600.0 + 0.25)
    # the event sits on the samples' time line at the newest sample when the jump was seen (the
    # block written at mono 53 s); its UTC time is the corrected wall clock then
    assert ev["t_s"] == pytest.approx(3.99)
    utc = dt.datetime.fromisoformat(ev["event"]["utc"])
    assert utc == boot_guess + dt.timedelta(seconds=3.0 + 14 * 3600.0 + 0.25)
    # sample times themselves are on the monotonic clock: untouched by the jump
    assert np.all(np.diff(log.t_s) > 0)
    assert log.t_s[-1] == pytest.approx(5.99)


def test_recorder_does_not_watch_the_wall_clock_on_a_simulated_clock(tmp_path):
    import numpy as np

    from firmware_py.logs.cclog import read_cclog
    from firmware_py.recorder import Recorder

    mono = FakeClock(0.0)  # a --fast run: the monotonic clock races ahead of the wall clock
    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    rec = Recorder(tmp_path, header, clock=mono)
    for k in range(5):
        rec.write(k + np.arange(100) / 100.0, np.zeros((100, 6), dtype=np.int16))
        mono.advance(1000.0)
    rec.close()
    assert not [e for e in read_cclog(rec.path).meta["events"] if e["event"].get("kind") == "wall_clock"]


# ------------------------------------------------------------- no sensor at start on the device
def _csv(tmp_path):
    import shutil
    from pathlib import Path

    src = Path(__file__).parents[1] / "firmware_py" / "data" / "demo_waist_run.csv"
    dst = tmp_path / "run.csv"
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))  # the sidecar: placement, rate
    return dst


def test_run_waits_for_an_imu_that_is_not_plugged_in_at_start_and_cues_it(tmp_path, monkeypatch, capsys):
    # a real bus whose IMU answers only 1.5 s after start: before, `run` exited with status 2 at
    # once, silently for the runner (no cue), and systemd restarted it every 2 s
    from firmware_py import cli, run
    from firmware_py.bus import open_bus

    played = []
    real_cue_outputs = run._cue_outputs

    def spy_outputs(kind, cfg, clock, ref):
        out = real_cue_outputs("mock", cfg, clock, ref)
        real_play = out.play
        out.play = lambda c: (played.append(c.kind), real_play(c))[1]
        return out

    def fake_smbus(spec, **kw):
        assert spec == "smbus:1"
        return open_bus(f"fake:{_csv(tmp_path)}?chip=lsm6dsox", **kw)

    real_open_imu = run.open_imu

    def unplugged_at_first_try(bus, *args, **kw):
        # unplugged from the first attempt on (the kernels' warm-up before it takes a while)
        if not hasattr(unplugged_at_first_try, "done"):
            unplugged_at_first_try.done = True
            next(d for d in bus.devices.values() if d.ID_REGISTER == "WHO_AM_I").unplug(1.5)
        return real_open_imu(bus, *args, **kw)

    monkeypatch.setattr(run, "open_bus", fake_smbus)
    monkeypatch.setattr(run, "open_imu", unplugged_at_first_try)
    monkeypatch.setattr(run, "_cue_outputs", spy_outputs)
    rc = cli.main(
        ["run", "--bus", "smbus:1", "--placement", "lower_back", "--no-record", "--duration", "3.0"]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "waiting for the IMU" in err
    assert "IMU answering after" in err
    assert played[0] == "sensor_lost"
    assert "ready" in played


def test_a_simulated_run_still_fails_at_once_without_its_sensor(tmp_path, monkeypatch, capsys):
    from firmware_py import cli, run
    from firmware_py.bus import open_bus

    def unplugged(spec, **kw):
        bus = open_bus(spec, **kw)
        next(d for d in bus.devices.values() if d.ID_REGISTER == "WHO_AM_I").unplug()
        return bus

    monkeypatch.setattr(run, "open_bus", unplugged)
    rc = cli.main(["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "mpu6050", "--fast", "--no-record"])
    assert rc == 2
    assert "waiting" not in capsys.readouterr().err


# ----------------------------------------------------------------- FIFO overflow after a stall
@pytest.mark.parametrize(
    ("chip", "n_kept"),
    # the LSM6DS parts and the ICM-42688-P keep the newest samples their FIFO holds; the MPU resets it
    [("lsm6dsox", 256), ("lsm6ds3", 682), ("mpu6050", 0), ("icm42688", 128)],
)
def test_a_stall_gives_one_gap_that_ends_at_the_first_sample_after_it(tmp_path, chip, n_kept):
    # the loop stalls 5 s (an SD card busy, a CPU hog): the FIFO overflows. Before: two GAP blocks
    # for one overflow ("overflow", then "restart"), the first ending after the first sample; and
    # (fifo8) the samples an LSM6DS FIFO still held after the overflow were thrown away with it
    import threading

    import numpy as np

    from tests.test_live_loop import _fake_setup, _loop, _read

    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock, chip)
    loop, recorder = _loop(tmp_path, clock, bus, fake)
    state = {"stalled": False}

    class Stall:
        def on_steps(self, events):
            if not state["stalled"] and clock.monotonic() >= 15.0:
                state["stalled"] = True
                state["rate_hz"] = fake.rate_hz  # the chip's real rate
                clock.advance(5.0)

    loop.listener = Stall()
    report = loop.run(threading.Event(), duration_s=30.0)
    assert state["stalled"]
    assert [g[2] for g in report.gaps] == ["overflow"]
    log = _read(recorder.path)
    assert log.gaps == [pytest.approx(g[:2], abs=1e-9) for g in report.gaps]
    before, after = log.gaps[0]
    i = int(np.searchsorted(log.t_s, after))
    assert log.t_s[i] == pytest.approx(after, abs=1e-9)  # the gap ends at the first good sample ...
    assert log.t_s[i - 1] == pytest.approx(before, abs=1e-9)  # ... and starts at the last one
    # the stall, from the last read before it, less what the FIFO kept
    kept_s = n_kept / state["rate_hz"]
    assert 5.0 - kept_s - 0.01 < after - before < 5.0 - kept_s + 0.1
    assert log.n_samples == report.samples
    # live equals the replay of the log, across the gap
    from firmware_py.replay import replay_recording

    replayed = replay_recording(log, placement="foot").events
    assert [e.t_s for e in replayed] == [e.t_s for e in report.events]


def test_a_fifo_that_overflowed_before_the_first_drain_does_not_crash_the_loop(tmp_path):
    # before: the overflow reported by the first drain had no sample before it, and the loop wrote
    # a GAP block from t to t: a ValueError out of the live loop (a traceback, exit 1)
    import threading

    from tests.test_live_loop import _fake_setup, _loop, _read

    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock)
    loop, recorder = _loop(tmp_path, clock, bus, fake)
    real_open = loop._open_driver

    def slow_start():
        driver = real_open()
        clock.advance(10.0)  # something held the loop between the chip's set-up and its first drain
        return driver

    loop._open_driver = slow_start
    report = loop.run(threading.Event(), duration_s=20.0)
    assert report.gaps == []  # nothing before the first sample to mark
    assert recorder.stopped_reason is None
    assert _read(recorder.path).n_samples == report.samples > 1500


# ------------------------------------------------------------------------ detect: address clash
def test_detect_names_an_address_a_kernel_rtc_driver_owns(capsys):
    # an RTC overlay (PiSugar/PiJuice HAT, DS3231) owns 0x68: i2cdetect shows UU and every read
    # fails with EBUSY. Before: detect listed nothing at 0x68 and never pointed at the clash
    import errno

    from firmware_py.imu.detect import format_report, scan
    from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording

    clock = FakeClock()
    rtc = FAKE_IMUS["mpu6050"](0x68, source=SourceRecording.still(), clock=clock)
    rtc.inject_faults(1.0, errnos=(errno.EBUSY,))
    found = scan(FakeI2CBus([rtc], clock=clock))
    assert [(f.address, f.kind) for f in found] == [(0x68, "busy")]
    text = format_report(found, "i2c-1")
    assert "0x68  in use by a kernel driver" in text
    assert "Something that is not an IMU answers at 0x68: that is the clash in 3." in text
    # a plain NACK (nothing there) is still nothing
    rtc.inject_faults(1.0, errnos=(errno.EREMOTEIO,))
    assert scan(FakeI2CBus([rtc], clock=clock)) == []


# ------------------------------------------------------------------ the card filling up mid-run
def test_recording_stops_below_min_free_mb_before_the_card_is_full(tmp_path):
    # config/default.toml: "Stop recording (and cue recording_stopped) when the disk has less free
    # space than this". Before: min_free_mb was only a warning at start; the log grew until the
    # root file system (the Pi's system, its journal) was full
    import numpy as np

    from firmware_py.logs.cclog import read_cclog
    from firmware_py.recorder import Recorder

    mono = FakeClock()
    free = {"mb": 500.0}
    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    rec = Recorder(tmp_path, header, clock=mono, min_free_mb=200, free_mb=lambda d: free["mb"])
    assert not rec.low_disk
    raw = np.ones((100, 6), dtype=np.int16)
    for k in range(10):
        if k == 5:
            free["mb"] = 150.0  # something else filled the card
        rec.write(k + np.arange(100) / 100.0, raw)
        mono.advance(1.0)
    assert not rec.recording
    assert "less than 200 MB free" in rec.stopped_reason
    assert str(rec.path) in rec.stopped_reason
    rec.close()
    log = read_cclog(rec.path)
    # everything written before the check is kept, nothing after it
    assert log.n_samples == 600
    assert log.t_s[-1] == pytest.approx(5.99)


def test_run_passes_min_free_mb_and_cues_recording_stopped(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    from firmware_py import cli

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda d: usage(10**9, 10**9 - 10**6, 10**6))  # 1 MB
    args = ["run", "--bus", f"fake:{_csv(tmp_path)}", "--chip", "lsm6dso", "--fast"]
    rc = cli.main([*args, "--data-dir", str(tmp_path / "logs"), "--duration", "5"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "little free space" in err
    assert "recording_stopped" in out  # the device cue, in the summary line


# ------------------------------------------------------------------ SIGINT on a real-time run
def test_sigint_says_why_the_run_stopped_and_closes_the_log(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    logs = tmp_path / "logs"
    cmd = [sys.executable, "-m", "firmware_py.cli", "run", "--bus", f"fake:{_csv(tmp_path)}"]
    cmd += ["--chip", "icm42688", "--pins", "mock", "--data-dir", str(logs)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(logs.glob("*.cclog")):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "cadence-coach: stopped by SIGINT: log flushed and closed" in err
    assert "samples; log: " in out


def test_closing_a_log_on_a_nearly_full_card_is_not_a_recording_stop(tmp_path):
    import numpy as np

    from firmware_py.recorder import Recorder

    mono = FakeClock()
    free = {"mb": 500.0}
    header = {"sampling_rate_hz": 100.0, "acc_lsb_mps2": 0.001, "gyro_lsb_rads": 0.001}
    rec = Recorder(tmp_path, header, clock=mono, min_free_mb=200, free_mb=lambda d: free["mb"])
    rec.write(np.arange(50) / 100.0, np.ones((50, 6), dtype=np.int16))
    free["mb"] = 100.0  # the last block takes the card below the threshold as the run ends
    rec.close()
    assert rec.stopped_reason is None  # a clean end, no recording_stopped cue at shutdown


def test_run_says_a_stopped_recording_and_a_lost_sensor_in_the_journal(capsys):
    # before: only battery events reached stderr; a card that filled up mid-run (whose log cannot
    # say why it ends) and a lost sensor left nothing in the journal
    from firmware_py.run import CueListener

    listener = CueListener(None, SimpleNamespace(coach=None))
    listener.on_device("recording_stopped", 812.4, "recording stopped: disk full; samples up to ...")
    listener.on_device("sensor_lost", 900.0, "IMU not answering for 1.0 s: [Errno 121]")
    listener.on_device("sensor_back", 903.5, "IMU answering again after 3.5 s")
    listener.on_device("ready", 2.0, "gyro bias measured while still")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "cadence-coach: recording_stopped at 812.4 s: recording stopped: disk full; samples up to ...",
        "cadence-coach: sensor_lost at 900.0 s: IMU not answering for 1.0 s: [Errno 121]",
        "cadence-coach: sensor_back at 903.5 s: IMU answering again after 3.5 s",
    ]
