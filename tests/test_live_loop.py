"""The live loop on register-level fake chips: same steps as replay, faults survived, clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

from dsp import Pipeline
from firmware_py.cli import main
from firmware_py.clock import FakeClock
from firmware_py.config import load_config
from firmware_py.imu.detect import open_imu
from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
from firmware_py.logs import read_log
from firmware_py.loop import LiveLoop
from firmware_py.recorder import Recorder
from firmware_py.replay import replay_recording
from tests.conftest import FIXTURES, REPO

FOOT = FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv"


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(path)


@pytest.mark.parametrize("chip", sorted(FAKE_IMUS))
def test_run_on_each_fake_chip_matches_replay(chip, tmp_path, capsys):
    live_json, rep_json, relog_json = tmp_path / "live.json", tmp_path / "rep.json", tmp_path / "relog.json"
    args = ["run", "--bus", f"fake:{FOOT}", "--chip", chip, "--fast", "--json", str(live_json)]
    assert main([*args, "--data-dir", str(tmp_path / "logs")]) == 0
    assert main(["replay", str(FOOT), "--json", str(rep_json)]) == 0
    live = json.loads(live_json.read_text())["steps"]
    rep = json.loads(rep_json.read_text())["steps"]
    # the fake chip samples the recording at its own rate on its own clock (the driver's
    # timestamps follow the chip's rate estimate) and quantises it: the same contacts, each
    # within a few samples
    assert abs(len(live) - len(rep)) <= 1
    t_live = np.array([s["t"] for s in live])
    t_rep = np.array([s["t"] for s in rep])
    near = [np.min(np.abs(t_live - t)) for t in t_rep]
    assert np.mean(np.array(near) <= 0.02) >= 0.95
    # what the device decided live is exactly what a replay of its own log decides
    (log,) = (tmp_path / "logs").glob("*.cclog")
    assert main(["replay", str(log), "--placement", "foot", "--json", str(relog_json)]) == 0
    relog = json.loads(relog_json.read_text())["steps"]
    assert relog == live


def _fake_setup(tmp_path, clock, chip="lsm6dsox"):
    rec = _read(FOOT)
    source = SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    fake = FAKE_IMUS[chip](source=source, clock=clock, clock_error=1.01)
    bus = FakeI2CBus([fake], clock=clock)
    return rec, fake, bus


def _loop(tmp_path, clock, bus, fake, rate_hz=200.0):
    probe = open_imu(bus, "auto", sampling_rate_hz=rate_hz, accel_range_g=16, clock=clock)
    acc_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[:1])[0][0, 0])
    gyro_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[3:4])[1][0, 0])
    real_rate = probe.sampling_rate_hz
    probe.close()
    header = {
        "sampling_rate_hz": real_rate,
        "acc_lsb_mps2": acc_lsb,
        "gyro_lsb_rads": gyro_lsb,
        "placement": "foot",
    }
    recorder = Recorder(tmp_path / "logs", header, clock=clock)
    pipe = Pipeline(sampling_rate_hz=real_rate, placement="foot", has_gyro=True, placement_side="right")

    def open_driver():
        return open_imu(bus, "auto", sampling_rate_hz=rate_hz, accel_range_g=16, clock=clock)

    return LiveLoop(open_driver=open_driver, pipeline=pipe, recorder=recorder, clock=clock), recorder


class Listener:
    def __init__(self):
        self.device = []
        self.steps = 0

    def on_steps(self, events):
        self.steps += len(events)

    def on_device(self, kind, t_s, reason):
        self.device.append((kind, t_s, reason))


def test_faults_and_an_unplug_are_survived_and_marked_in_the_log(tmp_path):
    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock)
    loop, recorder = _loop(tmp_path, clock, bus, fake)
    listener = Listener()
    loop.listener = listener
    fake.inject_faults(0.01, seed=7)
    stop = threading.Event()

    # the loop runs on the fake clock in this thread; trigger the unplug from its own listener
    state = {"done": False}

    def on_steps(events):
        listener.steps += len(events)
        if not state["done"] and clock.monotonic() >= 15.0:
            state["done"] = True
            fake.unplug(5.0)

    listener.on_steps = on_steps
    report = loop.run(stop, duration_s=40.0)
    assert state["done"]
    assert report.faults >= 1
    assert report.restarts >= 1
    kinds = [k for k, _, _ in listener.device]
    assert kinds[0] == "ready"
    assert "sensor_lost" in kinds
    assert "sensor_back" in kinds
    # resumed within 2 s of the replug: the first sample after the gap
    unplug_gaps = [g for g in report.gaps if g[1] - g[0] > 4.0]
    assert unplug_gaps, report.gaps
    before, after, _ = unplug_gaps[0]
    assert after - before < 5.0 + 2.0 + 0.5
    # every sample the driver delivered is in the log, and the gap is marked there
    log = _read(recorder.path)
    assert log.n_samples == report.samples
    assert any(abs(a - before) < 1e-6 and abs(b - after) < 1e-6 for a, b in log.gaps)
    assert listener.steps > 20


def test_sigterm_flushes_and_closes_the_log(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "firmware_py.cli",
        "run",
        "--bus",
        f"fake:{FOOT}",
        "--chip",
        "mpu6050",
        "--data-dir",
        str(tmp_path / "logs"),
        "--json",
        str(tmp_path / "live.json"),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((tmp_path / "logs").glob("*.cclog")):
        time.sleep(0.1)
    time.sleep(3.0)  # real time: the fake chip fills its FIFO as a real one would
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    (log,) = (tmp_path / "logs").glob("*.cclog")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = read_log(log)
    assert not [w for w in caught if "cut" in str(w.message) or "truncat" in str(w.message)]
    assert got.n_samples > 200  # about 3 s at 200 Hz, all of it flushed
    assert got.gaps == []  # kernels are warmed up before the FIFO starts: no overflow at start
    assert json.loads((tmp_path / "live.json").read_text())["schema"] == "cadence-coach.replay/1"


def test_run_without_a_sensor_gives_the_fix(tmp_path, capsys):
    code = main(["run", "--bus", "fake?chip=none", "--placement", "foot", "--fast", "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err


def test_detect_names_the_chip(capsys):
    assert main(["detect", "--bus", "fake?chip=lsm6dso"]) == 0
    out = capsys.readouterr().out.lower()
    assert "lsm6dso" in out
    assert "0x6a" in out


def test_replay_of_a_live_log_subtracts_the_recorded_gyro_bias(tmp_path):
    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock)
    loop, recorder = _loop(tmp_path, clock, bus, fake)
    report = loop.run(threading.Event(), duration_s=30.0)
    log = _read(recorder.path)
    replayed = replay_recording(log, placement="foot").events
    assert [e.t_s for e in replayed] == [e.t_s for e in report.events]
    assert [e.cadence_spm for e in replayed] == [e.cadence_spm for e in report.events]


def _session(tmp_path, chip, minutes):
    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock, chip)
    loop, recorder = _loop(tmp_path, clock, bus, fake)
    report = loop.run(threading.Event(), duration_s=minutes * 60.0)
    log = _read(recorder.path)
    truth_t = fake.produced_t_s
    truth_raw = fake.produced_raw
    left_in_fifo = fake.fifo_samples
    return report, log, truth_t, truth_raw, left_in_fifo, recorder


def _check_session(report, log, truth_t, truth_raw, left_in_fifo, recorder):
    n = log.n_samples
    # every sample the chip produced is in the log (but those still in its FIFO when the run
    # ended), once, in order
    assert n == report.samples == len(truth_t) - left_in_fifo
    assert np.all(np.diff(log.t_s) > 0)
    scale = np.array([recorder_header(recorder)[k] for k in ("acc_lsb_mps2",) * 3 + ("gyro_lsb_rads",) * 3])
    np.testing.assert_allclose(
        np.hstack([log.acc_mps2, log.gyro_rads]), truth_raw[:n].astype(float) * scale, rtol=0, atol=1e-9
    )
    # timestamps: the chip runs 1 % fast; after the rate estimate settles, within 1 ms of truth
    settled = log.t_s > log.t_s[0] + 30.0
    err = np.abs(log.t_s[settled] - truth_t[:n][settled])
    assert err.max() < 1e-3
    assert report.gaps == []


def recorder_header(recorder):
    from firmware_py.logs.cclog import read_cclog_header

    return read_cclog_header(recorder.path)


@pytest.mark.parametrize("chip", sorted(FAKE_IMUS))
def test_five_minute_session_records_every_sample_once_on_time(chip, tmp_path):
    _check_session(*_session(tmp_path, chip, 5.0))


@pytest.mark.slow
@pytest.mark.parametrize("chip", sorted(FAKE_IMUS))
def test_sixty_minute_session_records_every_sample_once_on_time(chip, tmp_path):
    _check_session(*_session(tmp_path, chip, 60.0))


def test_a_sensor_that_never_comes_back_does_not_outlive_the_run(tmp_path):
    """On a simulated clock a run has a duration; recovery must not spin past it."""
    clock = FakeClock()
    _rec, fake, bus = _fake_setup(tmp_path, clock)
    loop, _recorder = _loop(tmp_path, clock, bus, fake)
    listener = Listener()
    loop.listener = listener
    state = {"done": False}

    def on_steps(events):
        if not state["done"] and clock.monotonic() >= 10.0:
            state["done"] = True
            fake.unplug()  # for good

    listener.on_steps = on_steps
    report = loop.run(threading.Event(), duration_s=20.0)
    assert state["done"]
    assert 20.0 <= clock.monotonic() < 21.0
    assert "sensor_lost" in [k for k, _, _ in listener.device]
    assert report.faults >= 1


def test_a_device_log_replays_with_the_configuration_it_was_recorded_with(tmp_path, capsys):
    # the device ran with the runner's own profile; a developer replays its log on a laptop
    # without that file: the log's header carries the configuration, so the same cues come out
    runner = tmp_path / "runner.toml"
    runner.write_text(
        '[coach]\nbaseline = "runner"\n[runner]\nbaseline_cadence_spm = 185\nbaseline_stride_length_m = 1.6\n'
    )
    live_json, relog_json = tmp_path / "live.json", tmp_path / "relog.json"
    args = ["run", "--bus", f"fake:{FOOT}", "--chip", "lsm6dsox", "--fast", "--config", str(runner)]
    assert main([*args, "--json", str(live_json), "--data-dir", str(tmp_path / "logs")]) == 0
    live = json.loads(live_json.read_text())
    assert live["cues"], "the runner profile must make this run cue, or the test shows nothing"
    (log,) = (tmp_path / "logs").glob("*.cclog")
    runner.unlink()  # the laptop does not have the device's file
    assert main(["replay", str(log), "--json", str(relog_json)]) == 0
    relog = json.loads(relog_json.read_text())
    assert relog["cues"] == live["cues"]
    assert relog["steps"] == live["steps"]
    # the built-in defaults (no baseline yet) would not have cued: the snapshot made the difference
    default = replay_recording(read_log(log), config=load_config())
    assert [c.kind for c in default.cues if c.kind == "quicken_steps"] == []


def test_a_recorded_configuration_this_version_cannot_read_falls_back_to_the_defaults(tmp_path):
    import dataclasses

    from firmware_py.exc import ConfigWarning
    from firmware_py.replay import recorded_config

    rec = read_log(FOOT)
    meta = {"config": {"coach": {"repeat_s": 20.0, "a_key_from_the_future": 1}}}
    rec = dataclasses.replace(rec, meta=meta)
    with pytest.warns(ConfigWarning, match="a_key_from_the_future"):
        assert recorded_config(rec) is None
    ok = dataclasses.replace(rec, meta={"config": {"coach": {"repeat_s": 20.0, "profile": "gentle"}}})
    cfg = recorded_config(ok)
    assert cfg.coach.repeat_s == 20.0
    assert cfg.coach.profile == "gentle"
