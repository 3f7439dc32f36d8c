"""Coaching on real recordings, through the same replay path users run."""

from __future__ import annotations

import numpy as np

from firmware_py.config import load_config
from firmware_py.logs import read_log
from firmware_py.replay import replay_recording
from tests.conftest import FIXTURES

JOG = FIXTURES / "harlab_treadmill_jog" / "S028_jog.csv"  # steady treadmill jog at ~162 steps/min


def _runner(tmp_path, cadence_spm, **coach):
    """A runner profile with a fixed baseline (no learning period)."""
    lines = [
        "[coach]",
        'baseline = "runner"',
        *(f"{k} = {v}" for k, v in coach.items()),
        "[runner]",
        "height_m = 1.75",
        f"baseline_cadence_spm = {cadence_spm}",
        "baseline_stride_length_m = 1.8",
        "[targets]",
        "stride_tolerance_pct = 40",
    ]
    path = tmp_path / "runner.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_config(path)


def _steady_cadence(result):
    cad = [e.cadence_spm for e in result.events if e.cadence_spm is not None and e.gait == "run"]
    return float(np.median(cad))


def test_runner_on_target_gets_no_cue(tmp_path):
    rec = read_log(JOG)
    probe = replay_recording(rec, config=_runner(tmp_path, 160))
    own = round(_steady_cadence(probe))
    result = replay_recording(rec, config=_runner(tmp_path, own))
    coaching = [c for c in result.cues if c.kind in ("quicken_steps", "shorten_stride", "hike", "run")]
    running = [e for e in result.events if e.gait == "run" and e.on_target is not None]
    assert len(running) > 100
    # the treadmill's start and stop aside, the runner is inside the band
    assert np.mean([e.on_target for e in running]) > 0.8
    assert [c for c in coaching if 15.0 < c.t_s < 65.0] == []


def test_sustained_off_target_cadence_is_cued_in_time_and_not_more(tmp_path):
    rec = read_log(JOG)
    cfg = _runner(tmp_path, 185, min_off_target_steps=12, min_off_target_s=8.0, repeat_s=20.0)
    result = replay_recording(rec, config=cfg)
    quicken = [c for c in result.cues if c.kind == "quicken_steps"]
    assert quicken, "a runner 20 steps/min under target must be told"
    # the first cue comes once the runner has been off target for 8 s and 12 steps, not before
    off = [e for e in result.events if e.on_target is False and e.gait == "run"]
    first_off = off[0].t_s
    assert 8.0 <= quicken[0].t_s - first_off <= 8.0 + 3.0
    # then at most one every repeat_s, escalating
    gaps = np.diff([c.t_s for c in quicken])
    assert np.all(gaps >= 20.0 - 1e-9)
    assert [c.level for c in quicken] == sorted(c.level for c in quicken)
    span = quicken[-1].t_s - quicken[0].t_s
    assert len(quicken) <= 1 + span // 20.0
    assert "below target 185" in quicken[0].reason
    assert "spm" in quicken[0].reason
