"""Power cuts while recording: a real recorder process SIGKILLed at random moments, and logs cut at
every byte offset of their header and of their last frames.

The reader must always open a log whose header was fsynced, return every sample up to the last
complete frame, say how many bytes were cut, and never lose a sample that was fsynced.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.reliability import campaigns as C


def test_sigkill_at_random_moments_never_loses_fsynced_samples(rel_workdir):
    res = C.power_cut_campaign(3, rel_workdir / "power", seed=11)
    assert res.ok, res.failures


def test_every_cut_in_the_header_and_the_last_frames_is_read_as_documented(rel_workdir):
    head, tail = C.truncation_campaign(rel_workdir / "trunc", last_frames=4)
    assert head.ok, head.failures
    assert tail.ok, tail.failures
    assert head.trials > 300
    assert tail.trials > 900


def test_the_writer_session_is_what_the_checks_expect(rel_workdir):
    """The deterministic session itself: times increase with a 2 s gap every 1000 samples; all differ."""
    t = C.sample_times(np.arange(3000))
    assert (np.diff(t) > 0).all()
    assert np.isclose(t[1000] - t[999], 2.0 + 1 / C.FS)
    raw = C.sample_raw(np.arange(3000))
    assert len({r.tobytes() for r in raw}) == 3000
    log = C.finished_log(rel_workdir / "writer-check", n_total=2030)
    rec = C.quiet_read(log)
    t, acc, gyro = C.expected_si(2030)
    assert np.array_equal(rec.t_s, t)
    assert np.array_equal(rec.acc_mps2, acc)
    assert np.array_equal(rec.gyro_rads, gyro)
    assert len(rec.meta["gap_blocks"]) == 2


@pytest.mark.slow
def test_power_cut_campaign_200_kills(rel_workdir):
    res = C.power_cut_campaign(200, rel_workdir / "power-200", seed=1)
    assert res.ok, res.failures
