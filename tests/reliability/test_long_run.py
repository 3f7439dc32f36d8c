"""Long runs on the fake bus with an injected clock, as the device runs (no events kept in memory).

Resident memory after the first 10 minutes and at the end (growth under 5 MB), every sample recorded
(log samples == driver samples == fake produced minus the FIFO leftover, checksums equal), and the
contacts decided live identical to a replay of the recorded log.
"""

from __future__ import annotations

import pytest

from tests.reliability import campaigns as C


def _check(lr: C.LongRun) -> None:
    assert lr.log_samples == lr.driver_samples == lr.produced - lr.leftover
    assert lr.checksum_ok
    assert lr.gaps == 0
    assert lr.growth_mb < 5.0, f"{lr.rss_after_10min_mb:.1f} MB at 10 min -> {lr.rss_end_mb:.1f} MB"
    assert len(lr.live_steps) > 0.5 * lr.duration_s  # a stride every ~0.8 s on the shoe
    assert lr.live_steps == lr.replay_steps


def test_a_30_minute_session(rel_workdir):
    _check(C.long_run(1800.0, rel_workdir / "long30"))


@pytest.mark.slow
def test_a_12_hour_ultra(rel_workdir):
    _check(C.long_run(12 * 3600.0, rel_workdir / "long12h"))
