"""Injected time for the device runtime.

Everything that needs "now" or has to wait takes a :class:`Clock`. On the Pi that is
:class:`SystemClock` (``time.monotonic`` and ``time.sleep``); in tests and ``--fast`` replays it is
:class:`FakeClock`, whose time only moves when someone sleeps on it or advances it, so an hour of
sensor time runs in a second and every timestamp is deterministic.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time and sleeping, in seconds."""

    def monotonic(self) -> float:
        """Return a monotonic time in seconds (arbitrary origin)."""
        ...

    def sleep(self, s: float) -> None:
        """Wait ``s`` seconds."""
        ...


class SystemClock:
    """The real clock: :func:`time.monotonic` and :func:`time.sleep`."""

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`, seconds."""
        return time.monotonic()

    def sleep(self, s: float) -> None:
        """Sleep ``s`` seconds (nothing for ``s <= 0``)."""
        if s > 0:
            time.sleep(s)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A manual clock: time stands still until :meth:`sleep` or :meth:`advance` moves it.

    Parameters
    ----------
    start_s : float
        The time :meth:`monotonic` returns before anything moved it, seconds.

    Notes
    -----
    Thread-safe: several threads may sleep on the same clock; each sleep simply moves time forward.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        """Return the current fake time, seconds."""
        return self._now_s

    def sleep(self, s: float) -> None:
        """Advance time by ``s`` seconds and return at once.

        Raises
        ------
        ValueError
            When ``s`` is negative (a monotonic clock never goes back).
        """
        self.advance(s)

    def advance(self, s: float) -> None:
        """Advance time by ``s`` seconds.

        Raises
        ------
        ValueError
            When ``s`` is negative or not finite.
        """
        s = float(s)
        if not s >= 0.0 or s == float("inf"):
            raise ValueError(f"FakeClock can only move forward by a finite amount; got s={s!r}")
        with self._lock:
            self._now_s += s

    def __repr__(self) -> str:
        return f"FakeClock(now_s={self._now_s!r})"
