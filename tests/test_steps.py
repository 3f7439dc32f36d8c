"""The streaming step core: fast kernel vs slow reference, chunking, orientation, bad samples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from dsp import StepDetector, StepSettings, ValidationError, detect_steps
from dsp._filters import butter2_lowpass
from tests.naive import naive_detect_steps
from tests.rotations import random_rotation
from tests.trunk_steps import spring_mass_av


def _batch(rec, **kw):
    return detect_steps(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        **kw,
    )


def _crop(rec, seconds):
    n = int(seconds * rec.sampling_rate_hz)
    g = None if rec.gyro_rads is None else rec.gyro_rads[:n]
    return rec.t_s[:n], rec.acc_mps2[:n], g


@pytest.mark.parametrize("name", ["waist_run", "foot_run", "foot_walk", "back_walk"])
def test_kernel_matches_naive_reference(name, request):
    rec = request.getfixturevalue(name)
    t, acc, gyro = _crop(rec, 25.0)
    fast = detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    assert fast.n_steps == len(slow) > 5
    np.testing.assert_array_equal(fast.t_s, [s[0] for s in slow])
    np.testing.assert_array_equal(fast.emitted_at_s, [s[1] for s in slow])
    np.testing.assert_allclose(fast.cadence_spm, [s[2] for s in slow], rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(fast.is_run, [s[3] for s in slow])


def test_kernel_matches_reference_without_gyro_on_a_foot(foot_run):
    t, acc, _ = _crop(foot_run, 20.0)
    fast = detect_steps(t, acc, None, sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot")
    slow = naive_detect_steps(t, acc, None, sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot")
    np.testing.assert_array_equal(fast.t_s, [s[0] for s in slow])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_chunking_gives_the_batch_result(data, foot_run, waist_run):
    rec = data.draw(st.sampled_from([foot_run, waist_run]))
    t, acc, gyro = _crop(rec, 30.0)
    batch = detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    det = StepDetector(
        sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement, has_gyro=gyro is not None
    )
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(t) - 1), max_size=40))))
    parts = []
    for a, b in zip([0, *cuts], [*cuts, len(t)], strict=True):
        parts.append(det.update(t[a:b], acc[a:b], None if gyro is None else gyro[a:b]))
    got = np.concatenate([p.t_s for p in parts])
    np.testing.assert_array_equal(got, batch.t_s)
    np.testing.assert_array_equal(np.concatenate([p.cadence_spm for p in parts]), batch.cadence_spm)


def test_one_sample_blocks_give_the_batch_result(waist_run):
    t, acc, _ = _crop(waist_run, 15.0)
    batch = detect_steps(t, acc, sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back")
    det = StepDetector(sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back", has_gyro=False)
    got = np.concatenate([det.update(t[i : i + 1], acc[i : i + 1]).t_s for i in range(len(t))])
    np.testing.assert_array_equal(got, batch.t_s)


def _matched_fraction(a, b, tol_s):
    if len(a) == 0:
        return 0.0
    return float(np.mean([np.min(np.abs(b - x)) <= tol_s for x in a])) if len(b) else 0.0


@pytest.mark.parametrize("name", ["waist_run", "foot_run", "back_walk"])
def test_any_mounting_orientation_gives_the_same_steps(name, request, rng):
    rec = request.getfixturevalue(name)
    ref = _batch(rec)
    dt = 1.5 / rec.sampling_rate_hz
    flips = [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]  # upside down, turned round
    for rot in [*flips, *(random_rotation(rng) for _ in range(3))]:
        gyro = None if rec.gyro_rads is None else rec.gyro_rads @ rot.T
        got = detect_steps(
            rec.t_s,
            rec.acc_mps2 @ rot.T,
            gyro,
            sampling_rate_hz=rec.sampling_rate_hz,
            placement=rec.placement,
        )
        assert abs(got.n_steps - ref.n_steps) <= max(1, ref.n_steps // 200)
        assert _matched_fraction(ref.t_s, got.t_s, dt) >= 0.99


def test_every_step_is_decided_within_150_ms(waist_run, foot_run, back_walk):
    for rec in (waist_run, foot_run, back_walk):
        steps = _batch(rec)
        latency = steps.emitted_at_s - steps.t_s
        assert steps.n_steps > 20
        assert latency.min() >= 0.0
        assert latency.max() <= 0.150 + 1.0 / rec.sampling_rate_hz


def _synthetic_trunk(cadence_spm, fs, seconds, rng, run, walk_gains=None, walk_scale=1.0):
    """Vertical trunk acceleration of steps at a known cadence, from simple physics.

    Running: the spring-mass model (``tests.trunk_steps.spring_mass_av``): a half-sine ground
    reaction during contact (40 % of the step) sized so that the mean force equals body weight,
    free fall (-g) in flight.
    Walking: a heel-strike transient followed by a loading peak about 0.1 s later, each step
    scaled by ``walk_scale`` times its entry of ``walk_gains`` (default 1).
    """
    g = 9.80665
    t = np.arange(int(seconds * fs)) / fs
    period = 60.0 / cadence_spm
    contacts = np.arange(1.0, seconds - 0.5, period)
    contacts = contacts + rng.normal(0, 0.01 * period, contacts.size)
    if run:
        av = spring_mass_av(t, contacts, period)
    else:
        av = np.zeros_like(t)
        gains = np.ones(contacts.size) if walk_gains is None else walk_gains(contacts.size)
        for c, gain in zip(contacts, walk_scale * gains, strict=True):
            x = t - c
            av += gain * 6.0 * np.exp(-0.5 * (x / 0.012) ** 2) * (x > -0.03)  # heel-strike transient
            centre_s, width_s = min(0.12, 0.3 * period), min(0.06, 0.12 * period)
            av += gain * 3.0 * np.exp(-0.5 * ((x - centre_s) / width_s) ** 2)
        av -= av.mean()
    acc = np.zeros((t.size, 3))
    acc[:, 2] = g + av + rng.normal(0, 0.2, t.size)
    acc[:, 0] = 1.5 * np.sin(2 * np.pi * t * cadence_spm / 120.0) + rng.normal(0, 0.2, t.size)
    return t, acc, contacts


@pytest.mark.parametrize("fs", [40.0, 100.0, 200.0, 1000.0])
@pytest.mark.parametrize(
    ("cadence_spm", "run"), [(60.0, False), (110.0, False), (170.0, True), (240.0, True)]
)
def test_synthetic_cadence_range_and_rates(cadence_spm, run, fs, rng):
    t, acc, contacts = _synthetic_trunk(cadence_spm, fs, 30.0, rng, run)
    steps = detect_steps(t, acc, sampling_rate_hz=fs, placement="waist")
    inside = contacts[(contacts > 3.0) & (contacts < 29.0)]
    found = steps.t_s[(steps.t_s > 3.0) & (steps.t_s < 29.0)]
    assert abs(found.size - inside.size) <= 1
    assert _matched_fraction(inside, steps.t_s, 0.08 + 1.0 / fs) >= 0.97  # one sample of slack at 40 Hz
    cad = steps.cadence_spm[steps.t_s > 5.0]
    assert np.nanmedian(np.abs(cad - cadence_spm)) <= 0.02 * cadence_spm
    assert np.mean(steps.is_run[steps.t_s > 5.0]) == (1.0 if run else 0.0)


def test_a_weak_step_where_the_rhythm_expects_one_is_kept(rng):
    """A step with a hump about a quarter as high as its neighbours (a turn, a last step) counts."""
    weak = 20

    def gains(n):
        g = np.ones(n)
        g[weak] = 0.5
        return g

    t, acc, contacts = _synthetic_trunk(110.0, 100.0, 30.0, rng, False, walk_gains=gains, walk_scale=2.0)
    found = detect_steps(t, acc, sampling_rate_hz=100.0, placement="lower_back")
    assert np.min(np.abs(found.t_s - contacts[weak])) <= 0.08
    # the same hump is too weak for the threshold that applies away from the rhythm
    strict = StepSettings(rhythm_relative_threshold=StepSettings().relative_threshold)
    missed = detect_steps(t, acc, sampling_rate_hz=100.0, placement="lower_back", settings=strict)
    assert np.min(np.abs(missed.t_s - contacts[weak])) > 0.08
    assert missed.n_steps == found.n_steps - 1


def _running_to_a_stop(fs, rng, last_gap_periods=1.3, last_gain=0.25, cadence_spm=170.0, n=40):
    """Running steps (half-sine stance force, free fall in flight), then one slow, soft last step.

    The runner starts from standing with the push-off of gait initiation (a hump 0.45 s before the
    first contact, not a contact). The belt stops: after the last running stance there is no more
    flight, and the last contact comes ``last_gap_periods`` step periods after the one before, with
    a hump ``last_gain`` times as high and 0.2 s long (a slower loading than the 0.14 s running stance).
    """
    g = 9.80665
    period = 60.0 / cadence_spm
    contacts = np.append(2.0 + period * np.arange(n), 2.0 + period * (n - 1 + last_gap_periods))
    t = np.arange(int((contacts[-1] + 2.0) * fs)) / fs
    tc = 0.4 * period
    amp = np.pi * g * period / (2.0 * tc)
    av = np.full_like(t, -g)
    av[t < contacts[0]] = 0.0
    av[t >= contacts[-2] + tc] = 0.0
    for c in contacts[:-1]:
        x = t - c
        inside = (x >= 0) & (x < tc)
        av[inside] += amp * np.sin(np.pi * x[inside] / tc)
    x = t - contacts[-1]
    inside = (x >= 0) & (x < 0.2)
    av[inside] += last_gain * amp * np.sin(np.pi * x[inside] / 0.2)
    x = t - (contacts[0] - 0.45)
    inside = (x >= 0) & (x < 0.2)
    av[inside] += 0.25 * amp * np.sin(np.pi * x[inside] / 0.2)  # push-off of gait initiation
    acc = np.zeros((t.size, 3))
    acc[:, 2] = g + av + rng.normal(0, 0.2, t.size)
    acc[:, 0] = rng.normal(0, 0.2, t.size)
    return t, acc, contacts


@pytest.mark.parametrize("fs", [40.0, 100.0, 200.0, 1000.0])
def test_the_rhythm_is_tested_at_the_contact_of_a_slow_last_step(fs, rng):
    """A runner stopping (a treadmill belt stops): the last, slow step comes 1.3 periods after the one
    before, and its hump, weaker than the running threshold allows, peaks only after 1.5 periods.
    The rhythm is one of contacts, so it is tested at the hump's contact, and the step counts."""
    t, acc, contacts = _running_to_a_stop(fs, rng)
    steps = detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back")
    assert steps.n_steps == contacts.size
    assert _matched_fraction(contacts, steps.t_s, 0.08 + 1.0 / fs) == 1.0
    slow = naive_detect_steps(t, acc, None, sampling_rate_hz=fs, placement="lower_back")
    np.testing.assert_array_equal(steps.t_s, [x[0] for x in slow])
    # the hump is only strong enough where the rhythm expects a step
    strict = StepSettings(rhythm_relative_threshold=StepSettings().relative_threshold)
    missed = detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back", settings=strict)
    assert np.min(np.abs(missed.t_s - contacts[-1])) > 0.2
    assert missed.n_steps == contacts.size - 1


@pytest.mark.parametrize("fs", [40.0, 100.0, 200.0, 1000.0])
def test_the_push_off_of_gait_initiation_after_standing_is_not_a_contact(fs, rng):
    """Standing, then the first swing leg pushes off (a trunk hump without a contact) and lands one
    swing later: the push-off is not a step, every heel strike is; the push-off counts as a step
    when nothing marks it (no standing before it: ``initiation_s`` 0)."""
    g = 9.80665
    period = 0.55
    push_s = 2.5
    contacts = push_s + 0.45 + period * np.arange(20)
    t = np.arange(int((contacts[-1] + 2.0) * fs)) / fs
    av = np.zeros_like(t)
    for c in np.append(push_s, contacts):
        x = t - c
        # each hump's mean is zero over its own step (the trunk's mean acceleration is zero)
        av += 3.0 * np.exp(-0.5 * ((x - 0.06) / 0.05) ** 2) - 1.5 * np.exp(-0.5 * ((x - 0.3) / 0.1) ** 2)
    acc = np.zeros((t.size, 3))
    acc[:, 2] = g + av + rng.normal(0, 0.05, t.size)
    acc[:, 1] = rng.normal(0, 0.05, t.size)
    steps = detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back")
    assert steps.n_steps == contacts.size
    assert _matched_fraction(contacts, steps.t_s, 0.08 + 1.0 / fs) == 1.0
    slow = naive_detect_steps(t, acc, None, sampling_rate_hz=fs, placement="lower_back")
    np.testing.assert_array_equal(steps.t_s, [x[0] for x in slow])
    unmarked = detect_steps(
        t, acc, sampling_rate_hz=fs, placement="lower_back", settings=StepSettings(initiation_s=0.0)
    )
    assert unmarked.n_steps == contacts.size + 1
    assert np.min(np.abs(unmarked.t_s - push_s)) <= 0.08 + 1.0 / fs


def test_a_new_bout_after_a_pause_has_its_own_cadence(rng):
    """Cadence after a standstill comes from the new bout only, not from the steps before it."""
    fs = 100.0
    t_a, acc_a, _ = _synthetic_trunk(120.0, fs, 15.0, rng, False)
    still = np.tile([0.0, 0.0, 9.80665], (int(3.0 * fs), 1)) + rng.normal(0, 0.05, (int(3.0 * fs), 3))
    t_b, acc_b, contacts_b = _synthetic_trunk(90.0, fs, 15.0, rng, False)
    t = np.arange(t_a.size + still.shape[0] + t_b.size) / fs
    acc = np.vstack([acc_a, still, acc_b])
    start_b = (t_a.size + still.shape[0]) / fs
    steps = detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back")
    after = steps.t_s > start_b + contacts_b[0] - 0.1
    assert np.isnan(steps.cadence_spm[after][0])  # the first step of the bout has no interval yet
    np.testing.assert_allclose(steps.cadence_spm[after][1:6], 90.0, atol=3.0)
    slow = naive_detect_steps(t, acc, None, sampling_rate_hz=fs, placement="lower_back")
    np.testing.assert_allclose(steps.cadence_spm, [x[2] for x in slow], rtol=0, atol=1e-9, equal_nan=True)


def test_nan_and_zero_samples_are_repaired_and_flagged(waist_run):
    t, acc, _ = _crop(waist_run, 30.0)
    bad = acc.copy()
    bad[500:503] = np.nan
    bad[900] = 0.0
    det = StepDetector(sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back", has_gyro=False)
    got = det.update(t, bad)
    ref = detect_steps(t, acc, sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back")
    assert det.flags.repaired_samples == 4
    assert np.all(np.isfinite(got.t_s))
    assert abs(got.n_steps - ref.n_steps) <= 1


def test_gap_in_time_restarts_detection_without_stitching(waist_run):
    t, acc, _ = _crop(waist_run, 40.0)
    keep = (t < 15.0) | (t > 20.0)
    det = StepDetector(sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back", has_gyro=False)
    got = det.update(t[keep], acc[keep])
    assert det.flags.gaps == 1
    assert not np.any((got.t_s > 15.0) & (got.t_s < 20.0))
    assert np.sum(got.t_s > 20.0) > 20
    # no interval across the gap feeds the cadence: the first step after it has none
    first_after = np.flatnonzero(got.t_s > 20.0)[0]
    assert np.isnan(got.cadence_spm[first_after])


def test_still_sensor_gives_no_steps(rng):
    fs = 100.0
    t = np.arange(6000) / fs
    acc = np.tile([0.3, -9.7, 1.2], (t.size, 1)) + rng.normal(0, 0.05, (t.size, 3))
    assert detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back").n_steps == 0
    gyro = rng.normal(0, 0.01, (t.size, 3))
    assert detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot").n_steps == 0


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValidationError, match="sampling_rate_hz=20"):
        StepDetector(sampling_rate_hz=20.0, placement="foot", has_gyro=True)
    with pytest.raises(ValidationError, match="placement 'wrist'"):
        StepDetector(sampling_rate_hz=100.0, placement="wrist", has_gyro=False)
    det = StepDetector(sampling_rate_hz=100.0, placement="foot", has_gyro=True)
    with pytest.raises(ValidationError, match="pass gyro_rads"):
        det.update(np.zeros(3), np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="expected"):
        det.update(np.zeros(3), np.zeros((4, 3)), np.zeros((4, 3)))


def test_placement_aliases_are_the_same_detector(waist_run):
    a = _batch(waist_run)
    for alias in ("waist", "belt", "LOWER_BACK"):
        b = detect_steps(
            waist_run.t_s, waist_run.acc_mps2, sampling_rate_hz=waist_run.sampling_rate_hz, placement=alias
        )
        np.testing.assert_array_equal(a.t_s, b.t_s)


def test_settings_change_the_result(waist_run):
    """Guard against a settings object that is silently ignored."""
    a = _batch(waist_run)
    b = _batch(waist_run, settings=StepSettings(min_step_interval_s=0.9))
    assert b.n_steps < 0.7 * a.n_steps


def _damaged(rec, seconds=25.0):
    """A recording with a frozen stretch, a NaN-gyro stretch and short NaN bursts."""
    t, acc, gyro = _crop(rec, seconds)
    acc, gyro = acc.copy(), None if gyro is None else gyro.copy()
    fs = rec.sampling_rate_hz
    a0, a1 = int(5 * fs), int(6 * fs)  # 1 s frozen: every axis repeats the reading at a0
    acc[a0:a1] = acc[a0]
    if gyro is not None:
        gyro[a0:a1] = gyro[a0]
        gyro[int(12 * fs) : int(13.5 * fs)] = np.nan  # 1.5 s without gyro
    acc[int(18 * fs) : int(18 * fs) + 3] = np.nan  # a short burst: held, no restart
    return t, acc, gyro, a1 - a0


@pytest.mark.parametrize("name", ["waist_run", "foot_run"])
def test_kernel_matches_naive_reference_on_damaged_data(name, request):
    rec = request.getfixturevalue(name)
    t, acc, gyro, _ = _damaged(rec)
    fast = detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement)
    assert fast.n_steps == len(slow) > 5
    np.testing.assert_array_equal(fast.t_s, [s[0] for s in slow])
    np.testing.assert_array_equal(fast.emitted_at_s, [s[1] for s in slow])


@pytest.mark.parametrize("name", ["waist_run", "foot_run"])
def test_a_frozen_sensor_is_counted_and_restarts_the_detector(name, request):
    rec = request.getfixturevalue(name)
    t, acc, gyro, n_frozen = _damaged(rec)
    det = StepDetector(
        sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement, has_gyro=gyro is not None
    )
    got = det.update(t, acc, gyro)
    f = det.flags
    # the repeats of the reading at a0 (the first one is a real sample)
    assert f.frozen_samples == n_frozen - 1
    # the frozen second is a gap (and so is the NaN-gyro stretch on the foot); the 3-sample burst is not
    assert f.gaps == (2 if gyro is not None else 1)
    assert f.repaired_samples == 3 + (0 if gyro is None else int(1.5 * rec.sampling_rate_hz))
    # no contact decided inside the frozen second, and contacts resume after it
    assert not np.any(
        (got.t_s > t[int(5 * rec.sampling_rate_hz)] + 0.2) & (got.t_s < t[int(6 * rec.sampling_rate_hz)])
    )
    assert np.sum(got.t_s > 8.0) > 10


def test_a_held_duplicate_is_not_a_frozen_sensor(waist_run):
    """Upsampled logs repeat a reading once or twice: that is not a frozen sensor, and no gap."""
    t, acc, _ = _crop(waist_run, 20.0)
    dup = acc.copy()
    dup[1::2] = dup[0:-1:2]  # every reading held for two samples
    det = StepDetector(sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back", has_gyro=False)
    det.update(t, dup)
    assert det.flags.frozen_samples == 0
    assert det.flags.gaps == 0


def test_samples_at_the_full_scale_range_are_counted_as_saturated(foot_run):
    t, acc, gyro = _crop(foot_run, 20.0)
    acc_range, gyro_range = 4 * 9.80665, np.radians(500.0)
    clipped_acc = np.clip(acc, -acc_range, acc_range)
    clipped_gyro = np.clip(gyro, -gyro_range, gyro_range)
    expected = int(
        (
            (np.abs(acc) >= 0.995 * acc_range).any(axis=1) | (np.abs(gyro) >= 0.995 * gyro_range).any(axis=1)
        ).sum()
    )
    assert expected > 20  # the shoe sees more than 4 g and 500 °/s on every stride
    det = StepDetector(
        sampling_rate_hz=foot_run.sampling_rate_hz,
        placement="foot",
        has_gyro=True,
        acc_range_mps2=acc_range,
        gyro_range_rads=gyro_range,
    )
    det.update(t, clipped_acc, clipped_gyro)
    assert det.flags.saturated_samples == expected
    # without the ranges nothing can be said
    plain = StepDetector(sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot", has_gyro=True)
    plain.update(t, clipped_acc, clipped_gyro)
    assert plain.flags.saturated_samples == 0


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_a_wrong_range_is_refused_in_one_line(bad):
    with pytest.raises(ValidationError, match="acc_range_mps2"):
        StepDetector(sampling_rate_hz=100.0, placement="foot", has_gyro=True, acc_range_mps2=bad)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_chunking_gives_the_batch_result_on_damaged_data(data, foot_run):
    t, acc, gyro, _ = _damaged(foot_run)
    batch_det = StepDetector(sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot", has_gyro=True)
    batch = batch_det.update(t, acc, gyro)
    det = StepDetector(sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot", has_gyro=True)
    cuts = [0, *sorted(set(data.draw(st.lists(st.integers(1, len(t) - 1), max_size=30)))), len(t)]
    parts = [det.update(t[a:b], acc[a:b], gyro[a:b]) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_array_equal(np.concatenate([p.t_s for p in parts]), batch.t_s)
    assert det.flags == batch_det.flags


def _synthetic_foot(
    fs,
    seconds,
    rng,
    *,
    swing_rads=6.0,
    other_s=0.15,
    other_rads=4.0,
    rest_s=0.45,
    yaw_rads=0.0,
    soft=False,
    small=None,
):
    """A foot sensor from simple gait kinematics: per stride push-off, swing, foot-flat and rest.

    The pitch rate (sensor x) is a train of rounded lobes: the swing (negative, 0.4 s) between
    a push-off before it and a foot-flat lobe after it (positive, ``other_s`` long each), then
    ``rest_s`` of rest; the heel strike at the swing's end adds an impact to the vertical
    acceleration (sensor z carries gravity).  ``yaw_rads`` adds a turning rate about the vertical.
    ``soft``: no foot-flat lobe; the rate lingers just below the hysteresis on the swing's side.
    ``small``: index of a stride that comes after a 2 s pause and swings at a third of the rate.
    Returns t, acc, gyro and the contact (swing end) times.
    """

    def lobe(n, peak):
        x = (np.arange(n) + 0.5) / n
        return peak * np.sin(np.pi * x) ** (1.0 / 3.0)  # steep flanks: no rest at a zero crossing

    n_sw, n_o, n_rest = int(0.4 * fs), int(other_s * fs), int(rest_s * fs)
    pitch = [np.zeros(int(1.0 * fs))]
    contacts = []
    pos = pitch[0].size
    while pos < (seconds - 2.0) * fs:
        after = np.full(int(0.4 * fs), -0.15) if soft else lobe(n_o, other_rads)
        gain = 1.0
        if len(contacts) == small:
            pitch.append(np.zeros(int(2.0 * fs)))
            pos += int(2.0 * fs)
            gain = 1.0 / 3.0
        parts = [lobe(n_o, gain * other_rads), lobe(n_sw, -gain * swing_rads), after, np.zeros(n_rest)]
        contacts.append((pos + n_o + n_sw) / fs)
        pitch += parts
        pos += sum(p.size for p in parts)
    pitch.append(np.zeros(int(seconds * fs) - pos))
    p = np.concatenate(pitch)
    t = np.arange(p.size) / fs
    gyro = np.zeros((p.size, 3))
    gyro[:, 0] = p
    gyro[:, 2] = yaw_rads * np.sin(2.0 * np.pi * 0.25 * t)
    gyro += rng.normal(0, 0.02, gyro.shape)
    acc = np.zeros((p.size, 3))
    acc[:, 2] = 9.80665
    for c in contacts:
        acc[:, 2] += 25.0 * np.exp(-0.5 * ((t - c - 0.015) / 0.01) ** 2)  # heel-strike impact
    acc += rng.normal(0, 0.1, acc.shape)
    return t, acc, gyro, np.array(contacts)


@pytest.mark.parametrize("fs", [40.0, 100.0, 1000.0])
def test_foot_contacts_are_the_swing_ends_and_match_the_reference(fs, rng):
    t, acc, gyro, contacts = _synthetic_foot(fs, 30.0, rng)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    assert steps.n_steps == contacts.size
    np.testing.assert_allclose(steps.t_s, contacts, atol=0.03 + 1.0 / fs)
    assert np.max(steps.emitted_at_s - steps.t_s) <= 0.150
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    np.testing.assert_array_equal(steps.t_s, [s[0] for s in slow])
    np.testing.assert_array_equal(steps.emitted_at_s, [s[1] for s in slow])


def test_the_heel_strike_impact_names_the_swing_when_the_foot_never_rests(rng):
    """No rest between strides, and push-off plus foot-flat rotate more than the swing.

    Without a rest there is no push-off vote, and the larger rotation is not the swing: only the
    impact that follows the swing's end tells which lobe ends in a contact.
    """
    t, acc, gyro, contacts = _synthetic_foot(100.0, 30.0, rng, swing_rads=4.0, other_s=0.3, rest_s=0.0)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    late = contacts[contacts > 4.0]  # the first strides may go by while the evidence builds up
    found = steps.t_s[steps.t_s > 4.0 - 0.05]
    assert found.size == late.size
    np.testing.assert_allclose(found, late, atol=0.03)
    # the same walk without impacts: the larger rotation (push-off + foot-flat) is taken for the swing
    quiet = acc.copy()
    quiet[:, 2] = 9.80665 + rng.normal(0, 0.1, t.size)
    wrong = detect_steps(t, quiet, gyro, sampling_rate_hz=100.0, placement="foot")
    assert _matched_fraction(late, wrong.t_s, 0.05) < 0.5


@pytest.mark.parametrize("fs", [50.0, 100.0])
def test_the_push_off_burst_before_its_lobe_ends_is_not_an_impact(fs, rng):
    """The toe-off's own acceleration burst ends with the push-off lobe, at its last sample.

    The impact that names the swing is measured from the zero crossing on, i.e. after the lobe's
    last sample: a burst up to that sample (larger than the heel strike, as in voisard's foot
    recordings resampled to 50 Hz) belongs to the push-off and must not vote for it.
    """
    t, acc, gyro, contacts = _synthetic_foot(fs, 30.0, rng, swing_rads=4.0, other_s=0.3, rest_s=0.0)
    # the detector's pitch rate is low-passed: the push-off lobe ends at its last positive sample
    coef = butter2_lowpass(StepSettings().swing_cutoff_hz, fs)
    pitch = lfilter(coef[:3], [1.0, *coef[3:]], gyro[:, 0])
    for c in contacts:
        k = round((c - 0.4) * fs)  # about where the push-off turns into the swing (0.4 s long)
        last = k - 5 + int(np.flatnonzero(pitch[k - 5 : k + 10] <= 0.0)[0]) - 1
        acc[last - 1 : last + 1, 2] += 40.0  # its burst, ending there
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    late = contacts[contacts > 4.0]
    found = steps.t_s[steps.t_s > 4.0 - 0.05]
    assert found.size == late.size
    np.testing.assert_allclose(found, late, atol=0.03 + 1.0 / fs)
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    np.testing.assert_array_equal(steps.t_s, [s[0] for s in slow])


def test_turning_about_the_vertical_does_not_tilt_the_pitch_axis(rng):
    """A yaw rate larger than the pitch rate (a foot turning while it walks) leaves the contacts."""
    t, acc, gyro, contacts = _synthetic_foot(100.0, 40.0, rng, yaw_rads=8.0)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    late = contacts[contacts > 5.0]
    assert _matched_fraction(late, steps.t_s, 0.05) >= 0.95
    assert abs(steps.t_s[steps.t_s > 5.0 - 0.05].size - late.size) <= 1


def test_a_swing_that_fades_out_ends_where_the_rotation_stopped(rng):
    """A rate lingering near zero on the swing's side after landing neither delays the contact
    nor its decision (before, the lobe ran on until the rate changed sign)."""
    t, acc, gyro, contacts = _synthetic_foot(100.0, 30.0, rng, soft=True)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    late = contacts[contacts > 4.0]
    found = steps.t_s[steps.t_s > 4.0 - 0.05]
    assert found.size == late.size
    np.testing.assert_allclose(found, late, atol=0.05)
    assert np.max(steps.emitted_at_s - steps.t_s) <= 0.150


def test_a_small_swing_out_of_rhythm_counts_when_its_heel_strike_confirms_it(rng):
    """After a pause, a swing a third the size of the recent ones (below ``swing_relative``) is a
    contact because the impact after its end is larger than after the lobe before it."""
    t, acc, gyro, contacts = _synthetic_foot(100.0, 40.0, rng, small=12)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    assert np.min(np.abs(steps.t_s - contacts[12])) <= 0.03
    assert steps.n_steps == contacts.size
    # with the impact after the push-off's end instead, the same small swing is not a contact
    quiet = acc.copy()
    near = np.abs(t - contacts[12] - 0.015) < 0.06
    quiet[near, 2] = 9.80665
    quiet[:, 2] += 25.0 * np.exp(-0.5 * ((t - (contacts[12] - 0.4) - 0.015) / 0.01) ** 2)
    missed = detect_steps(t, quiet, gyro, sampling_rate_hz=100.0, placement="foot")
    assert np.min(np.abs(missed.t_s - contacts[12])) > 0.03
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    np.testing.assert_array_equal(steps.t_s, [x[0] for x in slow])


def test_the_sorting_network_of_the_intervals_sorts_every_input():
    """``_sorted8`` (the period's and cadence's sort) on every 0/1 input, which proves a comparator
    network sorts anything, and on random and tied floats."""
    from dsp import _step_kernels as K

    for bits in itertools.product([0.0, 1.0], repeat=8):
        assert K._sorted8(*bits) == tuple(sorted(bits))
    rng = np.random.default_rng(11)
    for _ in range(300):
        x = rng.choice([0.3, 0.35, 0.5, np.inf, *rng.uniform(0.2, 1.2, 4)], size=8).tolist()
        assert K._sorted8(*x) == tuple(sorted(x))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0.25, 1.05), st.sampled_from([0.4, 0.5, 2.0, 3.5])), min_size=1, max_size=40
    ),
    st.sampled_from([("lower_back", True), ("foot", True), ("foot", False), ("shank", False)]),
    st.integers(2, 8),
    st.integers(1, 8),
)
def test_cadence_of_contacts_is_the_banded_mean_of_the_newest_intervals(gaps, where, n_steps, n_strides):
    """The kernel's cadence at each contact, exactly the naive reference's over the bout's newest
    intervals (pauses, odd counts at a bout's start, the foot's strides, every count of intervals)."""
    from dsp.steps import cadence_of_contacts
    from tests.naive import robust_median_interval

    placement, has_gyro = where
    s = StepSettings(cadence_steps=n_steps, cadence_strides=n_strides)
    # a sensor that reports its own foot's contacts (one per stride) counts strides, x 2
    foot = StepDetector(sampling_rate_hz=100.0, placement=placement, has_gyro=has_gyro).steps_feet == "one"
    t = np.concatenate([[0.0], np.cumsum(gaps)])
    got = cadence_of_contacts(t, placement=placement, has_gyro=has_gyro, settings=s)
    max_period = 2.0 * s.max_period_s if foot else s.max_period_s
    n_cad = n_strides if foot else n_steps
    bout: list[float] = []
    want = []
    for prev, now in itertools.pairwise([None, *t.tolist()]):
        if prev is not None:
            if now - prev <= max_period:
                bout.append(now - prev)
            else:
                bout.clear()
        take = min(n_cad, len(bout))
        if not foot and take >= 2 and take % 2 == 1:
            take -= 1
        newest = bout[len(bout) - take :] if take else []
        want.append(60.0 * (2.0 if foot else 1.0) / robust_median_interval(newest, 1.0) if newest else np.nan)
    assert got.tobytes() == np.array(want).tobytes()
