"""Sample timestamps from FIFO counts: the chip's real rate, disciplined against the host clock.

An IMU's oscillator is off by up to a few percent, so ``k / nominal_rate`` drifts away from the
truth by seconds per hour. The chip does, however, write sample ``k`` at ``tau_k = theta + k * T``
on a regular grid of its own. Each FIFO read tells us how many samples ``N`` the chip had written
when it latched the count, somewhere inside the count transaction ``[t_lo, t_hi]``:
``tau_{N-1} <= t_hi`` and ``tau_N > t_lo``.

:class:`SampleClock` uses that twice:

1. The rate. On average the read time is ``theta + (N - 1/2) T``, so a straight-line fit of read
   time against ``N`` gives the real period ``T`` (its slope). The fit is exponentially weighted
   least squares (old reads fade out with ``time_constant_s``, so a slowly drifting oscillator is
   followed) with a weak prior on the nominal period for the first reads.
2. The phase. The fit's phase is only as good as the average of the reads' quantisation errors
   (each uniform over one period). The inequalities above, taken with the fitted period over the
   recent reads (those few enough samples back that the period's uncertainty does not matter, and
   at most ``bounds_window_s`` old), bound ``theta`` more tightly (to about one period divided by
   the number of reads); the fitted phase is clipped into those bounds. Contradicting bounds (a
   drifting oscillator) leave the fitted phase alone.

The FIFO start is the first read ("0 samples written"), so the first batch is already within a
couple of milliseconds. With reads every 20-300 ms at 200 Hz the timestamps stay within 1 ms of
the truth (typically 0.1-0.3 ms) after about 5 s, however long the run, for a constant clock
error. A drifting oscillator (temperature) is followed with a lag set by ``time_constant_s``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SampleClock"]

#: Weight of the prior on the period, in counts² (like two reads 10 samples apart): it only
#: matters until two reads are on record.
_PRIOR_WEIGHT = 1.0e2
#: Reads kept for the phase bounds (a ring; the oldest are overwritten).
_RING = 1024
#: Bounds from a read ``dk`` samples back are used while ``dk`` times the period's standard error
#: stays below this fraction of a period.
_BOUNDS_SLACK = 0.03


class SampleClock:
    """Estimate the sample grid ``tau_k = theta + k T`` of a FIFO from (count, host time) pairs.

    Parameters
    ----------
    nominal_rate_hz : float
        The rate the chip was configured for, Hz (the prior for ``1 / T``).
    time_constant_s : float
        Reads older than this fade out (exponential forgetting), seconds.
    bounds_window_s : float
        Oldest read used for the phase bounds, seconds.
    max_rate_error : float
        The estimated rate is kept within ``nominal * (1 ± max_rate_error)``.

    Notes
    -----
    Sample indices ``k`` count every sample the chip wrote since :meth:`restart` (or construction),
    read or lost. The host times are whatever clock the driver reads (``Clock.monotonic``).
    """

    def __init__(
        self,
        nominal_rate_hz: float,
        *,
        time_constant_s: float = 120.0,
        bounds_window_s: float = 60.0,
        max_rate_error: float = 0.1,
    ) -> None:
        if not nominal_rate_hz > 0:
            raise ValueError(f"nominal_rate_hz must be > 0; got {nominal_rate_hz!r}")
        if not time_constant_s > 0:
            raise ValueError(f"time_constant_s must be > 0; got {time_constant_s!r}")
        self.nominal_rate_hz = float(nominal_rate_hz)
        self.time_constant_s = float(time_constant_s)
        self.bounds_window_s = float(bounds_window_s)
        self.max_rate_error = float(max_rate_error)
        self._prior_period_s = 1.0 / self.nominal_rate_hz
        self._prior_weight = _PRIOR_WEIGHT
        self._reset_fit()

    def _reset_fit(self) -> None:
        self._w = 0.0  # sum of weights
        self._mx = 0.0  # weighted mean count
        self._my = 0.0  # weighted mean host time, s
        self._cxx = 0.0  # weighted co-moments about the means
        self._cxy = 0.0
        self._t_last_s: float | None = None
        self._t_first_s: float | None = None
        self._ring = np.full((3, _RING), np.nan)
        self._ring_i = 0
        self._theta_s = math.nan  # time of sample 0
        self._period_s = self._prior_period_s
        self.n_observations = 0

    def restart(self, *, keep_rate: bool = True) -> None:
        """Forget the grid's phase (the chip restarted sampling); optionally keep the rate.

        Parameters
        ----------
        keep_rate : bool
            Keep the current period estimate, with the confidence the fit had, as the prior for
            the new grid (the oscillator is the same chip).
        """
        if keep_rate:
            if self._w > 0:
                self._prior_period_s = self.period_s
                self._prior_weight = max(self._prior_weight, self._cxx)
        else:
            self._prior_period_s = 1.0 / self.nominal_rate_hz
            self._prior_weight = _PRIOR_WEIGHT
        self._reset_fit()

    @property
    def ready(self) -> bool:
        """True once at least one read has been observed."""
        return self._w > 0

    def observe(
        self, n_written: int, t_s: float, t_lo_s: float | None = None, t_hi_s: float | None = None
    ) -> None:
        """Add one read: the chip had written ``n_written`` samples when it latched its count.

        Parameters
        ----------
        n_written : int
            Samples written since the grid started (read, waiting, or lost).
        t_s : float
            Host time of the latch (e.g. the middle of the count transaction), seconds.
        t_lo_s, t_hi_s : float, optional
            Host times just before and just after the count transaction (the latch happened in
            between), seconds; both ``t_s`` when omitted.
        """
        t_lo_s = t_s if t_lo_s is None else t_lo_s
        t_hi_s = t_s if t_hi_s is None else t_hi_s
        if self._t_last_s is not None:
            decay = math.exp(-max(t_s - self._t_last_s, 0.0) / self.time_constant_s)
            self._w *= decay
            self._cxx *= decay
            self._cxy *= decay
        self._t_last_s = t_s
        if self._t_first_s is None:
            self._t_first_s = t_s
        x = float(n_written)
        w = self._w + 1.0
        dx = x - self._mx
        self._mx += dx / w
        self._my += (t_s - self._my) / w
        self._cxx += dx * (x - self._mx)
        self._cxy += dx * (t_s - self._my)
        self._w = w
        self.n_observations += 1
        self._ring[:, self._ring_i % _RING] = (x, t_lo_s, t_hi_s)
        self._ring_i += 1
        self._update_grid(x, t_s)

    def _update_grid(self, n_now: float, t_now: float) -> None:
        weight = self._cxx + self._prior_weight
        period = (self._cxy + self._prior_weight * self._prior_period_s) / weight
        nominal = 1.0 / self.nominal_rate_hz
        period = min(
            max(period, nominal / (1.0 + self.max_rate_error)), nominal / (1.0 - self.max_rate_error)
        )
        theta = self._my + (0.5 - self._mx) * period  # the fit's phase
        # Bounds on the phase from the reads recent enough that the period's error does not matter
        # (one read's error is uniform over a period: standard deviation period / sqrt(12)).
        period_se = period / math.sqrt(12.0 * weight)
        dk_max = _BOUNDS_SLACK * period / period_se
        n, t_lo, t_hi = self._ring
        with np.errstate(invalid="ignore"):
            use = (n >= n_now - dk_max) & (t_hi >= t_now - self.bounds_window_s)
        n, t_lo, t_hi = n[use], t_lo[use], t_hi[use]
        lower = float(np.max(t_lo - n * period))  # tau_N > t_lo
        upper = float(np.min(t_hi - (n - 1.0) * period))  # tau_{N-1} <= t_hi
        if lower <= upper:
            theta = min(max(theta, lower), upper)
        self._period_s = period
        self._theta_s = theta

    @property
    def span_s(self) -> float:
        """Host time from the first read observed since :meth:`restart` to the last, seconds."""
        if self._t_first_s is None or self._t_last_s is None:
            return 0.0
        return self._t_last_s - self._t_first_s

    @property
    def period_s(self) -> float:
        """Estimated real sample period, seconds."""
        return self._period_s

    @property
    def rate_hz(self) -> float:
        """Estimated real sample rate, Hz."""
        return 1.0 / self.period_s

    def times(self, k0: int, n: int) -> np.ndarray:
        """Return the estimated host times of samples ``k0 .. k0 + n - 1``, seconds.

        Raises
        ------
        RuntimeError
            Before the first :meth:`observe`.
        """
        if not self.ready:
            raise RuntimeError("SampleClock.times() before any observe()")
        return self._theta_s + np.arange(k0, k0 + n, dtype=np.float64) * self._period_s

    def first_index_after(self, t_s: float) -> int:
        """Return the index of the first sample the chip writes after host time ``t_s``.

        Used after a FIFO reset: the chip's sample clock keeps running, so the samples that
        follow the reset are on the same grid.
        """
        if not self.ready:
            raise RuntimeError("SampleClock.first_index_after() before any observe()")
        return math.floor((t_s - self._theta_s) / self._period_s) + 1
