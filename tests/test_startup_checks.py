"""The device's start-up sensor checks act on what they find (issues #2, #4).

A gyroscope whose counts never move during the start-up window is dropped: the run goes on as a
sensor without one (a foot: limb mode, cadence coaching, no stride), the log says so and a replay
of the log takes the same decision. |a| standing still in the same window is measured, and more
than 2 % away from gravity is said once (a gain or offset error of the accelerometer).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from firmware_py.clock import FakeClock

DATA = Path(__file__).parents[1] / "firmware_py" / "data"
LOWBACK = Path(__file__).parent / "fixtures" / "harlab_treadmill_jog" / "S028_jog.csv"


def _read(path: Path):
    from firmware_py.logs import read_log

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(path)


def _events(log) -> list[dict]:
    return [e["event"] for e in log.meta["events"]]


def _foot_without_gyro(tmp_path: Path) -> Path:
    """The demo foot run with its gyroscope columns emptied: on a fake bus, a chip whose gyro is dead."""
    src = DATA / "demo_foot_run.csv"
    dst = tmp_path / "run.csv"
    rows = list(csv.reader(src.open()))
    with dst.open("w", newline="") as f:
        csv.writer(f).writerows([rows[0], *([*r[:4], "", "", ""] for r in rows[1:])])
    sidecar = json.loads(src.with_suffix(".json").read_text())
    sidecar["has_gyro"] = False
    dst.with_suffix(".json").write_text(json.dumps(sidecar))
    return dst


def _runner_config(tmp_path: Path, cadence_spm: float) -> Path:
    """A fixed baseline (no learning period), so that a short run is coached."""
    path = tmp_path / "runner.toml"
    path.write_text(f'[coach]\nbaseline = "runner"\n[runner]\nbaseline_cadence_spm = {cadence_spm}\n')
    return path


def _run(tmp_path: Path, bus: str, *extra: str) -> tuple[Path, dict]:
    from firmware_py import cli

    logs = tmp_path / "logs"
    live = tmp_path / "live.json"
    args = ["run", "--bus", bus, "--chip", "lsm6dso", "--fast", "--data-dir", str(logs), "--json", str(live)]
    assert cli.main([*args, *extra]) == 0
    (log_path,) = logs.glob("*.cclog")
    return log_path, json.loads(live.read_text())


def _replay_json(tmp_path: Path, log_path: Path) -> dict:
    from firmware_py import cli

    out = tmp_path / "replay.json"
    assert cli.main(["replay", str(log_path), "--json", str(out)]) == 0
    return json.loads(out.read_text())


# ------------------------------------------------------------------ part 1: a dead gyroscope
def test_a_foot_whose_gyroscope_is_dead_is_coached_from_its_accelerometer(tmp_path, capsys):
    # before: the dead gyro was fed to the foot detector, which found 0 steps: no coaching at all
    cfg = _runner_config(tmp_path, 185)  # the demo runs at ~164 steps/min: below the band
    log_path, live = _run(tmp_path, f"fake:{_foot_without_gyro(tmp_path)}", "--config", str(cfg))
    err = capsys.readouterr().err
    (line,) = [x for x in err.splitlines() if "gyro_constant" in x]
    assert "the run goes on without it: cadence coaching from the accelerometer alone" in line
    assert "lost: stride length, speed and distance" in line
    assert "fix: replace the sensor" in line
    assert live["has_gyro"] is False
    assert live["steps_feet"] == "one"  # limb mode: the instrumented foot's contacts, one per stride
    assert len(live["steps"]) >= 30  # ~30 s of running at ~82 strides/min
    cadence = [s["cadence_spm"] for s in live["steps"] if s["cadence_spm"] is not None]
    assert 150.0 < float(np.median(cadence)) < 180.0
    assert "quicken_steps" in [c["kind"] for c in live["cues"]]
    assert all(s["stride_length_m"] is None for s in live["steps"])
    assert live["summary"]["distance_m"] is None
    # the log keeps every raw sample (the gyroscope's counts too) and the decision
    log = _read(log_path)
    assert log.gyro_rads is not None
    assert not np.any(log.gyro_rads)
    kinds = [e["kind"] for e in _events(log)]
    assert "gyro_constant" in kinds
    assert kinds.count("gyro_dropped") == 1
    # replay == live
    again = _replay_json(tmp_path, log_path)
    assert "ran without it; replayed without it too" in capsys.readouterr().err
    assert again["has_gyro"] is False
    assert again["steps"] == live["steps"]
    assert again["cues"] == live["cues"]


def test_a_log_without_the_decision_replays_with_its_gyroscope_as_before(tmp_path):
    # a log from before the decision (gyro_constant, but no gyro_dropped): the device fed the dead
    # gyroscope on, and so must its replay
    from firmware_py.replay import replay_recording

    log_path, live = _run(tmp_path, f"fake:{_foot_without_gyro(tmp_path)}")
    log = _read(log_path)
    old_events = [e for e in log.meta["events"] if e["event"].get("kind") != "gyro_dropped"]
    old = dataclasses.replace(log, meta={**log.meta, "events": old_events})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_before = replay_recording(old)
        as_now = replay_recording(log)
    assert as_before.has_gyro is True
    assert as_before.events == []  # the foot detector finds nothing in a gyroscope at zero
    assert as_now.has_gyro is False
    assert len(as_now.events) == len(live["steps"])


def test_a_dead_gyroscope_at_the_lower_back_keeps_its_steps(tmp_path, capsys):
    from firmware_py.replay import replay_recording

    log_path, live = _run(tmp_path, f"fake:{LOWBACK}", "--placement", "lower_back", "--duration", "20")
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "gyro_constant" in x]
    assert "the lower-back detector does not need it" in line
    assert "wear it at the lower back" not in line
    assert "lost: the turn correction of the stride" in line
    assert live["has_gyro"] is False
    # the contacts are those the lower-back detector found with the dead gyroscope fed on (before):
    # the same log replayed without the decision
    log = _read(log_path)
    old_events = [e for e in log.meta["events"] if e["event"].get("kind") != "gyro_dropped"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = replay_recording(dataclasses.replace(log, meta={**log.meta, "events": old_events}))
    assert before.has_gyro is True
    assert len(live["steps"]) > 20
    assert [s["t"] for s in live["steps"]] == [round(e.t_s, 6) for e in before.events]
    again = _replay_json(tmp_path, log_path)
    assert again["steps"] == live["steps"]
    assert again["cues"] == live["cues"]


def test_a_dead_gyroscope_at_the_shank_runs_the_shank_detector(tmp_path, capsys):
    # a shank sensor without a gyroscope finds its own leg's heel strikes from the accelerometer,
    # one contact per stride (the shank detector), as a pipeline built without one does
    bus = f"fake:{_foot_without_gyro(tmp_path)}"
    log_path, live = _run(tmp_path, bus, "--placement", "shank", "--duration", "30")
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "gyro_constant" in x]
    assert "one contact per stride" in line
    assert "lost: the terrain classifier" in line
    assert live["has_gyro"] is False
    assert live["steps_feet"] == "one"
    assert len(live["steps"]) > 10
    again = _replay_json(tmp_path, log_path)
    assert again["steps"] == live["steps"]
    assert again["cues"] == live["cues"]


def test_a_live_gyroscope_is_kept(tmp_path, capsys):
    src = tmp_path / "run.csv"
    shutil.copy(DATA / "demo_foot_run.csv", src)
    shutil.copy(DATA / "demo_foot_run.json", src.with_suffix(".json"))
    log_path, live = _run(tmp_path, f"fake:{src}", "--duration", "10")
    assert "gyro_constant" not in capsys.readouterr().err
    assert live["has_gyro"] is True
    assert "gyro_dropped" not in [e["kind"] for e in _events(_read(log_path))]


def test_drop_gyro_builds_what_a_pipeline_without_gyro_is_and_only_before_the_first_block():
    from dsp import ValidationError
    from dsp.pipeline import Pipeline

    rec = _read(DATA / "demo_foot_run.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dropped = Pipeline(sampling_rate_hz=rec.sampling_rate_hz, placement="foot", has_gyro=True)
        dropped.drop_gyro()
        built = Pipeline(sampling_rate_hz=rec.sampling_rate_hz, placement="foot", has_gyro=False)
    assert dropped.stride is None
    assert not dropped.steps.has_gyro
    a = dropped.process(rec.t_s, rec.acc_mps2).steps
    b = built.process(rec.t_s, rec.acc_mps2).steps
    assert len(a) > 20
    assert a == b
    with pytest.raises(ValidationError, match="before the first block"):
        dropped.drop_gyro()


# ------------------------------------------------------------------ part 2: |a| at rest
@pytest.mark.parametrize(("gain", "said"), [(1.04, "4.0 % above"), (0.96, "4.0 % below"), (1.0, None)])
def test_an_accelerometer_gain_error_is_said_once_at_start(tmp_path, capsys, gain, said):
    # the fake chip stands still, z up, and its accelerometer reads `gain` times what it feels
    log_path, live = _run(tmp_path, f"fake?accel_gain={gain}", "--placement", "lower_back", "--duration", "5")
    lines = [x for x in capsys.readouterr().err.splitlines() if "rest_gravity_off" in x]
    events = _events(_read(log_path))
    (bias,) = [e for e in events if e["kind"] == "gyro_bias"]
    assert bias["rest_gravity_mps2"] == pytest.approx(9.80665 * gain, rel=1e-3)
    assert live["summary"]["rest_gravity_mps2"] == round(bias["rest_gravity_mps2"], 3)
    warned = [e for e in events if e["kind"] == "rest_gravity_off"]
    if said is None:
        assert lines == []
        assert warned == []
        return
    (line,) = lines
    assert said in line
    assert "stride length and distance may read about 4 %" in line
    assert "re-calibrate" in line
    assert "cadence-coach calibrate" in line
    (ev,) = warned
    assert ev["rest_gravity_mps2"] == pytest.approx(9.80665 * gain, rel=1e-3)
    # the replay of the log reports the device's figure and says the same
    from firmware_py.exc import SensorWarning
    from firmware_py.replay import replay_recording, summarize

    with pytest.warns(SensorWarning, match=said):
        result = replay_recording(_read(log_path))
    assert summarize(result)["rest_gravity_mps2"] == live["summary"]["rest_gravity_mps2"]


def test_the_rest_gravity_threshold_is_2_percent_of_standard_gravity():
    from firmware_py.loop import rest_gravity_warning

    g = 9.80665
    assert rest_gravity_warning(g * 1.019) is None
    assert rest_gravity_warning(g * 0.981) is None
    assert "2.1 % above" in rest_gravity_warning(g * 1.021)
    assert "2.1 % below" in rest_gravity_warning(g * 0.979)
    assert rest_gravity_warning(None) is None
    assert rest_gravity_warning(float("nan")) is None


def test_rest_gravity_is_measured_only_standing_still():
    from firmware_py.loop import LoopSettings, rest_gravity_if_still

    rng = np.random.default_rng(1)
    n = 400
    acc = np.tile([0.0, 0.0, 10.2], (n, 1)) + rng.normal(0.0, 0.03, (n, 3))
    gyro = rng.normal(0.0, 0.01, (n, 3))
    assert rest_gravity_if_still(acc, gyro, LoopSettings()) == pytest.approx(10.2, rel=1e-3)
    walking = acc.copy()
    walking[:, 2] += 3.0 * np.sin(np.arange(n) / 200.0 * 2.0 * np.pi * 1.8)
    assert rest_gravity_if_still(walking, gyro, LoopSettings()) is None
    turning = gyro + np.array([0.0, 0.0, 1.0])
    turning[::2] -= 2.0 * np.array([0.0, 0.0, 1.0])
    assert rest_gravity_if_still(acc, turning, LoopSettings()) is None


def test_a_csv_replay_measures_rest_gravity_over_its_first_window(tmp_path):
    # a recording that is not a device log: measured as the device would, over its first 2 s
    from firmware_py.logs.recording import Recording
    from firmware_py.replay import rest_gravity_mps2

    fs = 100.0
    t = np.arange(1000) / fs
    acc = np.tile([0.0, 0.0, 9.80665 * 1.03], (t.size, 1))
    acc[250:, 2] += 4.0 * np.sin(2.0 * np.pi * 1.5 * t[250:])  # walking after 2.5 s
    rec = Recording("x.csv", t, acc, np.zeros_like(acc), fs, placement="lower_back")
    assert rest_gravity_mps2(rec) == pytest.approx(9.80665 * 1.03)
    moving = Recording("y.csv", t[250:], acc[250:], np.zeros_like(acc[250:]), fs, placement="lower_back")
    assert rest_gravity_mps2(moving) is None


def test_the_fake_accelerometer_gain_scales_its_counts_only():
    from firmware_py.bus import open_bus
    from firmware_py.imu.detect import open_imu

    got = {}
    for gain in (1.0, 1.04):
        clock = FakeClock()
        bus = open_bus(f"fake?chip=lsm6dso&accel_gain={gain}", clock=clock)
        imu = open_imu(bus, "lsm6dso", clock=clock, sampling_rate_hz=104.0)
        clock.advance(0.5)
        batch = imu.read_fifo()
        got[gain] = batch
    assert np.linalg.norm(got[1.0].acc_mps2, axis=1).mean() == pytest.approx(9.80665, rel=1e-3)
    assert np.linalg.norm(got[1.04].acc_mps2, axis=1).mean() == pytest.approx(9.80665 * 1.04, rel=1e-3)
    np.testing.assert_array_equal(got[1.04].gyro_rads, got[1.0].gyro_rads)
    from firmware_py.exc import ConfigError

    with pytest.raises(ConfigError, match="accel_gain"):
        open_bus("fake?accel_gain=0", clock=FakeClock())
