"""A foot sensor without gyroscope (limb mode): its own foot's contacts from the accelerometer alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.scoring import Truth, parse_prediction, score_recording
from dsp import Pipeline, PlacementWarning, StepDetector, detect_steps
from tests.conftest import FIXTURES, load_fixture
from tests.rotations import random_rotation
from tests.step_checks import drawn_cuts, same_as_naive, streams_as_batch


def _no_gyro(rec, seconds=None):
    n = rec.n_samples if seconds is None else int(seconds * rec.sampling_rate_hz)
    return rec.t_s[:n], rec.acc_mps2[:n]


@pytest.mark.parametrize(
    "rel",
    [
        "pyshoe_vicon/2017-11-27-11-24-07.csv",  # running
        "pyshoe_vicon/2017-11-22-11-30-14.csv",  # walking in a small room
        "gaitmap_example/sample_left_foot.csv",
        "gdind_footprints/exp35.csv",
    ],
)
def test_limb_kernel_matches_naive_reference(rel):
    rec = load_fixture(rel)
    t, acc = _no_gyro(rec, 40.0)
    fast = same_as_naive(t, acc, None, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
    assert fast.n_steps > 10


def test_limb_kernel_matches_reference_on_damaged_data_and_gaps(foot_walk):
    t, acc = _no_gyro(foot_walk, 40.0)
    t = t.copy()
    acc = acc.copy()
    fs = foot_walk.sampling_rate_hz
    acc[int(5 * fs) : int(5 * fs) + 3] = np.nan  # repaired samples
    acc[int(9 * fs) : int(9.4 * fs)] = acc[int(9 * fs)]  # a frozen sensor: a restart
    t[int(20 * fs) :] += 3.0  # a gap in time: a restart
    fast = same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="foot")
    assert fast.n_steps > 10


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_limb_any_chunking_gives_the_batch_result(data, foot_run, foot_walk):
    rec = data.draw(st.sampled_from([foot_run, foot_walk]))
    t, acc = _no_gyro(rec, 30.0)
    cuts = drawn_cuts(data, len(t))
    batch = streams_as_batch(t, acc, None, cuts, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
    assert batch.n_steps > 10


def test_limb_one_sample_blocks_give_the_batch_result(foot_run):
    t, acc = _no_gyro(foot_run, 12.0)
    batch = detect_steps(t, acc, None, sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot")
    det = StepDetector(sampling_rate_hz=foot_run.sampling_rate_hz, placement="foot", has_gyro=False)
    got = np.concatenate([det.update(t[i : i + 1], acc[i : i + 1]).t_s for i in range(len(t))])
    assert batch.n_steps > 5
    np.testing.assert_array_equal(got, batch.t_s)


@pytest.mark.parametrize("name", ["foot_run", "foot_walk"])
def test_limb_any_mounting_orientation_gives_the_same_steps(name, request, rng):
    rec = request.getfixturevalue(name)
    t, acc = _no_gyro(rec)
    ref = detect_steps(t, acc, None, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
    flips = [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]
    for rot in [*flips, *(random_rotation(rng) for _ in range(3))]:
        got = detect_steps(t, acc @ rot.T, None, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
        # |a| and distances between vectors are invariant; only rounding at the last bit differs
        assert abs(got.n_steps - ref.n_steps) <= max(1, ref.n_steps // 100)
        near = [np.min(np.abs(got.t_s - x)) <= 1.5 / rec.sampling_rate_hz for x in ref.t_s]
        assert np.mean(near) >= 0.98


def test_limb_contacts_are_decided_within_150_ms(foot_run, foot_walk):
    for rec in (foot_run, foot_walk):
        t, acc = _no_gyro(rec)
        steps = detect_steps(t, acc, None, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
        latency = steps.emitted_at_s - steps.t_s
        assert steps.n_steps > 10
        assert latency.min() >= 0.0
        assert latency.max() <= 0.150 + 1.0 / rec.sampling_rate_hz


def _synthetic_foot(fs, n_strides, push_off_mps2, heel_mps2, rng):
    """Acceleration of a walking foot: rest (g), a push-off burst, a swing, a heel strike.

    Per 1.1 s stride (60 % stance): the foot at rest, then the push-off burst (a 30 ms spike, one
    sample at least, of ``push_off_mps2`` above g) as it leaves the rest, a 0.44 s swing (smooth
    humps of 6-8 m/s², the vector turning), and the heel strike (a 20 ms spike, or a sample, of
    ``heel_mps2`` above g) that ends it; then the foot rests again.  Returns the times, the
    acceleration and the true contact times.
    """
    stride = 1.1
    t = np.arange(int((n_strides * stride + 1.0) * fs)) / fs
    acc = np.zeros((t.size, 3))
    acc[:, 2] = 9.80665
    contacts = []
    for i in range(n_strides):
        t0 = 0.5 + i * stride
        leave = t0 + 0.62  # the end of the rest: the heel rises, the foot pushes off
        land = leave + 0.44  # the swing
        push = (t >= leave) & (t < leave + max(0.03, 1.0 / fs))
        acc[push, 2] += push_off_mps2
        swing = (t >= leave + 0.05) & (t < land)
        phase = (t[swing] - leave - 0.05) / (land - leave - 0.05)
        acc[swing, 0] += 8.0 * np.sin(np.pi * phase)  # the swing's forward acceleration, turning
        acc[swing, 1] += 6.0 * np.sin(2 * np.pi * phase)
        heel = (t >= land) & (t < land + max(0.02, 1.0 / fs))
        acc[heel, 2] += heel_mps2
        contacts.append(t[heel][0])
    acc += rng.normal(0.0, 0.05, acc.shape)
    return t, acc, np.array(contacts)


@pytest.mark.parametrize("fs", [40.0, 100.0, 200.0, 1000.0])
def test_the_push_off_burst_after_a_rest_is_not_a_contact(fs, rng):
    # the push-off's burst is twice the heel strike's: a largest-|a| picker would take it, 0.44 s
    # before the heel strike (which the refractory time then hides); the rest before it names it
    t, acc, contacts = _synthetic_foot(fs, 10, push_off_mps2=30.0, heel_mps2=15.0, rng=rng)
    steps = same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="foot")
    assert steps.n_steps == contacts.size
    np.testing.assert_allclose(steps.t_s, contacts, atol=0.025)
    # one foot's contacts, a cadence of both feet: 2 × 60 / 1.1 s
    np.testing.assert_allclose(steps.cadence_spm[1:], 120.0 / 1.1, rtol=0.02)


def test_without_the_rest_test_the_push_off_would_be_taken(rng):
    # the same walk with the push-off veto disabled (a swing of 0 s): the detector fails, so the
    # test above measures the veto and not a lucky threshold
    from dsp import StepSettings

    t, acc, contacts = _synthetic_foot(100.0, 10, push_off_mps2=30.0, heel_mps2=15.0, rng=rng)
    steps = detect_steps(
        t, acc, None, sampling_rate_hz=100.0, placement="foot", settings=StepSettings(limb_swing_s=0.0)
    )
    near = [np.min(np.abs(steps.t_s - c)) <= 0.05 for c in contacts] if steps.n_steps else [False]
    assert np.mean(near) <= 0.3  # the push-offs are taken, and hide the heel strikes


def test_a_foot_without_gyro_reports_its_own_foot():
    assert StepDetector(sampling_rate_hz=100.0, placement="foot", has_gyro=False).steps_feet == "one"
    with pytest.warns(PlacementWarning, match="no stride length"):
        pipe = Pipeline(sampling_rate_hz=100.0, placement="foot", has_gyro=False, placement_side="right")
    assert pipe.steps_feet == "one"
    assert pipe.side == "R"
    assert pipe.stride is None


def _pooled_f1(rels):
    tp = fp = fn = 0
    for rel in rels:
        rec = load_fixture(rel)
        t, acc = _no_gyro(rec)
        steps = detect_steps(t, acc, None, sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
        meta = json.loads((FIXTURES / rel).with_suffix(".json").read_text())
        truth = Truth(dataset=rel.split("/")[0], recording_id=rel.split("/")[1][:-4], meta=meta)
        pred = parse_prediction({"steps_feet": "one", "steps": [{"t": float(x)} for x in steps.t_s]})
        sc = score_recording(truth, pred)
        tp, fp, fn = tp + sc.tp, fp + sc.fp, fn + sc.fn
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize(
    ("rels", "naive_f1"),
    [
        # the naive |a| peak picker of ../shared/datasets/PEERS.md (no gyroscope, offline) on these groups
        (["gaitmap_example/sample_left_foot.csv", "gaitmap_example/sample_right_foot.csv"], 0.974),
        (["gdind_footprints/exp31.csv", "gdind_footprints/exp35.csv"], 0.963),
        (["pyshoe_vicon/2017-11-27-11-24-07.csv", "pyshoe_vicon/2017-11-27-11-18-11.csv"], 0.876),  # running
        (["pyshoe_vicon/2017-11-22-11-30-14.csv", "pyshoe_vicon/2018-02-09-11-32-01.csv"], 0.290),  # walking
    ],
)
def test_limb_fixtures_beat_the_naive_peak_picker_without_gyro(rels, naive_f1):
    assert _pooled_f1(rels) >= naive_f1


def _resampled(rel, rate_hz):
    """A fixture without its gyroscope, resampled to ``rate_hz`` as the robustness benchmark does."""
    from benchmarks.robustness import Perturbation, perturb

    rec = perturb(load_fixture(rel), Perturbation("no gyro", "no_gyro"), 0)
    return perturb(rec, Perturbation(f"rate {rate_hz:g} Hz", "rate", rate_hz), 0)


def _naive_peak_picker(t, acc, fs):
    """The naive |a| peak picker of ../shared/datasets/PEERS.md, offline: |a| low-passed at 5 Hz
    (zero phase), its peaks at least 0.5 s apart and 2 m/s² above g (this reconstruction gives
    PEERS.md's F1 on gaitmap's walks and gdind's fast walks, 0.974 and 0.977)."""
    from scipy.signal import butter, find_peaks, sosfiltfilt

    x = sosfiltfilt(butter(2, 5.0, fs=fs, output="sos"), np.linalg.norm(acc, axis=1))
    return t[find_peaks(x, distance=max(1, int(0.5 * fs)), height=9.80665 + 2.0)[0]]


def _pooled_f1_of(recs, pick):
    tp = fp = fn = 0
    for rel, rec in recs:
        meta = json.loads((FIXTURES / rel).with_suffix(".json").read_text())
        truth = Truth(dataset=rel.split("/")[0], recording_id=rel.split("/")[1][:-4], meta=meta)
        times = pick(rec.t_s, rec.acc_mps2, rec.sampling_rate_hz)
        sc = score_recording(
            truth, parse_prediction({"steps_feet": "one", "steps": [{"t": float(x)} for x in times]})
        )
        tp, fp, fn = tp + sc.tp, fp + sc.fp, fn + sc.fn
    return 2 * tp / (2 * tp + fp + fn)


_RUNS = ["pyshoe_vicon/2017-11-27-11-24-07.csv", "pyshoe_vicon/2017-11-27-11-18-11.csv"]


def _limb_picker(**settings):
    from dsp import StepSettings

    def pick(t, acc, fs):
        return detect_steps(
            t, acc, None, sampling_rate_hz=fs, placement="foot", settings=StepSettings(**settings)
        ).t_s

    return pick


@pytest.mark.parametrize("rate_hz", [41.0, 50.0])
def test_limb_running_at_41_50_hz_beats_the_naive_peak_picker_there(rate_hz):
    # a cheap footpod's rate: its anti-aliasing filter flattens the heel strike of a run under the
    # swing's hump before it. The bar is the naive picker on the same resampled recordings.
    recs = [(rel, _resampled(rel, rate_hz)) for rel in _RUNS]
    limb = _pooled_f1_of(recs, _limb_picker())
    assert limb >= _pooled_f1_of(recs, _naive_peak_picker)
    # the end of the burst is what times the landing there: at the peak of |a| (the swing's hump
    # when the heel strike is flattened) the contacts come too early
    assert _pooled_f1_of(recs, _limb_picker(limb_end_fraction=1.0)) < limb - 0.1


def test_limb_kernel_matches_naive_reference_at_41_hz():
    rec = _resampled("pyshoe_vicon/2017-11-27-11-24-07.csv", 41.0)
    t, acc, fs = rec.t_s, rec.acc_mps2, rec.sampling_rate_hz
    fast = same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="foot")
    assert fast.n_steps > 30


def _synthetic_run(fs, n_strides, rng):
    """Acceleration of a running foot that never rests: a 0.75 s stride, the vector turning all
    along (|a| 4 m/s² above g), a broad mid-swing hump (80 ms, 12 m/s² above that) half a stride
    before each heel strike (a 10 ms spike, or a sample, of 30 m/s²). The recording starts with a
    hump. Returns the times, the acceleration, the heel strikes and the humps."""
    stride = 0.75
    t = np.arange(int((n_strides * stride + 1.0) * fs)) / fs
    turn = 2.0 * np.pi * t / 0.4
    acc = np.stack([10.0 * np.cos(turn), 10.0 * np.sin(turn), np.full(t.size, 9.80665)], axis=1)
    strikes, humps = [], []
    for i in range(n_strides):
        hump = 0.5 + i * stride
        strike = hump + stride / 2
        near = np.abs(t - hump) < 0.04
        acc[near, 2] += 12.0 * np.cos(np.pi * (t[near] - hump) / 0.08) ** 2
        spike = (t >= strike) & (t < strike + max(0.01, 1.0 / fs))
        acc[spike, 2] += 30.0
        strikes.append(t[spike][0])
        humps.append(hump)
    acc += rng.normal(0.0, 0.05, acc.shape)
    return t, acc, np.array(strikes), np.array(humps)


@pytest.mark.parametrize("fs", [41.0, 100.0, 1000.0])
def test_a_contact_on_a_mid_swing_hump_does_not_lock_the_detector_off_the_heel_strikes(fs, rng):
    # the first hump has no stride before it to be compared with, so it is taken; the heel strike
    # half a stride later is within the refractory time, but over twice its impact: it is taken
    # too, and from then on the humps fall in the refractory time of the heel strikes
    t, acc, strikes, _ = _synthetic_run(fs, 12, rng)
    steps = same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="foot")
    on_strike = [np.min(np.abs(strikes - x)) <= 0.03 for x in steps.t_s]
    assert sum(on_strike) == strikes.size
    assert steps.n_steps <= strikes.size + 1


def test_without_the_override_a_mid_swing_hump_would_lock_the_detector(rng):
    from dsp import StepSettings

    t, acc, _, humps = _synthetic_run(100.0, 12, rng)
    steps = detect_steps(
        t, acc, None, sampling_rate_hz=100.0, placement="foot", settings=StepSettings(limb_override=1e9)
    )
    on_hump = [np.min(np.abs(humps - x)) <= 0.05 for x in steps.t_s]
    assert steps.n_steps >= 10
    assert np.mean(on_hump) >= 0.8  # locked half a stride off: every heel strike hidden


@pytest.mark.parametrize("name", ["foot_run", "foot_walk"])
def test_limb_look_ahead_is_counted_in_time_where_samples_were_dropped(name, request, rng):
    # a recording that dropped runs of 2-8 samples (as voisard's do): each contact is decided at
    # the first sample at least the look-ahead (0.14 s) after its peak, so the sample before that
    # one is less than 0.14 s after the contact (counted in samples, the look-ahead spanned more)
    rec = request.getfixturevalue(name)
    t, acc = _no_gyro(rec, 30.0)
    keep = np.ones(t.size, bool)
    for start in rng.choice(t.size - 10, size=60, replace=False):
        keep[start : start + rng.integers(2, 9)] = False
    t, acc = t[keep], acc[keep]
    fs = rec.sampling_rate_hz
    steps = same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="foot")
    assert steps.n_steps > 10
    before_emit = t[np.searchsorted(t, steps.emitted_at_s) - 1]
    assert np.all(before_emit - steps.t_s < 0.14)
    assert np.all(steps.emitted_at_s >= steps.t_s)
    det = StepDetector(sampling_rate_hz=fs, placement="foot", has_gyro=False)
    got = np.concatenate([det.update(t[i : i + 7], acc[i : i + 7]).t_s for i in range(0, t.size, 7)])
    np.testing.assert_array_equal(got, steps.t_s)
