"""Stride estimators: fast kernels vs slow references, chunking, synthetic truth, recorded fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.scoring import Truth, parse_prediction, score_recording
from dsp import ValidationError, detect_steps
from dsp.stride import (
    FootStrideEstimator,
    StrideResults,
    StrideSettings,
    TrunkStrideEstimator,
    estimate_strides,
    make_stride_estimator,
)
from tests.conftest import FIXTURES, load_fixture
from tests.naive_stride import naive_foot_strides, naive_trunk_strides
from tests.rotations import random_rotation

COLUMNS = ("t_contact_s", "stride_length_m", "step_length_m", "height_change_m", "speed_mps", "ready_at_s")


def _crop(rec, seconds):
    n = int(seconds * rec.sampling_rate_hz)
    g = None if rec.gyro_rads is None else rec.gyro_rads[:n]
    return rec.t_s[:n], rec.acc_mps2[:n], g


def _steps(t, acc, gyro, rec, placement=None):
    return detect_steps(
        t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement=placement or rec.placement
    )


def _as_rows(res: StrideResults) -> np.ndarray:
    return np.column_stack([*(getattr(res, c) for c in COLUMNS), res.is_run, res.has_contact.astype(float)])


def _assert_same(a: StrideResults, b: StrideResults) -> None:
    for name in (*COLUMNS, "is_run", "has_contact"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.fixture(scope="session")
def gdind_fast():
    return load_fixture("gdind_footprints/exp35.csv")


# ---- fast vs naive -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "seconds"), [("foot_run", 20.0), ("foot_walk", 20.0), ("gdind_fast", 15.0)])
def test_foot_kernel_matches_naive_reference(name, seconds, request):
    rec = request.getfixturevalue(name)
    t, acc, gyro = _crop(rec, seconds)
    steps = _steps(t, acc, gyro, rec)
    fast = estimate_strides(
        t,
        acc,
        gyro,
        steps.t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="foot",
        contacts_is_run=steps.is_run,
    )
    slow = np.array(
        naive_foot_strides(t, acc, gyro, steps.t_s, steps.is_run, sampling_rate_hz=rec.sampling_rate_hz)
    )
    assert np.isfinite(fast.stride_length_m).sum() >= 8
    np.testing.assert_allclose(_as_rows(fast), slow, rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize(
    ("name", "use_gyro"), [("back_walk", True), ("back_walk", False), ("waist_run", False)]
)
def test_trunk_kernel_matches_naive_reference(name, use_gyro, request):
    rec = request.getfixturevalue(name)
    t, acc, gyro = _crop(rec, 40.0)
    gyro = gyro if use_gyro else None
    steps = _steps(t, acc, gyro, rec)
    kw = {"sampling_rate_hz": rec.sampling_rate_hz, "runner_height_m": 1.7}
    fast = estimate_strides(t, acc, gyro, steps.t_s, placement="lower_back", **kw)
    slow = np.array(naive_trunk_strides(t, acc, gyro, steps.t_s, **kw))
    assert np.isfinite(fast.stride_length_m).sum() >= 8
    np.testing.assert_allclose(_as_rows(fast), slow, rtol=0, atol=1e-9, equal_nan=True)


def test_kernels_match_reference_on_bad_samples_and_gaps(foot_walk, back_walk, rng):
    for rec, placement in ((foot_walk, "foot"), (back_walk, "lower_back")):
        t, acc, gyro = _crop(rec, 20.0)
        acc = acc.copy()
        gyro = gyro.copy()
        bad = rng.choice(len(t), 15, replace=False)
        acc[bad[:10]] = np.nan
        acc[bad[10:]] = 0.0
        gyro[rng.choice(len(t), 10, replace=False), 1] = np.nan
        t = t.copy()
        t[len(t) // 2 :] += 1.0  # a gap in time
        steps = _steps(t, acc, gyro, rec)
        kw = {"sampling_rate_hz": rec.sampling_rate_hz}
        fast = estimate_strides(t, acc, gyro, steps.t_s, placement=placement, **kw)
        naive = naive_foot_strides if placement == "foot" else naive_trunk_strides
        slow = np.array(naive(t, acc, gyro, steps.t_s, **kw))
        np.testing.assert_allclose(_as_rows(fast), slow, rtol=0, atol=1e-9, equal_nan=True)
        est = make_stride_estimator(sampling_rate_hz=rec.sampling_rate_hz, placement=placement)
        est.update(t, acc, gyro, [])
        assert est.flags.repaired_samples == 15
        assert est.flags.gaps == 1
        assert est.flags.samples == len(t)


def test_still_sensor_and_empty_blocks():
    fs = 100.0
    t = np.arange(300) / fs
    acc = np.tile([0.3, -0.2, 9.8], (300, 1))
    for placement in ("foot", "lower_back"):
        est = make_stride_estimator(sampling_rate_hz=fs, placement=placement)
        assert est.update(t[:0], acc[:0], acc[:0], np.zeros(0)).n_strides == 0
        res = est.update(t, acc, np.zeros((300, 3)), np.array([1.0, 2.0]))
        rest = est.flush()
        both = StrideResults.concatenate([res, rest])
        np.testing.assert_array_equal(both.t_contact_s, [1.0, 2.0])
        assert not np.isfinite(both.stride_length_m).any()  # no stride while standing still
        slow = (naive_foot_strides if placement == "foot" else naive_trunk_strides)(
            t, acc, np.zeros((300, 3)), [1.0, 2.0], sampling_rate_hz=fs
        )
        # h is ~1e-16 here and sqrt amplifies rounding: 1e-6 m is still 'zero'
        np.testing.assert_allclose(_as_rows(both), np.array(slow), rtol=0, atol=1e-6, equal_nan=True)


# ---- chunking ------------------------------------------------------------------------------


def _stream(est, t, acc, gyro, steps, cuts):
    """Feed blocks; each block carries the contacts the detector decided within it."""
    parts = []
    lo_t = -math.inf
    for a, b in zip([0, *cuts], [*cuts, len(t)], strict=True):
        hi_t = t[b - 1]
        sel = (steps.emitted_at_s > lo_t) & (steps.emitted_at_s <= hi_t)
        parts.append(
            est.update(
                t[a:b], acc[a:b], None if gyro is None else gyro[a:b], steps.t_s[sel], steps.is_run[sel]
            )
        )
        lo_t = hi_t
    parts.append(est.flush())
    return StrideResults.concatenate(parts)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_chunking_gives_the_batch_result(data, foot_run, back_walk, waist_run):
    rec = data.draw(st.sampled_from([foot_run, back_walk, waist_run]))
    t, acc, gyro = _crop(rec, 25.0)
    steps = _steps(t, acc, gyro, rec)
    kw = {"sampling_rate_hz": rec.sampling_rate_hz, "placement": rec.placement}
    batch = estimate_strides(t, acc, gyro, steps.t_s, contacts_is_run=steps.is_run, **kw)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, len(t) - 1), max_size=40))))
    est = make_stride_estimator(has_gyro=gyro is not None, **kw)
    _assert_same(_stream(est, t, acc, gyro, steps, cuts), batch)
    assert np.isfinite(batch.stride_length_m).sum() > 5


def test_one_sample_blocks_give_the_batch_result(foot_walk):
    t, acc, gyro = _crop(foot_walk, 12.0)
    steps = _steps(t, acc, gyro, foot_walk)
    batch = estimate_strides(
        t, acc, gyro, steps.t_s, sampling_rate_hz=foot_walk.sampling_rate_hz, placement="foot"
    )
    est = FootStrideEstimator(sampling_rate_hz=foot_walk.sampling_rate_hz)
    got = _stream(est, t, acc, gyro, steps, list(range(1, len(t))))
    np.testing.assert_array_equal(got.stride_length_m, batch.stride_length_m)
    np.testing.assert_array_equal(got.t_contact_s, batch.t_contact_s)


# ---- synthetic truth -----------------------------------------------------------------------


def _rot(axis: int, angle):
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.zeros((*np.shape(angle), 3, 3))
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., i, j] = -s
    r[..., j, i] = s
    return r


def synthetic_foot(
    strides, *, fs, stance_s, swing_s, pitch_rad, mount, rolling_stance=False, rise_m=0.0, impact=None
):
    """Ideal IMU samples of a foot that walks the given strides (lengths in m, headings in rad).

    The sensor point stays still during each stance and travels along the stride's chord during
    the swing with a smooth velocity profile, rising ``clearance`` and pitching by ``pitch_rad``;
    the sensor sits on the foot rotated by the matrix ``mount``.  With ``rolling_stance`` the foot
    also pitches (about the sensor point) during the stance, so it is never quite at rest.
    ``impact = (before_s, pulse_mps2)`` adds to the samples of every swing, from ``before_s``
    before its end, the forward accelerations ``pulse_mps2`` that the foot did not have: a
    sampling error, as left by an impact that the sample rate cannot resolve.
    Returns time, specific force (m/s², body), angular rate (rad/s, body) and the landing times.
    """
    dt = 1.0 / fs
    t_all, f_all, w_all, landings = [], [], [], []
    pos = np.zeros(3)
    t0 = 0.0
    heading = 0.0
    g = np.array([0.0, 0.0, 9.81])

    def emit(tt, p_dd, psi, psi_d, theta, theta_d):
        r = _rot(2, psi) @ _rot(1, theta) @ mount
        f = np.einsum("nji,nj->ni", r, p_dd + g)  # R^T (a + g_up)
        w_nav = np.stack([np.zeros_like(tt), theta_d, np.zeros_like(tt)], axis=1)
        w_pitch = w_nav  # rate about the pitched frame's y axis
        w_yaw = np.einsum("nji,j->ni", _rot(1, theta), np.array([0.0, 0.0, 1.0])) * psi_d[:, None]
        w_body = np.einsum("ji,nj->ni", mount, w_pitch + w_yaw)
        t_all.append(tt)
        f_all.append(f)
        w_all.append(w_body)

    for length, turn in strides:
        # stance
        n = round(stance_s * fs)
        tt = t0 + np.arange(n) * dt
        u = np.arange(n) / n
        theta = (0.3 * np.sin(np.pi * u) ** 2) if rolling_stance else np.zeros(n)
        theta_d = (0.3 * np.pi * np.sin(2 * np.pi * u) / stance_s) if rolling_stance else np.zeros(n)
        emit(tt, np.zeros((n, 3)), np.full(n, heading), np.zeros(n), theta, theta_d)
        t0 += n * dt
        # swing along the chord, heading turns by `turn`
        n = round(swing_s * fs)
        tt = t0 + np.arange(n) * dt
        u = np.arange(n) / n
        direction = np.array([np.cos(heading + 0.5 * turn), np.sin(heading + 0.5 * turn), 0.0])
        s_dd = 2 * np.pi * np.sin(2 * np.pi * u) / swing_s**2  # d²/dt² of u - sin(2πu)/2π
        z_dd = 0.12 * 2 * np.pi**2 * np.cos(2 * np.pi * u) / swing_s**2  # 0.12 m clearance
        acc_nav = length * s_dd[:, None] * direction + (z_dd + rise_m * s_dd)[:, None] * np.array([0, 0, 1.0])
        if impact is not None:
            k0 = n - round(impact[0] * fs)
            acc_nav[k0 : k0 + len(impact[1])] += np.outer(impact[1], direction)
        psi = heading + turn * (u - np.sin(2 * np.pi * u) / (2 * np.pi))
        psi_d = turn * (1 - np.cos(2 * np.pi * u)) / swing_s
        theta = -pitch_rad * np.sin(np.pi * u) ** 2 * np.sign(np.sin(2 * np.pi * u)) ** 0
        theta_d = -pitch_rad * np.pi * np.sin(2 * np.pi * u) / swing_s
        emit(tt, acc_nav, psi, psi_d, theta, theta_d)
        t0 += n * dt
        pos = pos + length * direction
        heading += turn
        landings.append(t0)
    n = round(0.5 * fs)  # final rest
    tt = t0 + np.arange(n) * dt
    emit(tt, np.zeros((n, 3)), np.full(n, heading), np.zeros(n), np.zeros(n), np.zeros(n))
    return np.concatenate(t_all), np.concatenate(f_all), np.concatenate(w_all), np.array(landings)


@pytest.mark.parametrize(
    ("gait", "stance_s", "swing_s", "rolling"),
    [("walk", 0.6, 0.45, False), ("run", 0.2, 0.5, True)],
)
def test_synthetic_foot_strides_with_bias_and_noise(gait, stance_s, swing_s, rolling, rng):
    fs = 200.0
    lengths = rng.uniform(1.0, 1.6, 16) if gait == "walk" else rng.uniform(1.6, 2.6, 16)
    turns = rng.uniform(-0.3, 0.3, 16)
    mount = random_rotation(rng)  # any mounting orientation
    t, f, w, landings = synthetic_foot(
        list(zip(lengths, turns, strict=True)),
        fs=fs,
        stance_s=stance_s,
        swing_s=swing_s,
        pitch_rad=0.9,
        mount=mount,
        rolling_stance=rolling,
        rise_m=0.04,
    )
    t = t + 0.7
    landings = landings + 0.7
    f = f + rng.normal(0.0, 0.05, f.shape) + rng.normal(0.0, 0.08, 3)  # noise + bias, m/s²
    w = w + rng.normal(0.0, 0.005, w.shape) + rng.normal(0.0, 0.01, 3)  # noise + bias, rad/s
    contacts = landings - 0.03  # the detector fires a little before the foot settles
    # this foot pitches about the sensor itself (no ground point below it): its height is 0
    settings = StrideSettings(sensor_height_m=0.0)
    res = estimate_strides(t, f, w, contacts, sampling_rate_hz=fs, placement="foot", settings=settings)
    assert res.has_contact.all()
    got = res.stride_length_m[1:]  # the first contact ends the stride out of the initial rest
    np.testing.assert_allclose(got, lengths[1:], rtol=0.03)
    np.testing.assert_allclose(res.height_change_m[1:], 0.04, atol=0.03)
    stride_time = stance_s + swing_s  # (the last landing is on a still foot: timed differently)
    np.testing.assert_allclose(res.speed_mps[2:-1], lengths[2:-1] / stride_time, rtol=0.04)


def test_synthetic_unresolved_impact_is_a_velocity_step(rng):
    # Two walks whose swings carry the same spurious velocity change of 0.4 m/s, 0.1 s before each
    # landing: once as an impact the sampling cannot resolve (three samples, +S -S +S), once spread
    # smoothly over 25 ms.  At the stance the velocity error is the same; the trapezoid rule's own
    # error estimate, dt·|Δ²a|/12 per sample, tells the two apart.  For the sharp pulse it explains
    # (dt/12)²·36·S² = ε²/4 of the error's square (ε = S·dt the pulse's area), so a quarter of the
    # error is taken as a step at the pulse, not as drift: the stride reads longer by about
    # ε·(1/4)·(T/2 − 0.1 s), T the motion's duration.  The smooth pulse is drift, as before.
    fs, stance_s, swing_s, before_s = 200.0, 0.6, 0.45, 0.1
    lengths = rng.uniform(1.1, 1.5, 10)
    strides = list(zip(lengths, np.zeros(10), strict=True))
    eps = 0.4  # m/s
    sharp = eps * fs * np.array([1.0, -1.0, 1.0])
    smooth = np.hanning(7)
    smooth = eps * fs * smooth / smooth.sum()
    got = {}
    for name, pulse in (("sharp", sharp), ("smooth", smooth)):
        t, f, w, landings = synthetic_foot(
            strides,
            fs=fs,
            stance_s=stance_s,
            swing_s=swing_s,
            pitch_rad=0.9,
            mount=np.eye(3),
            impact=(before_s + (len(pulse) // 2) / fs, pulse),
        )
        res = estimate_strides(t, f, w, landings - 0.03, sampling_rate_hz=fs, placement="foot")
        got[name] = res.stride_length_m[1:] - lengths[1:]
    # both read short (a forward velocity error, removed as if it had built up over the swing) ...
    assert np.all(got["smooth"] < -0.3 * eps * (0.5 * swing_s - before_s))
    # ... and the sharp one by less, by the share the pulse explains
    gain = got["sharp"] - got["smooth"]
    expected = eps * 0.25 * (0.5 * swing_s - before_s)
    np.testing.assert_allclose(gain, expected, rtol=0.35)


def _quintic(start, end, duration_s, u):
    """Quintic through ``start`` and ``end`` = (value, rate, acceleration) over ``duration_s``.

    Returns value, rate and acceleration at the fractions ``u`` of the duration.
    """
    (y0, v0, a0), (y1, v1, a1), d = start, end, duration_s
    m = np.array([[d**3, d**4, d**5], [3 * d**2, 4 * d**3, 5 * d**4], [6 * d, 12 * d**2, 20 * d**3]])
    c3, c4, c5 = np.linalg.solve(m, [y1 - y0 - v0 * d - 0.5 * a0 * d**2, v1 - v0 - a0 * d, a1 - a0])
    t = u * d
    return (
        y0 + v0 * t + 0.5 * a0 * t**2 + c3 * t**3 + c4 * t**4 + c5 * t**5,
        v0 + a0 * t + 3 * c3 * t**2 + 4 * c4 * t**3 + 5 * c5 * t**4,
        a0 + 6 * c3 * t + 12 * c4 * t**2 + 20 * c5 * t**3,
    )


def rolling_foot(
    lengths,
    *,
    fs,
    height_m,
    roll_rads,
    stance_s,
    swing_s,
    mount,
    roll_accel_rads2=0.0,
    rise_m=0.0,
    shear_m=0.0,
):
    """Ideal IMU samples of a foot that rolls on the ground through every stance.

    The sensor sits ``height_m`` above a ground point (the pivot) and, during each stance, the
    foot pitches about that pivot at the rate ``roll_rads`` (its mean; with ``roll_accel_rads2``
    it grows through the stance at that rate): the pivot stays put while the sensor moves at the
    rate times ``height_m``.  Each stance is ``rise_m`` above the one before (a ramp).  Each swing
    carries the pivot ``length`` further (a quintic that joins position, velocity and
    acceleration, plus 0.1 m of clearance) and pitches the foot back.  The walk starts and ends
    at rest, flat.  With ``shear_m`` the sole shears through every stance: the ground point
    slides forward by up to ``shear_m`` and back, ``shear_m·sin⁴(π τ/stance_s)``, at rest at
    mid-stance but decelerating there (``4·shear_m·(π/stance_s)²``).  Returns time, specific force
    (m/s², body), angular rate (rad/s, body) and the stance start times (the landings).
    """
    dt = 1.0 / fs
    th_a = -0.5 * roll_rads * stance_s  # pitch at the start of a stance (the same at rest)
    alpha = roll_accel_rads2

    def stance_state(pivot, th, thd, thdd=0.0, ground=0.0):
        """(x, z) of the sensor as (value, rate, acceleration) when pitching about the pivot."""
        s, c = math.sin(th), math.cos(th)
        x = (pivot + height_m * s, height_m * c * thd, height_m * (c * thdd - s * thd**2))
        z = (ground + height_m * c, -height_m * s * thd, -height_m * (s * thdd + c * thd**2))
        return x, z

    t_all, f_all, w_all, landings = [], [], [], []

    def emit(t0, x, z, th):
        n = x[0].shape[0]
        s, c = np.sin(th[0]), np.cos(th[0])
        ax, az = x[2], z[2] + 9.81
        f_foot = np.stack([c * ax - s * az, np.zeros(n), s * ax + c * az], axis=1)  # rot_y(th)^T (a + g)
        w_foot = np.stack([np.zeros(n), th[1], np.zeros(n)], axis=1)
        t_all.append(t0 + np.arange(n) * dt)
        f_all.append(f_foot @ mount)  # body = mount^T foot
        w_all.append(w_foot @ mount)
        return t0 + n * dt

    def stance(t0, pivot, ground, rate, acc, duration_s, shears=True):
        """A stance whose pitch rate is ``rate`` at its middle and grows by ``acc`` per second."""
        n = round(duration_s * fs)
        tau = np.arange(n) * dt
        r0 = rate - 0.5 * acc * duration_s
        th = th_a + r0 * tau + 0.5 * acc * tau**2
        thd = r0 + acc * tau
        s, c = np.sin(th), np.cos(th)
        k = np.pi / duration_s if shears else 0.0  # the sole's shear (0 at rest)
        sk, ck = np.sin(k * tau), np.cos(k * tau)
        x = (
            pivot + height_m * s + shear_m * sk**4,
            height_m * c * thd + shear_m * 4 * k * sk**3 * ck,
            height_m * (c * acc - s * thd**2) + shear_m * k**2 * (12 * sk**2 * ck**2 - 4 * sk**4),
        )
        z = (ground + height_m * c, -height_m * s * thd, -height_m * (s * acc + c * thd**2))
        te = n * dt
        return emit(t0, x, z, (th, thd)), (th_a + r0 * te + 0.5 * acc * te**2, r0 + acc * te)

    def swing(t0, pivot0, ground0, end0, acc0, pivot1, ground1, rate1, acc1):
        n = round(swing_s * fs)
        u = np.arange(n) / n
        th0, rate0 = end0
        r1 = rate1 - 0.5 * acc1 * stance_s  # the rate at the start of the next stance
        x0, z0 = stance_state(pivot0, th0, rate0, acc0, ground0)
        x1, z1 = stance_state(pivot1, th_a, r1, acc1, ground1)
        x = _quintic(x0, x1, swing_s, u)
        z = list(_quintic(z0, z1, swing_s, u))
        bump = np.sin(np.pi * u)  # clearance 0.1·sin⁴(πu): smooth at both ends
        cb = np.cos(np.pi * u)
        z[0] = z[0] + 0.1 * bump**4
        z[2] = z[2] + 0.1 * 4 * np.pi**2 * (3 * bump**2 * cb**2 - bump**4) / swing_s**2
        th = _quintic((th0, rate0, acc0), (th_a, r1, acc1), swing_s, u)
        return emit(t0, x, z, th)

    t0, end = stance(0.0, 0.0, 0.0, 0.0, 0.0, 0.6, shears=False)  # at rest
    pivot, ground, acc = 0.0, 0.0, 0.0
    for k, length in enumerate(lengths):
        last = k == len(lengths) - 1
        rate1, acc1 = (0.0, 0.0) if last else (roll_rads, alpha)
        t0 = swing(t0, pivot, ground, end, acc, pivot + length, ground + rise_m, rate1, acc1)
        pivot += length
        ground += rise_m
        acc = acc1
        landings.append(t0)
        t0, end = stance(t0, pivot, ground, rate1, acc1, 0.6 if last else stance_s, shears=not last)
    return np.concatenate(t_all), np.concatenate(f_all), np.concatenate(w_all), np.array(landings)


@pytest.mark.parametrize("height_m", [0.04, 0.07, 0.1])
def test_synthetic_rolling_stance_lever_arm(height_m, rng):
    # running: a 0.2 s stance through which the foot keeps rolling at 1 rad/s on the ground; the
    # sensor, height_m above the ground point, never stops, so a zero-velocity update reads short
    fs, roll_rads, stance_s, swing_s = 200.0, 1.0, 0.2, 0.5
    lengths = rng.uniform(1.8, 2.6, 14)
    t, f, w, landings = rolling_foot(
        lengths,
        fs=fs,
        height_m=height_m,
        roll_rads=roll_rads,
        stance_s=stance_s,
        swing_s=swing_s,
        mount=random_rotation(rng),
    )
    f = f + rng.normal(0.0, 0.02, f.shape)
    w = w + rng.normal(0.0, 0.002, w.shape)
    contacts = landings - 0.03
    got = {}
    for h in (height_m, 0.0):
        res = estimate_strides(
            t,
            f,
            w,
            contacts,
            sampling_rate_hz=fs,
            placement="foot",
            settings=StrideSettings(sensor_height_m=h),
        )
        assert res.has_contact.all()
        got[h] = res.stride_length_m[1:-1]  # the first and last strides start or end at rest, flat
    # stride k runs from one stance anchor (a single sample somewhere in its stance, chosen by the
    # noise) to the next: it differs from the pivot's stride by the sensor's rolling between the two
    # anchor phases, at most 2·h·sin(roll over half the stance); over the walk that telescopes away
    truth = lengths[1:-1]
    jitter_m = 2 * height_m * math.sin(0.5 * roll_rads * stance_s)
    np.testing.assert_allclose(got[height_m], truth, atol=jitter_m + 0.002)
    np.testing.assert_allclose(got[height_m].sum(), truth.sum(), rtol=1e-3)
    # a zero-velocity update at the sensor loses the rolling velocity over the motion between two
    # stance anchors (one sample each, so the whole stride)
    short = truth.sum() - got[0.0].sum()
    np.testing.assert_allclose(short, truth.size * height_m * roll_rads * (stance_s + swing_s), rtol=0.15)


@pytest.mark.parametrize("rise_m", [0.0, 0.15])
def test_synthetic_rolling_stance_speeding_up_is_not_a_climb(rise_m, rng):
    # running on flat ground (and up a ramp of rise_m per stride): through each 0.2 s stance the
    # foot's roll speeds up from -1 to 5 rad/s about the ground point 0.07 m below the sensor; the
    # sensor's own acceleration there (h × 30 rad/s² ≈ 2 m/s², tangential) is not gravity, and
    # taken for it, it tilts the attitude at every stance anchor and reads the stride as a climb
    fs, h = 200.0, 0.07
    lengths = rng.uniform(1.8, 2.6, 14)
    t, f, w, landings = rolling_foot(
        lengths,
        fs=fs,
        height_m=h,
        roll_rads=2.0,
        roll_accel_rads2=30.0,
        stance_s=0.2,
        swing_s=0.5,
        mount=random_rotation(rng),
        rise_m=rise_m,
    )
    f = f + rng.normal(0.0, 0.02, f.shape)
    w = w + rng.normal(0.0, 0.002, w.shape)
    res = estimate_strides(t, f, w, landings - 0.03, sampling_rate_hz=fs, placement="foot")
    assert res.has_contact.all()
    dz = res.height_change_m[1:-1]
    # each stride's anchors sit at different phases of the roll (a few cm of sensor height), but
    # the sum telescopes: no drift of the height per stride. (Within 1.5 cm, not 1: the swing's
    # velocity error here holds 0.01 m/s of sample timing, each gyroscope sample's rate applied
    # over the interval before it, that the tilt coupling of the vertical reads as a 0.06° tilt:
    # +1.0 cm per 2.2 m stride, -0.2 cm with the interval's mean rate. Before it, +0.1 cm.)
    assert abs(dz.mean() - rise_m) < 0.015
    np.testing.assert_allclose(dz, rise_m, atol=0.05)
    np.testing.assert_allclose(res.stride_length_m[1:-1], lengths[1:-1], rtol=0.03)


@pytest.mark.parametrize("rise_m", [0.0, 0.15])
def test_synthetic_sole_shear_tilts_the_anchor_not_the_height(rise_m, rng):
    # running on flat ground (and up a ramp of rise_m per stride): the foot rolls at 1 rad/s
    # through each 0.2 s stance, and its sole shears 1 mm forward and back (accelerating by up to
    # 1 m/s², the foot's own motion, not gravity). A stance anchor's window mean takes that for
    # gravity and tilts the attitude by up to 6°. The tilt, held through the swing, turns the
    # stride's 2 m forward into height (before the tilt coupling: +6 to +9 cm per stride on the
    # flat, with a few cm of scatter); it also drifts the horizontal velocity by g·tilt·T, which the
    # stance measures.
    fs = 200.0
    lengths = rng.uniform(1.8, 2.6, 14)
    t, f, w, landings = rolling_foot(
        lengths,
        fs=fs,
        height_m=0.07,
        roll_rads=1.0,
        stance_s=0.2,
        swing_s=0.5,
        mount=random_rotation(rng),
        rise_m=rise_m,
        shear_m=0.001,
    )
    f = f + rng.normal(0.0, 0.02, f.shape)
    w = w + rng.normal(0.0, 0.002, w.shape)
    res = estimate_strides(t, f, w, landings - 0.03, sampling_rate_hz=fs, placement="foot")
    assert res.has_contact.all()
    dz = res.height_change_m[1:-1]
    assert abs(dz.mean() - rise_m) < 0.01
    np.testing.assert_allclose(dz, rise_m, atol=0.02)
    np.testing.assert_allclose(res.stride_length_m[1:-1], lengths[1:-1], rtol=0.03)


def test_synthetic_foot_missed_contact_is_reported_alone(rng):
    fs = 200.0
    lengths = np.full(10, 1.4)
    t, f, w, landings = synthetic_foot(
        [(x, 0.0) for x in lengths], fs=fs, stance_s=0.5, swing_s=0.45, pitch_rad=0.8, mount=np.eye(3)
    )
    contacts = np.delete(landings - 0.03, 5)  # the step detector missed one
    res = estimate_strides(t, f, w, contacts, sampling_rate_hz=fs, placement="foot")
    assert res.has_contact.sum() == len(contacts)
    alone = np.flatnonzero(~res.has_contact)
    assert len(alone) == 1
    assert abs(res.t_contact_s[alone[0]] - landings[5]) < 0.2
    np.testing.assert_allclose(np.nansum(res.stride_length_m), lengths.sum(), rtol=0.02)


def synthetic_trunk(step_lengths, *, fs, step_s, leg_m, scale):
    """Lower-back samples whose vertical excursion per step is the pendulum's for the given steps."""
    t_all, az_all, contacts = [], [], [0.5]
    t0 = 0.5
    for length in step_lengths:
        half_chord = length / (2.0 * scale)
        h = leg_m - math.sqrt(leg_m**2 - half_chord**2)  # the rise that 2·sqrt(2lh - h²) inverts
        n = round(step_s * fs)
        u = np.arange(n) / n
        # sensor height: h/2·(1 - cos 2πu) (lowest at the contacts), so z'' = h/2·(2π/T)²·cos 2πu
        az_all.append(0.5 * h * (2 * np.pi / step_s) ** 2 * np.cos(2 * np.pi * u))
        t_all.append(t0 + np.arange(n) / fs)
        t0 += n / fs
        contacts.append(t0)
    n_tail = round(0.3 * fs)  # the motion goes on a little after the last contact
    t_all.append(t0 + np.arange(n_tail) / fs)
    az_all.append(az_all[-1][:n_tail])
    t = np.concatenate([np.arange(round(0.5 * fs)) / fs, *t_all])
    az = np.concatenate([np.zeros(round(0.5 * fs)), *az_all])
    return t, az, np.array(contacts)


@pytest.mark.parametrize("use_gyro", [True, False])
def test_synthetic_trunk_pendulum_steps(use_gyro, rng):
    fs = 100.0
    s = StrideSettings()
    height = 1.8
    leg = s.leg_length_ratio * height
    steps_m = rng.uniform(0.55, 0.8, 20)
    t, az, contacts = synthetic_trunk(steps_m, fs=fs, step_s=0.55, leg_m=leg, scale=s.pendulum_k_walk)
    tilt = random_rotation(rng)  # the belt sits any way round
    acc = (np.column_stack([np.zeros_like(az), np.zeros_like(az), az + 9.81])) @ tilt
    acc = acc + rng.normal(0.0, 0.02, acc.shape)
    gyro = rng.normal(0.0, 0.002, acc.shape) if use_gyro else None
    res = estimate_strides(
        t,
        acc,
        gyro,
        contacts,
        sampling_rate_hz=fs,
        placement="lower_back",
        runner_height_m=height,
        contacts_is_run=np.zeros(len(contacts), bool),
    )
    np.testing.assert_allclose(res.step_length_m[1:], steps_m, rtol=0.03)
    np.testing.assert_allclose(res.stride_length_m[2:], steps_m[1:] + steps_m[:-1], rtol=0.03)
    np.testing.assert_allclose(res.speed_mps[2:], (steps_m[1:] + steps_m[:-1]) / 1.1, rtol=0.03)
    assert np.isnan(res.height_change_m).all()


def _two_bouts(rng, *, fs=100.0, step_s=0.55, pause_s=2.0, leg_m=0.53 * 1.8, k=1.25):
    """Two synthetic walking bouts (6 and 5 steps) with a standstill between them.

    Returns the samples (sensor upright, light noise), the contacts, the true step lengths of
    each bout (the step that ends at each bout's second, third, ... contact) and the index of
    each bout's first contact.
    """
    steps_a = rng.uniform(0.6, 0.8, 6)
    steps_b = rng.uniform(0.6, 0.8, 5)
    t_a, az_a, c_a = synthetic_trunk(steps_a, fs=fs, step_s=step_s, leg_m=leg_m, scale=k)
    t_b, az_b, c_b = synthetic_trunk(steps_b, fs=fs, step_s=step_s, leg_m=leg_m, scale=k)
    shift = t_a[-1] + 1.0 / fs + pause_s  # bout b starts after standing still (its 0.5 s lead-in too)
    gap = np.arange(round(pause_s * fs)) / fs + t_a[-1] + 1.0 / fs
    t = np.concatenate([t_a, gap, t_b + shift])
    az = np.concatenate([az_a, np.zeros_like(gap), az_b])
    acc = np.column_stack([np.zeros_like(az), np.zeros_like(az), az + 9.81])
    acc += rng.normal(0, 0.02, (len(t), 3))
    contacts = np.concatenate([c_a, c_b + shift])
    return t, acc, contacts, steps_a, steps_b, (0, len(c_a))


def test_a_bouts_first_step_is_its_second_steps_length(rng):
    fs = 100.0
    t, acc, contacts, steps_a, steps_b, firsts = _two_bouts(rng)
    kw = {"sampling_rate_hz": fs, "placement": "lower_back", "runner_height_m": 1.8}
    walk = np.zeros(len(contacts), bool)
    res = estimate_strides(t, acc, None, contacts, contacts_is_run=walk, **kw)
    assert res.n_strides == len(contacts)  # still one row per contact
    for i, true_steps in zip(firsts, (steps_a, steps_b), strict=True):
        # the pendulum measures the second step; the first is taken as long (same gait, same K)
        assert res.step_length_m[i + 1] == pytest.approx(true_steps[0], rel=0.03)
        assert res.step_length_m[i] == res.step_length_m[i + 1]
        # no step before the first: its stride stays unknown, and so does the second's (half of it
        # would be the estimate); the third contact's stride is two measured steps
        assert np.isnan(res.stride_length_m[i])
        assert np.isnan(res.stride_length_m[i + 1])
        assert np.isnan(res.speed_mps[i + 1])
        assert res.stride_length_m[i + 2] == pytest.approx(true_steps[0] + true_steps[1], rel=0.03)
        # answered with the second contact: within one step of its own contact
        assert res.ready_at_s[i] == res.ready_at_s[i + 1]
        assert 0.5 <= res.ready_at_s[i] - contacts[i] <= 0.56
    # the distance of each bout counts every step: the first one as long as the second
    bout_a = slice(0, firsts[1])
    assert np.nansum(res.step_length_m[bout_a]) == pytest.approx(steps_a[0] + steps_a.sum(), rel=0.03)
    # a first step flagged as running takes the running factor: K_run·scale_run / (K_walk·scale_walk)
    gait = walk.copy()
    gait[firsts[1]] = True
    cfg = StrideSettings(scale_walk=1.0, scale_run=1.3)
    mixed = estimate_strides(t, acc, None, contacts, contacts_is_run=gait, settings=cfg, **kw)
    j = firsts[1]
    assert mixed.step_length_m[j] == pytest.approx(1.3 * mixed.step_length_m[j + 1], rel=1e-12)
    assert mixed.is_run[j] == 1.0
    assert mixed.step_length_m[j + 1] == res.step_length_m[j + 1]  # the measured step is untouched


def test_first_step_only_after_a_pause_and_a_lone_step_stays_unknown(rng):
    fs = 100.0
    t, acc, contacts, _, _, firsts = _two_bouts(rng)
    kw = {"sampling_rate_hz": fs, "placement": "lower_back", "runner_height_m": 1.8}
    plain = estimate_strides(t, acc, None, contacts, **kw)
    # a lone contact in the standstill (no contact within max_step_s either side): a bout of one
    # step keeps no length; a double contact 0.1 s after a step (shorter than min_step_s) is not a
    # bout's first, so it is not lent the next step's length
    lone = contacts[firsts[1] - 1] + 1.4
    double = contacts[2] + 0.1
    extra = np.sort(np.concatenate([contacts, [lone, double]]))
    res = estimate_strides(t, acc, None, extra, **kw)
    i_lone = int(np.flatnonzero(extra == lone)[0])
    i_double = int(np.flatnonzero(extra == double)[0])
    for i in (i_lone, i_double):
        assert np.isnan(res.step_length_m[i])
        assert np.isnan(res.stride_length_m[i])
    # the next bout's first contact (1.4 s after the lone one) still gets its second step's length
    assert extra[i_lone + 1] - lone > StrideSettings().max_step_s
    assert np.isfinite(res.step_length_m[i_lone + 2])
    assert res.step_length_m[i_lone + 1] == res.step_length_m[i_lone + 2]
    # the step after the double contact is measured from it (short), and is not copied back
    assert np.isfinite(res.step_length_m[i_double + 1])
    np.testing.assert_array_equal(res.step_length_m[: i_double - 1], plain.step_length_m[: i_double - 1])
    assert res.ready_at_s[i_lone] == pytest.approx(lone, abs=0.011)  # released when the next is answered
    # a recording that ends on a lone contact: flush() answers it, unknown
    n = int(np.searchsorted(t, lone + 0.05))
    bout_a = contacts[: firsts[1]]
    last = estimate_strides(t[:n], acc[:n], None, np.append(bout_a, lone), **kw)
    assert np.isnan(last.step_length_m[-1])
    assert np.isnan(last.stride_length_m[-1])
    np.testing.assert_array_equal(last.step_length_m[:-1], plain.step_length_m[: firsts[1]])


def test_first_step_streaming_equals_batch_for_any_cut(rng):
    fs = 100.0
    t, acc, contacts, _, _, firsts = _two_bouts(rng)
    kw = {"sampling_rate_hz": fs, "placement": "lower_back", "runner_height_m": 1.8}
    batch = estimate_strides(t, acc, None, contacts, **kw)
    c1 = int(np.searchsorted(t, contacts[firsts[1]]))
    c2 = int(np.searchsorted(t, contacts[firsts[1] + 1]))
    # every cut from just before the second bout's first contact to just after its second
    for cut in range(c1 - 3, c2 + 4, 4):
        est = make_stride_estimator(has_gyro=False, **kw)
        parts = []
        for a, b in ((0, cut), (cut, len(t))):
            # each block carries the contacts at or before its last sample
            sel = (contacts > (t[a - 1] if a else -1.0)) & (contacts <= t[b - 1])
            parts.append(est.update(t[a:b], acc[a:b], None, contacts[sel]))
            if b == cut and c1 < cut < c2:
                assert est.pending_contacts == 1  # the first contact waits for its second step
        parts.append(est.flush())
        _assert_same(StrideResults.concatenate(parts), batch)
    # and one sample at a time
    est = make_stride_estimator(has_gyro=False, **kw)
    parts = []
    j = 0
    for q in range(len(t)):
        n = int(np.searchsorted(contacts, t[q], side="right"))
        parts.append(est.update(t[q : q + 1], acc[q : q + 1], None, contacts[j:n]))
        j = n
    parts.append(est.flush())
    _assert_same(StrideResults.concatenate(parts), batch)
    assert np.isfinite(batch.step_length_m[list(firsts)]).all()


def _yawing(t, az, yaw_rate_rads, tilt):
    """Lower-back samples of a body turning about the vertical at ``yaw_rate_rads`` (per sample)."""
    acc = np.column_stack([np.zeros_like(az), np.zeros_like(az), az + 9.81]) @ tilt
    gyro = np.column_stack([np.zeros_like(az), np.zeros_like(az), yaw_rate_rads]) @ tilt
    return acc, gyro


def test_synthetic_trunk_turning_strides_are_chords(rng):
    """Walking on a circle: the stride is the straight line between two contacts of one foot."""
    fs = 100.0
    s = StrideSettings()
    height = 1.7
    leg = s.leg_length_ratio * height
    n_steps = 16
    path_m = 0.6  # pendulum path per step
    step_s = 0.55
    turn_rad = math.radians(30.0)  # heading change per step: a full circle in 12 steps
    t, az, contacts = synthetic_trunk(np.full(n_steps, path_m), fs=fs, step_s=step_s, leg_m=leg, scale=1.25)
    walking = (t >= contacts[0]) & (t < contacts[-1])
    acc, gyro = _yawing(t, az, np.where(walking, turn_rad / step_s, 0.0), random_rotation(rng))
    res = estimate_strides(
        t, acc, gyro, contacts, sampling_rate_hz=fs, placement="lower_back", runner_height_m=height
    )
    # the centre of mass on the circle: arc length path_m per step, radius path_m / turn_rad
    radius = path_m / turn_rad
    pos = radius * np.exp(1j * turn_rad * np.arange(n_steps + 1))
    true_stride = np.abs(pos[2:] - pos[:-2])
    true_step = np.abs(pos[1:] - pos[:-1])
    np.testing.assert_allclose(res.stride_length_m[3:], true_stride[1:], rtol=0.03)
    np.testing.assert_allclose(res.step_length_m[3:], true_step[2:], rtol=0.03)
    assert np.all(res.stride_length_m[3:] < 0.97 * 2 * path_m)  # and not the path length
    # without the gyroscope the turn is invisible: the path length remains
    plain = estimate_strides(
        t, acc, None, contacts, sampling_rate_hz=fs, placement="lower_back", runner_height_m=height
    )
    np.testing.assert_allclose(plain.stride_length_m[3:], 2 * path_m, rtol=0.03)


def test_pelvis_yaw_swing_is_not_a_turn(rng):
    """The pelvis turns one way then back within each stride: no net heading change, no shortening."""
    fs = 100.0
    s = StrideSettings()
    height = 1.8
    leg = s.leg_length_ratio * height
    step_s = 0.55
    steps_m = rng.uniform(0.6, 0.75, 14)
    t, az, contacts = synthetic_trunk(steps_m, fs=fs, step_s=step_s, leg_m=leg, scale=1.25)
    tilt = random_rotation(rng)
    swing_rad = 0.2  # pelvic yaw ±11°, one cycle per stride, extreme at each contact: 23° per step
    u = (t - contacts[0]) / (2 * step_s)
    rate = np.where(t >= contacts[0], -swing_rad * 2 * np.pi / (2 * step_s) * np.sin(2 * np.pi * u), 0.0)
    acc, gyro = _yawing(t, az, rate, tilt)
    swinging = estimate_strides(
        t, acc, gyro, contacts, sampling_rate_hz=fs, placement="lower_back", runner_height_m=height
    )
    still_acc, still_gyro = _yawing(t, az, np.zeros_like(t), tilt)
    straight = estimate_strides(
        t,
        still_acc,
        still_gyro,
        contacts,
        sampling_rate_hz=fs,
        placement="lower_back",
        runner_height_m=height,
    )
    np.testing.assert_allclose(swinging.stride_length_m[2:], straight.stride_length_m[2:], rtol=1e-3)
    np.testing.assert_allclose(swinging.step_length_m[2:], straight.step_length_m[2:], rtol=1e-3)


def test_trunk_running_scale_and_the_gait_only_from_the_step_detector(rng):
    fs = 100.0
    s = StrideSettings(scale_run=1.2)  # a calibrated runner: K_run = 1.25 × 1.2 = 1.5
    leg = s.leg_length_ratio * 1.75
    steps_m = np.full(12, 1.0)
    t, az, contacts = synthetic_trunk(steps_m, fs=fs, step_s=0.36, leg_m=leg, scale=1.5)  # 167 steps/min
    acc = np.column_stack([np.zeros_like(az), np.zeros_like(az), az + 9.81])
    kw = {"sampling_rate_hz": fs, "placement": "lower_back"}
    run = np.ones(len(contacts), bool)
    res = estimate_strides(t, acc, None, contacts, settings=s, contacts_is_run=run, **kw)
    assert (res.is_run == 1.0).all()
    np.testing.assert_allclose(res.step_length_m[1:], 1.0, rtol=0.03)
    # the estimator has no gait rule of its own (it once called 150 steps/min or a -4 m/s² dip
    # running, where the step detector's rule says otherwise): with two factors it needs the flag
    with pytest.raises(ValidationError, match=r"contacts_is_run is required .*scale_run=1\.2.*is_run"):
        estimate_strides(t, acc, None, contacts, settings=s, **kw)
    est = make_stride_estimator(has_gyro=False, settings=s, **kw)
    est.update(t[:50], acc[:50], None, np.zeros(0))  # a block without contacts needs no flags
    # with equal factors (the defaults) the gait does not change a step: unknown, NaN, and the
    # same steps as with any flags
    plain = estimate_strides(t, acc, None, contacts, **kw)
    assert np.isnan(plain.is_run).all()
    walk = estimate_strides(t, acc, None, contacts, contacts_is_run=~run, **kw)
    assert (walk.is_run == 0.0).all()
    np.testing.assert_array_equal(plain.step_length_m, walk.step_length_m)
    slow = np.array(naive_trunk_strides(t, acc, None, contacts, sampling_rate_hz=fs))
    np.testing.assert_allclose(plain.step_length_m, slow[:, 2], rtol=1e-9, equal_nan=True)


# ---- recorded fixtures (thresholds: measured, plus a margin) -------------------------------

FOOT_FIXTURES = [
    # file, stride MAPE % measured, |distance error| % measured (None: no distance truth)
    ("pyshoe_vicon/2017-11-27-11-24-07.csv", 2.6, 2.4),
    ("pyshoe_vicon/2017-11-27-11-18-11.csv", 2.5, 3.9),
    ("pyshoe_vicon/2017-11-22-11-30-14.csv", 4.0, 2.2),
    ("pyshoe_vicon/2018-02-09-11-32-01.csv", 3.5, 1.8),
    ("gdind_footprints/exp31.csv", 3.0, 4.3),
    ("gdind_footprints/exp35.csv", 1.8, 0.8),
    ("gaitmap_example/sample_left_foot.csv", 3.2, None),
    ("gaitmap_example/sample_right_foot.csv", 3.0, None),
]


def _score(rel: str, res: StrideResults, *, both_feet: bool):
    import json

    meta = json.loads((FIXTURES / rel).with_suffix(".json").read_text())
    truth = Truth(dataset=rel.split("/")[0], recording_id=rel.split("/")[1][:-4], meta=meta)
    pred = parse_prediction(
        {
            "steps_feet": "both" if both_feet else "one",
            "steps": [
                {"t": float(t), "stride_length_m": float(v) if np.isfinite(v) else None}
                for t, v in zip(res.t_contact_s, res.stride_length_m, strict=True)
            ],
        }
    )
    return score_recording(truth, pred)


@pytest.mark.parametrize(("rel", "mape_pct", "dist_pct"), FOOT_FIXTURES)
def test_foot_fixture_accuracy(rel, mape_pct, dist_pct):
    rec = load_fixture(rel)
    steps = _steps(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec, "foot")
    res = estimate_strides(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        steps.t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="foot",
    )
    np.testing.assert_array_equal(res.t_contact_s[res.has_contact], steps.t_s)
    sc = _score(rel, res, both_feet=False)
    pairs = sc.stride_pairs
    assert len(pairs) >= 0.9 * sc.n_gt_strides
    mape = 100 * np.mean(np.abs(pairs[:, 0] - pairs[:, 1]) / pairs[:, 1])
    assert mape <= mape_pct + 1.0
    if dist_pct is not None:
        err = 100 * abs(sc.distance_pred_m / sc.distance_gt_m - 1)
        assert err <= dist_pct + 1.5


def test_back_fixture_accuracy_from_height():
    pairs = []
    for rel in ("mobgap_example/HA-001_Test5_Trial1.csv", "mobgap_example/HA-001_Test11_Trial1.csv"):
        rec = load_fixture(rel)
        steps = _steps(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec)
        res = estimate_strides(
            rec.t_s,
            rec.acc_mps2,
            rec.gyro_rads,
            steps.t_s,
            sampling_rate_hz=rec.sampling_rate_hz,
            placement="lower_back",
            runner_height_m=rec.meta["subject"]["height_m"],
        )
        pairs.append(_score(rel, res, both_feet=True).stride_pairs)
    p = np.concatenate(pairs)
    assert len(p) >= 30
    assert np.mean(np.abs(p[:, 0] - p[:, 1])) <= 0.16 + 0.03


def test_back_running_step_matches_treadmill_speed(waist_run):
    rec = waist_run
    steps = _steps(rec.t_s, rec.acc_mps2, None, rec)
    res = estimate_strides(
        rec.t_s,
        rec.acc_mps2,
        None,
        steps.t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="lower_back",
        runner_height_m=rec.meta["subject"]["height_m"],
        contacts_is_run=steps.is_run,
    )
    sel = (res.t_contact_s > 30) & (res.t_contact_s < 75)
    step_true = rec.meta["ground_truth"]["speed_mps_protocol"] * np.median(np.diff(res.t_contact_s[sel]))
    assert abs(np.nanmedian(res.step_length_m[sel]) / step_true - 1) < 0.013 + 0.05


# ---- API -----------------------------------------------------------------------------------


def test_validation_errors():
    with pytest.raises(ValidationError, match="gyroscope"):
        make_stride_estimator(sampling_rate_hz=100, placement="foot", has_gyro=False)
    with pytest.raises(ValidationError, match="shank"):
        make_stride_estimator(sampling_rate_hz=100, placement="shank")
    with pytest.raises(ValidationError, match="sampling_rate_hz"):
        FootStrideEstimator(sampling_rate_hz=5)
    with pytest.raises(ValidationError, match="runner_height_m"):
        TrunkStrideEstimator(sampling_rate_hz=100, has_gyro=False, runner_height_m=175)
    est = FootStrideEstimator(sampling_rate_hz=100)
    z = np.zeros((10, 3))
    with pytest.raises(ValidationError, match="shape"):
        est.update(np.arange(10), np.zeros((9, 3)), z, [])
    with pytest.raises(ValidationError, match="increasing"):
        est.update(np.arange(10) / 100, z, z, [0.05, 0.02])
    est.update(np.arange(10) / 100, z, z, [0.05])
    with pytest.raises(ValidationError, match="not after"):
        est.update(np.arange(10, 20) / 100, z, z, [0.04])
    with pytest.raises(ValidationError, match="contacts_is_run"):
        est.update(np.arange(20, 30) / 100, z, z, [0.25], [True, False])


# ---- calibration ---------------------------------------------------------------------------

PROFILE = """# my profile
[device]
placement = "lower_back"  # worn on the belt

[runner]
height_m = 1.75

[stride]
# factors from the last calibration
scale_walk = 1.0   # walking
foot_sensor_height_m = 0.08
[targets.smooth]
cadence_factor = 1.0
stride_factor = 0.9  # kept as written
"""


def test_update_table_keeps_every_other_line():
    import tomllib

    from firmware_py.calibrate import update_table

    new = update_table(PROFILE, "stride", {"scale_walk": 1.1, "scale_run": 0.9})
    before, after = tomllib.loads(PROFILE), tomllib.loads(new)
    assert after["stride"] == {"scale_walk": 1.1, "scale_run": 0.9, "foot_sensor_height_m": 0.08}
    assert {k: v for k, v in after.items() if k != "stride"} == {
        k: v for k, v in before.items() if k != "stride"
    }
    for line in PROFILE.splitlines():
        if not line.startswith("scale_walk"):
            assert line in new.splitlines()  # comments and other keys verbatim
    appended = update_table("[runner]\nheight_m = 1.6", "stride", {"scale_run": 1.2})
    assert tomllib.loads(appended) == {"runner": {"height_m": 1.6}, "stride": {"scale_run": 1.2}}
    assert tomllib.loads(update_table("", "stride", {"scale_walk": 1.0})) == {"stride": {"scale_walk": 1.0}}
    with pytest.raises(ValueError, match="inline"):
        update_table("stride = {scale_walk = 1.0}\n", "stride", {"scale_walk": 1.2})


def _synthetic_back_recording(tmp_path, k_true, n_steps=40):
    from firmware_py.logs import write_log
    from firmware_py.logs.recording import Recording

    fs = 100.0
    s = StrideSettings()
    height = 1.75
    rng = np.random.default_rng(7)
    steps_m = rng.uniform(0.65, 0.75, n_steps)
    t, az, _ = synthetic_trunk(steps_m, fs=fs, step_s=0.55, leg_m=s.leg_length_ratio * height, scale=k_true)
    acc = np.column_stack([rng.normal(0, 0.05, len(t)), rng.normal(0, 0.05, len(t)), az + 9.81])
    gyro = rng.normal(0.0, 0.002, acc.shape)
    path = tmp_path / "course.csv"
    write_log(Recording("", t, acc, gyro, fs, placement="lower_back"), path)
    return path, float(steps_m.sum())


def test_calibrate_lower_back_fits_the_walking_factor(tmp_path):
    import tomllib

    from firmware_py.calibrate import calibrate

    k_true = StrideSettings().pendulum_k_walk * 1.15  # this walker's steps are 15 % longer than the model's
    rec_path, distance = _synthetic_back_recording(tmp_path, k_true)
    profile = tmp_path / "runner.toml"
    profile.write_text(PROFILE)
    out = calibrate(rec_path, distance, profile_path=profile)
    assert out["written"]
    assert out["fitted"] == "walk"
    assert out["placement"] == "lower_back"
    assert out["scale_walk"] == pytest.approx(1.15, rel=0.04)
    assert out["scale_run"] == 1.0
    saved = tomllib.loads(profile.read_text())
    assert saved["stride"]["scale_walk"] == out["scale_walk"]
    assert saved["runner"] == {"height_m": 1.75}
    assert saved["targets"] == {"smooth": {"cadence_factor": 1.0, "stride_factor": 0.9}}
    again = calibrate(rec_path, distance, profile_path=profile)  # starts from the saved factor
    assert again["ratio"] == pytest.approx(1.0, abs=0.01)


def test_calibrate_refuses_absurd_distances_and_leaves_the_profile(tmp_path):
    from firmware_py.calibrate import calibrate
    from firmware_py.exc import UsageError

    rec_path, distance = _synthetic_back_recording(tmp_path, StrideSettings().pendulum_k_walk, n_steps=12)
    profile = tmp_path / "runner.toml"
    profile.write_text(PROFILE)
    with pytest.raises(UsageError, match="scale_walk would be"):
        calibrate(rec_path, 10 * distance, profile_path=profile)
    with pytest.raises(UsageError, match="distance"):
        calibrate(rec_path, -5.0, profile_path=profile)
    assert profile.read_text() == PROFILE


def test_calibrate_refuses_an_absurd_foot_sensor_height_in_the_profile(tmp_path):
    from firmware_py.calibrate import calibrate
    from firmware_py.exc import ConfigError

    rec_path, distance = _synthetic_back_recording(tmp_path, StrideSettings().pendulum_k_walk, n_steps=12)
    profile = tmp_path / "runner.toml"
    bad = PROFILE.replace("foot_sensor_height_m = 0.08", "foot_sensor_height_m = 1.5", 1)
    profile.write_text(bad)
    with pytest.raises(ConfigError, match=r"runner.toml: stride.foot_sensor_height_m = 1.5: out of range"):
        calibrate(rec_path, distance, profile_path=profile)
    assert profile.read_text() == bad


def test_calibrate_refuses_a_profile_that_replay_and_run_would_refuse(tmp_path):
    # a key the config does not know must stop calibrate too, before it writes: otherwise the
    # calibrated profile is one that `replay --config` and `run --config` then refuse
    from firmware_py.calibrate import calibrate
    from firmware_py.config import load_config
    from firmware_py.exc import ConfigError

    rec_path, distance = _synthetic_back_recording(tmp_path, StrideSettings().pendulum_k_walk, n_steps=12)
    profile = tmp_path / "runner.toml"
    bad = PROFILE.replace("[stride]", "[stride]\nrunner_height_m = 1.75", 1)
    profile.write_text(bad)
    with pytest.raises(ConfigError, match=r"runner_height_m"):
        calibrate(rec_path, distance, profile_path=profile)
    assert profile.read_text() == bad
    profile.write_text(PROFILE)
    calibrate(rec_path, distance, profile_path=profile)
    load_config(profile)  # what calibrate wrote loads


def test_calibrate_foot_reports_the_ratio_only(tmp_path):
    from firmware_py.calibrate import calibrate

    rel = "pyshoe_vicon/2017-11-27-11-24-07.csv"
    truth = load_fixture(rel).meta["ground_truth"]["distance_m"]
    profile = tmp_path / "runner.toml"
    out = calibrate(FIXTURES / rel, truth, profile_path=profile)
    assert out["placement"] == "foot"
    assert out["fitted"] == "none"
    assert not out["written"]
    assert out["ratio"] == pytest.approx(1.0, abs=0.06)  # a foot needs no calibration
    assert not profile.exists()


def test_calibrate_sums_exactly_what_replay_sums(tmp_path):
    from firmware_py.calibrate import calibrate
    from firmware_py.config import load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import cumulative_distance_m, replay_recording, total_distance_m

    rec_path, distance = _synthetic_back_recording(tmp_path, StrideSettings().pendulum_k_walk * 1.1)
    profile = tmp_path / "runner.toml"
    profile.write_text(PROFILE)
    before = replay_recording(read_log(rec_path), config=load_config(profile))
    out = calibrate(rec_path, distance, profile_path=profile)
    # one model in one place: the distance calibrate fitted on is the replay's distance_m
    assert out["estimated_distance_m"] == pytest.approx(total_distance_m(before), rel=1e-12, abs=1e-9)
    # the first contact (after 0.5 s standing) counts a step, as long as the second one
    steps = [e.step_length_m for e in before.events]
    assert steps[0] is not None
    assert steps[0] == steps[1]
    assert cumulative_distance_m(before)[0] == steps[0]
    after = replay_recording(read_log(rec_path), config=load_config(profile))
    assert total_distance_m(after) == pytest.approx(distance, rel=1e-3)  # rounding of the factor
