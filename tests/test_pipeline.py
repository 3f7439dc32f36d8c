"""The whole pipeline (steps, stride, terrain, grade, coach) gives the same result for any chunking."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp import pipeline as pipeline_mod
from dsp.coach import Baseline, Coach, CoachSettings, StepInput
from dsp.exc import ValidationError
from dsp.pipeline import Pipeline
from dsp.terrain import TerrainSettings
from firmware_py.replay import result_from_pipeline


def _pipeline(rec):
    coach = Coach(
        CoachSettings(min_off_target_steps=4, min_off_target_s=2.0, repeat_s=5.0),
        Baseline(185.0, 1.6, "runner", 0),
    )
    return Pipeline(
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        has_gyro=rec.has_gyro,
        placement_side=rec.placement_side,
        coach=coach,
        terrain_settings=TerrainSettings(allow_untested_placement=True),
    )


def _feed(pipe, rec, cuts):
    """The pipeline's updates for the recording cut at ``cuts``, then its finish."""
    g = rec.gyro_rads
    updates = [
        pipe.process(rec.t_s[a:b], rec.acc_mps2[a:b], None if g is None else g[a:b])
        for a, b in zip([0, *cuts], [*cuts, rec.n_samples], strict=True)
    ]
    updates.append(pipe.finish())
    return updates


def _run(rec, cuts):
    pipe = _pipeline(rec)
    updates = _feed(pipe, rec, cuts)
    return result_from_pipeline(
        pipe, updates, source="x", sampling_rate_hz=rec.sampling_rate_hz, placement_side=None, duration_s=0.0
    )


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_chunking_gives_the_batch_events_and_cues(data, foot_run, waist_run):
    rec = data.draw(st.sampled_from([foot_run, waist_run]))
    batch = _run(rec, [])
    cuts = sorted(set(data.draw(st.lists(st.integers(1, rec.n_samples - 1), max_size=60))))
    chunked = _run(rec, cuts)
    assert chunked.events == batch.events
    assert chunked.cues == batch.cues
    assert chunked.missed_strides == batch.missed_strides
    assert len(batch.cues) > 0  # the fixed baseline makes the coach speak: the test has teeth
    assert any(e.stride_length_m is not None for e in batch.events)


def test_strides_whose_contact_was_missed_are_the_same_in_any_blocks():
    """On a recording where the step detector misses a contact, 50 ms blocks give the batch's list."""
    from firmware_py.logs import read_log
    from tests.conftest import FIXTURES

    rec = read_log(FIXTURES / "pyshoe_vicon" / "2017-11-22-11-30-14.csv")
    batch = _run(rec, [])
    step = int(0.05 * rec.sampling_rate_hz)
    chunked = _run(rec, list(range(step, rec.n_samples, step)))
    assert len(batch.missed_strides) >= 1
    assert chunked.missed_strides == batch.missed_strides
    # they are strides no contact claimed: none lies on a reported contact
    contacts = {e.t_s for e in batch.events}
    assert not any(t in contacts for t, _d in batch.missed_strides)


def _public_parts(rec, cuts):
    """The pipeline's parts fed through their public update/flush (result objects per block)."""
    from dsp.steps import StepDetector, Steps
    from dsp.stride import StrideResults, make_stride_estimator
    from dsp.terrain import TerrainClassifier, TerrainResults

    det = StepDetector(sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement, has_gyro=rec.has_gyro)
    est = make_stride_estimator(
        sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement, has_gyro=rec.has_gyro
    )
    clf = TerrainClassifier(
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        has_gyro=rec.has_gyro,
        settings=TerrainSettings(allow_untested_placement=True),
    )
    g = rec.gyro_rads
    steps, strides, terrain = [], [], []
    for a, b in zip([0, *cuts], [*cuts, rec.n_samples], strict=True):
        gb = None if g is None else g[a:b]
        s = det.update(rec.t_s[a:b], rec.acc_mps2[a:b], gb)
        steps.append(s)
        strides.append(est.update(rec.t_s[a:b], rec.acc_mps2[a:b], gb, s.t_s, s.is_run))
        terrain.append(clf.update(rec.t_s[a:b], rec.acc_mps2[a:b], gb, s.t_s))
    strides.append(est.flush())
    return (
        Steps.concatenate(steps),
        StrideResults.concatenate(strides),
        TerrainResults.concatenate(terrain),
    )


def _none_if_nan(x):
    return None if np.isnan(x) else float(x)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_pipeline_rows_equal_the_public_result_objects(data, foot_run, waist_run):
    """Pipeline.process reads the kernels' rows directly; the public update/flush give the same values."""
    rec = data.draw(st.sampled_from([foot_run, waist_run]))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, rec.n_samples - 1), max_size=80))))
    pipe = _pipeline(rec)
    updates = _feed(pipe, rec, cuts)
    steps, strides, terrain = _public_parts(rec, cuts)
    events = [e for u in updates for e in u.steps]
    assert steps.n_steps > 20  # the recording walks: the comparison has teeth
    assert [e.t_s for e in events] == steps.t_s.tolist()
    assert [e.emitted_at_s for e in events] == steps.emitted_at_s.tolist()
    assert [e.cadence_spm for e in events] == [_none_if_nan(c) for c in steps.cadence_spm]
    assert [e.gait for e in events] == ["run" if r else "walk" for r in steps.is_run]
    assert [e.terrain for e in events] == ["technical" if x == 1 else "smooth" for x in terrain.terrain]
    rows = [s for u in updates for s in u.strides]
    missed = [s for u in updates for s in u.missed_strides]
    has = strides.has_contact
    lost = ~has & ~np.isnan(strides.stride_length_m)  # a stride whose contact the detector missed
    for got, sel in ((rows, has), (missed, lost)):
        assert [s.t_contact_s for s in got] == strides.t_contact_s[sel].tolist()
        assert [s.ready_at_s for s in got] == strides.ready_at_s[sel].tolist()
        for name in ("stride_length_m", "step_length_m", "speed_mps", "height_change_m"):
            assert [getattr(s, name) for s in got] == [_none_if_nan(x) for x in getattr(strides, name)[sel]]
    assert sum(s.stride_length_m is not None for s in rows) > 10


def test_pipeline_checks_blocks_as_its_parts_do(waist_run):
    """One check per block in the pipeline: the errors of the parts' own checks are kept."""
    pipe = Pipeline(sampling_rate_hz=waist_run.sampling_rate_hz, placement="lower_back", has_gyro=False)
    t, acc = waist_run.t_s[:10], waist_run.acc_mps2[:10]
    with pytest.raises(ValidationError, match="do not match"):
        pipe.process(t, acc[:9])
    with pytest.raises(ValidationError, match="gyro_rads has shape"):
        pipe.process(t, acc, np.zeros((9, 3)))  # the lower-back stride estimator checks an unused gyroscope
    foot = Pipeline(sampling_rate_hz=100.0, placement="foot", has_gyro=True)
    with pytest.raises(ValidationError, match="has_gyro=True; pass gyro_rads"):
        foot.process(t, acc)
    assert pipe.process(t, acc).steps == []


@pytest.mark.parametrize("which", ["foot_run", "waist_run"])
def test_terrain_where_the_model_does_not_apply_is_the_classifiers_smooth(which, request):
    """Placements the shipped terrain model was not fitted on: the pipeline skips the feature kernel,
    and each step's terrain is what the classifier itself reports there (smooth, p_technical NaN)."""
    from dsp.terrain import TerrainClassifier

    rec = request.getfixturevalue(which)
    pipe = Pipeline(
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        has_gyro=rec.has_gyro,
        placement_side=rec.placement_side,
    )
    assert not pipe.terrain.model_applies
    updates = _feed(pipe, rec, [rec.n_samples // 3, rec.n_samples // 2])
    steps = [e for u in updates for e in u.steps]
    assert len(steps) > 20
    alone = TerrainClassifier(
        sampling_rate_hz=rec.sampling_rate_hz, placement=rec.placement, has_gyro=rec.has_gyro
    )
    res = alone.update(rec.t_s, rec.acc_mps2, rec.gyro_rads, np.array([e.t_s for e in steps]))
    assert [e.terrain for e in steps] == ["technical" if x else "smooth" for x in res.terrain]
    assert np.isnan(res.p_technical).all()


# -- the per-step records built without the frozen dataclasses' __init__ -------------------------------
_opt_float = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
_text = st.sampled_from(["run", "walk", "smooth", "technical", "climb", "unknown"])


@pytest.mark.parametrize(
    ("builder", "cls"),
    [
        (pipeline_mod._step_event, pipeline_mod.StepEvent),
        (pipeline_mod._stride_update, pipeline_mod.StrideUpdate),
        (pipeline_mod._step_input, StepInput),
    ],
)
def test_record_builders_take_every_field_of_a_plain_frozen_dataclass(builder, cls):
    # the builders fill __dict__ directly: only right for a frozen dataclass without slots or
    # __post_init__ (its checks would be skipped), and only while they name every field
    params = cls.__dataclass_params__
    assert params.frozen
    assert not hasattr(cls, "__post_init__")
    assert not hasattr(cls, "__slots__")
    names = [f.name for f in dataclasses.fields(cls)]
    built = builder(*range(len(inspect.signature(builder).parameters)))
    assert list(built.__dict__) == names
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.t_s = 0.0


@given(
    t=st.floats(allow_nan=False),
    nums=st.lists(_opt_float, min_size=8, max_size=8),
    words=st.lists(_text, min_size=3, max_size=3),
    side=st.sampled_from([None, "L", "R"]),
    on=st.sampled_from([None, True, False]),
)
def test_record_builders_equal_the_class_call(t, nums, words, side, on):
    a, b, c, d, e, f, g, h = nums
    gait, terrain, grade = words
    ev = pipeline_mod._step_event(t, a, side, b, gait, terrain, grade, c, d, on)
    ref = pipeline_mod.StepEvent(
        t,
        a,
        side,
        b,
        gait,
        terrain=terrain,
        grade=grade,
        target_cadence_spm=c,
        target_stride_length_m=d,
        on_target=on,
    )
    assert pickle.dumps(ev) == pickle.dumps(ref)
    assert repr(ev) == repr(ref)
    su = pipeline_mod._stride_update(t, e, f, g, h, a)
    su_ref = pipeline_mod.StrideUpdate(t, e, f, g, h, a)
    assert pickle.dumps(su) == pickle.dumps(su_ref)
    joined = ev.with_stride(su)
    assert pickle.dumps(joined) == pickle.dumps(
        dataclasses.replace(ref, stride_length_m=e, step_length_m=f, speed_mps=g, height_change_m=h)
    )
    assert pickle.dumps(ev) == pickle.dumps(ref)  # the original is left alone
    si = pipeline_mod._step_input(t, a, b, gait, terrain, grade, c)
    assert pickle.dumps(si) == pickle.dumps(StepInput(t, a, b, gait, terrain, grade, c))


def test_a_bouts_first_step_is_the_same_in_any_blocks(back_walk):
    # a bout's first contact at the lower back is answered with the bout's second contact (its
    # step is the second step's length): one-sample blocks around every bout start, 37-sample
    # blocks elsewhere, give the batch events and the batch distance
    from firmware_py.replay import cumulative_distance_m

    rec = back_walk
    batch = _run(rec, [])
    ev = batch.events
    firsts = [i for i in range(1, len(ev) - 1) if ev[i].t_s - ev[i - 1].t_s > 1.2]
    assert len(firsts) >= 5
    filled = [i for i in firsts if ev[i].step_length_m is not None]
    assert filled  # the test has teeth: bout starts that got a length
    for i in filled:
        assert ev[i].stride_length_m is None  # no step before the bout's first
        assert ev[i + 1].stride_length_m is None  # half of the second's stride would be a guess
        assert ev[i + 1].step_length_m is not None
    t = rec.t_s
    fine = set()
    for i in firsts:
        lo, hi = np.searchsorted(t, [ev[i].t_s - 0.2, ev[i + 1].t_s + 0.4])
        fine.update(range(int(lo), int(hi)))
    cuts = sorted(fine | set(range(37, rec.n_samples, 37)))
    chunked = _run(rec, cuts)
    assert chunked.events == batch.events
    assert chunked.cues == batch.cues
    assert cumulative_distance_m(chunked) == cumulative_distance_m(batch)
