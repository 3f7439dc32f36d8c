"""Grade estimator: barometric altitude with BMP280-like noise, distance, foot heights, hysteresis."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dsp.exc import ValidationError
from dsp.grade import (
    CLIMB,
    DESCENT,
    FLAT,
    UNKNOWN,
    GradeEstimator,
    GradeSettings,
    pressure_to_altitude_m,
)

BARO_HZ = 10.0
STRIDE_S = 0.7
SPEED_MPS = 3.0  # horizontal


def altitude_to_pressure_pa(h_m, sea_level_pa=101325.0):
    """Inverse of the standard-atmosphere formula (written out independently)."""
    return sea_level_pa * (1.0 - np.asarray(h_m) / 44330.77) ** (1.0 / 0.190263)


def profile(grades_pct, seconds_each):
    """Piecewise-constant grade at constant horizontal speed; returns a function t -> (x_m, h_m)."""
    edges = np.arange(len(grades_pct) + 1) * seconds_each
    g = np.asarray(grades_pct, float) / 100.0
    h_edges = np.concatenate([[0.0], np.cumsum(g * SPEED_MPS * seconds_each)])

    def at(t):
        k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(g) - 1)
        return SPEED_MPS * t, h_edges[k] + g[k] * SPEED_MPS * (t - edges[k])

    return at, edges


def run(grades_pct, seconds_each, rng, *, baro=True, distance=True, foot=False, settings=None, start_m=350.0):
    """Feed a synthetic run; return stride times, true grade per stride and the states after each stride."""
    at, edges = profile(grades_pct, seconds_each)
    est = GradeEstimator(settings)
    t_end = edges[-1]
    tb = np.arange(0.0, t_end, 1.0 / BARO_HZ)
    ts = np.arange(STRIDE_S, t_end, STRIDE_S)
    pressure = altitude_to_pressure_pa(start_m + at(tb)[1]) + rng.normal(0.0, 1.2, tb.shape)
    states, truth = [], []
    b = 0
    for i, t in enumerate(ts):
        if baro:
            j = np.searchsorted(tb, t, side="right")
            if j > b:
                est.update_pressure(tb[b:j], pressure[b:j])
                b = j
        x1, h1 = at(t)
        x0, h0 = at(t - STRIDE_S) if i else at(0.0)
        d = math.hypot(x1 - x0, h1 - h0)
        dh = (h1 - h0) + rng.normal(0.0, 0.02) if foot else None
        states.append(est.update_stride(t, d if distance else None, dh))
        truth.append(grades_pct[min(int(t // seconds_each), len(grades_pct) - 1)])
    return ts, np.array(truth), states


def _share(states, truth, segment_grade, expected, ts, seconds_each, settle_s=20.0):
    idx = [
        i
        for i, (t, g) in enumerate(zip(ts, truth, strict=True))
        if g == segment_grade and (t % seconds_each) > settle_s
    ]
    return np.mean([states[i].grade == expected for i in idx])


def test_pressure_to_altitude_known_answers():
    assert pressure_to_altitude_m(101325.0) == pytest.approx(0.0, abs=1e-9)
    assert pressure_to_altitude_m(89874.6) == pytest.approx(1000.0, abs=1.0)  # ISA table
    assert pressure_to_altitude_m(79495.2) == pytest.approx(2000.0, abs=2.0)
    # one BMP280 count of noise (1.2 Pa) is about 0.1 m near sea level
    assert pressure_to_altitude_m(101325.0 - 1.2) == pytest.approx(0.1, abs=0.005)


def test_barometer_and_distance_give_the_grade(rng):
    grades = [10.0, 0.0, -10.0, 3.0, -3.0]
    ts, truth, states = run(grades, 90.0, rng)
    for g, expected in [(10.0, CLIMB), (0.0, FLAT), (-10.0, DESCENT), (3.0, FLAT), (-3.0, FLAT)]:
        assert _share(states, truth, g, expected, ts, 90.0) > 0.97, g
    settled = [s for s, t, g in zip(states, ts, truth, strict=True) if (t % 90.0) > 20.0]
    err = [s.grade_pct - g for s, g in zip(states, truth, strict=True) if s in settled]
    assert np.median(np.abs(err)) < 1.0  # percent points
    assert states[-1].source == "barometer+distance"
    assert math.isfinite(states[-1].altitude_m)


def test_noise_on_flat_ground_does_not_flicker(rng):
    _ts, _truth, states = run([0.0], 300.0, rng)
    grades = [s.grade for s in states]
    assert grades.count(FLAT) / len(grades) > 0.97
    changes = sum(a != b for a, b in itertools.pairwise(grades))
    assert changes <= 1  # unknown -> flat at the start


def test_grade_at_the_threshold_does_not_flicker(rng):
    _ts, _truth, states = run([6.0], 300.0, rng)
    grades = [s.grade for s in states if s.grade != UNKNOWN]
    changes = sum(a != b for a, b in itertools.pairwise(grades))
    assert changes <= 2


def test_barometer_without_distance_uses_vertical_speed(rng):
    ts, truth, states = run([10.0, 0.0, -10.0], 90.0, rng, distance=False)  # ±0.3 m/s vertical
    assert _share(states, truth, 10.0, CLIMB, ts, 90.0) > 0.97
    assert _share(states, truth, 0.0, FLAT, ts, 90.0) > 0.97
    assert _share(states, truth, -10.0, DESCENT, ts, 90.0) > 0.97
    assert states[-1].source == "barometer"
    assert math.isnan(states[-1].grade_pct)
    assert states[-1].vertical_speed_mps == pytest.approx(-0.3, abs=0.08)


def test_foot_height_changes_without_barometer(rng):
    ts, truth, states = run([12.0, 0.0, -12.0], 60.0, rng, baro=False, foot=True)
    assert _share(states, truth, 12.0, CLIMB, ts, 60.0, settle_s=10.0) > 0.9
    assert _share(states, truth, 0.0, FLAT, ts, 60.0, settle_s=10.0) > 0.9
    assert _share(states, truth, -12.0, DESCENT, ts, 60.0, settle_s=10.0) > 0.9
    assert states[-1].source == "foot+distance"
    assert math.isnan(states[-1].altitude_m)


def _flat_starts(settings, rng, *, noise_m, stride_m, starts=400, strides=8):
    """Flat ground from many starts (a fresh estimator each); the grade state after each stride."""
    states = []
    for _ in range(starts):
        est, t = GradeEstimator(settings), 0.0
        for _ in range(strides):
            t += STRIDE_S
            states.append(est.update_stride(t, stride_m, rng.normal(0.0, noise_m)).grade)
    return states


def test_foot_noise_after_a_start_is_not_a_climb(rng):
    # a foot sensor's height per stride scatters by up to 5 cm on flat ground; the two or three
    # walking strides after a start (1.2 m each) are too few to tell a 6 % grade from it
    graded = _flat_starts(None, rng, noise_m=0.05, stride_m=1.2)
    assert np.mean([g in (CLIMB, DESCENT) for g in graded]) < 0.006
    # the same strides judged without the noise margin: the first strides read climbs and descents
    raw = _flat_starts(GradeSettings(foot_height_noise_m=0.0), rng, noise_m=0.05, stride_m=1.2)
    assert np.mean([g in (CLIMB, DESCENT) for g in raw]) > 0.015


def test_foot_grade_spans_a_pause_and_forgets_after_max_grade_age(rng):
    # the ground does not change while the runner stands: a climb stays a climb after a pause;
    # after max_grade_age_s of silence the strides are forgotten (unknown, then measured afresh)
    est, t = GradeEstimator(), 0.0
    for _ in range(15):
        t += STRIDE_S
        est.update_stride(t, 2.1, 0.10 * 2.1 + rng.normal(0.0, 0.02))
    assert est.state.grade == CLIMB
    t += 30.0
    assert est.update_stride(t, 2.1, 0.0).grade == CLIMB  # one flat stride after the pause: 19 m at ~9 %
    t += 61.0
    state = est.update_stride(t, 2.1, 0.0)
    assert state.grade == UNKNOWN
    assert state.source == "none"


def test_foot_noise_margin_keeps_a_real_climb(rng):
    # 12 % at 2.1 m per stride is +25 cm per stride: far above the margin (3 × 1.7 % over 2 strides)
    est, t, states = GradeEstimator(), 0.0, []
    for _ in range(60):
        t += STRIDE_S
        states.append(
            est.update_stride(t, SPEED_MPS * STRIDE_S, 0.12 * SPEED_MPS * STRIDE_S + rng.normal(0.0, 0.05))
        )
    assert all(s.grade == CLIMB for s in states[3:])


def test_foot_heights_without_distance_use_vertical_speed(rng):
    ts, truth, states = run([12.0, 0.0], 60.0, rng, baro=False, distance=False, foot=True)
    assert _share(states, truth, 12.0, CLIMB, ts, 60.0, settle_s=10.0) > 0.9
    assert states[-1].source == "foot"


def test_nothing_known_is_unknown_and_a_lost_barometer_falls_back(rng):
    est = GradeEstimator()
    assert est.state.grade == UNKNOWN
    assert est.update_stride(1.0, 2.0).grade == UNKNOWN  # distance alone says nothing about height
    est.update_pressure(np.arange(1.0, 30.0, 0.1), np.full(290, 97000.0))
    assert est.state.grade == FLAT
    # the barometer stops; with no foot heights the grade becomes unknown
    assert est.update_stride(40.0, 2.0).grade == UNKNOWN
    assert est.state.source == "none"


def test_bad_pressure_readings_are_skipped_and_counted(rng):
    est = GradeEstimator()
    p = np.full(50, 97000.0) + rng.normal(0.0, 1.2, 50)
    p[[5, 17]] = np.nan
    p[30] = 0.0
    est.update_pressure(np.arange(50) * 0.1, p)
    assert est.bad_pressure == 3
    assert math.isfinite(est.state.altitude_m)


def test_minimum_dwell(rng):
    s = GradeSettings(min_dwell_s=60.0)
    ts, _truth, states = run([10.0, 0.0] * 4, 30.0, rng, settings=s)
    changes = [
        (t, b.grade) for t, a, b in zip(ts[1:], states[:-1], states[1:], strict=True) if a.grade != b.grade
    ]
    known = [c for c in changes if c[1] != UNKNOWN]
    assert len(known) >= 2
    assert all(t1 - t0 >= 60.0 - 1e-9 for (t0, _), (t1, _) in itertools.pairwise(known))


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValidationError, match="climb_grade_pct"):
        GradeSettings(climb_grade_pct=-1.0)
    with pytest.raises(ValidationError, match="grade_hysteresis_pct"):
        GradeSettings(grade_hysteresis_pct=7.0)
    with pytest.raises(ValidationError, match="pressure_noise_pa"):
        GradeSettings(pressure_noise_pa=0.0)
    est = GradeEstimator()
    est.update_pressure([1.0, 2.0], [97000.0, 97000.0])
    with pytest.raises(ValidationError, match="non-decreasing"):
        est.update_pressure(1.5, 97000.0)
    with pytest.raises(ValidationError, match="same shape"):
        est.update_pressure([3.0, 4.0], [97000.0])
    with pytest.raises(ValidationError, match="distance_m must be >= 0"):
        est.update_stride(3.0, -1.0)
    est.reset()
    assert est.state.grade == UNKNOWN


def _real_flat_strides():
    """Strides of a real flat run (pyshoe_vicon running, the demo's recording): times, lengths, heights."""
    from dsp import detect_steps
    from dsp.stride import estimate_strides
    from tests.conftest import load_fixture

    rec = load_fixture("pyshoe_vicon/2017-11-27-11-18-11.csv")
    steps = detect_steps(
        rec.t_s, rec.acc_mps2, rec.gyro_rads, sampling_rate_hz=rec.sampling_rate_hz, placement="foot"
    )
    res = estimate_strides(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        steps.t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="foot",
        contacts_is_run=steps.is_run,
    )
    ok = np.isfinite(res.stride_length_m) & np.isfinite(res.height_change_m)
    return res.t_contact_s[ok], res.stride_length_m[ok], res.height_change_m[ok]


def test_real_flat_running_strides_read_flat():
    # the VICON room is flat: before the stance-anchor tilt was taken out of the height (session
    # 7) these strides gained +8.6 cm each (+5.8 %) and the grade read climb for 22 % of the run
    _t, length, dz = _real_flat_strides()
    assert len(dz) >= 30
    assert abs(dz.sum() / length.sum()) < 0.02
    assert np.std(dz) < 0.05  # foot_height_noise_m (it was 8.8 cm)


@pytest.mark.parametrize(
    ("grade_pct", "expected"), [(0.0, FLAT), (8.0, CLIMB), (10.0, CLIMB), (-8.0, DESCENT)]
)
def test_ramp_built_on_real_flat_strides_is_found_within_25_m(grade_pct, expected):
    # the real strides (their noise and bias) repeated over 160 m; from 80 m on the ground rises at
    # grade_pct: each stride's height change gains grade × its part beyond 80 m. Flat before the
    # ramp; the ramp's grade from at most 25 m into it (the 20 m window filling), settled within
    # 1.5 points (the run's own bias, -1 %, and the noise)
    t, length, dz = _real_flat_strides()
    reps = int(np.ceil(160.0 / length.sum()))
    step_s = np.median(np.diff(t))
    times = np.concatenate([t - t[0] + k * (t[-1] - t[0] + step_s) for k in range(reps)])
    length, dz = np.tile(length, reps), np.tile(dz, reps)
    x1 = np.cumsum(length)
    on_ramp = np.clip(x1 - np.maximum(x1 - length, 80.0), 0.0, None)
    dz = dz + grade_pct / 100.0 * on_ramp
    est = GradeEstimator()
    states = [
        est.update_stride(float(a), float(b), float(c)) for a, b, c in zip(times, length, dz, strict=True)
    ]
    grades = np.array([s.grade for s in states])
    pct = np.array([s.grade_pct for s in states])
    assert set(grades[(x1 > 5.0) & (x1 <= 80.0)]) == {FLAT}
    assert set(grades[x1 >= 105.0]) == {expected}
    settled = x1 >= 105.0
    assert np.median(np.abs(pct[settled] - grade_pct)) < 1.5
