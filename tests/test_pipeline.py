"""The whole pipeline (steps, stride, terrain, grade, coach) gives the same result for any chunking."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp.coach import Baseline, Coach, CoachSettings
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


def _run(rec, cuts):
    pipe = _pipeline(rec)
    g = rec.gyro_rads
    updates = [
        pipe.process(rec.t_s[a:b], rec.acc_mps2[a:b], None if g is None else g[a:b])
        for a, b in zip([0, *cuts], [*cuts, rec.n_samples], strict=True)
    ]
    updates.append(pipe.finish())
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
