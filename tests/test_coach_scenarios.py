"""A trail run walked through the coach, scenario by scenario (session 7's review).

Each test drives :class:`dsp.coach.Coach` with the per-step records the pipeline gives it and
checks what a trail runner expects from the documented rules (docs/cues.md) and the physics of
running; the expected values never come from the coach's own output.
"""

from __future__ import annotations

import itertools
import re

import pytest

from dsp.coach import Baseline, Coach, CoachSettings, StepInput
from tests.test_coach import run

FORM = ("quicken_steps", "shorten_stride")


# ------------------------------------------------------------------------------------ baseline
def test_a_run_that_starts_with_a_climb_learns_the_baseline_on_the_flat():
    # Trailheads sit in valleys: the first minutes are often a runnable climb. Uphill the stride
    # shortens (165 spm × 1.5 m on 9 %) against the runner's level running (170 spm × 2.2 m). The
    # baseline is the runner's smooth-ground running, so the climb must not become it: back on the
    # flat, running their own form, the runner is on target and hears nothing.
    coach = Coach(CoachSettings(), None)
    _, t = run(coach, 0.0, 600.0, 165.0, 1.5, grade="climb", grade_pct=9.0)
    cues, t = run(coach, t, 600.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    assert [c for c in cues if c.kind in FORM] == []
    assert coach.baseline is not None
    assert coach.baseline.cadence_spm == 170.0
    assert coach.baseline.stride_length_m == 2.2


def test_a_long_descent_does_not_move_the_baseline():
    # Downhill the cadence rises and the stride shortens (the brief's own description): 185 spm ×
    # 1.9 m for 15 minutes. Neither is a fault on the way down, and back on the flat at their usual
    # 170 spm × 2.2 m the runner is where they started: no "quicken steps".
    coach = Coach(CoachSettings(baseline_learn_s=120.0, baseline_min_steps=100), None)
    _, t = run(coach, 0.0, 180.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    assert coach.baseline.cadence_spm == 170.0
    down, t = run(coach, t, 900.0, 185.0, 1.9, grade="descent", grade_pct=-12.0)
    assert [c for c in down if c.kind in FORM] == []
    after, _ = run(coach, t, 300.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    assert [c for c in after if c.kind in FORM] == []
    assert coach.baseline.cadence_spm == 170.0


def test_without_a_grade_the_baseline_is_learned_as_before():
    # a lower-back sensor without a barometer has no grade: every smooth running step counts
    coach = Coach(CoachSettings(baseline_learn_s=60.0, baseline_min_steps=100), None)
    run(coach, 0.0, 70.0, 168.0, 2.0, grade="unknown")
    assert coach.baseline is not None
    assert coach.baseline.cadence_spm == 168.0


def _warm_up(coach):
    """Walk 5 min (110 spm), jog 2.5 min (150 spm × 1.4 m): the start of most runs."""
    _, t = run(coach, 0.0, 300.0, 110.0, 1.4, gait="walk")
    _, t = run(coach, t, 150.0, 150.0, 1.4)
    return t


def test_a_slow_warm_up_is_learned_and_the_normal_stride_is_told_to_shorten_for_minutes():
    # Known limitation, kept (docs/cues.md "Warm-ups"): the baseline is learned from the first
    # 120 s of smooth running, here the jog. Back at their normal 170 spm × 2.2 m the runner is
    # "faster, not overstriding", but 2.2 m is above the band of 1.4 m + 8 % = 1.51 m, and a long
    # stride is cued whatever the cadence above its band (the rule that catches fast descents).
    # Expected from the documented rules, not from the coach's output:
    # - the jog's 375 steps fill the 400-step window: its median stays 1.4 m until more than half
    #   of the window is running steps (about 200 steps, 71 s), so the baseline is exactly the jog
    #   for the first three cues: due 8 s in (12 steps take 4.2 s), then every 20 s, levels 1-3,
    #   then backed off × 2 (40, 80, 160 s);
    # - then each step moves the baseline 1/600 of the way to 2.2 m: 2.2 m is in the band once
    #   2.2 − 0.8·(1 − 1/600)^k ≥ 2.2 / 1.08, k ≥ 954 steps after the flip, about 408 s into the
    #   run; the next repeat (300 s after the sixth cue at 328 s) would be at 628 s.
    coach = Coach(CoachSettings(), None)
    t0 = _warm_up(coach)
    assert (coach.baseline.cadence_spm, coach.baseline.stride_length_m) == (150.0, 1.4)
    dt = 60.0 / 170.0
    cues, t = run(coach, t0, 400.0, 170.0, 2.2)
    assert coach.last_on_target is False  # 1133 steps in: baseline ≈ 2.031 m, band ≤ 2.194 m
    more, t = run(coach, t, 15.0, 170.0, 2.2)
    assert coach.last_on_target is True  # 1175 steps in: baseline ≈ 2.042 m, band ≤ 2.206 m
    rest, _ = run(coach, t, 600.0, 170.0, 2.2)
    form = [c for c in cues + more + rest if c.kind in FORM]
    assert [c.kind for c in form] == ["shorten_stride"] * 6
    assert [c.level for c in form] == [1, 2, 3, 3, 3, 3]
    assert 8.0 <= form[0].t_s - t0 < 8.0 + dt + 1e-9
    for a, b, gap in zip(form[:-1], form[1:], (20.0, 20.0, 40.0, 80.0, 160.0), strict=True):
        assert gap <= b.t_s - a.t_s < gap + dt + 1e-9
    assert "target 1.40" in form[0].reason
    assert form[-1].t_s - t0 < 415.0
    assert coach.baseline.stride_length_m == pytest.approx(2.2, abs=0.01)


def test_a_warm_up_shorter_than_the_learning_time_is_not_learned():
    # The setting a runner who always warms up has today: with baseline_learn_s = 300 s the
    # baseline is set 150 s into the run, from the median of the last 400 steps (425 running steps
    # by then): exactly the normal running, and the pace change is never cued.
    coach = Coach(CoachSettings(baseline_learn_s=300.0), None)
    t0 = _warm_up(coach)
    assert coach.baseline is None
    cues, _ = run(coach, t0, 600.0, 170.0, 2.2)
    assert [c for c in cues if c.kind in FORM] == []
    assert (coach.baseline.cadence_spm, coach.baseline.stride_length_m) == (170.0, 2.2)


# ------------------------------------------------------------------------------------- terrain
def test_no_terrain_chirp_while_there_are_no_targets_to_change():
    # A run that starts on technical ground: the baseline is not known yet, so the targets of both
    # terrains are "none" and a detected change of terrain changes no target. The chirp means "new
    # terrain, new targets" ([coach] terrain_changed_cue: "when the targets change with it"):
    # without targets it is noise. A press of the mode button is still acknowledged.
    coach = Coach(CoachSettings(baseline_learn_s=120.0, baseline_min_steps=100), None)
    cues = []
    t = 0.0
    for k in range(6):  # 40 s technical, 40 s smooth, ...
        c, t = run(coach, t, 40.0, 175.0, 1.6, terrain="technical" if k % 2 == 0 else "smooth")
        cues += c
    assert coach.learning
    assert cues == []
    coach.set_terrain_mode("technical")
    pressed = coach.update(StepInput(t, 175.0, 1.6, "run", "smooth"))
    assert [c.kind for c in pressed] == ["terrain_changed"]
    assert "(mode button)" in pressed[0].reason
    coach.set_terrain_mode("auto")
    # once the baseline is known, a detected change brings new targets and is announced
    _, t = run(coach, t + 0.35, 130.0, 170.0, 2.2, terrain="smooth")
    assert not coach.learning
    tech, _ = run(coach, t, 5.0, 230.0, 0.8, terrain="technical")
    assert [c.kind for c in tech] == ["terrain_changed"]


# ---------------------------------------------------------------------------------- stride rule
@pytest.mark.parametrize("grade", ["descent", "unknown"])
def test_a_fast_descent_in_a_long_stride_is_told_to_shorten_it_though_the_cadence_is_up(grade):
    # Letting the speed run down a smooth descent: 182 spm x 2.7 m against 170 x 2.2 m. Downhill
    # the cadence rises by itself, so a cadence above the band (175) says nothing of quicker steps
    # taken as asked; the stride is 23 % longer, above its band (2.376 m), where every step's impact
    # and braking are highest. The rule (docs/cues.md: stride above the band, cadence not below it)
    # asks for a shorter stride, with the grade known or not (a lower-back sensor without a
    # barometer cannot tell a descent from a speed-up on the flat).
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    cues, _ = run(coach, 0.0, 60.0, 182.0, 2.7, grade=grade, grade_pct=-10.0 if grade == "descent" else None)
    assert [c.kind for c in cues if c.kind in FORM][:1] == ["shorten_stride"]
    assert coach.last_on_target is False


def test_a_gentle_technical_descent_in_a_long_stride_is_told_to_shorten_it():
    # gentle's technical targets are not high (cadence x 1.10 = 187 +/- 4 for a 170 baseline, stride
    # x 0.80 = 1.76 m +/- 6 %): on a technical descent the cadence passes the band (193) while a
    # 2.0 m stride is above 1.866 m, on ground where a long stride costs the footing
    from firmware_py.config import coach_settings, load_config

    coach = Coach(coach_settings(load_config(profile="gentle")), Baseline(170.0, 2.2))
    tg = coach.targets("technical")
    assert tg.cadence_spm + tg.cadence_tolerance_spm == pytest.approx(191.0)
    assert tg.stride_length_m + tg.stride_tolerance_m == pytest.approx(1.76 * 1.06)
    cues, _ = run(coach, 0.0, 40.0, 193.0, 2.0, terrain="technical", grade="descent", grade_pct=-12.0)
    assert [c.kind for c in cues if c.kind in FORM][:1] == ["shorten_stride"]


# ------------------------------------------------------------------------------------- reasons
@pytest.mark.parametrize(
    ("baseline", "tolerance_spm", "cadence_spm"),
    [
        (168.4, 5.0, 163.3),  # 0.1 below the band's edge 163.4: "163 below 168±5" read as on it
        (163.3, 4.0, 159.2),  # the gentle profile on adept run25min_part2: "159 below 163±4"
        (170.0, 5.0, 164.96),
    ],
)
def test_a_cadence_reason_shows_the_cadence_below_the_band_it_names(baseline, tolerance_spm, cadence_spm):
    # off target means below target - tolerance (docs/cues.md); the reason carries the numbers the
    # cue was decided on, so read as written they must say so
    coach = Coach(CoachSettings(cadence_tolerance_spm=tolerance_spm), Baseline(baseline, 2.2))
    cues, _ = run(coach, 0.0, 12.0, cadence_spm, 2.2)
    assert cues
    m = re.match(r"cadence ([\d.]+) spm below target ([\d.]+)±([\d.]+) spm for ", cues[0].reason)
    assert m, cues[0].reason
    shown, target, tol = (float(x) for x in m.groups())
    assert shown < target - tol
    assert abs(shown - cadence_spm) < 0.051
    assert abs(target - baseline) < 0.051


@pytest.mark.parametrize(("baseline_m", "stride_m"), [(2.2, 2.38), (2.2, 2.3765), (1.9, 2.0525)])
def test_a_stride_reason_shows_the_stride_above_the_band_it_names(baseline_m, stride_m):
    # the band is target + 8 %: 2.2 m -> 2.376 m, shown "2.20±0.18"; a stride of 2.38 m is above it
    # but "2.38 m above target 2.20±0.18 m" reads as on the edge
    coach = Coach(CoachSettings(), Baseline(170.0, baseline_m))
    cues, _ = run(coach, 0.0, 12.0, 170.0, stride_m)
    assert cues
    m = re.match(r"stride ([\d.]+) m above target ([\d.]+)±([\d.]+) m for ", cues[0].reason)
    assert m, cues[0].reason
    shown, target, tol = (float(x) for x in m.groups())
    assert shown > target + tol
    assert abs(shown - stride_m) < 0.0051
    assert abs(target - baseline_m) < 0.0051


def test_reasons_keep_whole_numbers_when_they_tell_the_story():
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    cues, _ = run(coach, 0.0, 12.0, 150.0, 2.2)
    assert cues[0].reason.startswith("cadence 150 spm below target 170±5 spm for ")
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    cues, _ = run(coach, 0.0, 12.0, 170.0, 2.6)
    assert cues[0].reason.startswith("stride 2.60 m above target 2.20±0.18 m for ")


# ---------------------------------------------------------------------------------------- hiking
def _hike_run(cues):
    return [c.kind for c in cues if c.kind in ("hike", "run")]


def test_no_hike_run_ping_pong_on_a_climb_when_running_has_slowed():
    # Fresh, the runner ran a 17 % climb at 170 spm × 1.6 m = 2.27 m/s. An hour later on the same
    # grade they hike at 105 × 1.3 = 1.14 m/s and their running has slowed to 140 × 0.9 = 1.05 m/s:
    # running is no faster than hiking, so "hike" is right, and once the runner's running here has
    # been seen to be slower than their hiking, "run" (which says running beats hiking by ×1.2) is
    # contradicted by the latest evidence. The session's fresh running must not make the coach
    # alternate "run" / "hike" every minute.
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 120.0, 170.0, 1.6, grade="climb", grade_pct=17.0)
    _, t = run(coach, t, 300.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    cues = []
    for _ in range(3):
        c, t = run(coach, t, 60.0, 105.0, 1.3, gait="walk", grade="climb", grade_pct=17.0)
        cues += c
        c, t = run(coach, t, 60.0, 140.0, 0.9, grade="climb", grade_pct=17.0)
        cues += c
    kinds = _hike_run(cues)
    assert "hike" in kinds
    first_hike = kinds.index("hike")
    assert "run" not in kinds[first_hike:]


def test_no_hike_run_ping_pong_when_hiking_has_slowed():
    # Early on a 20 % climb the runner hiked fast (110 × 1.64 m = 1.5 m/s). Later, tired, they
    # run it at 1.25 m/s: slower than that hiking, so "hike". They hike, but now at 1.0 m/s
    # (100 × 1.2 m): their running (1.25) beats it by 1.25 (≥ ×1.2), so "run" is right. Running
    # again at 1.25 m/s is faster than their hiking now: "hike" again would contradict the cue
    # just given (the hysteresis between ×1.0 and ×1.2 exists to prevent exactly that).
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 90.0, 110.0, 60.0 * 1.5 * 2 / 110.0, gait="walk", grade="climb", grade_pct=20.0)
    _, t = run(coach, t, 300.0, 170.0, 2.2, grade="flat", grade_pct=0.0)
    stride_run = 60.0 * 1.25 * 2 / 150.0  # 1.0 m at 150 spm: 1.25 m/s
    cues = []
    c, t = run(coach, t, 60.0, 150.0, stride_run, grade="climb", grade_pct=20.0)
    cues += c
    for _ in range(2):
        c, t = run(coach, t, 60.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=20.0)
        cues += c
        c, t = run(coach, t, 60.0, 150.0, stride_run, grade="climb", grade_pct=20.0)
        cues += c
    kinds = _hike_run(cues)
    assert kinds[0] == "hike"
    assert "run" in kinds
    assert "hike" not in kinds[kinds.index("run") :]


# ------------------------------------------------------------------------ "run" after a hike
def _hike(coach, t, duration_s=180.0):
    """Hike a 20 % climb at 100 spm × 1.2 m (1.0 m/s)."""
    return run(coach, t, duration_s, 100.0, 1.2, gait="walk", grade="climb", grade_pct=20.0)


@pytest.mark.parametrize(
    ("grade", "grade_pct", "terrain"),
    [("flat", 0.0, "smooth"), ("descent", -25.0, "technical")],
    ids=["aid-station", "steep-technical-descent"],
)
def test_run_is_said_once_at_the_top_however_long_the_runner_keeps_walking(grade, grade_pct, terrain):
    # A runner hikes a climb, then walks around the aid station at the top for 3 min (or walks
    # down a steep rocky descent): "run" says the climb is over, once, at level 1 after the
    # usual 8 s of evidence; the runner who keeps walking has a reason and is not told again.
    s = CoachSettings()
    coach = Coach(s, Baseline(170.0, 2.2))
    _, t = _hike(coach, 0.0)
    top = t
    cues, _ = run(coach, t, 180.0, 90.0, 1.0, gait="walk", grade=grade, grade_pct=grade_pct, terrain=terrain)
    runs = [c for c in cues if c.kind == "run"]
    assert [c.level for c in runs] == [1]
    # (on the technical descent the terrain change, confirmed after 4 steps, restarts the count)
    confirm_s = s.terrain_confirm_steps * 60.0 / 90.0 if terrain == "technical" else 0.0
    assert s.min_off_target_s <= runs[0].t_s - top < s.min_off_target_s + confirm_s + 1.0


def test_with_run_cue_repeats_run_repeats_and_escalates_as_before():
    # the rule before the one-shot: within run_window_s (120 s) of the hike, the cue at 8 s,
    # then every repeat_s (20 s) up to max_level 3, then backed off ×2 (40 s): 8, 28, 48, 88 s
    coach = Coach(CoachSettings(run_cue_repeats=True), Baseline(170.0, 2.2))
    _, t = _hike(coach, 0.0)
    cues, _ = run(coach, t, 180.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=0.0)
    runs = [c for c in cues if c.kind == "run"]
    assert [c.level for c in runs] == [1, 2, 3, 3]
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(runs)]
    assert gaps == pytest.approx([20.0, 20.0, 40.0], abs=60.0 / 90.0)


def test_an_older_device_log_replays_the_repeated_run_cue():
    # a log whose configuration snapshot predates run_cue_repeats replays with the rule its
    # device had: the aid station's "run" four times
    from firmware_py.config import coach_settings, config_from_snapshot

    snapshot = {"coach": {"repeat_backoff": 2.0, "settle_s": 8.0}}
    old = coach_settings(config_from_snapshot(snapshot, "old.cclog"))
    coach = Coach(old, Baseline(170.0, 2.2))
    _, t = _hike(coach, 0.0)
    cues, _ = run(coach, t, 180.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=0.0)
    assert [c.level for c in cues if c.kind == "run"] == [1, 2, 3, 3]


def test_a_second_climb_hiked_and_eased_gets_its_own_run():
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    _, t = _hike(coach, 0.0)
    first, t = run(coach, t, 90.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=0.0)
    _, t = _hike(coach, t)  # the next climb, hiked
    second, _ = run(coach, t, 90.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=2.0)
    assert [c.level for c in first if c.kind == "run"] == [1]
    assert [c.level for c in second if c.kind == "run"] == [1]


def test_run_on_the_climb_itself_is_said_once_while_the_runner_keeps_hiking():
    # own running (160 × 1.6 m = 2.13 m/s) beats hiking at 1.0 m/s by more than ×1.2: "run" once;
    # the runner keeps hiking the same climb for 3 min and is not told again, nor at the top
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 40.0, 160.0, 1.6, grade="climb", grade_pct=18.0)
    cues, t = run(coach, t, 180.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=18.0)
    top, _ = run(coach, t, 90.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=0.0)
    runs = [c for c in cues + top if c.kind == "run"]
    assert [c.level for c in runs] == [1]
    assert runs[0].reason.startswith("own running 2.13 m/s on a 18 % climb beats hiking 1.00 m/s")


def test_a_climb_whose_grade_wavers_under_the_hike_grade_is_one_hike():
    # "run" said on the climb (own running beats hiking); the climb then reads 12 % for a while
    # (under hike_min_grade_pct 15 %, above run_max_grade_pct 10 %: the hysteresis gap) and 18 %
    # again: still the one hike, so the top does not bring a second "run"
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 40.0, 160.0, 1.6, grade="climb", grade_pct=18.0)
    cues, t = run(coach, t, 60.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=18.0)
    c, t = run(coach, t, 30.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=12.0)
    cues += c
    c, t = run(coach, t, 60.0, 100.0, 1.2, gait="walk", grade="climb", grade_pct=18.0)
    cues += c
    top, _ = run(coach, t, 60.0, 90.0, 1.0, gait="walk", grade="flat", grade_pct=0.0)
    assert [c.kind for c in cues].count("run") == 1
    assert [c.kind for c in top].count("run") == 0


def test_a_hike_cue_still_repeats_with_the_back_off():
    # running a 20 % climb at 120 × 0.6 m = 0.6 m/s, slower than hiking it (Tobler 0.69 m/s),
    # wastes energy with every step: "hike" at 8 s, every 20 s up to level 3, then ×2 (40, 80 s)
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    cues, _ = run(coach, 0.0, 200.0, 120.0, 0.6, grade="climb", grade_pct=20.0)
    hikes = [c for c in cues if c.kind == "hike"]
    assert [c.level for c in hikes] == [1, 2, 3, 3, 3]
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(hikes)]
    assert gaps == pytest.approx([20.0, 20.0, 40.0, 80.0], abs=0.5)


# ----------------------------------------------------------------------------- terrain spacing
def _coaching_gaps_ok(cues, gap_s):
    kinds = ("quicken_steps", "shorten_stride", "hike", "run", "terrain_changed")
    coaching = [c for c in cues if c.kind in kinds]
    return all(b.t_s - a.t_s >= gap_s for a, b in itertools.pairwise(coaching))


def test_terrain_flickering_every_few_steps_keeps_the_cue_spacing():
    # Patchy ground (rock, dirt, rock...): the detected terrain changes every 6 steps (~2 s). Rule 4
    # of docs/cues.md: two coaching cues, terrain_changed among them, are at least min_cue_gap_s
    # (3 s) apart; a chirp every 2 s is a storm the runner cannot act on.
    s = CoachSettings()
    coach = Coach(s, Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 30.0, 180.0, 1.4)
    cues = []
    for k in range(30):
        c, t = run(coach, t, 2.0, 180.0, 1.4, terrain="technical" if k % 2 == 0 else "smooth")
        cues += c
    chirps = [c for c in cues if c.kind == "terrain_changed"]
    assert chirps
    assert _coaching_gaps_ok(cues, s.min_cue_gap_s)
    assert len(chirps) <= 60.0 / s.min_cue_gap_s + 1


def test_a_terrain_change_right_after_a_cue_is_announced_once_the_gap_allows():
    # Cued "quicken steps" on smooth ground, the runner reaches technical ground a second later.
    # The new targets hold at once; the chirp waits for the spacing (3 s) and then says it, so the
    # runner is not left with the old terrain in mind.
    s = CoachSettings()
    coach = Coach(s, Baseline(170.0, 2.2))
    cues, t = run(coach, 0.0, 8.5, 150.0, 2.2)
    assert [c.kind for c in cues] == ["quicken_steps"]
    t_cue = cues[0].t_s
    tech, _ = run(coach, t, 6.0, 200.0, 1.0, terrain="technical")
    chirps = [c for c in tech if c.kind == "terrain_changed"]
    assert len(chirps) == 1
    assert chirps[0].t_s - t_cue >= s.min_cue_gap_s
    assert chirps[0].t_s - t_cue < s.min_cue_gap_s + 0.3 + 1e-9  # the first step the gap allows
    assert chirps[0].reason.startswith("terrain smooth → technical (detected): target cadence 230")
    assert coach.last_targets.cadence_spm == 230.0


def test_a_terrain_that_flips_back_before_it_could_be_announced_is_not_announced():
    s = CoachSettings()
    coach = Coach(s, Baseline(170.0, 2.2))
    cues, t = run(coach, 0.0, 8.5, 150.0, 2.2)
    assert [c.kind for c in cues] == ["quicken_steps"]
    # 5 technical steps (confirmed after 4), then smooth again within the 3 s gap
    tech, t = run(coach, t, 5 * 0.3, 200.0, 1.0, terrain="technical")
    back, _ = run(coach, t, 6.0, 170.0, 2.2)
    assert [c.kind for c in tech + back if c.kind == "terrain_changed"] == []


def test_a_mode_button_press_is_acknowledged_at_once_even_right_after_a_cue():
    # the runner pressed: without an answer they would press again, and a second press toggles back
    coach = Coach(CoachSettings(), Baseline(170.0, 2.2))
    cues, t = run(coach, 0.0, 8.5, 150.0, 2.2)
    assert [c.kind for c in cues] == ["quicken_steps"]
    coach.set_terrain_mode("technical")
    pressed = coach.update(StepInput(t, 150.0, 2.2))
    assert [c.kind for c in pressed] == ["terrain_changed"]
    assert "(mode button)" in pressed[0].reason
    coach.set_terrain_mode("auto")  # the long press, a second later
    back = coach.update(StepInput(t + 1.0, 150.0, 2.2))
    assert [c.kind for c in back] == ["terrain_changed"]
    assert coach.terrain == "smooth"


# --------------------------------------------------------------------------------------- targets
def test_no_target_stride_under_the_stride_floor_on_any_terrain():
    # docs/cues.md: "target stride = baseline stride × stride_factor, at least stride_floor_m" (the
    # cadence's clamp is "when the factor is not 1", the stride floor has no such exception). A
    # baseline stride under the floor (a slow shuffle taken for running, a stride estimate gone
    # wrong) must not give a smooth target under it, nor one shorter than the technical target.
    s = CoachSettings(stride_floor_m=0.5)
    coach = Coach(s, Baseline(170.0, 0.45))
    smooth, technical = coach.targets("smooth"), coach.targets("technical")
    assert smooth.stride_length_m == 0.5
    assert technical.stride_length_m == 0.5
    assert smooth.stride_tolerance_m == 0.5 * s.stride_tolerance_pct / 100.0


def test_a_hike_reason_states_the_ratio_it_was_decided_by():
    # hike_speed_ratio = 1.1: hike while running is at most 1.1 × hiking. Running 1.45 m/s against
    # hiking 1.38 m/s qualifies, but "running 1.45 m/s ... is no faster than hiking 1.38 m/s" is false
    # as written: the reason must carry the ratio.
    coach = Coach(CoachSettings(hike_speed_ratio=1.1), Baseline(170.0, 2.2))
    _, t = run(coach, 0.0, 30.0, 110.0, 1.5, gait="walk", grade="climb", grade_pct=20.0)  # 1.375 m/s
    cues, _ = run(coach, t + 5.0, 20.0, 145.0, 1.2, grade="climb", grade_pct=20.0)  # 1.45 m/s
    hikes = [c for c in cues if c.kind == "hike"]
    assert hikes
    m = re.match(
        r"running ([\d.]+) m/s on a 20 % climb is no faster than (?:([\d.]+) × )?hiking ([\d.]+) m/s",
        hikes[0].reason,
    )
    assert m, hikes[0].reason
    running, ratio, hiking = float(m[1]), float(m[2] or 1.0), float(m[3])
    assert running <= ratio * hiking


def test_a_stride_baseline_that_comes_late_rests_on_many_strides_not_the_first():
    # The baseline was learned while no stride estimate came (cadence only). When strides come, the
    # stride baseline is the median of many of them, as the first baseline is (docs/cues.md:
    # "robust to the odd mis-detected step"): a first stride read at 1.0 m must not become the
    # target and have the runner told "shorten stride" at their usual 2.2 m for minutes.
    s = CoachSettings(baseline_learn_s=120.0, baseline_min_steps=100)
    coach = Coach(s, None)
    _, t = run(coach, 0.0, 150.0, 170.0, None)
    assert coach.baseline is not None
    assert coach.baseline.stride_length_m is None
    cues, t = run(coach, t, 0.36, 170.0, 1.0)
    more, _ = run(coach, t, 300.0, 170.0, 2.2)
    assert [c for c in cues + more if c.kind in FORM] == []
    assert coach.baseline.stride_length_m == 2.2
