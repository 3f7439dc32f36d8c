"""A shank sensor without gyroscope (mode 3): its own leg's heel strikes, one per stride.

The detector scores each sample by the jolt of the acceleration vector, weighted by the fall
before it (a landing ends one; a push-off rises out of a loaded stance). The real shank data
(bach_shank_walkrun) is GPL and stays outside the project: its tests skip when
``../shared/datasets`` is absent; the rest runs on synthetic strides (``tests/shank_strides.py``)
and on the bundled fixtures read as a shank (signals with real noise, impacts and gaps).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp import Pipeline, StepDetector, StepSettings, detect_steps
from tests.conftest import SHARED_DATASETS, load_fixture
from tests.rotations import random_rotation
from tests.shank_strides import shank_strides
from tests.step_checks import drawn_cuts, same_as_naive, streams_as_batch

BACH = SHARED_DATASETS / "bach_shank_walkrun"
needs_bach = pytest.mark.skipif(not BACH.is_dir(), reason="../shared/datasets/bach_shank_walkrun is absent")

#: Bundled recordings whose accelerometer is fed to the shank detector (not shanks, but real
#: impacts, noise, turns and, in pyshoe's, dropped samples: every branch of the detector runs).
AS_SHANK = [
    "pyshoe_vicon/2017-11-27-11-24-07.csv",  # running
    "pyshoe_vicon/2017-11-22-11-30-14.csv",  # walking in a small room
    "harlab_treadmill_jog/S028_jog.csv",
    "gdind_footprints/exp35.csv",
]


def _same_as_naive(t, acc, fs):
    return same_as_naive(t, acc, None, sampling_rate_hz=fs, placement="shank")


@pytest.mark.parametrize("rel", AS_SHANK)
def test_shank_kernel_matches_naive_reference(rel):
    rec = load_fixture(rel)
    n = int(30.0 * rec.sampling_rate_hz)
    fast = _same_as_naive(rec.t_s[:n], rec.acc_mps2[:n], rec.sampling_rate_hz)
    assert fast.n_steps > 10


@pytest.mark.parametrize("fs", [40.0, 100.0, 1000.0])
@pytest.mark.parametrize("run", [False, True])
def test_shank_kernel_matches_naive_reference_on_synthetic_strides(fs, run, rng):
    t, acc, _ = shank_strides(fs, rng.uniform(0.95, 1.05, 12) * (0.72 if run else 1.05), rng, run=run)
    assert _same_as_naive(t, acc, fs).n_steps >= 10


def test_shank_kernel_matches_reference_on_damaged_data_and_gaps(foot_walk):
    fs = foot_walk.sampling_rate_hz
    n = int(40.0 * fs)
    t = foot_walk.t_s[:n].copy()
    acc = foot_walk.acc_mps2[:n].copy()
    acc[int(5 * fs) : int(5 * fs) + 3] = np.nan  # repaired samples
    acc[int(9 * fs) : int(9.4 * fs)] = acc[int(9 * fs)]  # a frozen sensor: a restart
    t[int(20 * fs) :] += 3.0  # a gap in time: a restart
    assert _same_as_naive(t, acc, fs).n_steps > 10


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_shank_any_chunking_gives_the_batch_result(data, foot_run, foot_walk):
    rec = data.draw(st.sampled_from([foot_run, foot_walk]))
    n = int(30.0 * rec.sampling_rate_hz)
    t, acc = rec.t_s[:n], rec.acc_mps2[:n]
    cuts = drawn_cuts(data, len(t))
    batch = streams_as_batch(t, acc, None, cuts, sampling_rate_hz=rec.sampling_rate_hz, placement="shank")
    assert batch.n_steps > 10


def test_shank_one_sample_blocks_give_the_batch_result(rng):
    t, acc, _ = shank_strides(100.0, np.full(8, 0.72), rng, run=True)
    batch = streams_as_batch(t, acc, None, list(range(1, len(t))), sampling_rate_hz=100.0, placement="shank")
    assert batch.n_steps >= 8


def test_a_shank_without_gyro_reports_its_own_leg_one_contact_per_stride():
    # the contract of issue #2: a foot (or shank) sensor lists the contacts of its own foot only
    det = StepDetector(sampling_rate_hz=100.0, placement="shank", has_gyro=False)
    assert det.steps_feet == "one"
    pipe = Pipeline(sampling_rate_hz=100.0, placement="shank", has_gyro=False, placement_side="left")
    assert pipe.steps_feet == "one"
    assert pipe.side == "L"
    assert pipe.stride is None
    # a gyroscope found dead at start-up: the same one-leg detector, not the trunk's
    with_gyro = Pipeline(sampling_rate_hz=100.0, placement="shank", has_gyro=True, placement_side="right")
    with_gyro.drop_gyro()
    assert with_gyro.steps_feet == "one"
    assert with_gyro.side == "R"


@pytest.mark.parametrize("fs", [40.0, 50.0, 100.0, 200.0, 1000.0])
@pytest.mark.parametrize(("run", "stride_s"), [(False, 0.9), (False, 1.3), (True, 0.68), (True, 0.8)])
def test_one_contact_per_stride_at_the_impact(fs, run, stride_s, rng):
    strides = rng.uniform(0.95, 1.05, 20) * stride_s
    t, acc, contacts = shank_strides(fs, strides, rng, run=run)
    steps = detect_steps(t, acc, None, sampling_rate_hz=fs, placement="shank")
    # every heel strike once (the impact peaks 20 ms after it), nothing else
    err = np.array([np.min(np.abs(steps.t_s - c)) for c in contacts])
    assert steps.n_steps == contacts.size
    assert np.all(err <= 0.04), err
    # cadence counts both feet: two steps per stride
    assert np.nanmedian(steps.cadence_spm) == pytest.approx(120.0 / np.median(strides), rel=0.03)
    assert np.max(steps.emitted_at_s - steps.t_s) <= 0.15 + 1e-9


@pytest.mark.parametrize(("impact", "snap"), [(15.0, 20.0), (18.0, 25.0)])
def test_the_push_off_out_of_a_loaded_stance_is_not_a_landing(impact, snap, rng):
    # a push-off that ends in a snap sharper than the soft heel strikes: its raw jolt is the
    # larger (by a quarter), but it rises out of a loaded stance while a landing ends a fall
    fs = 200.0
    strides = rng.uniform(0.95, 1.05, 16) * 1.05
    t, acc, contacts = shank_strides(fs, strides, rng, impact_mps2=impact, snap_mps2=snap)
    lag = int(0.02 * fs + 0.5)
    jolt = np.r_[np.zeros(lag), np.linalg.norm(acc[lag:] - acc[:-lag], axis=1)]
    off = contacts[:-1] + 0.6 * np.diff(contacts)
    near = lambda ts, w: np.array([jolt[(t >= x - w) & (t <= x + w)].max() for x in ts])  # noqa: E731
    assert np.median(near(off, 0.08)) > np.median(near(contacts + 0.02, 0.02))  # the premise
    steps = detect_steps(t, acc, None, sampling_rate_hz=fs, placement="shank")
    err = np.array([np.min(np.abs(steps.t_s - c)) for c in contacts])
    assert steps.n_steps == contacts.size
    assert np.all(err <= 0.04)


@pytest.mark.parametrize("fs", [50.0, 200.0])
def test_the_gait_is_read_from_the_stride_not_the_cadence(fs, rng):
    # a run at 138 steps/min (below run_cadence_spm) and a fast walk at 135: the stride tells
    run_t, run_acc, _ = shank_strides(fs, np.full(16, 60.0 / 69.0), rng, run=True)
    walk_t, walk_acc, _ = shank_strides(fs, np.full(16, 60.0 / 67.5), rng)
    ran = detect_steps(run_t, run_acc, None, sampling_rate_hz=fs, placement="shank")
    walked = detect_steps(walk_t, walk_acc, None, sampling_rate_hz=fs, placement="shank")
    assert np.nanmedian(ran.cadence_spm) < StepSettings().run_cadence_spm
    assert ran.n_steps >= 15
    assert walked.n_steps >= 15
    # the first contact's "stride" is the quiet lead-in, and the gait changes after two contacts
    # in a row say so (gait_switch_steps)
    assert not ran.is_run[:2].any()
    assert ran.is_run[2:].all()
    assert not walked.is_run.any()


@pytest.mark.parametrize("rel", AS_SHANK[:2])
def test_shank_any_mounting_orientation_gives_the_same_steps(rel, rng):
    rec = load_fixture(rel)
    fs = rec.sampling_rate_hz
    ref = detect_steps(rec.t_s, rec.acc_mps2, None, sampling_rate_hz=fs, placement="shank")
    flips = [np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]
    for rot in [*flips, *(random_rotation(rng) for _ in range(3))]:
        got = detect_steps(rec.t_s, rec.acc_mps2 @ rot.T, None, sampling_rate_hz=fs, placement="shank")
        assert got.n_steps == ref.n_steps
        np.testing.assert_allclose(got.t_s, ref.t_s, rtol=0, atol=1.5 / fs)


def _bach(name):
    data = np.genfromtxt(BACH / f"{name}.csv", delimiter=",", skip_header=1)
    meta = json.loads((BACH / f"{name}.json").read_text())
    return data[:, 0], data[:, 1:4], meta


@needs_bach
@pytest.mark.datasets
def test_bach_shank_walks_and_runs_one_contact_per_stride_with_their_gait():
    from benchmarks.scoring import match_times

    totals = {"walk": [0, 0, 0], "run": [0, 0, 0]}  # tp, fp, fn
    for csv in sorted(BACH.glob("*.csv")):
        t, acc, meta = _bach(csv.stem)
        truth = np.asarray(meta["ground_truth"]["steps_t"])
        steps = detect_steps(t, acc, None, sampling_rate_hz=meta["sample_rate_hz"], placement="shank")
        tp = len(match_times(truth, steps.t_s, 0.10))
        row = totals[meta["activity"]]
        for i, v in enumerate((tp, steps.n_steps - tp, truth.size - tp)):
            row[i] += v
        # the gait: a walk reads walk throughout; a run from its third contact on (the first one's
        # stride is the recording's first fraction of a stride, and the vote needs two in a row)
        if meta["activity"] == "run":
            assert steps.is_run[2:].all(), csv.stem
        else:
            assert not steps.is_run.any(), csv.stem
    for activity, (tp, fp, fn) in totals.items():
        assert 2 * tp / (2 * tp + fp + fn) >= 0.97, (activity, tp, fp, fn)
