"""Terrain classifier: kernel vs slow reference, chunking, invariances, hysteresis, model, benchmark."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp import _terrain_kernels as K
from dsp import _terrain_model as M
from dsp import detect_steps
from dsp.exc import ValidationError
from dsp.terrain import (
    CLASS_NAMES,
    FEATURE_NAMES,
    TerrainClassifier,
    TerrainModel,
    TerrainResults,
    TerrainSettings,
    classify_terrain,
)
from tests.conftest import SHARED_DATASETS
from tests.naive_terrain import naive_classify_terrain
from tests.rotations import random_rotation

NCSU = SHARED_DATASETS / "ncsu_shin_terrain"
needs_ncsu = pytest.mark.skipif(not NCSU.is_dir(), reason="../shared/datasets/ncsu_shin_terrain is absent")


# ---- synthetic shank gait ------------------------------------------------------------------
def synthetic_shank(stride_s, fs, rng, noise_mps2=0.3, start_s=1.0):
    """Shank-like IMU signal: stance rotation, a large swing lobe, gravity turning with the tilt.

    Returns t, acc, gyro and the contact times (the start of every stride and the end of the last).
    """
    edges = np.concatenate([[start_s], start_s + np.cumsum(stride_s)])
    n = int((edges[-1] + 1.0) * fs)
    t = np.arange(n) / fs
    pitch_rate = np.zeros(n)
    for t0, t1 in itertools.pairwise(edges):
        m = (t >= t0) & (t < t1)
        ph = (t[m] - t0) / (t1 - t0)
        pitch_rate[m] = np.where(
            ph < 0.6, -1.2 * np.sin(np.pi * ph / 0.6), 6.0 * np.sin(np.pi * (ph - 0.6) / 0.4)
        )
    theta = np.cumsum(pitch_rate) / fs
    acc = np.stack([9.81 * np.sin(theta), 9.81 * np.cos(theta), np.zeros(n)], axis=1)
    acc += rng.normal(0.0, noise_mps2, acc.shape)
    gyro = np.stack([np.zeros(n), np.zeros(n), pitch_rate], axis=1) + rng.normal(0.0, 0.05, (n, 3))
    contacts = t[np.searchsorted(t, edges)]  # contacts fall on samples, as the step detector's do
    return t, acc, gyro, contacts


def stride_model(center_s=1.1, gain=4.0, baseline_prior=None, stairs_bias=-50.0, window_strides=2):
    """A model that calls a window technical when its mean stride is longer than ``center_s``.

    With a ``baseline_prior``, ``center_s`` is measured from the runner baseline of ``stride_s``.
    ``stairs_bias`` sets how sure the model is that every window is stairs (-50: never).  The
    window is 2 strides unless told (None: the shipped one).
    """
    mean = [0.0] * len(FEATURE_NAMES)
    scale = [1.0] * len(FEATURE_NAMES)
    mean[0], scale[0] = center_s, 0.05
    weights = [[0.0] * len(FEATURE_NAMES) for _ in CLASS_NAMES]
    weights[0][0], weights[1][0] = -gain, gain
    return TerrainModel(
        feature_mean=tuple(mean),
        feature_scale=tuple(scale),
        weights=tuple(tuple(w) for w in weights),
        bias=(0.0, 0.0, stairs_bias, -50.0),
        baseline_prior=None if baseline_prior is None else tuple(float(v) for v in baseline_prior),
        window_strides=window_strides,
    )


#: A baseline prior of a walker whose strides last 1.05 s (the other features do not matter here).
PRIOR = (1.05,) + (1.0,) * (len(FEATURE_NAMES) - 1)


def _read_ncsu(name, seconds=None):
    data = np.loadtxt(NCSU / f"{name}.csv", delimiter=",", skiprows=1)
    meta = json.loads((NCSU / f"{name}.json").read_text())
    if seconds is not None:
        data = data[: int(seconds * 40)]
    return data[:, 0], data[:, 1:4], data[:, 4:7], meta


def _assert_matches_naive(fast: TerrainResults, slow, rtol=1e-6):
    assert fast.n_contacts == len(slow)
    np.testing.assert_array_equal(fast.t_contact_s, [r["t"] for r in slow])
    np.testing.assert_array_equal(fast.valid, [r["valid"] for r in slow])
    np.testing.assert_allclose(fast.features, np.array([r["features"] for r in slow]), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(
        fast.window_features, np.array([r["window"] for r in slow]), rtol=rtol, atol=1e-9
    )
    np.testing.assert_allclose(fast.baseline, np.array([r["baseline"] for r in slow]), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(fast.p_technical, [r["p"] for r in slow], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fast.terrain, [r["terrain"] for r in slow])


# ---- kernel vs reference -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("window_strides", "decision"),
    [
        (None, "hmm"),
        (None, "hysteresis"),
        (None, "class_hmm"),
        (1, "hmm"),
        (3, "hysteresis"),
        (3, "class_hmm"),
    ],
)
def test_kernel_matches_naive_on_synthetic_shank_with_bad_samples_and_a_gap(rng, window_strides, decision):
    strides = np.concatenate([np.full(8, 1.0), np.full(8, 1.25), rng.uniform(0.9, 1.3, 8)])
    t, acc, gyro, contacts = synthetic_shank(strides, 40.0, rng)
    acc[100] = np.nan
    acc[101] = 0.0
    gyro[300, 1] = np.inf
    keep = (t < 14.0) | (t > 14.8)  # a 0.8 s hole in the samples
    t, acc, gyro = t[keep], acc[keep], gyro[keep]
    contacts = contacts[(contacts < 14.0) | (contacts > 14.8)]
    model = dataclasses.replace(stride_model(), window_strides=window_strides)
    s = TerrainSettings(decision=decision, min_dwell_steps=1, min_dwell_s=0.0)
    fast = classify_terrain(
        t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", settings=s, model=model
    )
    slow = naive_classify_terrain(
        t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", settings=s, model=model
    )
    _assert_matches_naive(fast, slow)
    assert fast.terrain.min() == 0
    assert fast.terrain.max() == 1
    # a bout's first window_strides - 1 strides have no decision (the gap starts a new bout)
    n_undecided = int((fast.valid & ~np.isfinite(fast.p_technical)).sum())
    assert n_undecided == 2 * (model.window - 1)
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True, settings=s, model=model)
    clf.update(t, acc, gyro, contacts)
    assert clf.flags.repaired_samples == 3
    assert clf.flags.gaps == 1


@pytest.mark.parametrize("name", ["foot_run", "foot_walk"])
def test_kernel_matches_naive_on_recorded_foot_data(name, request):
    rec = request.getfixturevalue(name)
    n = int(25.0 * rec.sampling_rate_hz)
    t, acc, gyro = rec.t_s[:n], rec.acc_mps2[:n], rec.gyro_rads[:n]
    contacts = detect_steps(t, acc, gyro, sampling_rate_hz=rec.sampling_rate_hz, placement="foot").t_s
    s = TerrainSettings(allow_untested_placement=True)
    kw = {"sampling_rate_hz": rec.sampling_rate_hz, "placement": "foot", "settings": s}
    fast = classify_terrain(t, acc, gyro, contacts, **kw)
    slow = naive_classify_terrain(t, acc, gyro, contacts, **kw)
    _assert_matches_naive(fast, slow)
    assert fast.valid.sum() > 5
    assert np.isfinite(fast.p_technical).sum() > 5


@needs_ncsu
@pytest.mark.datasets
def test_kernel_matches_naive_on_shin_terrain_data():
    t, acc, gyro, _ = _read_ncsu("S001_s01_part1", seconds=150.0)
    contacts = detect_steps(t, acc, gyro, sampling_rate_hz=40.0, placement="shank").t_s
    fast = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank")
    slow = naive_classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank")
    _assert_matches_naive(fast, slow)
    assert fast.terrain.max() == 1  # the excerpt holds stairs


# ---- streaming -----------------------------------------------------------------------------
def _chunked(clf, t, acc, gyro, contacts, emitted, cuts):
    """Feed blocks; each contact goes with the block holding the sample that decided it."""
    parts = []
    for a, b in zip([0, *cuts], [*cuts, len(t)], strict=True):
        after_previous = emitted > t[a - 1] if a > 0 else np.ones(len(emitted), dtype=bool)
        mine = after_previous & (emitted <= t[b - 1])
        parts.append(clf.update(t[a:b], acc[a:b], gyro[a:b], contacts[mine]))
    return TerrainResults.concatenate(parts)


def _assert_same(a: TerrainResults, b: TerrainResults):
    np.testing.assert_array_equal(a.t_contact_s, b.t_contact_s)
    np.testing.assert_array_equal(a.p_technical, b.p_technical)
    np.testing.assert_array_equal(a.terrain, b.terrain)
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.p_class, b.p_class)
    np.testing.assert_array_equal(a.baseline, b.baseline)


@pytest.mark.parametrize("decision", ["class_hmm", "hmm", "hysteresis"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_chunking_gives_the_batch_result(data, foot_walk, decision):
    rec = foot_walk
    fs = rec.sampling_rate_hz
    n = int(30.0 * fs)
    t, acc, gyro = rec.t_s[:n], rec.acc_mps2[:n], rec.gyro_rads[:n]
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    s = TerrainSettings(allow_untested_placement=True, decision=decision, min_dwell_steps=1, min_dwell_s=0.5)
    batch = classify_terrain(t, acc, gyro, steps.t_s, sampling_rate_hz=fs, placement="foot", settings=s)
    clf = TerrainClassifier(sampling_rate_hz=fs, placement="foot", has_gyro=True, settings=s)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, n - 1), max_size=40))))
    _assert_same(_chunked(clf, t, acc, gyro, steps.t_s, steps.emitted_at_s, cuts), batch)


@pytest.mark.parametrize("window_strides", [2, 4])
def test_one_sample_blocks_give_the_batch_result(rng, window_strides):
    t, acc, gyro, contacts = synthetic_shank(rng.uniform(0.9, 1.3, 12), 40.0, rng)
    model = dataclasses.replace(stride_model(), window_strides=window_strides)
    batch = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", model=model)
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True, model=model)
    emitted = contacts + 0.1  # decided a few samples later, as the step detector does
    emitted = np.minimum(emitted, t[-1])
    got = _chunked(clf, t, acc, gyro, contacts, emitted, list(range(1, len(t))))
    _assert_same(got, batch)


def test_contacts_later_than_the_history_are_counted_and_skipped(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(10, 1.0), 40.0, rng)
    s = TerrainSettings(max_contact_delay_s=0.2)
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True, settings=s)
    res = clf.update(t, acc, gyro)  # every sample first ...
    res = clf.update(t[:0], acc[:0], gyro[:0], contacts)  # ... the contacts long after
    assert clf.flags.late_contacts >= 7
    assert not res.valid[:6].any()


# ---- invariances and physics ---------------------------------------------------------------
def test_any_mounting_orientation_gives_the_same_result(foot_run, rng):
    fs = foot_run.sampling_rate_hz
    n = int(20.0 * fs)
    t, acc, gyro = foot_run.t_s[:n], foot_run.acc_mps2[:n], foot_run.gyro_rads[:n]
    contacts = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot").t_s
    s = TerrainSettings(allow_untested_placement=True)
    base = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=fs, placement="foot", settings=s)
    r = random_rotation(rng)
    turned = classify_terrain(
        t, acc @ r.T, gyro @ r.T, contacts, sampling_rate_hz=fs, placement="foot", settings=s
    )
    np.testing.assert_allclose(turned.features, base.features, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(turned.p_technical, base.p_technical, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(turned.terrain, base.terrain)


def test_feature_values_on_a_known_stride(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(6, 1.0), 100.0, rng, noise_mps2=0.0)
    res = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=100.0, placement="shank")
    f = dict(zip(FEATURE_NAMES, res.features[3], strict=True))
    assert f["stride_s"] == pytest.approx(1.0, abs=1e-9)
    # swing lobe 6 rad/s × 0.4 s × 2/π minus the stance lobe: the peak-to-peak tilt is about 1.5 rad
    assert f["swing_rad"] == pytest.approx(6.0 * 0.4 * 2 / np.pi, rel=0.1)
    # stance (|ω| ≤ 1.2 rad/s) is 60 % of the stride, plus the ends of the swing lobe below 1.5 rad/s
    assert f["still_fraction"] == pytest.approx(0.6 + 0.4 * 2 * np.arcsin(1.5 / 6.0) / np.pi, abs=0.03)
    assert f["mean_acc_mps2"] < 9.81
    assert f["lateral_rms_mps2"] < 0.1  # no motion along the pitch axis
    assert f["gyro_rms_rads"] == pytest.approx(np.sqrt(np.mean(gyro[(t > 3) & (t <= 4)] ** 2) * 3), rel=0.1)
    # terminal swing: the swing lobe from its peak (phase 0.8) to contact, 6 rad/s × 0.4 s / π
    assert f["terminal_swing_rad"] == pytest.approx(6.0 * 0.4 / np.pi, rel=0.05)


def test_terminal_swing_does_not_depend_on_the_sign_of_the_pitch_axis(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(6, 1.0), 100.0, rng, noise_mps2=0.0)
    flip = np.diag([1.0, -1.0, -1.0])  # a half turn about x: the pitch rate (z) changes sign
    base = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=100.0, placement="shank")
    turned = classify_terrain(t, acc @ flip, gyro @ flip, contacts, sampling_rate_hz=100.0, placement="shank")
    j = FEATURE_NAMES.index("terminal_swing_rad")
    assert np.all(base.features[1:, j] > 0.5)
    np.testing.assert_allclose(turned.features[1:, j], base.features[1:, j], rtol=1e-9)


def test_features_do_not_depend_much_on_the_sampling_rate(rng):
    strides = rng.uniform(0.95, 1.25, 10)
    out = []
    for fs in (40.0, 200.0):
        t, acc, gyro, contacts = synthetic_shank(strides, fs, np.random.default_rng(3), noise_mps2=0.0)
        out.append(classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=fs, placement="shank").features)
    low = [FEATURE_NAMES.index(n) for n in ("stride_s", "swing_rad", "mean_acc_mps2", "gyro_rms_rads")]
    np.testing.assert_allclose(out[1][2:, low], out[0][2:, low], rtol=0.05)


# ---- hysteresis and dwell ------------------------------------------------------------------
def _run_strides(strides, rng, **kw):
    t, acc, gyro, contacts = synthetic_shank(np.asarray(strides, float), 40.0, rng)
    s = TerrainSettings(**kw)
    return classify_terrain(
        t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", settings=s, model=stride_model()
    )


def test_state_follows_the_terrain_after_the_window_fills(rng):
    res = _run_strides(
        [1.0] * 8 + [1.2] * 8 + [1.0] * 8, rng, decision="hysteresis", min_dwell_steps=1, min_dwell_s=0.0
    )
    # contact i ends stride i-1; the window holds the last two strides
    assert res.terrain[:9].max() == 0
    assert res.terrain[9] == 0  # window 1.0/1.2: p = 0.5, inside the hysteresis band
    assert res.terrain[10:17].min() == 1
    assert res.terrain[17] == 1  # mixed window again: the state holds
    assert res.terrain[18:].max() == 0


def test_single_odd_strides_do_not_flicker(rng):
    strides = [1.0] * 6 + [1.2, 1.0, 1.0, 1.2, 1.0, 1.2, 1.0] + [1.0] * 4
    res = _run_strides(strides, rng, decision="hysteresis", min_dwell_steps=1, min_dwell_s=0.0)
    assert res.terrain.max() == 0
    assert np.nanmax(res.p_technical) == pytest.approx(0.5, abs=1e-6)


def test_minimum_dwell_in_steps_and_seconds(rng):
    strides = [1.0] * 6 + [1.2] * 3 + [1.0] * 10
    kw = {"decision": "hysteresis"}
    quick = _run_strides(strides, rng, min_dwell_steps=1, min_dwell_s=0.0, **kw)
    assert list(quick.terrain[7:12]) == [0, 1, 1, 1, 0]
    by_steps = _run_strides(strides, rng, min_dwell_steps=4, min_dwell_s=0.0, **kw)
    assert list(by_steps.terrain[8:14]) == [1, 1, 1, 1, 0, 0]
    by_time = _run_strides(strides, rng, min_dwell_steps=1, min_dwell_s=4.5, **kw)
    assert list(by_time.terrain[8:15]) == [1, 1, 1, 1, 1, 0, 0]  # 14.6 s - 9.4 s >= 4.5 s


def test_hmm_state_follows_the_terrain_and_holds_on_undecided_windows(rng):
    strides = [1.0] * 8 + [1.2] * 8 + [1.0] * 8
    res = _run_strides(strides, rng, decision="hmm", switch_p=0.2, evidence_weight=2.0)
    # contact i ends stride i-1; a window of 1.0 and 1.2 s strides gives p = 0.5 (no evidence)
    assert res.terrain[:10].max() == 0
    assert res.terrain[10:18].min() == 1  # the first all-technical window is enough, no dwell
    assert res.terrain[18:].max() == 0
    odd = [1.0] * 6 + [1.2, 1.0, 1.0, 1.2, 1.0, 1.2, 1.0] + [1.0] * 4
    assert _run_strides(odd, rng, decision="hmm").terrain.max() == 0


def test_hmm_step_known_answers():
    # from certainly smooth, the prediction alone gives P(technical) = switch_p
    assert K._hmm_step(0.0, 0.5, 0.2, 2.0) == pytest.approx(0.2, rel=1e-12)
    # from even odds, one calibrated decision gives its own probability
    assert K._hmm_step(0.5, 0.9, 0.2, 1.0) == pytest.approx(0.9, rel=1e-12)
    # prior odds 0.2 / 0.8, evidence (0.9 / 0.1) ** 2 = 81: posterior odds 20.25
    assert K._hmm_step(0.0, 0.9, 0.2, 2.0) == pytest.approx(20.25 / 21.25, rel=1e-12)
    # from certainly technical, a confident smooth decision: odds 4 / 81
    assert K._hmm_step(1.0, 0.1, 0.2, 2.0) == pytest.approx(4.0 / 85.0, rel=1e-12)
    # p of exactly 0 or 1 is clipped, so the result stays a probability strictly inside (0, 1)
    assert 0.0 < K._hmm_step(1.0, 0.0, 0.01, 1.0) < 1e-6
    assert 1.0 - 1e-6 < K._hmm_step(0.0, 1.0, 0.01, 1.0) < 1.0


def test_class_hmm_step_known_answers():
    prior = np.array([0.5, 0.25, 0.125, 0.125])
    stay = np.full((4, 4), 0.0)
    stay[np.arange(4), np.arange(4)] = 1.0
    # with the identity transition and uninformative windows (p_class = prior) nothing moves
    post = np.array([0.7, 0.1, 0.1, 0.1])
    assert K._class_hmm_step(post, prior.copy(), stay.ravel(), prior, 1.0) == pytest.approx(0.3, rel=1e-12)
    np.testing.assert_allclose(post, [0.7, 0.1, 0.1, 0.1], rtol=1e-12)
    # from certainly smooth, an uninformative window gives the transition row itself
    trans = np.array(
        [[0.9, 0.05, 0.03, 0.02], [0.1, 0.9, 0.0, 0.0], [0.2, 0.0, 0.8, 0.0], [0.2, 0.0, 0.0, 0.8]]
    )
    post = np.array([1.0, 0.0, 0.0, 0.0])
    assert K._class_hmm_step(post, prior.copy(), trans.ravel(), prior, 2.0) == pytest.approx(0.1, rel=1e-12)
    np.testing.assert_allclose(post, trans[0], rtol=1e-12)
    # then a window with p_class (0.2, 0.6, 0.1, 0.1): likelihoods (0.4, 2.4, 0.8, 0.8), squared
    # with e = 2, times the predicted (0.83, 0.135, 0.043, 0.034)
    pred = trans[0] @ trans
    expect = pred * np.array([0.4, 2.4, 0.8, 0.8]) ** 2
    expect /= expect.sum()
    p_tech = K._class_hmm_step(post, np.array([0.2, 0.6, 0.1, 0.1]), trans.ravel(), prior, 2.0)
    np.testing.assert_allclose(post, expect, rtol=1e-12)
    assert p_tech == pytest.approx(1.0 - expect[0], rel=1e-12)
    # a class probability of 0 is clipped: the result stays a distribution with no zero from it
    post = np.array([0.25, 0.25, 0.25, 0.25])
    K._class_hmm_step(post, np.array([0.0, 1.0, 0.0, 0.0]), trans.ravel(), prior, 1.0)
    assert post.sum() == pytest.approx(1.0, rel=1e-12)
    assert 0.0 < post[0] < 1e-6


def test_class_hmm_keeps_each_surfaces_own_bout_length(rng):
    """Long grass bouts make the state sticky on grass; short stairs bouts let it leave stairs fast."""
    t, acc, gyro, contacts = synthetic_shank(np.full(30, 1.0), 40.0, rng)
    # one window of strong grass evidence after a run of grass: a sticky grass row holds the state
    # through two smooth-looking windows; the same windows leave stairs (a short-lived row)
    prior = (0.5, 0.25, 0.125, 0.125)
    trans = (
        (0.97, 0.01, 0.01, 0.01),
        (0.01, 0.99, 0.0, 0.0),
        (0.3, 0.0, 0.7, 0.0),
        (0.3, 0.0, 0.0, 0.7),
    )
    k = len(CLASS_NAMES)
    pcl_grass = np.array([0.05, 0.9, 0.025, 0.025])
    pcl_stairs = np.array([0.05, 0.025, 0.9, 0.025])
    pcl_smooth = np.array([0.7, 0.1, 0.1, 0.1])
    for start, expected in ((pcl_grass, 1), (pcl_stairs, 0)):
        post = np.array([1.0, 0.0, 0.0, 0.0])
        for _ in range(5):
            K._class_hmm_step(post, start, np.ravel(trans), np.array(prior), 1.0)
        assert 1.0 - post[0] > 0.99
        for _ in range(2):
            p_tech = K._class_hmm_step(post, pcl_smooth, np.ravel(trans), np.array(prior), 1.0)
        assert int(p_tech >= 0.5) == expected
    # and through the classifier: a model with these matrices and the stride model's grass class
    model = dataclasses.replace(stride_model(), transition=trans, class_prior=prior)
    res = classify_terrain(
        t,
        acc,
        gyro,
        contacts,
        sampling_rate_hz=40.0,
        placement="shank",
        settings=TerrainSettings(decision="class_hmm"),
        model=model,
    )
    assert res.p_class.shape[1] == k
    assert res.terrain.max() == 0  # 1.0 s strides: smooth for the stride model


def test_a_model_without_transitions_gets_the_switch_probability(rng):
    m = stride_model()
    trans, prior = m.class_hmm_arrays(0.1)
    a = trans.reshape(4, 4)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_allclose(a[0], [0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3])
    np.testing.assert_allclose(a[2], [0.1, 0.0, 0.9, 0.0])
    np.testing.assert_allclose(prior, [0.5, 1 / 6, 1 / 6, 1 / 6])
    strides = [1.0] * 8 + [1.2] * 8 + [1.0] * 8
    res = _run_strides(strides, rng, decision="class_hmm", switch_p=0.2, evidence_weight=2.0)
    assert res.terrain[:10].max() == 0
    assert res.terrain[11:18].min() == 1
    assert res.terrain[19:].max() == 0
    with pytest.raises(ValidationError, match=r"transition.*refit"):
        TerrainClassifier(
            sampling_rate_hz=40.0,
            placement="shank",
            has_gyro=True,
            model=dataclasses.replace(m, transition=((1.0, 0.0), (0.0, 1.0))),
        )
    with pytest.raises(ValidationError, match="class_prior"):
        TerrainClassifier(
            sampling_rate_hz=40.0,
            placement="shank",
            has_gyro=True,
            model=dataclasses.replace(m, class_prior=(1.0, 0.0, 0.0, 0.0)),
        )


def test_a_pause_restarts_the_stride_window(rng):
    res = _run_strides([1.0] * 5 + [3.0] + [1.0] * 5, rng)
    pause = int(np.argmax(res.t_contact_s - np.r_[res.t_contact_s[0], res.t_contact_s[:-1]] > 2.5))
    assert not res.valid[pause]
    assert np.isnan(res.p_technical[pause : pause + 2]).all()
    assert np.isfinite(res.p_technical[pause + 2])


# ---- runner baseline -----------------------------------------------------------------------
def test_baseline_starts_at_the_prior_and_becomes_the_running_mean(rng):
    t, acc, gyro, contacts = synthetic_shank(rng.uniform(0.95, 1.15, 40), 40.0, rng)
    res = classify_terrain(
        t,
        acc,
        gyro,
        contacts,
        sampling_rate_hz=40.0,
        placement="shank",
        model=stride_model(0.1, baseline_prior=PRIOR),
    )
    # while prior_n + k <= BASELINE_STRIDES, the exponential mean is exactly the mean of the prior
    # (counted as prior_n strides) and the k strides learnt so far
    n0 = M.BASELINE_PRIOR_STRIDES
    assert n0 + res.valid.sum() <= M.BASELINE_STRIDES
    feats = np.where(res.valid[:, None], res.features, 0.0)
    k = np.concatenate([[0], np.cumsum(res.valid)[:-1]])
    sums = np.vstack([np.zeros(len(PRIOR)), np.cumsum(feats, axis=0)[:-1]])
    expected = (n0 * np.array(PRIOR) + sums) / (n0 + k)[:, None]
    np.testing.assert_allclose(res.baseline, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(res.baseline[0], PRIOR)


def test_strides_called_stairs_do_not_move_the_baseline(rng):
    t, acc, gyro, contacts = synthetic_shank(rng.uniform(0.95, 1.15, 20), 40.0, rng)
    model = stride_model(0.1, baseline_prior=PRIOR, stairs_bias=50.0)  # every window is stairs
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True, model=model)
    res = clf.update(t, acc, gyro, contacts)
    decided = np.flatnonzero(np.isfinite(res.p_technical))
    assert decided.size > 10
    assert (res.p_class[decided, 2] > 0.99).all()
    for i in decided[:-1]:
        np.testing.assert_array_equal(res.baseline[i + 1], res.baseline[i])
    np.testing.assert_array_equal(clf.baseline, res.baseline[decided[-1]])
    # the strides before the first decision were learnt
    assert clf.baseline[0] != PRIOR[0]


def test_the_baseline_absorbs_a_runners_own_gait_but_not_a_change(rng):
    slow_walker = [1.3] * 150 + [1.6] * 12
    t, acc, gyro, contacts = synthetic_shank(np.asarray(slow_walker), 40.0, rng)
    kw = {"sampling_rate_hz": 40.0, "placement": "shank"}
    absolute = classify_terrain(t, acc, gyro, contacts, **kw, model=stride_model(1.2))
    relative = classify_terrain(t, acc, gyro, contacts, **kw, model=stride_model(0.15, baseline_prior=PRIOR))
    own_gait = slice(140, 151)  # the last strides of 1.3 s
    assert (absolute.terrain[own_gait] == 1).all()  # an absolute threshold calls this walker technical
    assert relative.terrain[5] == 1  # so does the baseline model at first: it starts from the prior
    assert (relative.terrain[own_gait] == 0).all()  # then it has learnt the walker's own stride
    assert relative.baseline[150, 0] == pytest.approx(1.3, abs=0.02)  # the prior fades as 0.99 per stride
    assert (relative.terrain[-6:] == 1).all()  # a sudden lengthening is still seen


def test_models_without_a_prior_read_the_features_as_they_are(rng):
    t, acc, gyro, contacts = synthetic_shank(rng.uniform(0.95, 1.3, 20), 40.0, rng)
    res = classify_terrain(
        t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", model=stride_model()
    )
    ok = np.isfinite(res.p_technical)
    z = (res.window_features[ok, 0] - 1.1) / 0.05 * 4.0  # logits +z (grass) and -z (smooth)
    np.testing.assert_allclose(res.p_technical[ok], 1.0 / (1.0 + np.exp(-2.0 * z)), rtol=1e-9)


def test_the_benchmark_rebuilds_the_kernels_baseline(rng):
    from benchmarks import terrain as bench

    t, acc, gyro, contacts = synthetic_shank(rng.uniform(0.95, 1.15, 30), 40.0, rng)
    model = stride_model(0.1, baseline_prior=PRIOR)  # never calls stairs, like the labels below
    res = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank", model=model)
    rec = bench.Recording(
        "r", "s", "shank", 40.0, t, acc, gyro, contacts, np.zeros(len(contacts), dtype=np.int64),
        res.features, res.valid, res.window_features,
    )  # fmt: skip
    np.testing.assert_allclose(bench.labelled_baseline(rec, np.array(PRIOR)), res.baseline, rtol=1e-12)
    rec.labels[10:20] = 2  # strides labelled stairs are left out of the training baseline
    rebuilt = bench.labelled_baseline(rec, np.array(PRIOR))
    np.testing.assert_array_equal(rebuilt[11:21], np.repeat(rebuilt[10:11], 10, axis=0))


# ---- placements and validation -------------------------------------------------------------
def test_untested_placements_compute_features_but_no_terrain(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(8, 1.0), 40.0, rng)
    for placement, gyro_in in (("lower_back", gyro), ("foot", gyro), ("shank", None)):
        clf = TerrainClassifier(sampling_rate_hz=40.0, placement=placement, has_gyro=gyro_in is not None)
        assert not clf.model_applies
        res = clf.update(t, acc, gyro_in, contacts)
        assert np.isnan(res.p_technical).all()
        assert (res.terrain == 0).all()
        assert np.isfinite(res.window_features[-1]).all()
    forced = TerrainClassifier(
        sampling_rate_hz=40.0,
        placement="waist",
        has_gyro=True,
        settings=TerrainSettings(allow_untested_placement=True),
    )
    assert forced.model_applies
    assert np.isfinite(forced.update(t, acc, gyro, contacts).p_technical[-1])


def test_bad_arguments_name_the_fix(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(4, 1.0), 40.0, rng)
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True)
    with pytest.raises(ValidationError, match="has_gyro=True"):
        clf.update(t, acc, None, contacts)
    with pytest.raises(ValidationError, match="strictly increasing"):
        clf.update(t, acc, gyro, contacts[::-1])
    with pytest.raises(ValidationError, match="newest sample"):
        clf.update(t[:10], acc[:10], gyro[:10], contacts)
    with pytest.raises(ValidationError, match=r"\(n, 3\)"):
        clf.update(t, acc[:, :2], gyro, contacts)
    clf.update(t, acc, gyro, contacts[:3])
    with pytest.raises(ValidationError, match="not after the last one"):
        clf.update(t[:0], acc[:0], gyro[:0], contacts[2:3])
    with pytest.raises(ValidationError, match="exit_p"):
        TerrainSettings(enter_p=0.4, exit_p=0.6)
    with pytest.raises(ValidationError, match="'hysteresis', 'hmm'"):
        TerrainSettings(decision="viterbi")
    with pytest.raises(ValidationError, match="switch_p"):
        TerrainSettings(switch_p=0.5)
    with pytest.raises(ValidationError, match="evidence_weight"):
        TerrainSettings(evidence_weight=0.0)
    with pytest.raises(ValidationError, match="min_stride_s"):
        TerrainSettings(min_stride_s=3.0)
    with pytest.raises(ValidationError, match="sampling_rate_hz"):
        TerrainClassifier(sampling_rate_hz=10.0, placement="shank", has_gyro=True)
    with pytest.raises(ValidationError, match="refit"):
        TerrainClassifier(
            sampling_rate_hz=40.0,
            placement="shank",
            has_gyro=True,
            model=TerrainModel(feature_mean=(0.0,), feature_scale=(1.0,), weights=((0.0,),), bias=(0.0,)),
        )
    with pytest.raises(ValidationError, match="baseline_prior"):
        TerrainClassifier(
            sampling_rate_hz=40.0,
            placement="shank",
            has_gyro=True,
            model=stride_model(baseline_prior=(1.0, 2.0)),
        )


def test_reset_forgets_everything(rng):
    t, acc, gyro, contacts = synthetic_shank(np.full(8, 1.25), 40.0, rng)
    clf = TerrainClassifier(sampling_rate_hz=40.0, placement="shank", has_gyro=True, model=stride_model())
    first = clf.update(t, acc, gyro, contacts)
    assert clf.terrain == 1
    clf.reset()
    assert clf.terrain == 0
    assert clf.flags.contacts == 0
    _assert_same(clf.update(t, acc, gyro, contacts), first)
    learner = TerrainClassifier(
        sampling_rate_hz=40.0, placement="shank", has_gyro=True, model=stride_model(0.1, baseline_prior=PRIOR)
    )
    learner.update(t, acc, gyro, contacts)
    assert learner.baseline[0] > PRIOR[0]
    learner.reset()
    np.testing.assert_array_equal(learner.baseline, PRIOR)


# ---- the shipped model ---------------------------------------------------------------------
def test_shipped_model_is_plain_data_that_matches_the_kernel():
    _, scale, w, _ = TerrainModel.shipped().arrays()
    assert w.shape == (len(CLASS_NAMES), len(FEATURE_NAMES))
    assert np.all(scale > 0)
    assert CLASS_NAMES[0] == "smooth"
    assert M.PLACEMENTS == ("shank",)
    assert M.TRAINED_ON != "not trained"
    assert len(M.BASELINE_PRIOR) == len(FEATURE_NAMES)
    assert np.all(np.isfinite(M.BASELINE_PRIOR))
    trans, prior = TerrainModel.shipped().class_hmm_arrays(0.05)
    assert prior.sum() == pytest.approx(1.0)
    a = trans.reshape(len(CLASS_NAMES), len(CLASS_NAMES))
    # learnt from the labels: every surface lasts (diagonal above 0.5) and stairs end on level ground
    assert np.all(np.diag(a) > 0.5)
    assert a[2, 0] > a[2, 1]
    assert a[3, 0] > a[3, 1]
    for name in FEATURE_NAMES:  # units in every name
        assert name.endswith(("_s", "_rad", "_fraction", "_mps2", "_hz", "_mps3", "_rads", "_deg"))


def test_fit_recovers_separable_classes_and_round_trips_through_source(tmp_path, rng):
    from benchmarks import terrain as bench

    centers = rng.normal(0.0, 3.0, (4, len(FEATURE_NAMES))) + 10.0
    y = np.repeat(np.arange(4), [200, 60, 60, 60])
    x = centers[y] + rng.normal(0.0, 0.3, (len(y), len(FEATURE_NAMES)))
    model = bench.fit_model(x, y)
    mu, scale, w, b = model.arrays()
    logits = ((x - mu) / scale) @ w.T + b
    assert (logits.argmax(axis=1) == y).mean() > 0.98
    # the class prior is the training weight: half smooth, the rest by technical strides
    np.testing.assert_allclose(model.class_prior, [0.5, 1 / 6, 1 / 6, 1 / 6])
    model = dataclasses.replace(model, transition=((0.7, 0.1, 0.1, 0.1),) * 4)
    src = bench.model_source(model, [], len(y), None)
    ns: dict = {}
    exec(compile(src, "model", "exec"), ns)
    assert ns["WEIGHTS"] == model.weights
    assert ns["FEATURE_MEAN"] == model.feature_mean
    assert ns["FEATURE_NAMES"] == FEATURE_NAMES
    assert ns["TRANSITION"] == model.transition
    assert ns["CLASS_PRIOR"] == model.class_prior


def test_the_benchmark_learns_transitions_from_consecutive_labels():
    from benchmarks import terrain as bench

    rec = SimpleNamespace(labels=np.array([0, 0, 0, 1, 1, -1, 2, 0]))
    a = bench.label_transitions([rec], pseudo_count=0.0)
    # 0->0 twice, 0->1 once; 1->1 once; 2->0 once; pairs with an unlabelled contact do not count
    np.testing.assert_allclose(a[0], [2 / 3, 1 / 3, 0.0, 0.0])
    np.testing.assert_allclose(a[1], [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(a[2], [1.0, 0.0, 0.0, 0.0])
    smoothed = bench.label_transitions([rec])  # add-one: the unseen row is uniform
    np.testing.assert_allclose(smoothed[3], [0.25] * 4)
    np.testing.assert_allclose(smoothed[0], [3 / 7, 2 / 7, 1 / 7, 1 / 7])


def test_the_shipped_candidate_is_the_default_settings():
    from benchmarks import terrain as bench

    assert bench.SHIPPED in bench.CANDIDATES
    assert bench.SHIPPED.settings == TerrainSettings()
    assert bench.SHIPPED.features == FEATURE_NAMES
    assert bench.SHIPPED.window_strides == M.WINDOW_STRIDES
    assert TerrainSettings().decision in bench.SHIPPED.name.replace(" ", "_")


@needs_ncsu
@pytest.mark.datasets
def test_shipped_model_on_the_development_recordings():
    from benchmarks import terrain as bench

    recs = bench.load_recordings(SHARED_DATASETS)
    ys, ss, ps = [], [], []
    for r in recs:
        res = bench.replay(r, TerrainModel.shipped())
        ys.append(r.labels)
        ss.append(res.terrain)
        ps.append(res.p_technical)
    s = bench.score("all", np.concatenate(ys), np.concatenate(ss), np.concatenate(ps))
    # fitted on these very recordings: a regression guard, not an accuracy claim (see docs/terrain.md)
    assert s.balanced_accuracy > 0.75
    assert s.recall_class["stairs_up"] > 0.85
    assert s.recall_class["stairs_down"] > 0.85


@needs_ncsu
@pytest.mark.datasets
def test_a_faster_sensor_sees_the_same_terrain():
    from scipy.signal import resample_poly

    t, acc, gyro, _ = _read_ncsu("S001_s01_part1", seconds=240.0)
    contacts = detect_steps(t, acc, gyro, sampling_rate_hz=40.0, placement="shank").t_s
    base = classify_terrain(t, acc, gyro, contacts, sampling_rate_hz=40.0, placement="shank")
    up = 5
    t5 = t[0] + np.arange(len(t) * up) / (40.0 * up)
    acc5, gyro5 = resample_poly(acc, up, 1, axis=0), resample_poly(gyro, up, 1, axis=0)
    fast = classify_terrain(t5, acc5, gyro5, contacts, sampling_rate_hz=200.0, placement="shank")
    assert (fast.terrain == base.terrain).mean() > 0.85
    ok = np.isfinite(base.p_technical) & np.isfinite(fast.p_technical)
    assert np.corrcoef(base.p_technical[ok], fast.p_technical[ok])[0, 1] > 0.8


# ---- the benchmark command -----------------------------------------------------------------
def _write_recording(folder: Path, name: str, subject: str, rng, labelled=True):
    strides = np.concatenate([np.full(20, 1.05), np.full(20, 1.3), np.full(20, 1.05)])
    t, acc, gyro, contacts = synthetic_shank(strides, 40.0, rng)
    edges = [0.0, float(contacts[20]), float(contacts[40]), float(t[-1]) + 1.0]
    folder.mkdir(parents=True, exist_ok=True)
    rows = np.column_stack([t, acc, gyro])
    np.savetxt(
        folder / f"{name}.csv", rows, delimiter=",", header="t,ax,ay,az,gx,gy,gz", comments="", fmt="%.5f"
    )
    meta = {
        "recording_id": name,
        "dataset": folder.name,
        "placement": "shank",
        "sample_rate_hz": 40.0,
        "subject": {"id": subject},
        "ground_truth": {
            "terrain_segments": [
                [edges[0], edges[1], "solid_ground"],
                [edges[1], edges[2], "grass"],
                [edges[2], edges[3], "solid_ground"],
            ]
        },
    }
    if not labelled:
        meta["ground_truth"] = {"steps_t": []}
    (folder / f"{name}.json").write_text(json.dumps(meta))


def test_benchmark_command_end_to_end_on_synthetic_recordings(tmp_path, rng, capsys, monkeypatch):
    from benchmarks import terrain as bench

    for i, subj in enumerate(["A", "B", "C"]):
        _write_recording(tmp_path / "data" / "synthetic_terrain", f"S{i}", subj, rng)
    _write_recording(tmp_path / "data" / "synthetic_flat", "F0", "Z", rng, labelled=False)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nno markers\n")
    assert bench.main(["--datasets", str(tmp_path / "data"), "--write-readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "<!-- terrain:start -->" in err
    readme.write_text("# x\n<!-- terrain:start -->\nSTALE-BLOCK\n<!-- terrain:end -->\ntail\n")
    model_path = tmp_path / "model.py"
    monkeypatch.setattr(bench, "MODEL_PATH", model_path)
    monkeypatch.setattr(bench, "REPO_ROOT", tmp_path)
    assert bench.main(["--datasets", str(tmp_path / "data"), "--write-readme", str(readme), "--fit"]) == 0
    text = readme.read_text()
    assert "STALE-BLOCK" not in text
    assert text.endswith("<!-- terrain:end -->\ntail\n")
    assert "| **pooled** |" in text
    assert "Nested leave-one-subject-out" in text  # 3 subjects: the nested table is there
    assert "synthetic_terrain/A" in text
    assert "synthetic_flat/Z" not in text  # unlabelled: not scored, only checked for false alarms
    assert "* synthetic_flat: 1 level-ground recordings, " in text
    ns: dict = {}
    exec(compile(model_path.read_text(), "model", "exec"), ns)
    assert len(ns["WEIGHTS"]) == 4
    assert math.isfinite(ns["LOSO_BALANCED_ACCURACY"])
    assert bench.main(["--datasets", str(tmp_path / "nothing")]) == 2


def test_nested_evaluation_never_lets_the_held_out_subject_choose_or_fit(tmp_path, rng, monkeypatch):
    from benchmarks import terrain as bench

    for i, subj in enumerate(["A", "B", "C", "D"]):
        _write_recording(tmp_path / "data" / "synthetic_terrain", f"S{i}", subj, rng)
    recs = bench.load_recordings(tmp_path / "data")
    seen: list[set[str]] = []
    real_fit_on = bench.fit_on

    def spy(train, candidate=bench.SHIPPED):
        seen.append({r.subject for r in train})
        return real_fit_on(train, candidate)

    monkeypatch.setattr(bench, "fit_on", spy)
    cands = (
        bench.CANDIDATES[0],
        next(c for c in bench.CANDIDATES if c.fit_key != bench.CANDIDATES[0].fit_key),
    )
    folds, pooled = bench.nested_leave_one_subject_out(recs, cands)
    assert [f.subject.split("/")[1] for f in folds] == ["A", "B", "C", "D"]
    # per outer fold: 3 inner folds x 2 candidates on 2 of the other subjects, then 1 fit on all 3
    assert len(seen) == 4 * (3 * 2 + 1)
    for k, f in enumerate(folds):
        block = seen[k * 7 : (k + 1) * 7]
        assert all(f.subject not in s for s in block)
        assert all(len(s) == 2 for s in block[:-1])
        assert len(block[-1]) == 3
        assert f.chosen in cands
        assert f.inner_ba[f.chosen.name] == max(f.inner_ba.values())
    assert pooled.n_smooth + pooled.n_technical == sum(
        f.scores.n_smooth + f.scores.n_technical for f in folds
    )
    # candidates that differ only in their settings share one fit per training set; every fit is
    # tried with every decision layer
    n_fits = len({c.fit_key for c in bench.CANDIDATES})
    assert len(bench.CANDIDATES) == n_fits * len(bench.DECISIONS)
    assert {c.settings for c in bench.CANDIDATES} == {d for _, d in bench.DECISIONS}
    seen.clear()
    quick = TerrainSettings(min_dwell_steps=1, min_dwell_s=1.0)
    same_fit = (bench.CANDIDATES[0], dataclasses.replace(bench.CANDIDATES[0], name="quick", settings=quick))
    assert same_fit[0].fit_key == same_fit[1].fit_key
    bench.nested_leave_one_subject_out(recs, same_fit)
    assert len(seen) == 4 * (3 + 1)
    with pytest.raises(bench.TerrainBenchError, match="three subjects"):
        bench.nested_leave_one_subject_out([r for r in recs if r.subject.endswith(("A", "B"))], cands)


def test_a_candidate_without_some_features_gives_them_no_weight(tmp_path, rng):
    from benchmarks import terrain as bench

    for i, subj in enumerate(["A", "B"]):
        _write_recording(tmp_path / "data" / "synthetic_terrain", f"S{i}", subj, rng)
    recs = bench.load_recordings(tmp_path / "data")
    small = bench.Candidate("no off-axis", bench.CANDIDATES[-1].features, False, 0.1)
    assert set(bench.OFFAXIS_FEATURES).isdisjoint(small.features)
    model, _ = bench.fit_on(recs, small)
    w = np.array(model.weights)
    cols = [FEATURE_NAMES.index(f) for f in bench.OFFAXIS_FEATURES]
    assert np.all(w[:, cols] == 0.0)
    assert np.all(w[:, [j for j in range(len(FEATURE_NAMES)) if j not in cols]] != 0.0)
    assert model.baseline_prior is None
    full, _ = bench.fit_on(recs)
    assert full.baseline_prior is not None
    assert np.all(np.array(full.weights) != 0.0)


def test_a_model_window_outside_its_range_names_the_fix():
    with pytest.raises(ValidationError, match=r"window_strides=0 .*--fit"):
        TerrainClassifier(
            sampling_rate_hz=40.0,
            placement="shank",
            has_gyro=True,
            model=dataclasses.replace(stride_model(), window_strides=0),
        )
    assert TerrainModel.shipped().window == M.WINDOW_STRIDES
    assert dataclasses.replace(TerrainModel.shipped(), window_strides=None).window == M.WINDOW_STRIDES
