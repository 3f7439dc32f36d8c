"""Coaching on real recordings, through the same replay path users run."""

from __future__ import annotations

import itertools

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


def test_a_cue_the_runner_does_not_follow_backs_off_on_a_real_run(tmp_path):
    # The treadmill jog against a target of 185 steps/min: every running step is off target, so
    # the cue is never followed. With repeat_s = 5 s (so that the jog's minute shows the back-off),
    # the rule before the back-off (repeat_backoff = 1) said it 11 times, at 17.1, 22.3, 27.5, 32.6,
    # 37.8, 42.9, 48.1, 53.3, 58.5, 63.7, 68.9 s; with the back-off (2, the default) 5 times: at
    # 17.1, 22.3, 27.5 s (levels 1, 2, 3), then after waits of 10 and 20 s at 37.8 and 58.1 s.
    rec = read_log(JOG)
    before = replay_recording(rec, config=_runner(tmp_path, 185, repeat_s=5.0, repeat_backoff=1.0))
    after = replay_recording(rec, config=_runner(tmp_path, 185, repeat_s=5.0))
    assert after.cues != before.cues
    # the steps, their targets and verdicts do not change: only how often a cue is repeated
    for field in ("t_s", "cadence_spm", "gait", "target_cadence_spm", "target_stride_length_m", "on_target"):
        assert [getattr(e, field) for e in after.events] == [getattr(e, field) for e in before.events]
    running = [e.t_s for e in before.events if e.gait == "run"]
    assert all(e.on_target is False for e in before.events if e.gait == "run")
    step_s = max(b - a for a, b in itertools.pairwise(running))  # the longest step, s
    old = [c for c in before.cues if c.kind == "quicken_steps"]
    new = [c for c in after.cues if c.kind == "quicken_steps"]
    assert len(old) == len(before.cues)
    assert len(new) == len(after.cues)
    # before: a cue every repeat_s (each on the first step once 5 s have passed), to the jog's end
    for a, b in itertools.pairwise(old):
        assert 5.0 <= b.t_s - a.t_s < 5.0 + step_s
    assert running[-1] < old[-1].t_s + 5.0 + step_s
    # after: the same escalation (levels 1, 2, 3), then waits of 10, 20, 40 s ...
    assert new[:3] == old[:3]
    assert [c.level for c in new] == [1, 2, 3] + [3] * (len(new) - 3)
    waits = [5.0 * 2.0**k for k in range(1, len(new) - 2)]
    for (a, b), w in zip(itertools.pairwise(new[2:]), waits, strict=True):
        assert w <= b.t_s - a.t_s < w + step_s
    # ... until the jog ends before the next wait has passed
    assert running[-1] < new[-1].t_s + 5.0 * 2.0 ** (len(new) - 2)
    assert len(new) < len(old)


def test_a_runner_hovering_at_the_band_edge_on_a_real_run_stays_in_one_stretch(tmp_path):
    # A treadmill jog at ~167 steps/min against a target of 173 ± 5: the cadence hovers at the
    # band's edge, about 4 steps in 10 on target. settle_s = 0 (the rule before it): a few steps
    # back in the band ended the stretch and the next cue started again at level 1; with settle_s
    # (8 s) the runner is back on target only after 8 s there, and the second cue is the level-2
    # repeat of the first stretch.
    rec = read_log(FIXTURES / "harlab_treadmill_jog" / "S036_jog.csv")
    before = replay_recording(rec, config=_runner(tmp_path, 173, settle_s=0.0))
    cfg = _runner(tmp_path, 173)
    assert cfg.coach.settle_s == 8.0  # the default
    after = replay_recording(rec, config=cfg)
    # the steps, their targets and verdicts do not change: only when a stretch ends
    for field in ("t_s", "cadence_spm", "gait", "target_cadence_spm", "target_stride_length_m", "on_target"):
        assert [getattr(e, field) for e in after.events] == [getattr(e, field) for e in before.events]
    old = [c for c in before.cues if c.kind == "quicken_steps"]
    new = [c for c in after.cues if c.kind == "quicken_steps"]
    assert len(old) == len(before.cues)
    assert len(new) == len(after.cues)
    assert new[0] == old[0]  # before the first cue the steps alone end a stretch, as before
    assert [c.level for c in old] == [1, 1]
    assert [c.level for c in new] == [1, 2]
    assert new[1].t_s - new[0].t_s >= 20.0  # repeat_s
    # why, from the steps' verdicts: between the two cues every run of on-target steps is shorter
    # than settle_s (one stretch), and one of them is settle_steps (4) or more (two stretches then);
    # a step without a verdict (not running) is not off target either
    runs, cur = [], []
    for e in after.events:
        if not new[0].t_s < e.t_s < new[1].t_s:
            continue
        if e.on_target is not False:
            cur.append(e.t_s)
        elif cur:
            runs.append(cur)
            cur = []
    assert runs
    assert all(r[-1] - r[0] < 8.0 for r in runs)
    assert max(len(r) for r in runs) >= 4
