"""Sample timestamps from FIFO counts: the chip's real rate, disciplined against the host clock.

An IMU's oscillator is off by up to a few percent, so ``k / nominal_rate`` drifts away from the
truth by seconds per hour. The chip does, however, write sample ``k`` at ``tau_k = theta + k * T``
on a regular grid of its own. Each FIFO read tells us how many samples ``N`` the chip had written
when it latched the count, somewhere inside the count transaction ``[t_lo, t_hi]``:
``tau_{N-1} <= t_hi`` and ``tau_N > t_lo``.

:class:`SampleClock` uses that twice:

1. The grids every read allows. Two reads bound the period from both sides (``(N_i - 1 - N_j) T
   < t_hi_i - t_lo_j`` and ``(N_i - N_j + 1) T > t_lo_i - t_hi_j``); over the reads of a window
   (at most ``bounds_window_s`` old) the tightest pairs pin ``T`` to about a period over (reads x
   samples spanned). Given ``T``'s bounds, the time of the newest sample ranges from its lower
   side at the shortest period to its upper side at the longest (both grow with ``T``): the grid
   taken is the middle of that range, with the middle of the periods that allow it, so its
   timestamps are off by at most half the range, however unluckily the reads fell (a run of reads
   all just after a sample leaves a straight-line fit far off). The period's bounds from earlier
   grids (the chip's clock is one crystal: a FIFO restart moves the grid's phase, not its rate)
   carry over while their reads are inside the window.
2. The rate's fit. On average the read time is ``theta + (N - 1/2) T``, so a straight-line fit of
   read time against ``N`` gives the real period ``T`` (its slope). The fit is exponentially
   weighted least squares (old reads fade out with ``time_constant_s``) with a weak prior on the
   nominal period for the first reads (or the previous grid's period, with all its weight, after
   a restart). It takes the period while the pairs' bounds are wider than its standard error (the
   first reads), and the whole grid when no grid fits every read of the window (a drifting
   oscillator): then the fitted phase is clipped into the bounds of the recent reads (those few
   enough samples back that the period's uncertainty does not matter), as long as they agree.

The FIFO start is the first read ("0 samples written"), so the first batch is already within a
couple of milliseconds. With reads every 20-100 ms at 200 Hz on the fakes the timestamps are
within 0.5 ms of the truth after 5 s (the worst of a 20 s run with I2C faults and FIFO restarts:
0.15 ms typically), however long the run, for a constant clock error. A drifting oscillator
(temperature) is followed with a lag set by ``time_constant_s`` (about 1 ms at 1 ppm a second).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SampleClock"]

#: Weight of the prior on the period, in counts² (like two reads 10 samples apart): it only
#: matters until two reads are on record.
_PRIOR_WEIGHT = 1.0e2
#: Reads kept for the phase bounds (the newest; older ones drop out).
_RING = 1024
#: Room for the reads, in chronological order: when it is full the newest ``_RING - 1`` are moved
#: to its start (once every ``_CAPACITY - _RING + 1`` reads), so the kept reads are always a slice.
_CAPACITY = 2 * _RING
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
        # Bounds on the period from the reads of earlier grids (the same oscillator), and the time
        # of the oldest read they rest on: (lower, upper, t_oldest).
        self._carried = (-math.inf, math.inf, math.inf)
        self._reset_fit()

    def _reset_fit(self) -> None:
        self._w = 0.0  # sum of weights
        self._mx = 0.0  # weighted mean count
        self._my = 0.0  # weighted mean host time, s
        self._cxx = 0.0  # weighted co-moments about the means
        self._cxy = 0.0
        self._t_last_s: float | None = None
        self._t_first_s: float | None = None
        # The reads, oldest first: count, t_lo, t_hi, the period's bounds; the kept ones are
        # ``[max(end - _RING, 0), end)``.
        self._reads = np.empty((5, _CAPACITY))
        self._end = 0
        # The newest read whose count or t_hi is below the one before it (by index in _reads).
        self._disorder_at = -1
        # No such read among the kept ones (the usual case): the reads of a window are a slice,
        # and those fewer or more than a given count samples back a prefix or a suffix of it.
        self._ordered = True
        self._theta_s = math.nan  # time of sample 0
        self._period_s = self._prior_period_s
        self.n_observations = 0

    def restart(self, *, keep_rate: bool = True) -> None:
        """Forget the grid's phase (the chip restarted sampling); optionally keep the rate.

        Parameters
        ----------
        keep_rate : bool
            Keep the current period estimate, with the confidence the fit had (the prior's weight
            and the reads'), as the prior for the new grid, and the period's bounds from the pairs
            of reads while those reads are within ``bounds_window_s`` (the oscillator is the same
            chip: a restart moves the grid's phase, not its rate).
        """
        if keep_rate:
            if self._w > 0:
                # The estimate's weight is the prior's and the reads' together.
                self._prior_period_s = self.period_s
                self._prior_weight = self._prior_weight + self._cxx
                if self._t_last_s is not None:
                    self._carried = self._window_period_bounds(self._t_last_s)
        else:
            self._prior_period_s = 1.0 / self.nominal_rate_hz
            self._prior_weight = _PRIOR_WEIGHT
            self._carried = (-math.inf, math.inf, math.inf)
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
        self._add_read(x, t_s, t_lo_s, t_hi_s)

    def _add_read(self, x: float, t_s: float, t_lo_s: float, t_hi_s: float) -> None:
        """Keep the read with the period's bounds it gives, and update the grid.

        The reads are kept oldest first, so the window (the kept reads with ``t_hi`` at most
        ``bounds_window_s`` old) is a slice while they are ordered; the counts back from this
        read, ``e = x - n``, are computed once for both the period's bounds (the window before
        this read) and the grid (the window with it).
        """
        reads = self._reads
        if self._end == _CAPACITY:  # room: the newest reads to the start
            reads[:, : _RING - 1] = reads[:, _CAPACITY - _RING + 1 :]
            self._end = _RING - 1
            self._disorder_at -= _CAPACITY - _RING + 1
        end = self._end
        # ``not >=``: a NaN breaks the order too.
        if end and not (x >= reads[0, end - 1] and t_hi_s >= reads[2, end - 1]):
            self._disorder_at = end
        reads[:3, end] = (x, t_lo_s, t_hi_s)
        self._end = end + 1
        cutoff = t_s - self.bounds_window_s
        # The reads kept before this one, and this one: ``pre`` and ``post`` select the window
        # before and after this read (the oldest drops out once ``_RING`` reads are kept).
        oldest = max(end - _RING, 0)
        self._ordered = self._disorder_at <= oldest
        if self._ordered:
            first = oldest + int(reads[2, oldest:end].searchsorted(cutoff))
            span = reads[:, first : end + 1]
            pre = slice(0, -1)
            post = slice(max(end + 1 - _RING - first, 0) if t_hi_s >= cutoff else span.shape[1], None)
        else:
            span = reads[:, oldest : end + 1]
            with np.errstate(invalid="ignore"):
                post = span[2] >= cutoff
            pre = post.copy()
            pre[-1] = False
            if end >= _RING:
                post[0] = False
        e = x - span[0]
        e1 = e + 1.0
        lower, upper = self._period_bounds(x, t_lo_s, t_hi_s, span[:3, pre], e1[pre])
        reads[3:, end] = (lower, upper)
        self._update_grid(x, t_s, span[:, post], e[post], e1[post])

    def _period_bounds(
        self, x: float, t_lo_s: float, t_hi_s: float, window: np.ndarray, e1: np.ndarray
    ) -> tuple[float, float]:
        """Bound the period from this read and each earlier read of the window, seconds.

        Both reads' inequalities hold for one grid: ``tau_{x-1} <= t_hi`` here and
        ``tau_{n_j} > t_lo_j`` there give ``(x - 1 - n_j) T < t_hi - t_lo_j``; ``tau_x > t_lo``
        here and ``tau_{n_j-1} <= t_hi_j`` there give ``(x - n_j + 1) T > t_lo - t_hi_j``.
        ``window``: the earlier reads' counts, ``t_lo``, ``t_hi``; ``e1``: ``x - n_j + 1``.
        """
        n, lo, hi = window
        if not n.size:
            return -math.inf, math.inf
        # The reads at least two samples back (``x - 1 - n_j > 0``): a prefix if ordered.
        ahead = slice(0, int(n.searchsorted(x - 1.0))) if self._ordered else n < x - 1.0
        n_ahead = n[ahead]
        if n_ahead.size:
            upper = float(np.minimum.reduce((t_hi_s - lo[ahead]) / (x - 1.0 - n_ahead)))
        else:
            upper = math.inf
        lower = float(np.maximum.reduce((t_lo_s - hi) / e1))
        return lower, upper

    def _update_grid(
        self, n_now: float, t_now: float, window: np.ndarray, e: np.ndarray, e1: np.ndarray
    ) -> None:
        weight = self._cxx + self._prior_weight
        period = (self._cxy + self._prior_weight * self._prior_period_s) / weight
        nominal = 1.0 / self.nominal_rate_hz
        period_min = nominal / (1.0 + self.max_rate_error)
        period_max = nominal / (1.0 - self.max_rate_error)
        period = min(max(period, period_min), period_max)
        lower, upper, _ = self._window_period_bounds(t_now, window)
        n, t_lo, t_hi = window[:3]
        # One read's error is uniform over a period: standard deviation period / sqrt(12).
        period_se = period / math.sqrt(12.0 * weight)
        grid = self._feasible_grid(
            n_now, n, t_lo, t_hi, e, e1, max(lower, period_min), min(upper, period_max), period, period_se
        )
        if grid is not None:
            self._theta_s, self._period_s = grid
            return
        # Contradicting reads (a drifting oscillator, a read off): the fit, its phase clipped into
        # the bounds of the reads recent enough that the period's error does not matter.
        theta = self._my + (0.5 - self._mx) * period  # the fit's phase
        dk_max = _BOUNDS_SLACK * period / period_se
        if self._ordered:
            use = slice(int(n.searchsorted(n_now - dk_max)), None)
        else:
            with np.errstate(invalid="ignore"):
                use = n >= n_now - dk_max
        n, t_lo, t_hi = n[use], t_lo[use], t_hi[use]
        lower = float(np.maximum.reduce(t_lo - n * period))  # tau_N > t_lo
        upper = float(np.minimum.reduce(t_hi - (n - 1.0) * period))  # tau_{N-1} <= t_hi
        if lower <= upper:
            theta = min(max(theta, lower), upper)
        self._period_s = period
        self._theta_s = theta

    def _window(self, t_now: float) -> np.ndarray:
        """Return the kept reads with ``t_hi >= t_now - bounds_window_s`` (rows as ``_reads``)."""
        kept = self._reads[:, max(self._end - _RING, 0) : self._end]
        cutoff = t_now - self.bounds_window_s
        if self._ordered:
            return kept[:, int(kept[2].searchsorted(cutoff)) :]
        with np.errstate(invalid="ignore"):
            return kept[:, kept[2] >= cutoff]

    def _window_period_bounds(
        self, t_now: float, window: np.ndarray | None = None
    ) -> tuple[float, float, float]:
        """Return the period's bounds from the pairs of reads of the window and of earlier grids.

        Returns ``(lower, upper, t_oldest)``: the bounds in seconds and the time of the oldest read
        they rest on. Earlier grids' bounds count while their reads are within ``bounds_window_s``
        and agree with this grid's. ``window``: ``self._window(t_now)`` if already at hand.
        """
        _, _, t_hi, period_lo, period_hi = self._window(t_now) if window is None else window
        if not t_hi.size:
            return -math.inf, math.inf, math.inf
        lower, upper = float(np.maximum.reduce(period_lo)), float(np.minimum.reduce(period_hi))
        t_oldest = float(t_hi[0] if self._ordered else np.minimum.reduce(t_hi))
        carried_lo, carried_hi, carried_t = self._carried
        if t_now - carried_t <= self.bounds_window_s and max(lower, carried_lo) <= min(upper, carried_hi):
            lower, upper, t_oldest = max(lower, carried_lo), min(upper, carried_hi), min(t_oldest, carried_t)
        return lower, upper, t_oldest

    def _feasible_grid(
        self,
        n_now: float,
        n: np.ndarray,
        t_lo: np.ndarray,
        t_hi: np.ndarray,
        e: np.ndarray,
        e1: np.ndarray,
        period_lo: float,
        period_hi: float,
        period_fit: float,
        period_se: float,
    ) -> tuple[float, float] | None:
        """Return the middle ``(theta, T)`` of the grids every read of the window allows.

        The grids are the points ``(phi, T)`` (``phi`` the time of sample ``n_now``) with
        ``phi + d T > t_lo`` and ``phi + (d - 1) T <= t_hi`` for every read (``d = N - n_now``,
        at most 0), with ``T`` within ``[period_lo, period_hi]`` (the exact bounds of the pairs of
        reads). Both sides grow with ``T``, so ``phi`` ranges from the lower side at ``period_lo``
        to the upper side at ``period_hi``: its middle is off by at most half that range, whatever
        the reads (the fit's phase is only likely to be near). The period is the middle of those
        that allow it, or the fit's (``period_fit``, standard error ``period_se``) clipped into
        them while they span more than its standard error (the first reads, where the fit's prior
        knows more). None when no grid fits them all (a drifting oscillator, a read off).
        ``e`` and ``e1``: ``-d`` and ``1 - d``, computed once per read as ``x - n`` and
        ``x - n + 1`` (the same floats: a difference's negation is exact).
        """
        if not period_lo <= period_hi or not n.size:
            return None
        # Some read later than this one (d > 0)? The last if ordered.
        if (e[-1] < 0) if self._ordered else np.any(e < 0):
            return None
        phi_lo = float(np.maximum.reduce(t_lo + e * period_lo))
        phi_hi = float(np.minimum.reduce(t_hi + e1 * period_hi))
        if not phi_lo <= phi_hi:
            return None
        phi = 0.5 * (phi_lo + phi_hi)
        # The reads of earlier samples (d < 0): a prefix if ordered.
        back = slice(0, int(n.searchsorted(n_now))) if self._ordered else e > 0
        e_back = e[back]
        longest = float(np.minimum.reduce((phi - t_lo[back]) / e_back)) if e_back.size else math.inf
        shortest = float(np.maximum.reduce((phi - t_hi) / e1))
        longest, shortest = min(longest, period_hi), max(shortest, period_lo)
        if not shortest <= longest:  # rounding
            shortest, longest = period_lo, period_hi
        if 0.5 * (longest - shortest) < period_se:
            period = 0.5 * (shortest + longest)
        else:
            period = min(max(period_fit, shortest), longest)
        return phi - n_now * period, period

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
