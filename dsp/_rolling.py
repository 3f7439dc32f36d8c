"""A fixed-size window of the latest values with an O(log n) median (pure Python, no kernel).

The coach needs the median of its last few hundred steps on every step; sorting the window each
time (``statistics.median``) cost ~60 µs per step. This keeps the window sorted as it slides.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

__all__ = ["RollingMedian"]


class RollingMedian:
    """The last ``maxlen`` values in arrival order, and kept sorted for their median.

    Parameters
    ----------
    maxlen : int
        Window length (≥ 0): appending to a full window drops the oldest value (a window of 0
        stays empty, as a ``deque(maxlen=0)`` does).

    Notes
    -----
    :meth:`median` returns exactly what ``statistics.median`` returns for the same values (the
    middle value, or the mean of the two middle ones as ``(a + b) / 2``), up to the sign of a zero
    median (0.0 and -0.0 compare equal, so either may leave the window first). Values must not be
    NaN (NaN has no place in a sorted order); the coach only stores finite, positive numbers.
    """

    __slots__ = ("_order", "_sorted")

    def __init__(self, maxlen: int) -> None:
        if maxlen < 0:
            raise ValueError(f"maxlen={maxlen!r} must be >= 0")
        self._order: deque[float] = deque(maxlen=maxlen)
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def append(self, value: float) -> None:
        """Add ``value`` as the newest, dropping the oldest when the window is full."""
        order = self._order
        if len(order) == order.maxlen:
            if not order:
                return
            srt = self._sorted
            del srt[bisect_left(srt, order[0])]
        order.append(value)
        insort(self._sorted, value)

    def median(self) -> float:
        """Median of the window, as ``statistics.median`` gives it.

        Raises
        ------
        statistics.StatisticsError
            When the window is empty (as ``statistics.median`` does).
        """
        srt = self._sorted
        n = len(srt)
        if n == 0:
            from statistics import StatisticsError

            raise StatisticsError("no median for empty data")
        if n % 2 == 1:
            return srt[n // 2]
        i = n // 2
        return (srt[i - 1] + srt[i]) / 2
