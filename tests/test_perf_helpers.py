"""Helpers that replaced slow standard-library calls must give exactly the same answers.

``dsp._rolling.RollingMedian`` stands in for ``statistics.median`` over a ``deque(maxlen=...)``
(the coach's baseline window); ``firmware_py._jsontext.dumps_indent1`` for
``json.dumps(obj, indent=1)`` (the replay report); ``dsp._common.finite_and_increasing`` for the
numpy checks of contact times. Each is checked against the obvious standard-library version.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp._common import finite_and_increasing
from dsp._rolling import RollingMedian
from firmware_py._jsontext import dumps_indent1

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.lists(st.one_of(finite, st.sampled_from([0.0, 1.0, 2.5, 170.0])), max_size=60))
def test_rolling_median_is_statistics_median_of_the_window(maxlen, values):
    window = RollingMedian(maxlen)
    naive: deque[float] = deque(maxlen=maxlen)
    for v in values:
        window.append(v)
        naive.append(v)
        assert len(window) == len(naive)
        if naive:
            expected = statistics.median(naive)
            got = window.median()
            assert got == expected or (math.isnan(got) and math.isnan(expected))  # inf - inf


def test_rolling_median_empty_raises_like_statistics():
    with pytest.raises(statistics.StatisticsError):
        RollingMedian(3).median()
    with pytest.raises(ValueError, match="maxlen"):
        RollingMedian(-1)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
json_keys = st.one_of(
    st.text(max_size=6), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.none()
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(json_keys, inner, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_dumps_indent1_is_json_dumps_indent1(obj):
    assert dumps_indent1(obj) == json.dumps(obj, indent=1)


def test_dumps_indent1_subclasses_and_errors_like_json():
    class F(float):
        def __repr__(self):
            return "not used by json"

    obj = {"f": F(1.5), "np": np.float64(0.1), "b": np.bool_(True).item(), "i": True}
    assert dumps_indent1(obj) == json.dumps(obj, indent=1)
    with pytest.raises(TypeError):
        dumps_indent1({"a": object()})
    with pytest.raises(TypeError):
        json.dumps({"a": object()}, indent=1)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular"):
        dumps_indent1(loop)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0])), max_size=20))
def test_finite_and_increasing_is_the_numpy_check(values):
    x = np.array(values, dtype=np.float64)
    expected = bool(np.all(np.isfinite(x)) and not np.any(np.diff(x) <= 0.0))
    assert finite_and_increasing(x) is expected
    assert finite_and_increasing(np.sort(x)) is bool(
        np.all(np.isfinite(x)) and np.all(np.diff(np.sort(x)) > 0.0)
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 3.0),
            st.one_of(st.just(math.nan), st.floats(0.0, 3.0)),
            st.one_of(st.just(math.nan), st.floats(-0.5, 0.5)),
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_grade_one_stride_as_floats_is_the_array_path(rows, with_pressure):
    """The pipeline feeds the grade one stride at a time as floats; arrays give the same states."""
    from dsp.grade import GradeEstimator

    t = np.cumsum([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    dh = np.array([r[2] for r in rows])
    one, batch = GradeEstimator(), GradeEstimator()
    if with_pressure:
        for est in (one, batch):
            est.update_pressure(np.array([0.0, 0.25, 0.5]), np.array([101325.0, 101320.0, 101316.0]))
    states = [one.update_stride(float(ti), float(di), float(hi)) for ti, di, hi in zip(t, d, dh, strict=True)]
    for k in range(len(rows)):
        state = batch.update_stride(t[k : k + 1], d[k : k + 1], dh[k : k + 1])
        assert (state.grade, state.source) == (states[k].grade, states[k].source)
        for name in ("t_s", "grade_pct", "vertical_speed_mps", "altitude_m"):
            a, b = getattr(state, name), getattr(states[k], name)
            assert a == b or (math.isnan(a) and math.isnan(b)), name
    with pytest.raises(ValueError, match="distance_m"):
        one.update_stride(float(t[-1]) + 1.0, -1.0, 0.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        one.update_stride(float(t[-1]) - 1.0, 1.0, 0.0)


_contact_and_flag = st.tuples(
    st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1.0])), st.sampled_from([0.0, 1.0])
)


_increasing_contacts = st.lists(
    st.tuples(st.floats(1e-3, 10.0), st.sampled_from([0.0, 1.0])), min_size=17, max_size=40
).map(
    lambda rows: [
        (t, run) for t, (_, run) in zip(itertools.accumulate(r[0] for r in rows), rows, strict=True)
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(_contact_and_flag, max_size=10),
        st.lists(_contact_and_flag, min_size=17, max_size=40),  # the batch path
        _increasing_contacts,  # the batch path, accepted
    ),
    st.booleans(),
)
def test_contact_rows_from_lists_are_those_from_arrays(contacts, in_order):
    """The pipeline's contact rows (plain lists of times and run flags) equal ``_contact_rows`` of arrays.

    Up to 16 contacts (a live block) they are built row by row, more (a batch) column by column.
    """
    from dsp.exc import ValidationError
    from dsp.stride import _contact_rows, _contact_rows_of

    t = [c[0] for c in contacts]
    if in_order:  # mostly increasing (NaN stays where it is), so that long lists are also accepted
        t = sorted(t)
    run = [c[1] for c in contacts]
    arr = np.array(t, dtype=float)
    with np.errstate(over="ignore"):  # huge finite times: their difference may overflow to inf
        ok = bool(np.all(np.isfinite(arr)) and np.all(np.diff(arr) > 0.0))
    if not ok:  # both refuse, with the same message
        with pytest.raises(ValidationError) as from_arrays:
            _contact_rows(np.array(t, dtype=float), np.array(run) > 0.5)
        with pytest.raises(ValidationError) as from_lists:
            _contact_rows_of(t, run)
        assert str(from_lists.value) == str(from_arrays.value)
        return
    expected = _contact_rows(np.array(t, dtype=float), np.array(run) > 0.5)
    got = _contact_rows_of(t, run)
    assert got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()


def test_shipped_terrain_arrays_are_checked_once_and_copied_per_classifier():
    from dsp import terrain as T

    model = T.TerrainModel.shipped()
    a = T.TerrainClassifier(sampling_rate_hz=100.0, placement="shank", has_gyro=True)
    b = T.TerrainClassifier(sampling_rate_hz=200.0, placement="shank", has_gyro=True)
    assert a.model == model
    for mine, ref in zip((a._mu, a._scale, a._w, a._b), model.arrays(), strict=True):
        np.testing.assert_array_equal(mine, ref)
        assert mine.flags.c_contiguous
        assert mine.dtype == np.float64
    trans, prior = model.class_hmm_arrays(a.settings.switch_p)
    k = T.K.N_CLASSES
    np.testing.assert_array_equal(a._params[T.K.P_TRANS : T.K.P_TRANS + k * k], trans)
    np.testing.assert_array_equal(a._params[T.K.P_CLASS_PRIOR : T.K.P_CLASS_PRIOR + k], prior)
    a._w[0, 0] += 1.0  # one classifier's arrays are its own
    np.testing.assert_array_equal(b._w, model.arrays()[2])
    other = T.TerrainClassifier(
        sampling_rate_hz=100.0, placement="shank", has_gyro=True, settings=T.TerrainSettings(switch_p=0.2)
    )
    trans2, _ = model.class_hmm_arrays(0.2)
    np.testing.assert_array_equal(other._params[T.K.P_TRANS : T.K.P_TRANS + k * k], trans2)


def test_make_pipeline_reuses_coach_settings_only_for_the_same_configuration():
    import dataclasses

    from firmware_py.config import coach_settings, load_config, make_pipeline

    cfg = load_config()

    def settings_of(c):
        return make_pipeline(c, sampling_rate_hz=100.0, placement="lower_back", has_gyro=False).coach.settings

    first = settings_of(cfg)
    assert first == coach_settings(cfg)
    assert settings_of(cfg) is first
    changed = dataclasses.replace(cfg, coach=dataclasses.replace(cfg.coach, min_off_target_steps=3))
    assert settings_of(changed).min_off_target_steps == 3
    assert settings_of(changed) == coach_settings(changed)
    assert settings_of(cfg) == first


def test_make_pipeline_reuses_stride_settings_only_for_the_same_configuration():
    import dataclasses

    from dsp.grade import GradeEstimator, GradeSettings
    from dsp.stride import StrideSettings
    from dsp.terrain import TerrainClassifier, TerrainSettings
    from firmware_py.config import load_config, make_pipeline

    cfg = load_config()

    def stride_settings_of(c):
        return make_pipeline(
            c, sampling_rate_hz=100.0, placement="lower_back", has_gyro=False
        ).stride.settings

    first = stride_settings_of(cfg)
    want = StrideSettings(
        scale_walk=cfg.stride.scale_walk,
        scale_run=cfg.stride.scale_run,
        sensor_height_m=cfg.stride.foot_sensor_height_m,
    )
    assert first == want
    assert stride_settings_of(cfg) is first
    changed = dataclasses.replace(cfg, stride=dataclasses.replace(cfg.stride, scale_run=1.25))
    assert stride_settings_of(changed) == dataclasses.replace(want, scale_run=1.25)
    assert stride_settings_of(cfg) == first
    # the shared default settings are the class defaults (and frozen)
    assert (
        TerrainClassifier(sampling_rate_hz=100.0, placement="foot", has_gyro=True).settings
        == TerrainSettings()
    )
    assert GradeEstimator().settings == GradeSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        GradeEstimator().settings.max_grade_age_s = 1.0  # type: ignore[misc]


# -- the grade's and the coach's per-step shortcuts (issue 6, perf8) -----------------------------------
def _naive_foot(strides, t, s):
    """The foot grade of ``GradeEstimator._foot`` written out plainly over (t, distance, height) rows."""
    rows = [r for r in strides[-s.foot_strides :] if t - r[0] <= s.stride_timeout_s and math.isfinite(r[2])]
    vspeed = vspeed_se = math.nan
    if len(rows) >= 2 and rows[-1][0] - rows[0][0] > 0.0:
        span = rows[-1][0] - rows[0][0]
        vspeed = sum([r[2] for r in rows[1:]]) / span
        vspeed_se = s.foot_height_noise_m * math.sqrt(len(rows) - 1) / span
    rise, total, n = 0.0, 0.0, 0
    for ti, di, hi in reversed(strides):
        if t - ti > s.max_grade_age_s:
            break
        if math.isfinite(di) and math.isfinite(hi):
            rise, total, n = rise + hi, total + di, n + 1
            if total >= s.grade_distance_m:
                break
    grade = grade_se = math.nan
    if n >= 2 and total > 0.0:
        run = math.sqrt(max(total**2 - rise**2, 1e-9))
        grade, grade_se = 100.0 * rise / run, 100.0 * s.foot_height_noise_m * math.sqrt(n) / run
    return grade, vspeed, grade_se, vspeed_se


def _same(a, b):
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 20.0),  # long pauses too: strides age out of the window
            st.one_of(st.just(math.nan), st.floats(0.0, 3.0)),
            st.one_of(st.just(math.nan), st.just(math.inf), st.floats(-0.5, 0.5)),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_grade_counts_heights_and_its_foot_grade_is_the_plain_one(rows):
    """The count of strides with a height (lower back: none, so no foot grade) and the foot grade."""
    from dsp.grade import GradeEstimator

    est = GradeEstimator()
    t = 0.0
    for dt, d, h in rows:
        t += dt
        est.update_stride(t, d, h)
        kept = [r[:3] for r in est._strides]
        assert est._n_heights == sum(math.isfinite(r[2]) for r in kept)
        assert _same(est._foot(t), _naive_foot(kept, t, est.settings))
        # what the pipeline reads per step instead of building the state
        assert est._grade == est.state.grade
        assert _same([est._grade_pct], [est.state.grade_pct])
        if est._n_heights == 0:
            assert est.state.source == "none"
            assert est.state.grade == "unknown"


def test_grade_state_builder_is_the_class_call():
    import dataclasses
    import inspect
    import pickle

    from dsp.grade import GradeState, _grade_state

    assert GradeState.__dataclass_params__.frozen
    assert not hasattr(GradeState, "__post_init__")
    assert not hasattr(GradeState, "__slots__")
    names = [f.name for f in dataclasses.fields(GradeState)]
    assert list(inspect.signature(_grade_state).parameters) == names
    args = (1.5, "climb", 7.25, math.nan, 12.0, "foot+distance")
    built = _grade_state(*args)
    assert list(built.__dict__) == names
    assert pickle.dumps(built) == pickle.dumps(GradeState(*args))
    assert repr(built) == repr(GradeState(*args))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.t_s = 0.0


_opt = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.floats(50.0, 310.0), st.sampled_from([60.0, 300.0]), st.floats()),
    st.one_of(st.none(), st.floats(0.05, 6.5), st.sampled_from([0.1, 6.0]), st.floats()),
    st.integers(0, 10**6),
)
def test_learned_baseline_builder_is_the_class_call_or_its_error(cad, stride, n):
    import pickle
    import re

    from dsp.coach import Baseline, _learned_baseline
    from dsp.exc import ValidationError

    valid = 60.0 <= cad <= 300.0 and (stride is None or 0.1 <= stride <= 6.0)  # NaN compares False
    if not valid:
        with pytest.raises(ValidationError) as want:
            Baseline(cad, stride, "learned", n)
        with pytest.raises(ValidationError, match=re.escape(str(want.value))):
            _learned_baseline(cad, stride, n)
        return
    ref = Baseline(cad, stride, "learned", n)
    built = _learned_baseline(cad, stride, n)
    assert pickle.dumps(built) == pickle.dumps(ref)
    assert repr(built) == repr(ref)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([None, "smooth", "technical"]), _opt, finite, _opt, _opt, st.booleans())
def test_targets_builder_is_the_class_call(terrain, cad, tol, stride, stride_tol, clamped):
    import dataclasses
    import pickle

    from dsp.coach import Baseline, Targets, _targets

    assert Targets.__dataclass_params__.frozen
    assert not hasattr(Targets, "__post_init__")
    assert not hasattr(Targets, "__slots__")
    b = Baseline(170.0, 2.0)
    built = _targets(terrain, cad, tol, stride, stride_tol, clamped, b)
    assert list(built.__dict__) == [f.name for f in dataclasses.fields(Targets)]
    assert pickle.dumps(built) == pickle.dumps(Targets(terrain, cad, tol, stride, stride_tol, clamped, b))


@settings(max_examples=300, deadline=None)
@given(finite, finite, finite)
def test_coach_reasons_formatted_late_are_the_f_strings(c, ts, tol):
    from dsp.coach import _Want

    assert (
        _Want("quicken_steps", "cadence {:.0f} spm below target {:.0f}±{:g} spm", c, ts, tol).what
        == f"cadence {c:.0f} spm below target {ts:.0f}±{tol:g} spm"
    )
    assert (
        _Want("shorten_stride", "stride {:.2f} m above target {:.2f}±{:.2f} m", c, ts, tol).what
        == f"stride {c:.2f} m above target {ts:.2f}±{tol:.2f} m"
    )
    assert _Want("run", "grade {eased} to 5 %").what == "grade {eased} to 5 %"  # no args: as given


def _detector_arrays(det):
    return [det._params, det._coefs, det._state, det._ring, det._intervals]


def test_step_detector_setups_are_keyed_on_every_input_and_owned_per_detector():
    """A detector built from the set-up cache is the one designed afresh, for any change of config."""
    import dataclasses

    from dsp import steps as S

    configs = [
        {"sampling_rate_hz": 100.0, "placement": "lower_back", "has_gyro": False},
        {"sampling_rate_hz": 100.0, "placement": "lower_back", "has_gyro": True},
        {"sampling_rate_hz": 200.0, "placement": "lower_back", "has_gyro": True},
        {"sampling_rate_hz": 200.0, "placement": "foot", "has_gyro": True},
        {"sampling_rate_hz": 200.0, "placement": "foot", "has_gyro": False},
        {"sampling_rate_hz": 200.0, "placement": "shank", "has_gyro": True},
        {"sampling_rate_hz": 200.0, "placement": "foot", "has_gyro": True, "acc_range_mps2": 78.4},
        {"sampling_rate_hz": 200.0, "placement": "foot", "has_gyro": True, "gyro_range_rads": 8.73},
        {"sampling_rate_hz": 200.0, "placement": "foot", "has_gyro": True, "settings": S.StepSettings()},
        {
            "sampling_rate_hz": 200.0,
            "placement": "foot",
            "has_gyro": True,
            "settings": dataclasses.replace(S.StepSettings(), step_cutoff_hz=4.0, cadence_strides=4),
        },
    ]
    fresh = []
    for cfg in configs:  # each designed with nothing cached
        S._SETUPS.clear()
        fresh.append(_detector_arrays(S.StepDetector(**cfg)))
    S._SETUPS.clear()
    for _ in range(
        2
    ):  # first pass fills the cache (a key that missed an input would collide), second reads it
        for cfg, ref in zip(configs, fresh, strict=True):
            got = _detector_arrays(S.StepDetector(**cfg))
            for g, r in zip(got, ref, strict=True):
                assert g.shape == r.shape
                assert g.tobytes() == r.tobytes()
    # detectors of one configuration own their arrays: running one leaves the other and the cache fresh
    a = S.StepDetector(**configs[1])
    b = S.StepDetector(**configs[1])
    t = np.arange(1000) / 100.0
    acc = np.zeros((1000, 3))
    acc[:, 2] = 9.81 + 3.0 * np.sin(2.0 * np.pi * 1.4 * t)
    assert a.update(t, acc, np.zeros((1000, 3))).n_steps > 0
    for g, r in zip(_detector_arrays(b), fresh[1], strict=True):
        assert g.tobytes() == r.tobytes()
    for g, r in zip(_detector_arrays(S.StepDetector(**configs[1])), fresh[1], strict=True):
        assert g.tobytes() == r.tobytes()
    a.reset()
    assert a._state.tobytes() == fresh[1][2].tobytes()
    assert a._ring.tobytes() == fresh[1][3].tobytes()


def test_step_detector_setup_cache_is_bounded_and_takes_unhashable_settings():
    import dataclasses

    from dsp import steps as S

    for i in range(S._MAX_SETUPS + 5):
        S.StepDetector(sampling_rate_hz=40.0 + i, placement="lower_back", has_gyro=False)
        assert len(S._SETUPS) <= S._MAX_SETUPS
    listed = dataclasses.replace(S.StepSettings(), rhythm_window=[0.75, 1.5])  # a list: not hashable
    det = S.StepDetector(sampling_rate_hz=100.0, placement="lower_back", has_gyro=False, settings=listed)
    ref = S.StepDetector(sampling_rate_hz=100.0, placement="lower_back", has_gyro=False)
    for g, r in zip(_detector_arrays(det), _detector_arrays(ref), strict=True):
        assert g.tobytes() == r.tobytes()
