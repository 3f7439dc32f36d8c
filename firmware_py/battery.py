"""Battery monitoring: read the battery at a low rate and decide when to warn and when to stop.

Sources (``[battery] source`` in the config):

- ``pisugar3``: the PiSugar 3 battery HAT's controller at I2C 0x57 (``hardware/parts.md``, "Power").
  It reports the state of charge in % (register ``BAT_PERCENT``, 0x2A) and the battery voltage in mV
  (``BAT_V``, 0x22 high byte and 0x23 low byte), and whether external 5 V is plugged in (``CTR1``
  bit 7). The registers are declared once, as data, in
  :data:`firmware_py.imu.registers.PISUGAR3_REGISTERS`. The vendor publishes no datasheet; the
  register table comes from the PiSugar wiki (github.com/PiSugar/PiSugar/wiki/PiSugar-3-Series)
  and the vendor's open-source power manager (github.com/PiSugar/pisugar-power-manager-rs,
  ``pisugar-core/src/pisugar3.rs``), which reads every register with single-byte reads: so do we.
- ``hwmon``: the Pi's own under-voltage flag, which needs no HAT. The kernel's ``rpi_volt`` hwmon
  device (``drivers/hwmon/raspberrypi-hwmon.c``) asks the firmware every 2 s whether the 5 V supply
  dropped below about 4.63 V since the previous poll and shows it as
  ``/sys/class/hwmon/hwmonN/in0_lcrit_alarm`` (1 = under-voltage). It gives no percentage, and it
  cannot tell a power bank running out from a thin cable or a burst of load, after which the Pi
  runs on: an under-voltage warns (``battery_low``) but never stops the run. If the supply does
  die, the crash-safe recorder has lost at most its last ``fsync_interval_s``.
- ``auto`` probes the PiSugar 3 (``VERSION`` = 3 at 0x57), then the hwmon flag; ``none`` reads nothing.

:class:`BatteryWatch` turns readings into decisions, polled by the live loop every ``poll_s``
(15 s by default; never per block): below ``low_percent`` a ``battery_low`` event, then a
``battery_low`` reminder at every reading while it lasts, cleared only above ``low_percent`` +
:data:`HYSTERESIS_PERCENT` so a reading that wobbles at the threshold does not flap. How often a
reminder is cued (and said in the log) is the coach's decision alone, the one that rate-limits
every device cue (``[coach] device_repeat_s``); the watch keeps no second timer. Below
``critical_percent`` (a charge reading only) on :data:`CONFIRM_READINGS` polls in a row,
``battery_critical``: the loop then flushes and closes the recording and the run ends with
:data:`EXIT_BATTERY_CRITICAL`. While external power is plugged in nothing is low. A failed or
implausible reading is counted (``errors``) and skipped, never fatal. The bus and the sysfs root
are injected; :class:`firmware_py.imu.fake_battery.FakePiSugar3` is the register-level fake.
"""

from __future__ import annotations

import contextlib
import errno
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from firmware_py.exc import ConfigError
from firmware_py.imu.registers import PISUGAR3_ADDRESS, PISUGAR3_REGISTERS, PISUGAR3_VERSION

if TYPE_CHECKING:
    from firmware_py.bus import I2CBus

__all__ = [
    "BATTERY_SOURCES",
    "CONFIRM_READINGS",
    "EXIT_BATTERY_CRITICAL",
    "HYSTERESIS_PERCENT",
    "BatteryEvent",
    "BatteryMonitor",
    "BatteryReading",
    "BatteryWatch",
    "HwmonUnderVoltage",
    "PiSugar3Battery",
    "find_rpi_volt",
    "open_battery",
]

#: Values of ``[battery] source``.
BATTERY_SOURCES = ("auto", "pisugar3", "hwmon", "none")
#: Exit status of ``cadence-coach run`` when it stopped because the battery was critical (the
#: systemd unit does not restart after it: ``RestartPreventExitStatus``).
EXIT_BATTERY_CRITICAL = 4
#: A battery that was low is OK again only this far above ``low_percent``, %: the controller's
#: estimate moves by a few % with the load (a vibration pulse, the Pi's CPU), which must not flap.
HYSTERESIS_PERCENT = 3.0
#: Consecutive critical readings (or under-voltage flags) needed to stop the run: one glitch of
#: the fuel gauge must not end a run; two polls apart is still minutes before a PiSugar 3 cuts out.
CONFIRM_READINGS = 2
#: Readings outside these are a bad transfer, not a battery (a one-cell LiPo is 2.5-4.4 V).
_PLAUSIBLE_V = (2.5, 4.5)


@dataclass(frozen=True)
class BatteryReading:
    """One reading of the battery.

    Attributes
    ----------
    source : str
        Where it came from, for people (``"PiSugar 3 at 0x57"``).
    percent : float or None
        State of charge, % (None when the source has none).
    voltage_v : float or None
        Battery voltage, V (None when the source has none).
    under_voltage : bool
        The Pi's supply dropped below its limit (hwmon).
    external_power : bool
        External power is plugged in: the battery is not draining.
    """

    source: str
    percent: float | None = None
    voltage_v: float | None = None
    under_voltage: bool = False
    external_power: bool = False

    def describe(self) -> str:
        """``"battery 14 % (3.62 V), PiSugar 3 at 0x57"``, for event reasons."""
        if self.percent is None and self.voltage_v is None:
            what = "under-voltage on the Pi's 5 V supply" if self.under_voltage else "supply OK"
            return f"{what}, {self.source}"
        parts = []
        if self.percent is not None:
            parts.append(f"{self.percent:.0f} %")
        if self.voltage_v is not None:
            parts.append(f"({self.voltage_v:.2f} V)" if parts else f"{self.voltage_v:.2f} V")
        extra = ", charging" if self.external_power else ""
        return f"battery {' '.join(parts)}{extra}, {self.source}"


class BatteryMonitor(Protocol):
    """A battery source: ``read()`` returns a :class:`BatteryReading` or raises :class:`OSError`."""

    name: str

    def read(self) -> BatteryReading:
        """Read the battery now."""
        ...


class PiSugar3Battery:
    """The PiSugar 3 battery controller on the (injected) I2C bus.

    Parameters
    ----------
    bus : I2CBus
        The bus the IMU uses too (``smbus2.SMBus`` or a fake).
    address : int
        Its I2C address (0x57).
    """

    def __init__(self, bus: I2CBus, address: int = PISUGAR3_ADDRESS) -> None:
        self.bus = bus
        self.address = int(address)
        self.name = f"PiSugar 3 at 0x{self.address:02x}"

    def _read(self, name: str) -> int:
        """Register ``name`` as a raw value, one single-byte read per byte (as the vendor does)."""
        reg = PISUGAR3_REGISTERS[name]
        data = bytes(self.bus.read_byte_data(self.address, reg.address + i) for i in range(reg.n_bytes))
        return reg.from_bytes(data)

    def probe(self) -> bool:
        """Tell whether a PiSugar 3 answers (its ``VERSION`` register holds 3)."""
        try:
            return self._read("VERSION") == PISUGAR3_VERSION
        except OSError:
            return False

    def read(self) -> BatteryReading:
        """Read charge, voltage and external power.

        Raises
        ------
        OSError
            When a transfer fails, or the values cannot be a battery's (a garbled transfer).
        """
        percent = PISUGAR3_REGISTERS["BAT_PERCENT"].decode(self._read("BAT_PERCENT")).percent
        mv = PISUGAR3_REGISTERS["BAT_V"].decode(self._read("BAT_V")).voltage_mv
        ctr1 = PISUGAR3_REGISTERS["CTR1"].decode(self._read("CTR1"))
        voltage_v = mv / 1000.0
        if percent > 100 or not _PLAUSIBLE_V[0] <= voltage_v <= _PLAUSIBLE_V[1]:
            raise OSError(errno.EIO, f"implausible reading from {self.name}: {percent} %, {voltage_v:.3f} V")
        return BatteryReading(self.name, float(percent), voltage_v, external_power=bool(ctr1.power_plugged))


def find_rpi_volt(sysfs_root: str | Path = "/sys") -> Path | None:
    """Return the ``rpi_volt`` hwmon directory under ``sysfs_root``, or None when there is none."""
    base = Path(sysfs_root) / "class" / "hwmon"
    with contextlib.suppress(OSError):
        for entry in sorted(base.iterdir()):
            with contextlib.suppress(OSError):
                if (entry / "name").read_text().strip() == "rpi_volt":
                    return entry
    return None


class HwmonUnderVoltage:
    """The Pi's under-voltage flag (``rpi_volt`` hwmon): a fallback that needs no battery HAT.

    Parameters
    ----------
    path : pathlib.Path
        The hwmon directory (from :func:`find_rpi_volt`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"Pi under-voltage flag ({self.path.name})"

    def read(self) -> BatteryReading:
        """Read ``in0_lcrit_alarm``.

        Raises
        ------
        OSError
            When the file cannot be read or holds something other than 0 or 1.
        """
        text = (self.path / "in0_lcrit_alarm").read_text().strip()
        if text not in ("0", "1"):
            raise OSError(errno.EIO, f"{self.path / 'in0_lcrit_alarm'} holds {text!r}, not 0 or 1")
        return BatteryReading(self.name, under_voltage=text == "1")


def open_battery(
    source: str,
    bus: I2CBus | None,
    *,
    address: int = PISUGAR3_ADDRESS,
    sysfs_root: str | Path | None = "/sys",
) -> BatteryMonitor | None:
    """Build the battery source the config names.

    Parameters
    ----------
    source : str
        ``auto``, ``pisugar3``, ``hwmon`` or ``none``.
    bus : I2CBus or None
        The I2C bus (for the PiSugar 3).
    address : int
        The PiSugar 3's address.
    sysfs_root : str, pathlib.Path or None
        Where ``class/hwmon`` lives (``/sys``; a temporary folder in tests; None: no hwmon, as on a
        simulated bus, whose host is not the device).

    Returns
    -------
    BatteryMonitor or None
        None for ``none``, or when ``auto`` finds nothing.

    Raises
    ------
    ConfigError
        For an unknown source, or ``hwmon`` when the Pi has no ``rpi_volt`` device.
    """
    if source not in BATTERY_SOURCES:
        raise ConfigError(f"battery source {source!r} unknown; allowed: {', '.join(BATTERY_SOURCES)}")
    if source == "none":
        return None
    if source in ("auto", "pisugar3") and bus is not None:
        sugar = PiSugar3Battery(bus, address)
        if source == "pisugar3" or sugar.probe():
            return sugar  # asked for by name: read it even if it does not answer yet (errors are counted)
    if source in ("auto", "hwmon"):
        path = find_rpi_volt(sysfs_root) if sysfs_root is not None else None
        if path is not None:
            return HwmonUnderVoltage(path)
        if source == "hwmon":
            raise ConfigError(
                f'battery.source = "hwmon": no rpi_volt hwmon device under {sysfs_root}/class/hwmon; '
                'allowed: "hwmon" on a Raspberry Pi (kernel 4.14 or later), else "pisugar3", "auto" or "none"'
            )
    return None


@dataclass(frozen=True)
class BatteryEvent:
    """A decision of :class:`BatteryWatch`.

    Attributes
    ----------
    kind : str
        ``"battery_low"`` (cue it), ``"battery_critical"`` (stop the run) or ``"battery_ok"``
        (recovered, or external power plugged in: no cue).
    reason : str
        For the log and people, e.g. ``"battery 14 % (3.62 V), PiSugar 3 at 0x57"``.
    reminder : bool
        A ``battery_low`` that was already reported and still holds: the coach decides whether
        it is cued again (at most every ``[coach] device_repeat_s``), and it is written to the
        log and said only when it is.
    """

    kind: str
    reason: str
    reminder: bool = False


class BatteryWatch:
    """Poll a battery source at a low rate and decide: low (with hysteresis), critical, OK.

    Parameters
    ----------
    monitor : BatteryMonitor
        The source.
    low_percent : float
        Below this state of charge, % : ``battery_low``.
    critical_percent : float
        Below this, % (on ``confirm_readings`` polls in a row): ``battery_critical``.
    poll_s : float
        Time between two readings, s.
    hysteresis_percent : float
        Low ends only at ``low_percent`` + this, %.
    confirm_readings : int
        Consecutive critical readings needed.

    Attributes
    ----------
    state : str
        ``"ok"``, ``"low"`` or ``"critical"``.
    last : BatteryReading or None
        The latest good reading.
    readings : int
        Good readings so far.
    errors : int
        Failed or implausible readings (absorbed).
    last_error : OSError or None
        Why the latest failed reading failed.
    """

    def __init__(
        self,
        monitor: BatteryMonitor,
        *,
        low_percent: float = 15.0,
        critical_percent: float = 5.0,
        poll_s: float = 15.0,
        hysteresis_percent: float = HYSTERESIS_PERCENT,
        confirm_readings: int = CONFIRM_READINGS,
    ) -> None:
        if not 0.0 <= critical_percent < low_percent <= 100.0:
            raise ValueError(
                f"need 0 <= critical_percent < low_percent <= 100; got {critical_percent}, {low_percent}"
            )
        if poll_s <= 0 or hysteresis_percent < 0 or confirm_readings < 1:
            raise ValueError("poll_s must be > 0, hysteresis_percent >= 0, confirm_readings >= 1")
        self.monitor = monitor
        self.low_percent = float(low_percent)
        self.critical_percent = float(critical_percent)
        self.poll_s = float(poll_s)
        self.hysteresis_percent = float(hysteresis_percent)
        self.confirm_readings = int(confirm_readings)
        self.state = "ok"
        self.last: BatteryReading | None = None
        self.readings = 0
        self.errors = 0
        self.last_error: OSError | None = None
        self._next_poll = -math.inf
        self._critical_in_row = 0

    def due(self, now_s: float) -> bool:
        """Tell whether a reading is due at ``now_s`` (monotonic clock, s)."""
        return now_s >= self._next_poll

    def poll(self, now_s: float) -> list[BatteryEvent]:
        """Read the battery if a reading is due and return what to do about it.

        Parameters
        ----------
        now_s : float
            Monotonic clock, s: schedules the readings.

        Returns
        -------
        list of BatteryEvent
            Usually empty; never raises for a bus or file error (it is counted in ``errors``).
        """
        if not self.due(now_s) or self.state == "critical":
            return []
        self._next_poll = now_s + self.poll_s
        try:
            reading = self.monitor.read()
        except OSError as exc:
            self.errors += 1
            self.last_error = exc
            return []
        self.readings += 1
        self.last = reading
        return self._decide(reading)

    def _decide(self, r: BatteryReading) -> list[BatteryEvent]:
        reason = r.describe()
        if r.external_power:  # charging: the battery cannot run out now
            self._critical_in_row = 0
            if self.state == "low":
                self.state = "ok"
                return [BatteryEvent("battery_ok", f"external power: {reason}")]
            return []
        # only a state of charge can say the battery is about to run out; an under-voltage alone
        # may be a cable or a burst of load, and stopping would end a recording the Pi could keep
        critical = r.percent is not None and r.percent < self.critical_percent
        self._critical_in_row = self._critical_in_row + 1 if critical else 0
        if self._critical_in_row >= self.confirm_readings:
            self.state = "critical"
            return [BatteryEvent("battery_critical", reason)]
        low = critical or r.under_voltage or (r.percent is not None and r.percent < self.low_percent)
        if self.state == "ok" and low:
            self.state = "low"
            return [BatteryEvent("battery_low", reason)]
        if self.state == "low":
            recovered = (
                r.percent >= self.low_percent + self.hysteresis_percent
                if r.percent is not None
                else not r.under_voltage
            )
            if recovered:
                self.state = "ok"
                return [BatteryEvent("battery_ok", reason)]
            return [BatteryEvent("battery_low", reason, reminder=True)]
        return []
