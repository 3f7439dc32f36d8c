"""The coach: targets, baseline, cue policy, hiking, device events (pure, no hardware, no clock)."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp.coach import (
    CUE_KINDS,
    TOBLER_FLAT_SPEED_MPS,
    Baseline,
    Coach,
    CoachSettings,
    CueEvent,
    StepInput,
    TerrainTargets,
    speed_mps,
    tobler_speed_mps,
)
from dsp.exc import ValidationError
from dsp.pipeline import StepEvent

BASE = Baseline(cadence_spm=170.0, stride_length_m=2.2)


def run(coach, t0_s, duration_s, cadence_spm, stride_m=None, **kw):
    """Feed steps at ``cadence_spm`` for ``duration_s``; return (cues, time after the last step)."""
    cues = []
    dt = 60.0 / cadence_spm
    n = int(duration_s / dt)
    for i in range(n):
        t = t0_s + i * dt
        cues += coach.update(StepInput(t_s=t, cadence_spm=cadence_spm, stride_length_m=stride_m, **kw))
    return cues, t0_s + n * dt


def coaching(cues):
    return [c for c in cues if c.kind != "terrain_changed"]


# ---------------------------------------------------------------------------------------- targets
def test_smooth_targets_are_the_baseline():
    tg = Coach(CoachSettings(), BASE).targets("smooth")
    assert tg.cadence_spm == 170.0
    assert tg.stride_length_m == 2.2
    assert tg.stride_tolerance_m == pytest.approx(2.2 * 0.08)
    assert not tg.cadence_clamped


def test_technical_targets_are_clamped_at_the_ceiling():
    coach = Coach(CoachSettings(), BASE)
    tg = coach.targets("technical")
    # 2.0 × 170 = 340 steps/min is not runnable: the physiological ceiling (230) holds.
    assert tg.cadence_spm == 230.0
    assert tg.cadence_clamped
    assert tg.stride_length_m == pytest.approx(1.1)
    low = Coach(CoachSettings(cadence_ceiling_spm=210.0), BASE).targets("technical")
    assert low.cadence_spm == 210.0


def test_floor_and_stride_floor():
    s = CoachSettings(technical=TerrainTargets(1.05, 0.1), cadence_floor_spm=150.0, stride_floor_m=0.6)
    tg = Coach(s, Baseline(130.0, 2.0)).targets("technical")
    assert tg.cadence_spm == 150.0  # 136.5 raised to the floor
    assert tg.stride_length_m == 0.6  # 0.2 raised to the stride floor


def test_no_targets_while_learning():
    tg = Coach(CoachSettings(), None).targets("technical")
    assert tg.cadence_spm is None
    assert tg.stride_length_m is None


# ----------------------------------------------------------------------------------------- policy
def test_on_target_stream_gives_no_cues(rng):
    coach = Coach(CoachSettings(), BASE)
    cues = []
    t = 0.0
    for i in range(1500):
        technical = (i // 300) % 2 == 1
        target_c, target_s = (230.0, 1.1) if technical else (170.0, 2.2)
        c = target_c + rng.uniform(-4.5, 4.5)
        s = target_s * (1 + rng.uniform(-0.07, 0.07))
        cues += coach.update(
            StepInput(t, c, s, "run", "technical" if technical else "smooth", "flat", rng.uniform(-3, 3))
        )
        t += 60.0 / c
    assert coaching(cues) == []
    # The terrain changes are announced (4 of them), nothing else.
    assert [c.kind for c in cues] == ["terrain_changed"] * 4


def test_sustained_off_target_cues_after_the_delay_and_no_more_often_than_allowed():
    s = CoachSettings(repeat_backoff=1.0)  # every repeat_s, the rule before the back-off
    coach = Coach(s, BASE)
    cues, _ = run(coach, 100.0, 120.0, 200.0, 1.1, terrain="technical")
    assert [c.kind for c in cues] == ["quicken_steps"] * 6
    first = cues[0]
    dt = 60.0 / 200.0
    assert s.min_off_target_s <= first.t_s - 100.0 < s.min_off_target_s + dt
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(cues)]
    assert all(s.repeat_s <= g < s.repeat_s + dt for g in gaps)
    assert len(cues) <= 1 + math.floor((120.0 - s.min_off_target_s) / s.repeat_s)


def test_the_step_count_also_has_to_be_reached():
    # 12 steps at 60 steps/min take 11 s: the step rule, not the 8 s rule, decides.
    coach = Coach(CoachSettings(min_off_target_steps=12), Baseline(170.0, 2.2))
    cues = []
    for i in range(20):
        cues += coach.update(StepInput(float(i), 100.0, 1.0, "run", "smooth"))
    assert cues[0].t_s == 11.0
    assert "for 12 steps / 11.0 s" in cues[0].reason


def test_escalation_levels():
    coach = Coach(CoachSettings(repeat_backoff=1.0), BASE)
    cues, _ = run(coach, 0.0, 100.0, 200.0, 1.1, terrain="technical")
    assert [c.level for c in cues] == [1, 2, 3, 3, 3]
    coach = Coach(CoachSettings(max_level=2, repeat_backoff=1.0), BASE)
    cues, _ = run(coach, 0.0, 100.0, 200.0, 1.1, terrain="technical")
    assert [c.level for c in cues] == [1, 2, 2, 2, 2]
    # with the back-off (default): 8, 28 (level 2, the last), 68 s; the next would be at 148 s
    coach = Coach(CoachSettings(max_level=2), BASE)
    cues, _ = run(coach, 0.0, 100.0, 200.0, 1.1, terrain="technical")
    assert [c.level for c in cues] == [1, 2, 2]


# ---------------------------------------------------------------------------- back-off of repeats
def _waits(s):
    """The least waits after cues 1, 2, ... of a stretch, from the rule in docs/cues.md.

    ``repeat_s`` while the cues escalate; from the cue at ``max_level`` on, each wait is
    ``repeat_backoff`` times the one before, at most ``max_repeat_s``.
    """
    w = s.repeat_s
    for k in itertools.count(1):
        if k >= s.max_level:
            w = min(w * s.repeat_backoff, s.max_repeat_s)
        yield w


def test_the_worked_example_of_the_docs():
    # docs/cues.md: a runner who stays 10 steps/min below target hears the cue at 8, 28, 48 s
    # (levels 1, 2, 3), then 88, 168, 328 s (waits of 40, 80, 160 s), then at most every 300 s.
    # Steps every 0.375 s (160 spm against 170): each cue comes on the first step once its wait
    # has passed, so it may come up to one step late, and the next wait counts from it.
    s = CoachSettings()
    assert (s.repeat_backoff, s.max_repeat_s) == (2.0, 300.0)
    coach = Coach(s, BASE)
    cues, _ = run(coach, 0.0, 1250.0, 160.0, 2.2)
    dt = 0.375
    times = [c.t_s for c in cues]
    assert [c.kind for c in cues] == ["quicken_steps"] * 9
    assert [c.level for c in cues] == [1, 2, 3, 3, 3, 3, 3, 3, 3]
    nominal = [8.0, 28.0, 48.0, 88.0, 168.0, 328.0, 628.0, 928.0, 1228.0]
    for k, (t, t_nom) in enumerate(zip(times, nominal, strict=True)):
        assert t_nom <= t < t_nom + (k + 1) * dt  # each cue at most one step late
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for g, w in zip(gaps, [20.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0], strict=True):
        assert w <= g < w + dt
    # the first two minutes: four cues, not six as with a repeat every 20 s
    assert sum(t < 120.0 for t in times) == 4


def test_the_gentle_profile_backs_off_after_its_last_level():
    # gentle: 20 steps and 15 s before a cue, repeats every 45 s, escalates once (max_level 2):
    # cues at 15, 60 (level 2), then waits of 90, 180, 300 s: 150, 330, 630 s
    s = CoachSettings(min_off_target_steps=20, min_off_target_s=15.0, repeat_s=45.0, max_level=2)
    cues, _ = run(Coach(s, BASE), 0.0, 700.0, 160.0, 2.2)
    assert [c.level for c in cues] == [1, 2, 2, 2, 2]
    for t, t_nom in zip([c.t_s for c in cues], [15.0, 60.0, 150.0, 330.0, 630.0], strict=True):
        assert t_nom <= t < t_nom + 5 * 0.375


def test_repeat_backoff_one_gives_a_cue_every_repeat_s_as_before():
    # the rule before the back-off, for an hour off target: steps every 0.375 s from 0 (exact in
    # binary), each cue on the first step once its wait has passed: the first at 22 × 0.375 =
    # 8.25 s (8 s), then every 54 steps = 20.25 s (20 s); the last step is at 3599.625 s
    s = CoachSettings(repeat_backoff=1.0)
    cues, _ = run(Coach(s, BASE), 0.0, 3600.0, 160.0, 2.2)
    expected = [8.25 + 20.25 * k for k in range(178)]
    assert expected[-1] <= 3599.625 < expected[-1] + 20.25
    assert [c.t_s for c in cues] == expected
    assert [c.level for c in cues] == [1, 2] + [3] * 176
    # the same hour with the back-off (default): 8, 28, 48, 88, 168, 328 s, then every 300 s
    backed_off, _ = run(Coach(CoachSettings(), BASE), 0.0, 3600.0, 160.0, 2.2)
    assert len(backed_off) == 6 + math.floor((3600.0 - 328.0) / 300.0)  # 16


def test_the_back_off_starts_afresh_with_every_new_stretch():
    # a new stretch (after a settle, a pause or a change of terrain) starts at level 1 with repeat_s
    s = CoachSettings()
    for between in ("settle", "pause", "terrain"):
        coach = Coach(s, BASE)
        first, t = run(coach, 0.0, 200.0, 160.0, 2.2)  # 8, 28, 48, 88, 168 s
        assert [c.level for c in first] == [1, 2, 3, 3, 3], between
        if between == "settle":
            quiet, t = run(coach, t, 10.0, 170.0, 2.2)  # on target: 28 steps >= settle_steps
            assert quiet == []
        elif between == "pause":
            t += s.gap_reset_s + 1.0
        else:
            quiet, t = run(coach, t, 10.0, 230.0, 1.1, terrain="technical")  # on its targets
            assert [c.kind for c in quiet] == ["terrain_changed"]
            t += 0.0
        again, _ = run(coach, t, 200.0, 160.0, 2.2)
        again = coaching(again)
        assert [c.level for c in again] == [1, 2, 3, 3, 3], between
        gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(again)]
        for g, w in zip(gaps, [20.0, 20.0, 40.0, 80.0], strict=True):
            assert w <= g < w + 0.375, between


def test_a_blip_shorter_than_settle_steps_does_not_reset_the_back_off():
    s = CoachSettings(settle_steps=4)
    coach = Coach(s, BASE)
    first, t = run(coach, 0.0, 100.0, 160.0, 2.2)  # 8, 28, 48, 88 s; the next is due at 168 s
    assert len(first) == 4
    blip, t = run(coach, t, 3 * 0.375, 170.0, 2.2)  # three steps on target
    rest, _ = run(coach, t, 100.0, 160.0, 2.2)
    assert blip == []
    assert [c.level for c in rest] == [3]
    assert 168.0 <= rest[0].t_s < 168.0 + 0.375 * 5


def test_back_on_target_silences_and_restarts_the_count():
    s = CoachSettings()
    coach = Coach(s, BASE)
    cues, t = run(coach, 0.0, 20.0, 200.0, 1.1, terrain="technical")
    assert [c.level for c in cues] == [1]
    quiet, t = run(coach, t, 60.0, 230.0, 1.1, terrain="technical")
    assert coaching(quiet) == []
    again, _ = run(coach, t, 20.0, 200.0, 1.1, terrain="technical")
    assert [c.level for c in again] == [1]  # a new stretch starts again at level 1
    assert s.min_off_target_s <= again[0].t_s - t < s.min_off_target_s + 0.3


def test_a_short_blip_on_target_does_not_reset_the_stretch():
    s = CoachSettings(settle_steps=4)
    coach = Coach(s, BASE)
    cues = []
    t = 0.0
    for i in range(40):
        c = 230.0 if i in (10, 11, 12) else 200.0  # three on-target steps: fewer than settle_steps
        cues += coach.update(StepInput(t, c, 1.1, "run", "technical"))
        t += 0.3
    assert [c.kind for c in cues] == ["quicken_steps"]
    assert cues[0].t_s == pytest.approx(8.1)


# ------------------------------------------------------------------------ settling back on target
# Rule 3 of docs/cues.md: a stretch ends after settle_steps consecutive on-target steps; once it
# has been cued, only after settle_steps AND settle_s seconds on target (from the first of them).
OFF_SPM, ON_SPM = 160.0, 170.0  # against BASE: 170 ± 5 steps/min; strides on target


def feed(coach, runs, t0_s=0.0):
    """Feed runs of ``(cadence_spm, n_steps)``, one step every 60 / cadence s; return (cues, t)."""
    cues, t = [], t0_s
    for cadence, n in runs:
        for _ in range(n):
            cues += coach.update(StepInput(t, cadence, 2.2, "run", "smooth"))
            t += 60.0 / cadence
    return cues, t


def _reference_cues(runs, s):
    """The cues of rules 1-4 for one channel on one terrain, slow and obvious: [(t_s, level)]."""
    out, t, last_any = [], 0.0, -math.inf
    stretch = None
    for cadence, n in runs:
        off = cadence < BASE.cadence_spm - s.cadence_tolerance_spm
        for _ in range(n):
            if not off:
                if stretch is not None:
                    if stretch["n_on"] == 0:
                        stretch["t_on"] = t
                    stretch["n_on"] += 1
                    need_s = s.settle_s if stretch["cues"] > 0 else 0.0
                    if stretch["n_on"] >= s.settle_steps and t - stretch["t_on"] >= need_s:
                        stretch = None
            else:
                if stretch is None:
                    stretch = {
                        "t0": t,
                        "n_off": 0,
                        "n_on": 0,
                        "cues": 0,
                        "last": -math.inf,
                        "wait": s.repeat_s,
                    }
                stretch["n_off"] += 1
                stretch["n_on"] = 0
                due = stretch["n_off"] >= s.min_off_target_steps and t - stretch["t0"] >= s.min_off_target_s
                if due and t - stretch["last"] >= stretch["wait"] and t - last_any >= s.min_cue_gap_s:
                    stretch["cues"] += 1
                    level = min(stretch["cues"], s.max_level)
                    if level == s.max_level:
                        stretch["wait"] = min(stretch["wait"] * s.repeat_backoff, s.max_repeat_s)
                    stretch["last"] = last_any = t
                    out.append((t, level))
            t += 60.0 / cadence
    return out


def _hovering(rng, seconds, blip_steps=(4, 20)):
    """Off target (160) for 5-40 s at a time, back in the band (170) for a few steps between.

    Blips of 4-20 steps at 170 steps/min last at most 19 × 0.353 = 6.7 s from their first step
    to their last: at least settle_steps (4), shorter than settle_s (8 s).
    """
    runs, t = [], 0.0
    while t < seconds:
        n_off = int(rng.integers(14, 107))  # 5-40 s at 0.375 s a step
        n_on = int(rng.integers(blip_steps[0], blip_steps[1] + 1))
        runs += [(OFF_SPM, n_off), (ON_SPM, n_on)]
        t += n_off * 60.0 / OFF_SPM + n_on * 60.0 / ON_SPM
    return runs


def test_a_runner_hovering_at_the_edge_gets_the_backed_off_cues_of_one_stretch(rng):
    s = CoachSettings()
    assert (s.settle_steps, s.settle_s) == (4, 8.0)
    runs = _hovering(rng, 1200.0)
    cues, _ = feed(Coach(s, BASE), runs)
    # one stretch: cues at 8, 28, 48 (levels 1, 2, 3), then waits of 40, 80, 160, 300, 300 s
    assert [c.level for c in cues] == [1, 2, 3, 3, 3, 3, 3, 3]
    assert 8.0 <= cues[0].t_s < 8.0 + 0.375
    # a repeat comes on the first off-target step once its wait has passed: at most one blip
    # (6.7 s) and a step late
    late_s = 19 * 60.0 / ON_SPM + 60.0 / OFF_SPM
    for (a, b), w in zip(
        itertools.pairwise(cues), [20.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0], strict=True
    ):
        assert w <= b.t_s - a.t_s < w + late_s
    # the rule before settle_s (settle_s = 0): every blip of 4 steps or more ended the stretch,
    # and every off-target run of at least 8 s (23 steps at 0.375 s) began with a level-1 cue
    today, _ = feed(Coach(CoachSettings(settle_s=0.0), BASE), runs)
    n_long = sum(1 for c, n in runs if c == OFF_SPM and n >= 23)
    assert [c.level for c in today].count(1) == n_long > 20
    assert len(today) > 3 * len(cues)


def test_back_on_target_for_settle_s_ends_the_stretch_and_the_next_starts_at_level_1():
    s = CoachSettings()
    # back in the band at 240 steps/min: a step every 0.25 s, exact in binary as the 0.375 s of
    # 160 steps/min are, so the 33rd step comes exactly settle_s (8 s) after the first
    on_spm = 240.0
    for n_on, ended in ((33, True), (32, False), (5, False)):
        coach = Coach(s, BASE)
        first, t = feed(coach, [(OFF_SPM, 140)])  # 52.5 s: cues at 8, 28, 48 s
        assert [c.level for c in first] == [1, 2, 3]
        assert ((n_on - 1) * 60.0 / on_spm >= s.settle_s) == ended
        quiet, t_back = feed(coach, [(on_spm, n_on)], t)
        again, _ = feed(coach, [(OFF_SPM, 300)], t_back)
        assert quiet == []
        if ended:  # a new stretch: level 1 once rule 1's delay has passed again
            assert [c.level for c in again][:3] == [1, 2, 3]
            assert s.min_off_target_s <= again[0].t_s - t_back < s.min_off_target_s + 0.375
        else:  # the same stretch: its next repeat at level 3, 40 s after the one at 48 s
            assert again[0].level == 3
            assert first[-1].t_s + 40.0 <= again[0].t_s < first[-1].t_s + 40.0 + 0.375


def test_before_the_first_cue_settle_steps_alone_end_a_stretch():
    # rule 1 is unchanged: off target for 5.6 s at a time (15 steps), back in the band for 5
    # steps (1.4 s) between: each stretch ends before it has lasted min_off_target_s, no cue.
    # (With settle_s before the first cue, the off-target steps of a runner mostly on target
    # would be gathered into one stretch and cued.)
    cues, _ = feed(Coach(CoachSettings(), BASE), [(OFF_SPM, 15), (ON_SPM, 5)] * 60)
    assert cues == []


@settings(max_examples=80, deadline=None)
@given(
    runs=st.lists(
        st.tuples(st.sampled_from([150.0, 162.0, 164.9, 165.0, 168.0, 190.0]), st.integers(1, 60)),
        min_size=1,
        max_size=40,
    ),
    settle_steps=st.integers(1, 8),
    settle_s=st.sampled_from([0.0, 0.5, 3.0, 8.0, 20.0]),
    n_steps=st.integers(1, 30),
    min_s=st.floats(0.0, 20.0),
    repeat_s=st.floats(1.0, 60.0),
    max_level=st.integers(1, 3),
    backoff=st.floats(1.0, 4.0),
    min_gap_s=st.floats(0.0, 5.0),
)
def test_the_cues_of_any_stream_follow_the_rules(
    runs, settle_steps, settle_s, n_steps, min_s, repeat_s, max_level, backoff, min_gap_s
):
    s = CoachSettings(
        settle_steps=settle_steps,
        settle_s=settle_s,
        min_off_target_steps=n_steps,
        min_off_target_s=min_s,
        repeat_s=repeat_s,
        max_level=max_level,
        repeat_backoff=backoff,
        max_repeat_s=repeat_s * 5.0,
        min_cue_gap_s=min_gap_s,
    )
    cues, _ = feed(Coach(s, BASE), runs)
    assert [(c.t_s, c.level) for c in cues] == _reference_cues(runs, s)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    seconds=st.floats(30.0, 2000.0),
    repeat_s=st.floats(1.0, 60.0),
    max_level=st.integers(1, 3),
    backoff=st.floats(1.0, 4.0),
    max_repeat_extra_s=st.floats(0.0, 600.0),
)
def test_the_number_of_cues_of_a_hovering_runner_is_bounded_by_the_back_off(
    seed, seconds, repeat_s, max_level, backoff, max_repeat_extra_s
):
    # the bound of one stretch (test_the_number_of_cues_in_a_stretch_of_any_length_is_bounded_by_the_back_off)
    # holds for a runner back in the band now and then for less than settle_s: it is one stretch
    s = CoachSettings(
        repeat_s=repeat_s,
        max_level=max_level,
        repeat_backoff=backoff,
        max_repeat_s=repeat_s + max_repeat_extra_s,
        min_cue_gap_s=0.0,
    )
    runs = _hovering(np.random.default_rng(seed), seconds)
    cues, t_end = feed(Coach(s, BASE), runs)
    for (a, b), w in zip(itertools.pairwise(cues), _waits(s), strict=False):
        assert b.t_s - a.t_s >= w * (1 - 1e-12)
    bound, t = 0, s.min_off_target_s
    for w in _waits(s):
        if t > t_end:
            break
        bound += 1
        t += w
    assert len(cues) <= bound
    assert [c.level for c in cues] == [min(i + 1, max_level) for i in range(len(cues))]


def test_stride_cue_when_cadence_is_on_target():
    coach = Coach(CoachSettings(), BASE)
    cues, _ = run(coach, 0.0, 12.0, 230.0, 1.6, terrain="technical")
    assert [c.kind for c in cues] == ["shorten_stride"]
    assert re.fullmatch(
        r"stride 1\.60 m above target 1\.10±0\.09 m for \d+ steps / \d+\.\d s on technical ground",
        cues[0].reason,
    )


def test_reason_carries_the_numbers():
    coach = Coach(CoachSettings(), BASE)
    cues, _ = run(coach, 0.0, 10.0, 200.0, 1.1, terrain="technical")
    assert re.fullmatch(
        r"cadence 200 spm below target 230±5 spm for 28 steps / 8\.1 s on technical ground", cues[0].reason
    )
    assert cues[0].target_cadence_spm == 230.0
    assert cues[0].terrain == "technical"


def test_metronome_plays_k_beats_at_the_target_cadence():
    coach = Coach(CoachSettings(metronome_beats=6), BASE)
    cues, _ = run(coach, 0.0, 10.0, 200.0, 1.1, terrain="technical")
    assert cues[0].metronome_beats == 6
    assert cues[0].metronome_interval_s == pytest.approx(60.0 / 230.0)
    off = Coach(CoachSettings(), BASE)
    cues, _ = run(off, 0.0, 10.0, 200.0, 1.1, terrain="technical")
    assert cues[0].metronome_beats == 0
    assert cues[0].metronome_interval_s is None


def test_walking_is_not_coached_for_cadence():
    coach = Coach(CoachSettings(), BASE)
    cues, _ = run(coach, 0.0, 60.0, 110.0, 1.3, gait="walk", terrain="technical")
    assert cues == []


def test_a_pause_restarts_the_count():
    coach = Coach(CoachSettings(gap_reset_s=5.0), BASE)
    a, _ = run(coach, 0.0, 7.0, 200.0, 1.1, terrain="technical")
    b, _ = run(coach, 20.0, 7.0, 200.0, 1.1, terrain="technical")
    assert a == []
    assert b == []  # 7 s + 7 s off target, but separated by a 13 s pause


@settings(max_examples=40, deadline=None)
@given(
    off_s=st.floats(1.0, 200.0),
    cadence=st.floats(150.0, 224.0),
    n_steps=st.integers(1, 30),
    min_s=st.floats(0.0, 20.0),
    repeat_s=st.floats(1.0, 60.0),
)
def test_policy_bounds_hold_for_any_off_target_stretch(off_s, cadence, n_steps, min_s, repeat_s):
    # repeat_backoff = 1: a repeat every repeat_s (the rule before the back-off)
    s = CoachSettings(
        min_off_target_steps=n_steps,
        min_off_target_s=min_s,
        repeat_s=repeat_s,
        min_cue_gap_s=0.0,
        repeat_backoff=1.0,
    )
    coach = Coach(s, BASE)
    cues, _ = run(coach, 0.0, off_s, cadence, 1.1, terrain="technical")
    dt = 60.0 / cadence
    if cues:
        assert cues[0].t_s >= min_s
        assert cues[0].t_s >= (n_steps - 1) * dt - 1e-9
    assert len(cues) <= 1 + max(0.0, off_s - min_s) // repeat_s
    for a, b in itertools.pairwise(cues):
        assert b.t_s - a.t_s >= repeat_s
    assert [c.level for c in cues] == [min(i + 1, s.max_level) for i in range(len(cues))]


@settings(max_examples=60, deadline=None)
@given(
    off_s=st.floats(1.0, 4000.0),
    cadence=st.floats(150.0, 224.0),
    n_steps=st.integers(1, 30),
    min_s=st.floats(0.0, 20.0),
    repeat_s=st.floats(1.0, 60.0),
    max_level=st.integers(1, 3),
    backoff=st.floats(1.0, 4.0),
    max_repeat_extra_s=st.floats(0.0, 600.0),
)
def test_the_number_of_cues_in_a_stretch_of_any_length_is_bounded_by_the_back_off(
    off_s, cadence, n_steps, min_s, repeat_s, max_level, backoff, max_repeat_extra_s
):
    s = CoachSettings(
        min_off_target_steps=n_steps,
        min_off_target_s=min_s,
        repeat_s=repeat_s,
        max_level=max_level,
        repeat_backoff=backoff,
        max_repeat_s=repeat_s + max_repeat_extra_s,
        min_cue_gap_s=0.0,
    )
    cues, _ = run(Coach(s, BASE), 0.0, off_s, cadence, 1.1, terrain="technical")
    # each repeat waits at least what the rule asks after the cue before it
    for (a, b), w in zip(itertools.pairwise(cues), _waits(s), strict=False):
        assert b.t_s - a.t_s >= w * (1 - 1e-12)
    # hence the count: the first cue after min_s, then one more only while the waits fit
    bound, t = 0, min_s
    for w in _waits(s):
        if t > off_s:
            break
        bound += 1
        t += w
    assert len(cues) <= bound
    # in closed form, with a back-off: the escalation, the doublings up to max_repeat_s, then one
    # per max_repeat_s
    if backoff > 1.0:
        n_double = math.ceil(math.log(s.max_repeat_s / repeat_s, backoff)) if s.max_repeat_s > repeat_s else 0
        assert len(cues) <= max_level + n_double + 1 + max(0.0, off_s - min_s) // s.max_repeat_s
    assert [c.level for c in cues] == [min(i + 1, max_level) for i in range(len(cues))]


def test_deterministic(rng):
    steps = []
    t = 0.0
    for i in range(800):
        c = float(rng.uniform(180, 240))
        steps.append(
            StepInput(t, c, float(rng.uniform(0.9, 1.8)), "run", "technical" if i % 200 > 100 else "smooth")
        )
        t += 60.0 / c
    coach1, coach2 = Coach(CoachSettings(), BASE), Coach(CoachSettings(), BASE)
    a = [c for s in steps for c in coach1.update(s)]
    b = [c for s in steps for c in coach2.update(s)]
    assert a == b
    assert a  # the stream has cues at all


# --------------------------------------------------------------------------------------- terrain
def test_terrain_change_is_confirmed_and_announced():
    coach = Coach(CoachSettings(terrain_confirm_steps=4), BASE)
    assert coach.update(StepInput(0.0, 170.0, 2.2, "run", "smooth")) == []
    cues = []
    for i in range(1, 4):
        cues += coach.update(StepInput(i * 0.35, 170.0, 2.2, "run", "technical"))
    assert cues == []  # three technical steps: not yet
    cues = coach.update(StepInput(1.4, 170.0, 2.2, "run", "technical"))
    assert [c.kind for c in cues] == ["terrain_changed"]
    assert (
        cues[0].reason
        == "terrain smooth → technical (detected): target cadence 230±5 spm, stride 1.10±0.09 m"
    )
    assert coach.terrain == "technical"


def test_mode_button_overrides_the_detected_terrain_at_once():
    coach = Coach(CoachSettings(), BASE)
    coach.update(StepInput(0.0, 170.0, 2.2, "run", "smooth"))
    coach.set_terrain_mode("technical")
    cues = coach.update(StepInput(0.35, 170.0, 2.2, "run", "smooth"))
    assert [c.kind for c in cues] == ["terrain_changed"]
    assert "(mode button)" in cues[0].reason
    assert coach.targets().cadence_spm == 230.0
    coach.set_terrain_mode("auto")
    cues = coach.update(StepInput(0.7, 170.0, 2.2, "run", "smooth"))
    assert [c.kind for c in cues] == ["terrain_changed"]
    assert coach.terrain == "smooth"
    with pytest.raises(ValidationError, match="auto, smooth, technical"):
        coach.set_terrain_mode("rocky")


def test_terrain_changed_cue_can_be_switched_off():
    coach = Coach(CoachSettings(terrain_changed_cue=False, terrain_confirm_steps=1), BASE)
    coach.update(StepInput(0.0, 170.0, 2.2, "run", "smooth"))
    assert coach.update(StepInput(0.35, 170.0, 2.2, "run", "technical")) == []
    assert coach.terrain == "technical"


# -------------------------------------------------------------------------------------- baseline
def test_baseline_is_learned_from_smooth_running_then_coaching_starts():
    s = CoachSettings(baseline_learn_s=120.0, baseline_min_steps=100)
    coach = Coach(s, None)
    cues, t = run(coach, 0.0, 119.0, 165.0, 2.1, terrain="smooth")
    assert coach.learning
    assert cues == []
    tech, t = run(coach, t, 30.0, 180.0, 1.5, terrain="technical")
    assert coaching(tech) == []  # technical ground neither teaches the baseline nor is coached yet
    _, t = run(coach, t, 5.0, 165.0, 2.1, terrain="smooth")  # (4 steps to confirm smooth again)
    assert not coach.learning
    assert coach.baseline.cadence_spm == pytest.approx(165.0)
    assert coach.baseline.stride_length_m == pytest.approx(2.1)
    assert coach.baseline.source == "learned"
    cues, _ = run(coach, t, 30.0, 180.0, 1.0, terrain="technical")
    assert "quicken_steps" in [c.kind for c in cues]
    assert any("below target 230±5 spm" in c.reason for c in cues)


def test_learned_baseline_follows_slowly():
    coach = Coach(
        CoachSettings(baseline_learn_s=30.0, baseline_min_steps=50, baseline_update_steps=600), None
    )
    _, t = run(coach, 0.0, 40.0, 160.0, 2.0, terrain="smooth")
    assert coach.baseline.cadence_spm == pytest.approx(160.0)
    _, t = run(coach, t, 60.0, 170.0, 2.0, terrain="smooth")
    # 170 steps over a minute move a 600-step time constant only part of the way to 170.
    assert 160.0 < coach.baseline.cadence_spm < 166.0


def test_fixed_baseline_never_moves():
    coach = Coach(CoachSettings(), BASE)
    run(coach, 0.0, 300.0, 180.0, 2.5, terrain="smooth")
    assert coach.baseline == BASE


def test_cadence_only_coaching_without_stride():
    coach = Coach(CoachSettings(baseline_learn_s=20.0, baseline_min_steps=20), None)
    _, t = run(coach, 0.0, 25.0, 170.0, None, terrain="smooth")
    assert coach.baseline.stride_length_m is None
    assert coach.targets("technical").stride_length_m is None
    cues, _ = run(coach, t, 15.0, 200.0, None, terrain="technical")
    assert [c.kind for c in coaching(cues)] == ["quicken_steps"]


# ---------------------------------------------------------------------------------------- hiking
def test_tobler_model():
    assert math.isclose(TOBLER_FLAT_SPEED_MPS, 5.04 / 3.6, abs_tol=0.01)
    assert tobler_speed_mps(0.0) == pytest.approx(TOBLER_FLAT_SPEED_MPS)
    assert tobler_speed_mps(-5.0) == pytest.approx(6.0 / 3.6)  # the fastest grade
    assert tobler_speed_mps(20.0) == pytest.approx(6.0 * math.exp(-3.5 * 0.25) / 3.6)
    assert tobler_speed_mps(20.0, 2 * TOBLER_FLAT_SPEED_MPS) == pytest.approx(2 * tobler_speed_mps(20.0))
    assert speed_mps(180.0, 2.0) == pytest.approx(3.0)
    assert speed_mps(None, 2.0) is None


def test_hike_on_a_steep_climb_where_running_is_no_faster_than_own_hiking():
    s = CoachSettings()
    coach = Coach(s, BASE)
    # Earlier on this climb the runner hiked: 110 steps/min × 1.5 m = 1.375 m/s at 20-22 %.
    _, t = run(coach, 0.0, 30.0, 110.0, 1.5, gait="walk", grade="climb", grade_pct=21.0)
    _, t = run(coach, t + 200.0, 30.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    # Now a shuffle-run up the same grade: 150 × 1.0 m = 1.25 m/s, slower than hiking it.
    cues, _ = run(coach, t, 20.0, 150.0, 1.0, grade="climb", grade_pct=20.0)
    assert [c.kind for c in cues] == ["hike"]
    assert re.fullmatch(
        r"running 1\.25 m/s on a 20 % climb is no faster than hiking 1\.38 m/s "
        r"\(own hiking at 20±3 %, last 20 steps\) for \d+ steps / \d+\.\d s on smooth ground",
        cues[0].reason,
    )
    assert s.min_off_target_s <= cues[0].t_s - t < s.min_off_target_s + 0.4


def test_hike_from_the_model_without_own_hiking_and_not_when_running_pays():
    coach = Coach(CoachSettings(), BASE)
    # 130 × 1.0 m = 1.08 m/s; Tobler at 20 % with a 1.4 m/s flat walk: 0.69 m/s -> keep running.
    cues, t = run(coach, 0.0, 30.0, 130.0, 1.0, grade="climb", grade_pct=20.0)
    assert "hike" not in [c.kind for c in cues]
    # 120 × 0.6 m = 0.6 m/s: slower than the model's hiking -> hike.
    cues, _ = run(coach, t, 30.0, 120.0, 0.6, grade="climb", grade_pct=20.0)
    hikes = [c for c in cues if c.kind == "hike"]
    assert hikes
    assert "(Tobler model)" in hikes[0].reason
    assert "hiking 0.69 m/s" in hikes[0].reason


def test_no_hike_on_a_gentle_climb():
    coach = Coach(CoachSettings(hike_min_grade_pct=15.0), BASE)
    cues, _ = run(coach, 0.0, 60.0, 170.0, 0.4, grade="climb", grade_pct=10.0)
    assert "hike" not in [c.kind for c in cues]


def test_hike_without_speed_only_when_very_steep():
    coach = Coach(CoachSettings(hike_no_speed_grade_pct=25.0), BASE)
    cues, t = run(coach, 0.0, 30.0, 170.0, None, grade="climb", grade_pct=20.0)
    assert "hike" not in [c.kind for c in cues]
    cues, _ = run(coach, t, 30.0, 170.0, None, grade="climb", grade_pct=30.0)
    assert "hike" in [c.kind for c in cues]
    assert "running speed unknown" in next(c for c in cues if c.kind == "hike").reason


def test_run_again_when_the_climb_eases():
    coach = Coach(CoachSettings(), BASE)
    _, t = run(coach, 0.0, 30.0, 110.0, 1.5, gait="walk", grade="climb", grade_pct=22.0)
    cues, t = run(coach, t, 20.0, 110.0, 1.5, gait="walk", grade="flat", grade_pct=3.0)
    runs = [c for c in cues if c.kind == "run"]
    assert len(runs) == 1
    assert runs[0].reason.startswith("grade eased to 3 % (flat) after hiking: running pays for ")
    # Much later, walking on the flat is a break, not a hike to be ended.
    coach2 = Coach(CoachSettings(run_window_s=60.0), BASE)
    _, t = run(coach2, 0.0, 30.0, 110.0, 1.5, gait="walk", grade="climb", grade_pct=22.0)
    cues, _ = run(coach2, t + 120.0, 30.0, 110.0, 1.5, gait="walk", grade="flat", grade_pct=0.0)
    assert cues == []


def test_run_again_on_the_climb_when_own_running_there_was_clearly_faster():
    coach = Coach(CoachSettings(run_speed_ratio=1.2), BASE)
    _, t = run(coach, 0.0, 40.0, 160.0, 1.6, grade="climb", grade_pct=18.0)  # ran it at 2.13 m/s
    cues, _ = run(coach, t, 20.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=18.0)  # hikes at 1.0 m/s
    runs = [c for c in cues if c.kind == "run"]
    assert runs
    assert "own running 2.13 m/s on a 18 % climb beats hiking 1.00 m/s" in runs[0].reason


# --------------------------------------------------------------------------------- device events
def test_device_events_are_cued_with_their_level_and_not_repeated_too_often():
    coach = Coach(CoachSettings(device_repeat_s=60.0), BASE)
    (cue,) = coach.on_event("sensor_lost", 12.0, "I2C error on bus 1 at 0x68")
    assert cue == CueEvent(12.0, "sensor_lost", 3, "I2C error on bus 1 at 0x68", None)
    assert coach.on_event("sensor_lost", 30.0) == []
    assert [c.kind for c in coach.on_event("sensor_lost", 80.0)] == ["sensor_lost"]
    assert coach.on_event("battery_low", 31.0)[0].level == 2
    assert coach.on_event("ready", 0.0)[0].reason == "ready"
    assert coach.on_event("recording_stopped", 5.0, "disk full")[0].level == 2
    with pytest.raises(ValidationError, match="ready, battery_low, recording_stopped, sensor_lost"):
        coach.on_event("low_fuel", 1.0)


def test_a_reminder_on_its_own_schedule_is_not_put_off_by_jitter():
    # battery readings every 15 s are stamped with the latest sample's time: the reading due at the
    # 60 s repeat came 2 ms short of it, and the reminder waited for the next reading (75 s)
    coach = Coach(CoachSettings(device_repeat_s=60.0), BASE)
    said = [
        t
        for t in (0.0, 15.02, 30.05, 45.03, 60.1015, 75.1, 90.08, 105.1, 120.0992)
        if coach.on_event("battery_low", t)
    ]
    assert said == [0.0, 60.1015, 120.0992]
    assert coach.on_event("sensor_lost", 200.0)
    assert coach.on_event("sensor_lost", 258.0) == []  # a repeat is still about a minute, not 30 s


def test_cue_kinds_are_all_covered():
    assert set(CUE_KINDS) == {
        "quicken_steps",
        "shorten_stride",
        "hike",
        "run",
        "terrain_changed",
        "ready",
        "sensor_lost",
        "recording_stopped",
        "battery_low",
    }


def test_disabled_coach_still_reports_device_events():
    coach = Coach(CoachSettings(enabled=False), BASE)
    cues, _ = run(coach, 0.0, 60.0, 150.0, 2.5, terrain="technical")
    assert cues == []
    assert coach.on_event("battery_low", 61.0)


# ------------------------------------------------------------------------------------- contracts
def test_bad_inputs_are_rejected_with_the_value():
    coach = Coach(CoachSettings(), BASE)
    with pytest.raises(ValidationError, match="'gravel'"):
        coach.update(StepInput(0.0, 170.0, None, "run", "gravel"))
    with pytest.raises(ValidationError, match="'steep'"):
        coach.update(StepInput(0.0, 170.0, None, "run", "smooth", "steep"))
    coach.update(StepInput(5.0, 170.0))
    with pytest.raises(ValidationError, match="before the previous step"):
        coach.update(StepInput(4.0, 170.0))
    with pytest.raises(ValidationError, match="not finite"):
        coach.update(StepInput(6.0, math.nan))
    with pytest.raises(ValidationError, match="floor"):
        CoachSettings(cadence_floor_spm=240.0)
    with pytest.raises(ValidationError, match=r"repeat_backoff=0\.5 must be ≥ 1"):
        CoachSettings(repeat_backoff=0.5)
    with pytest.raises(ValidationError, match=r"settle_s=-1\.0 must be a finite number ≥ 0"):
        CoachSettings(settle_s=-1.0)
    with pytest.raises(ValidationError, match="max_repeat_s=10 must not be below repeat_s=20"):
        CoachSettings(max_repeat_s=10.0)
    with pytest.raises(ValidationError, match="cadence_spm"):
        Baseline(cadence_spm=0.0)


def test_from_step_event_and_reset():
    ev = StepEvent(t_s=1.5, emitted_at_s=1.6, side=None, cadence_spm=172.0, gait="run", stride_length_m=2.0)
    step = StepInput.from_step_event(ev, terrain="technical", grade="climb", grade_pct=8.0)
    assert step == StepInput(1.5, 172.0, 2.0, "run", "technical", "climb", 8.0)
    coach = Coach(CoachSettings(), BASE)
    coach.update(step)
    coach.reset()
    assert coach.terrain is None
    coach.update(StepInput(0.0, 170.0))  # time may start again after reset()
    assert coach.update(StepInput(0.35, 170.0)) == []
    assert CueEvent(1.0, "run", 1, "x").to_dict()["kind"] == "run"


@pytest.mark.parametrize(
    ("cadence_spm", "stride_m", "gait", "verdict"),
    [
        (170.0, 2.2, "run", True),  # at the baseline
        (190.0, 2.2, "run", True),  # quicker than the target: never a fault
        (170.0, 1.5, "run", True),  # shorter than the target: never a fault
        (170.0, None, "run", True),  # stride unknown: judged on cadence alone
        (150.0, 2.2, "run", False),  # below the band (170 - 5)
        (170.0, 2.7, "run", False),  # above the stride band (2.2 + 8 %)
        (120.0, 1.4, "walk", None),  # walking is not judged against running targets
    ],
)
def test_the_verdict_on_a_step_is_the_rule_the_cues_follow(cadence_spm, stride_m, gait, verdict):
    coach = Coach(CoachSettings(), BASE)
    cues, _ = run(coach, 0.0, 20.0, cadence_spm, stride_m, gait=gait)
    assert coach.last_on_target is verdict
    assert coach.last_targets.cadence_spm == 170.0
    # off target for 20 s is cued; on target (or not judged) never is
    assert bool([c for c in cues if c.kind in ("quicken_steps", "shorten_stride")]) is (verdict is False)


def test_the_targets_of_a_step_are_those_of_the_terrain_in_force():
    # the detected terrain changes at once; the coach switches after terrain_confirm_steps (4)
    coach = Coach(CoachSettings(), BASE)
    run(coach, 0.0, 5.0, 170.0, 2.2, terrain="smooth")
    seen = []
    for i in range(6):
        coach.update(
            StepInput(t_s=10.0 + 0.35 * i, cadence_spm=170.0, stride_length_m=2.2, terrain="technical")
        )
        seen.append(coach.last_targets.cadence_spm)
    assert seen[0] == 170.0
    assert seen[-1] == pytest.approx(min(2.0 * 170.0, CoachSettings().cadence_ceiling_spm))
