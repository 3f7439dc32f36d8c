"""A register-level fake PiSugar 3 battery controller, for tests and ``run --bus fake:... --fake-battery``.

It sits on a :class:`~firmware_py.imu.fake.FakeI2CBus` at 0x57 like the real HAT and answers the
registers of :data:`~firmware_py.imu.registers.PISUGAR3_REGISTERS`: ``VERSION`` = 3,
``BAT_PERCENT`` and ``BAT_V`` from a settable discharge curve on the injected clock, ``CTR1`` bit 7
when external power is plugged in. Faults come from :class:`~firmware_py.imu.fake.FakeDevice`
(OSError 121/5 on a fraction of transactions, unplug/replug); ``garbage`` makes the next reads
return an implausible value (a garbled transfer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from firmware_py.clock import Clock
from firmware_py.exc import UsageError
from firmware_py.imu.fake import FakeDevice
from firmware_py.imu.registers import PISUGAR3_ADDRESS, PISUGAR3_REGISTERS, PISUGAR3_VERSION, RegisterMap

__all__ = ["LIPO_OCV_CURVE", "FakePiSugar3", "parse_fake_battery"]

#: Resting voltage of a one-cell LiPo against its state of charge, ``(percent, volts)``: a typical
#: curve (flat between 20 and 80 %, steep below 10 %), used to give the fake a plausible voltage.
LIPO_OCV_CURVE: tuple[tuple[float, float], ...] = (
    (0.0, 3.20),
    (5.0, 3.50),
    (10.0, 3.62),
    (20.0, 3.70),
    (40.0, 3.78),
    (60.0, 3.87),
    (80.0, 4.00),
    (100.0, 4.18),
)


class FakePiSugar3(FakeDevice):
    """A PiSugar 3 whose charge follows a piecewise-linear curve of the device clock.

    Parameters
    ----------
    address : int, optional
        0x57 by default.
    clock : Clock, optional
        The device clock (a :class:`~firmware_py.clock.FakeClock` in tests).
    curve : sequence of (t_s, percent)
        State of charge at times on ``clock`` (relative to the fake's creation), linearly
        interpolated and held flat outside. Default: full and staying so.
    external_power : bool
        External 5 V plugged in (``CTR1.power_plugged``).
    **kwargs
        Faults, as for :class:`~firmware_py.imu.fake.FakeDevice`.
    """

    REGISTERS: ClassVar[RegisterMap] = PISUGAR3_REGISTERS
    ADDRESSES: ClassVar[tuple[int, ...]] = (PISUGAR3_ADDRESS,)
    ID_REGISTER: ClassVar[str] = "VERSION"
    DEFAULT_ID: ClassVar[int] = PISUGAR3_VERSION

    def __init__(
        self,
        address: int | None = None,
        *,
        clock: Clock | None = None,
        curve: Sequence[tuple[float, float]] = ((0.0, 100.0),),
        external_power: bool = False,
        **kwargs,
    ) -> None:
        self.external_power = bool(external_power)
        self.garbage = 0
        super().__init__(address, clock=clock, **kwargs)
        self._t0 = self.clock.monotonic()
        self.set_curve(curve)

    def set_curve(self, curve: Sequence[tuple[float, float]]) -> None:
        """Replace the discharge curve (``(t_s, percent)`` points, times from the fake's creation)."""
        pts = sorted((float(t), float(p)) for t, p in curve)
        if not pts or any(not 0.0 <= p <= 100.0 for _, p in pts):
            raise ValueError(f"a battery curve needs points with 0..100 %; got {curve!r}")
        self._curve_t = np.array([t for t, _ in pts])
        self._curve_p = np.array([p for _, p in pts])

    def drain(self, start_percent: float, percent_per_min: float) -> None:
        """Start at ``start_percent`` now and lose ``percent_per_min`` every minute down to 0."""
        now = self.clock.monotonic() - self._t0
        t_empty = now + 60.0 * start_percent / percent_per_min if percent_per_min > 0 else now + 1e9
        self.set_curve([(now, start_percent), (t_empty, 0.0)])

    def percent(self) -> float:
        """State of charge now, % (the truth the registers are made from)."""
        t = self.clock.monotonic() - self._t0
        return float(np.interp(t, self._curve_t, self._curve_p))

    def voltage_v(self) -> float:
        """Battery voltage now, V (from :data:`LIPO_OCV_CURVE`)."""
        p, v = zip(*LIPO_OCV_CURVE, strict=True)
        return float(np.interp(self.percent(), p, v))

    def _read_byte(self, reg: int) -> int:
        regs = self.REGISTERS
        if self.garbage and reg == regs["BAT_PERCENT"].address:
            self.garbage -= 1
            return 0xFF  # 255 %: what a garbled transfer looks like
        if reg == regs["BAT_PERCENT"].address:
            return round(self.percent())
        voltage = regs["BAT_V"]
        if voltage.address <= reg < voltage.address + voltage.n_bytes:
            mv = voltage.to_bytes(round(self.voltage_v() * 1000.0))
            return mv[reg - voltage.address]
        if reg == regs["CTR1"].address:
            ctr1 = regs["CTR1"]
            return ctr1.encode(self.regs[reg], power_plugged=int(self.external_power), output_enabled=1)
        return self.regs[reg]


def parse_fake_battery(spec: str) -> tuple[float, float]:
    """Parse ``--fake-battery START[,DRAIN]``: start at START % and lose DRAIN % per minute.

    Raises
    ------
    UsageError
        When the text is not one or two numbers in range.
    """
    parts = [p.strip() for p in spec.split(",")]
    try:
        start = float(parts[0])
        drain = float(parts[1]) if len(parts) > 1 else 1.0
    except (ValueError, IndexError):
        start = drain = float("nan")
    if len(parts) > 2 or not 0.0 <= start <= 100.0 or not 0.0 <= drain <= 100.0:
        raise UsageError(
            f"--fake-battery {spec!r}: expected START[,DRAIN]: charge at start, % (0-100), and % lost "
            "per minute (0-100), e.g. --fake-battery 20,2"
        )
    return start, drain
