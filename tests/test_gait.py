"""Walk or run per step: the trunk's flight test, the foot's cadence, the switch vote, the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.gait import count_gait, evaluate, format_report, labelled_stretches, main, pooled
from benchmarks.scoring import Truth
from dsp import StepDetector, StepSettings, ValidationError, detect_steps
from tests.conftest import FIXTURES
from tests.step_checks import drawn_cuts, same_as_naive, streams_as_batch
from tests.trunk_steps import spring_mass_av

G = 9.80665


def _trunk(contacts, fs, seconds, rng, flight, no_flight_after=()):
    """Vertical trunk acceleration of steps at given contact times.

    ``flight``: running (``tests.trunk_steps.spring_mass_av``: each stance a half-sine of 0.4 period
    sized so that the mean force is body weight, free fall in between); else walking (a loading
    hump, no flight). A running step whose contact is in ``no_flight_after`` is followed by a
    flight held at -2 m/s² (no free fall).
    """
    t = np.arange(int(seconds * fs)) / fs
    period = float(np.median(np.diff(contacts)))
    if flight:
        av = spring_mass_av(t, contacts, period)
        for c in no_flight_after:
            x = t - c
            av[(x >= 0.4 * period) & (x < period)] = -2.0
    else:
        av = np.zeros_like(t)
        for c in contacts:
            x = t - c
            av += 3.5 * np.exp(-0.5 * ((x - 0.08) / 0.05) ** 2) - 1.75 * np.exp(-0.5 * ((x - 0.3) / 0.1) ** 2)
    acc = np.zeros((t.size, 3))
    acc[:, 2] = G + av + rng.normal(0, 0.1, t.size)
    acc[:, 0] = rng.normal(0, 0.1, t.size)
    return t, acc


def _gait(t, acc, fs, **kw):
    settings = StepSettings(**kw)
    return same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="lower_back", settings=settings)


@pytest.mark.parametrize("fs", [50.0, 100.0, 400.0])
def test_the_trunk_tells_a_run_by_its_flight_not_by_its_cadence(fs, rng):
    """A fast walk at 155 steps/min is walking, a slow jog at 135 steps/min with a flight phase is
    running (the rule before: cadence >= 150 or the step signal below -4 m/s², got both wrong on
    real data: voisard's walks at 16 % run)."""
    walk_c = 1.0 + np.arange(40) * 60.0 / 155.0
    t, acc = _trunk(walk_c, fs, walk_c[-1] + 1.0, rng, flight=False)
    walk = _gait(t, acc, fs)
    assert walk.n_steps >= 35
    assert not walk.is_run.any()
    jog_c = 1.0 + np.arange(40) * 60.0 / 135.0
    t, acc = _trunk(jog_c, fs, jog_c[-1] + 1.0, rng, flight=True)
    jog = _gait(t, acc, fs)
    assert jog.n_steps >= 35
    assert jog.is_run[3:].all()
    # the cadence alone says otherwise in both cases
    assert np.nanmedian(walk.cadence_spm) >= 150.0 > np.nanmedian(jog.cadence_spm)


def test_one_step_without_flight_does_not_flip_the_gait_two_do(rng):
    fs = 100.0
    c = 1.0 + np.arange(50) * 60.0 / 165.0
    odd = c[20:21]
    t, acc = _trunk(c, fs, c[-1] + 1.0, rng, flight=True, no_flight_after=odd)
    voted = _gait(t, acc, fs)
    assert voted.is_run[5:].all()
    # without the vote the odd step says walk: the test above can fail
    single = _gait(t, acc, fs, gait_switch_steps=1)
    assert not single.is_run[5:].all()
    assert np.count_nonzero(~single.is_run[5:]) == 1
    # two steps in a row without flight switch it (one step late), and the flight brings it back
    t, acc = _trunk(c, fs, c[-1] + 1.0, rng, flight=True, no_flight_after=c[20:23])
    two = _gait(t, acc, fs)
    walked = np.flatnonzero(~two.is_run[5:]) + 5
    assert 1 <= walked.size <= 3
    assert np.all(np.diff(walked) == 1)


def test_the_gait_switches_once_from_walk_to_run_on_a_real_treadmill_jog(waist_run):
    """The bundled waist jog (harlab S028): the treadmill walk at 105 steps/min, then the jog; the
    gait switches once there (no flicker) and once again as the belt stops."""
    steps = detect_steps(
        waist_run.t_s, waist_run.acc_mps2, sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back"
    )
    changes = np.flatnonzero(np.diff(steps.is_run.astype(int)))
    assert changes.size == 2
    up, down = steps.t_s[changes + 1]
    assert 10.0 <= up <= 11.5  # the flight appears at 10.6-11.0 s, as the belt speeds up
    assert not steps.is_run[steps.t_s < 10.0].any()
    assert 70.0 <= down <= 74.0  # the belt stops from 71.6 s on
    assert np.nanmedian(steps.cadence_spm[steps.t_s < 9.0]) < 110.0


def test_a_foot_sensor_says_run_from_its_cadence_after_two_strides(foot_run):
    t, acc, gyro = foot_run.t_s, foot_run.acc_mps2, foot_run.gyro_rads
    fs = foot_run.sampling_rate_hz
    steps = same_as_naive(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    single = detect_steps(
        t, acc, gyro, sampling_rate_hz=fs, placement="foot", settings=StepSettings(gait_switch_steps=1)
    )
    ok = np.isfinite(single.cadence_spm)
    # without the vote the flag is the cadence rule itself
    np.testing.assert_array_equal(single.is_run[ok], single.cadence_spm[ok] >= StepSettings().run_cadence_spm)
    # with it, a stride differs from its cadence's verdict only where the one before did too
    rule = steps.cadence_spm >= StepSettings().run_cadence_spm
    differs = np.flatnonzero(ok & (steps.is_run != rule))
    assert differs.size < np.count_nonzero(ok) // 4
    assert steps.is_run.mean() > 0.8


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_chunking_gives_the_batch_gait(data, waist_run, foot_run):
    rec = data.draw(st.sampled_from([waist_run, foot_run]))
    n = int(30.0 * rec.sampling_rate_hz)
    t, acc = rec.t_s[:n], rec.acc_mps2[:n]
    gyro = None if rec.gyro_rads is None else rec.gyro_rads[:n]
    fs = rec.sampling_rate_hz
    batch = streams_as_batch(t, acc, gyro, drawn_cuts(data, n), sampling_rate_hz=fs, placement=rec.placement)
    assert batch.is_run.any()
    assert not batch.is_run.all()


def test_a_data_gap_mid_run_keeps_the_gait_and_a_long_stop_hands_it_to_the_next_steps(waist_run, rng):
    """A gap in the data (FIFO overflow, replug: 3 s) restarts the step timing but not the gait: the
    runner ran before it and runs after it, and the first steps after it are running at once. The
    gait is not reset after a long stop either: what follows is the next contacts' evidence, which
    turns it within two contacts (one step reported late, either way; docs/gait.md)."""
    t, acc, fs = waist_run.t_s, waist_run.acc_mps2, waist_run.sampling_rate_hz
    jog = (t >= 20.0) & (t < 60.0)
    walk = t < 9.0
    tj, aj = t[jog] - 20.0, acc[jog]
    half = tj.size // 2
    gap_t = np.concatenate([tj[:half], tj[half:] + 3.0])
    after_walk = np.concatenate([tj, tj[-1] + 600.0 + t[walk]])
    both = np.concatenate([aj, acc[walk]])
    for tt, aa, t_resume in ((gap_t, aj, tj[half] + 3.0), (after_walk, both, tj[-1] + 600.0)):
        steps = same_as_naive(tt, aa, None, sampling_rate_hz=fs, placement="lower_back")
        cuts = np.sort(rng.choice(np.arange(1, tt.size), 30, replace=False))
        streams_as_batch(tt, aa, None, list(cuts), sampling_rate_hz=fs, placement="lower_back")
        before, resumed = steps.is_run[steps.t_s < t_resume], steps.is_run[steps.t_s >= t_resume]
        assert before[-5:].all()
        if t_resume < 100.0:  # after the data gap: running from the first contact
            assert resumed.all()
        else:  # after the stop, walking: the first contact still says run, the rest walk
            assert resumed.size >= 8
            assert not resumed[2:].any()
            assert resumed[:2].sum() <= 1


def test_a_switch_vote_below_one_is_refused():
    with pytest.raises(ValidationError, match="gait_switch_steps"):
        StepDetector(
            sampling_rate_hz=100.0,
            placement="lower_back",
            has_gyro=False,
            settings=StepSettings(gait_switch_steps=0),
        )


# ---- the benchmark ------------------------------------------------------------------------------


def _truth(dataset, activity, intervals):
    meta = {"dataset": dataset, "activity": activity, "placement": "lower_back"}
    meta["ground_truth"] = {"steps_t": [1.0], "gt_intervals": intervals}
    return Truth(dataset=dataset, recording_id="r", meta=meta)


def test_stretches_label_whole_recordings_and_the_run_bouts():
    assert labelled_stretches(_truth("voisard_ipol", "walk", [[0, 9]]), 10.0) == [
        (-np.inf, np.inf, "whole recording", "walk")
    ]
    assert labelled_stretches(_truth("gdind_footprints", "walk_fast", [[0, 9]]), 10.0)[0][3] == "walk"
    adept = labelled_stretches(_truth("adept_outdoor_run", "run", [[30, 50], [10, 20]]), 60.0)
    assert [(a, b, g) for a, b, _n, g in adept] == [
        (-np.inf, 10.0, None),
        (10.0, 20.0, "run"),
        (20.0, 30.0, None),
        (30.0, 50.0, "run"),
        (50.0, np.inf, None),
    ]
    harlab = labelled_stretches(_truth("harlab_treadmill_jog", "run", [[10, 70]]), 80.0)
    assert [(n, g) for _a, _b, n, g in harlab] == [
        ("before the run", "walk"),
        ("run bouts", "run"),
        ("outside the run bouts", None),
    ]


def test_count_gait_counts_each_contact_once_in_its_stretch():
    stretches = [(-np.inf, 10.0, "before the run", "walk"), (10.0, 20.0, "run bouts", "run")]
    stretches.append((20.0, np.inf, "outside the run bouts", None))
    t = np.array([1.0, 5.0, 10.0, 12.0, 15.0, 20.0, 25.0])
    run = np.array([False, True, True, True, False, True, False])
    # 10.0 is in the first stretch that holds it (before the run), 20.0 in the run bouts
    assert count_gait(t, run, stretches) == {
        "before the run": [2, 3],
        "run bouts": [2, 3],
        "outside the run bouts": [0, 1],
    }
    assert count_gait(np.zeros(0), np.zeros(0, bool), stretches) == {}


def test_pooled_leaves_the_unlabelled_stretches_out():
    groups = {
        "a/lower_back/run/run bouts": {"recordings": 1, "run": 9, "steps": 10, "gait": "run"},
        "a/lower_back/run/outside the run bouts": {"recordings": 1, "run": 5, "steps": 5, "gait": None},
        "b/lower_back/walk/whole recording": {"recordings": 2, "run": 1, "steps": 20, "gait": "walk"},
        "c/foot/walk/whole recording": {"recordings": 1, "run": 0, "steps": 7, "gait": "walk"},
    }
    assert pooled(groups) == {
        "foot / labelled walk": [0, 7],
        "lower_back / labelled run": [9, 10],
        "lower_back / labelled walk": [1, 20],
    }


def test_the_benchmark_runs_on_the_fixtures(tmp_path, capsys):
    out = tmp_path / "gait.json"
    assert main([str(FIXTURES), "--signals", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert printed.strip() == format_report(report).strip()
    jog = report["groups"]["harlab_treadmill_jog/lower_back/run/run bouts"]
    walk = report["groups"]["harlab_treadmill_jog/lower_back/run/before the run"]
    assert jog["steps"] > 100
    assert walk["steps"] > 10
    assert jog["run"] / jog["steps"] > 0.8
    assert walk["run"] == 0
    # the flight test's evidence: the jog's step signal falls far below the walk's
    sig = report["signals"]
    assert sig["harlab_treadmill_jog/lower_back/run/run bouts"]["step_min"][3] < -8.0
    assert sig["harlab_treadmill_jog/lower_back/run/before the run"]["step_min"][0] > -8.0
    assert report == json.loads(json.dumps(evaluate(FIXTURES, signals=True), default=float))


def test_the_benchmark_replays_the_feet_without_their_gyroscope_when_asked():
    with_gyro = evaluate(FIXTURES)["groups"]
    limb = evaluate(FIXTURES, no_gyro=True)["groups"]
    key = "pyshoe_vicon/foot/run/whole recording"
    # the limb detector finds its own contacts (another count), and flags the runs by cadence too
    assert limb[key]["steps"] != with_gyro[key]["steps"]
    assert limb[key]["run"] / limb[key]["steps"] > 0.7
    assert limb["pyshoe_vicon/foot/walk/whole recording"]["run"] == 0
    # the lower back has no gyroscope to drop: the same counts
    jog = "harlab_treadmill_jog/lower_back/run/run bouts"
    assert limb[jog] == with_gyro[jog]
