"""Injected time: the system clock and the manual fake one."""

from __future__ import annotations

import math
import threading

import pytest

from firmware_py.clock import Clock, FakeClock, SystemClock


def test_fake_clock_moves_only_when_told():
    clock = FakeClock(12.5)
    assert clock.monotonic() == 12.5
    assert clock.monotonic() == 12.5
    clock.sleep(0.25)
    clock.advance(1.0)
    assert clock.monotonic() == 13.75
    clock.sleep(0.0)
    assert clock.monotonic() == 13.75


@pytest.mark.parametrize("bad", [-1e-9, -1.0, math.inf, math.nan])
def test_fake_clock_never_goes_back_or_jumps_to_infinity(bad):
    clock = FakeClock()
    with pytest.raises(ValueError, match="forward"):
        clock.sleep(bad)
    assert clock.monotonic() == 0.0


def test_fake_clock_is_safe_to_share_between_threads():
    clock = FakeClock()

    def sleeper():
        for _ in range(1000):
            clock.sleep(0.001)

    threads = [threading.Thread(target=sleeper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert clock.monotonic() == pytest.approx(4.0)


def test_system_clock_is_monotonic_and_sleeps():
    clock = SystemClock()
    t0 = clock.monotonic()
    clock.sleep(0.01)
    clock.sleep(-1.0)  # nothing to wait for
    assert clock.monotonic() - t0 >= 0.01


def test_both_satisfy_the_protocol():
    assert isinstance(SystemClock(), Clock)
    assert isinstance(FakeClock(), Clock)
    assert "now_s=3.0" in repr(FakeClock(3.0))
