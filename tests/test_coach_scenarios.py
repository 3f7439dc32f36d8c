"""A trail run walked through the coach, scenario by scenario (session 7's review).

Each test drives :class:`dsp.coach.Coach` with the per-step records the pipeline gives it and
checks what a trail runner expects from the documented rules (docs/cues.md) and the physics of
running; the expected values never come from the coach's own output.
"""

from __future__ import annotations

from dsp.coach import Coach, CoachSettings, StepInput

FORM = ("quicken_steps", "shorten_stride")


def run(coach, t0_s, duration_s, cadence_spm, stride_m=None, **kw):
    """Feed steps at ``cadence_spm`` for ``duration_s``; return (cues, time after the last step)."""
    cues = []
    dt = 60.0 / cadence_spm
    n = int(duration_s / dt)
    for i in range(n):
        t = t0_s + i * dt
        cues += coach.update(StepInput(t_s=t, cadence_spm=cadence_spm, stride_length_m=stride_m, **kw))
    return cues, t0_s + n * dt


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
