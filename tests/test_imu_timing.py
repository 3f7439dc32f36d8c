"""SampleClock: the chip's real rate and phase from (count, host time) reads, without any fake chip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py.imu.timing import SampleClock


def simulate(
    clock_error, theta_s, duration_s, rng, *, nominal_hz=200.0, interval_s=(0.02, 0.1), latency_s=0.0
):
    """Drive a SampleClock with reads of a chip whose sample k is written at theta + k T."""
    period_s = 1.0 / (nominal_hz * clock_error)
    sc = SampleClock(nominal_hz)
    t = theta_s - rng.uniform(0, period_s)  # the FIFO starts at most one period before sample 0
    sc.observe(0, t)
    reads = []
    while t < theta_s + duration_s:
        t += rng.uniform(*interval_s)
        t_lo, t_hi = t, t + latency_s
        latch = rng.uniform(t_lo, t_hi)
        n = math.floor((latch - theta_s) / period_s) + 1
        sc.observe(n, 0.5 * (t_lo + t_hi), t_lo, t_hi)
        reads.append((n, t))
    return sc, period_s, reads


def test_rate_and_timestamps_converge():
    rng = np.random.default_rng(0)
    sc, period_s, reads = simulate(1.02, 5.0, 60.0, rng)
    n_last = reads[-1][0]
    truth = 5.0 + np.arange(n_last - 500, n_last) * period_s
    assert np.abs(sc.times(n_last - 500, 500) - truth).max() < 2e-4
    assert sc.rate_hz == pytest.approx(204.0, rel=1e-5)
    assert sc.n_observations == len(reads) + 1


def test_bus_latency_is_bounded_not_biasing():
    rng = np.random.default_rng(1)
    sc, period_s, reads = simulate(0.99, 0.0, 60.0, rng, latency_s=0.002)
    n_last = reads[-1][0]
    assert abs(sc.times(n_last - 1, 1)[0] - (n_last - 1) * period_s) < 5e-4


@settings(max_examples=15, deadline=None)
@given(clock_error=st.floats(0.95, 1.05), theta_s=st.floats(0.0, 1000.0), seed=st.integers(0, 2**32 - 1))
def test_within_a_millisecond_after_ten_seconds(clock_error, theta_s, seed):
    rng = np.random.default_rng(seed)
    sc, period_s, reads = simulate(clock_error, theta_s, 12.0, rng)
    n_last = reads[-1][0]
    truth = theta_s + np.arange(n_last - 200, n_last) * period_s
    assert np.abs(sc.times(n_last - 200, 200) - truth).max() < 1e-3


def test_first_index_after():
    rng = np.random.default_rng(2)
    sc, period_s, _ = simulate(1.0, 10.0, 20.0, rng)
    for t in (15.0 + 0.3 * period_s, 20.0 + 0.7 * period_s):
        k = sc.first_index_after(t)
        assert 10.0 + (k - 1) * period_s <= t < 10.0 + k * period_s


def test_restart_keeps_or_forgets_the_rate():
    rng = np.random.default_rng(3)
    sc, _, _ = simulate(1.03, 0.0, 30.0, rng)
    rate = sc.rate_hz
    sc.restart(keep_rate=True)
    assert not sc.ready
    assert sc.rate_hz == pytest.approx(rate)
    sc.observe(0, 100.0)
    assert sc.rate_hz == pytest.approx(rate)
    sc.restart(keep_rate=False)
    assert sc.rate_hz == 200.0


def test_rate_stays_within_the_allowed_error():
    sc = SampleClock(200.0, max_rate_error=0.1)
    sc.observe(0, 0.0)
    sc.observe(1000, 1.0)  # 1000 Hz: impossible
    assert sc.rate_hz == pytest.approx(220.0)


def test_misuse():
    with pytest.raises(ValueError, match="nominal_rate_hz"):
        SampleClock(0.0)
    with pytest.raises(ValueError, match="time_constant_s"):
        SampleClock(200.0, time_constant_s=0.0)
    with pytest.raises(RuntimeError, match="observe"):
        SampleClock(200.0).times(0, 1)
    with pytest.raises(RuntimeError, match="observe"):
        SampleClock(200.0).first_index_after(1.0)


def test_span_counts_from_the_first_read_since_the_last_restart():
    sc = SampleClock(200.0)
    assert sc.span_s == 0.0
    sc.observe(0, 10.0)
    assert sc.span_s == 0.0
    sc.observe(40, 10.2)
    sc.observe(90, 10.45)
    assert sc.span_s == pytest.approx(0.45)
    sc.restart(keep_rate=True)
    assert sc.span_s == 0.0
    sc.observe(0, 11.0)
    sc.observe(20, 11.1)
    assert sc.span_s == pytest.approx(0.1)


@pytest.mark.parametrize("seed", range(8))
def test_the_grid_satisfies_every_read(seed):
    # Each read says sample N was not yet written at its start and sample N - 1 was by its end: the
    # estimated grid must agree with all of them (a straight-line fit alone need not).
    rng = np.random.default_rng(seed)
    sc, _, reads = simulate(1.02, 1.0, 5.0, rng)
    for n, t in reads:
        assert sc.times(n, 1)[0] > t
        assert sc.times(n - 1, 1)[0] <= t


def test_reads_clustered_after_a_sample_still_pin_the_phase():
    # Reads that all fall just after a sample bound the phase from one side only; the grid is put
    # in the middle of what the reads allow, not where a fit's scatter happens to put it.
    period_s, theta_s = 1.0 / 204.0, 0.0
    sc = SampleClock(200.0)
    rng = np.random.default_rng(4)
    sc.observe(0, theta_s - 0.5 * period_s)
    t = theta_s
    while t < 5.0:
        t += rng.uniform(0.02, 0.1)
        n = math.floor((t - theta_s) / period_s) + 1
        if t > 4.0:  # the last second: every read within 0.1 period after a sample
            t = theta_s + (n - 1 + rng.uniform(0.0, 0.1)) * period_s
        sc.observe(n, t)
    truth = theta_s + np.arange(n - 200, n) * period_s
    assert np.abs(sc.times(n - 200, 200) - truth).max() < 0.1 * period_s


def drifting_reads(drift_per_s, duration_s, rng, *, nominal_hz=200.0, clock_error=1.02):
    """Reads of a chip whose period grows by ``drift_per_s`` (relative) a second; truth tau(k)."""
    period0_s = 1.0 / (nominal_hz * clock_error)

    def tau(k):
        return np.expm1(np.asarray(k) * period0_s * drift_per_s) / drift_per_s

    def written(t):
        return math.floor(math.log1p(drift_per_s * t) / (period0_s * drift_per_s)) + 1

    sc = SampleClock(nominal_hz)
    t = -rng.uniform(0, period0_s)
    sc.observe(0, t)
    worst_s = 0.0
    while t < duration_s:
        t += rng.uniform(0.02, 0.1)
        n = written(t)
        sc.observe(n, t)
        if t > 5.0:
            worst_s = max(worst_s, float(np.abs(sc.times(n - 20, 20) - tau(np.arange(n - 20, n))).max()))
    return worst_s


@pytest.mark.parametrize("seed", range(3))
def test_a_slowly_drifting_oscillator_is_followed(seed):
    # 0.1 ppm a second (a warming chip): 12 ppm over the two minutes, reads no longer on one line.
    assert drifting_reads(1e-7, 120.0, np.random.default_rng(seed)) < 1e-3


def naive_period_bounds(reads, bounds_window_s):
    """The period's bounds from the pairs of reads after each read, pair by pair: slow and obvious.

    ``reads``: (count, t_lo, t_hi) of every read, oldest first. Each read is paired with the up to
    1024 reads before it whose ``t_hi`` is within the window of its time; after it, the bounds are
    the tightest of the newest 1024 reads (it included) within the window of its time.
    """
    kept = 1024
    pairs, after = [], []
    for i, (n_i, lo_i, hi_i) in enumerate(reads):
        cutoff = 0.5 * (lo_i + hi_i) - bounds_window_s
        lower, upper = -math.inf, math.inf
        for n_j, lo_j, hi_j in reads[max(0, i - kept) : i]:
            if hi_j >= cutoff:
                lower = max(lower, (lo_i - hi_j) / (n_i - n_j + 1.0))
                if n_i - 1.0 - n_j > 0:
                    upper = min(upper, (hi_i - lo_j) / (n_i - 1.0 - n_j))
        pairs.append((lower, upper))
        window = range(max(0, i + 1 - kept), i + 1)
        after.append(
            (
                max(pairs[j][0] for j in window if reads[j][2] >= cutoff),
                min(pairs[j][1] for j in window if reads[j][2] >= cutoff),
            )
        )
    return after


@pytest.mark.parametrize("bounds_window_s", [60.0, 10.0])
@pytest.mark.parametrize("out_of_order", [False, True])
def test_the_kept_reads_stay_in_order_across_a_wrap(bounds_window_s, out_of_order):
    # 2600 reads: the clock keeps the newest 1024 in an array it compacts every 1025 reads (twice
    # here); the period's bounds must come from exactly the reads of the window at every read,
    # oldest first or not (while a read whose host time went back is kept, the window is a mask,
    # not a slice).
    rng = np.random.default_rng(7)
    period_s = 1.0 / (200.0 * 1.013)
    sc = SampleClock(200.0, bounds_window_s=bounds_window_s)
    reads, got, ordered, t = [], [], [], 0.0
    for i in range(2600):
        t += rng.uniform(0.02, 0.03)
        t_lo, t_hi = t, t + rng.uniform(0.0, 1e-3)
        n = math.floor((rng.uniform(t_lo, t_hi) - 0.3) / period_s) + 1
        if out_of_order and i in (1500, 2560):
            t_lo, t_hi = t - 0.5, t - 0.5 + 1e-4  # a host time from before the previous read
        sc.observe(n, 0.5 * (t_lo + t_hi), t_lo, t_hi)
        reads.append((n, t_lo, t_hi))
        got.append(sc._window_period_bounds(0.5 * (t_lo + t_hi))[:2])
        ordered.append(sc._ordered)
    # Elementwise the same float operations, and min / max are exact: equal to the last bit.
    assert got == naive_period_bounds(reads, bounds_window_s)
    # Read 1500 is kept until read 2524 (1024 reads later, across the compaction at read 2048);
    # read 2560 to the end.
    i = np.arange(2600)
    assert ordered == list(~(out_of_order & (((i >= 1500) & (i < 2524)) | (i >= 2560))))
