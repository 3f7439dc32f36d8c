"""The interface every IMU driver offers, and the FIFO bookkeeping they share.

A driver receives the bus (it never opens one), probes the chip at :meth:`ImuDriver.setup`, and
then hands out the FIFO contents as :class:`FifoBatch` objects in SI units, each sample with a
host-clock timestamp reconstructed from the FIFO count and the chip's real (estimated) rate. A FIFO
overflow is never stitched over: the batch reports a :class:`Gap`. Chips whose FIFO keeps the newest
samples whole and in order when it overflows (:attr:`ImuDriver.KEEPS_NEWEST_ON_OVERFLOW`: the ST
parts in continuous mode, the ICM-42688-P in stream mode) deliver what it still holds, after the
gap; the others reset the FIFO.

Wiring: see ``hardware/wiring.md``.
"""

from __future__ import annotations

import abc
import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from firmware_py.bus import bus_name
from firmware_py.clock import Clock, SystemClock
from firmware_py.exc import DeviceClosedError, ImuFaultError, ImuNotFoundError
from firmware_py.imu.registers import RegisterDevice, RegisterMap
from firmware_py.imu.timing import SampleClock

if TYPE_CHECKING:
    from types import TracebackType

    from firmware_py.bus import I2CBus

__all__ = [
    "MAX_SAMPLING_RATE_HZ",
    "MIN_SAMPLING_RATE_HZ",
    "STANDARD_GRAVITY_MPS2",
    "ChipLifecycle",
    "FifoBatch",
    "FifoMisaligned",
    "FifoStatus",
    "Gap",
    "ImuDriver",
]

#: Standard gravity, m/s² per g.
STANDARD_GRAVITY_MPS2 = 9.80665
#: Output rates the drivers accept, Hz (each snaps to the nearest rate its chip supports).
MIN_SAMPLING_RATE_HZ = 50.0
MAX_SAMPLING_RATE_HZ = 1000.0

_WIRING_FIX = "check wiring (see hardware/wiring.md)"
#: A FIFO restart keeps the sample grid (its resuming write timed halfway between two samples) once
#: the grid has been read this long, seconds: by then its phase is within 0.41 period of the truth
#: (measured on the fakes: 50-1000 Hz, clocks ±3 % off, reads every 20-100 ms), under the half period
#: the timed write leaves; before, up to 0.6 period. An earlier restart starts a new grid.
_GRID_SETTLED_S = 1.0


@dataclass(frozen=True)
class Gap:
    """Samples the chip produced but nobody will ever read.

    Attributes
    ----------
    t_last_s : float
        Time of the last sample delivered before the gap, seconds (NaN when none was).
    t_next_s : float
        Time of the first sample delivered after the gap, seconds.
    n_lost : int
        Samples lost in between (estimated from the real rate).
    reason : str
        ``"overflow"`` (the FIFO filled up), ``"misaligned"`` (FIFO data out of step, reset),
        ``"bus_error"`` (a FIFO read failed half-way, reset) or ``"restart"`` (:meth:`ImuDriver.setup`
        ran again, e.g. after an unplug).
    """

    t_last_s: float
    t_next_s: float
    n_lost: int
    reason: str


@dataclass(frozen=True)
class FifoBatch:
    """What one FIFO drain returned.

    Attributes
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, seconds on the driver's clock; strictly increasing, also
        across batches.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², float64, sensor frame, gravity included.
    gyro_rads : numpy.ndarray
        Gyroscope, shape ``(n, 3)``, rad/s, float64, sensor frame.
    raw : numpy.ndarray
        The counts behind them, int16, shape ``(n, 6)``: accel x, y, z then gyro x, y, z.
    overflow : bool
        The FIFO had overflowed (or was found out of step) and was reset during this read.
    gap : Gap or None
        Samples lost before this batch's first sample (or, for an overflow, before the next
        sample to come; ``gap.t_next_s`` is its time).
    sampling_rate_hz : float
        The chip's real output rate as estimated so far, Hz.
    """

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray
    raw: np.ndarray
    overflow: bool = False
    gap: Gap | None = None
    sampling_rate_hz: float = math.nan

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])

    def __len__(self) -> int:
        return self.n_samples

    @property
    def block(self) -> np.ndarray:
        """Accelerometer and gyroscope side by side, shape ``(n, 6)``, m/s² then rad/s."""
        return np.hstack([self.acc_mps2, self.gyro_rads])


@dataclass(frozen=True)
class FifoStatus:
    """What a driver learnt from the FIFO status registers.

    Attributes
    ----------
    n_samples : int
        Complete samples waiting in the FIFO.
    overflow : bool
        The chip says it overwrote or dropped data.
    t_lo_s, t_hi_s : float
        Host times just before and just after the transaction that read the count, seconds.
    info : Any
        Chip-specific extras the sample read needs (e.g. the tagged FIFO's word count).
    """

    n_samples: int
    overflow: bool
    t_lo_s: float
    t_hi_s: float
    info: Any = None

    @property
    def t_s(self) -> float:
        """Best guess of when the count was latched: the middle of its transaction, seconds."""
        return 0.5 * (self.t_lo_s + self.t_hi_s)


class FifoMisaligned(Exception):
    """Raised inside a driver when FIFO data are out of step; the driver resets the FIFO."""


class ChipLifecycle(abc.ABC):
    """Set up, then close once: the lifetime every chip driver shares (IMUs and barometers).

    A subclass sets ``_is_setup`` and ``_closed`` in ``__init__`` and provides :meth:`setup` and
    :meth:`_power_down`; ``with driver:`` sets the chip up (unless it is) and closes it at the end.
    """

    _is_setup: bool
    _closed: bool

    @abc.abstractmethod
    def setup(self) -> None:
        """Probe and configure the chip."""

    @abc.abstractmethod
    def _power_down(self) -> None:
        """Put the chip in its lowest-power state."""

    def close(self) -> None:
        """Put the chip to sleep (best effort) and stop using the bus. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._is_setup:
            with contextlib.suppress(OSError):  # unplugged: nothing left to put to sleep
                self._power_down()

    def __enter__(self) -> Self:
        if not self._is_setup:
            self.setup()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ImuDriver(ChipLifecycle):
    """Common interface of the IMU drivers: probe, configure, drain the FIFO, close.

    Parameters
    ----------
    bus : I2CBus
        The I2C bus (``smbus2.SMBus`` or a fake). The driver never opens or closes it.
    address : int, optional
        7-bit I2C address; the chip's usual one when omitted.
    sampling_rate_hz : float
        Wanted output rate, 50..1000 Hz; snapped to the nearest rate the chip supports (the real
        one is in :attr:`sampling_rate_hz` after :meth:`setup`).
    accel_range_g : int
        Accelerometer full scale, ±g: 2, 4, 8 or 16. ±16 g suits a foot, ±8 g the lower back.
    gyro_range_dps : float
        Gyroscope full scale, ±°/s; 2000 by default (see each class's ``GYRO_RANGES_DPS``).
    clock : Clock, optional
        Time source for timestamps and waits; :class:`~firmware_py.clock.SystemClock` by default.
    who_am_i_ids : tuple of int, optional
        WHO_AM_I values accepted at :meth:`setup`; the class default when omitted.
    rate_time_constant_s : float
        Memory of the rate estimator, seconds (see :class:`~firmware_py.imu.timing.SampleClock`).
    stall_timeout_s : float
        :meth:`read_fifo` raises :class:`~firmware_py.exc.ImuFaultError` when no sample arrived for
        this long (the chip was reset or lost power), seconds.

    Notes
    -----
    Use it as a context manager (``with Mpu6050(bus) as imu:``): entering runs :meth:`setup` if it
    has not run, leaving runs :meth:`close`.
    """

    #: Chip name for messages.
    CHIP: ClassVar[str] = ""
    #: The chip's register map.
    REGISTERS: ClassVar[RegisterMap]
    #: WHO_AM_I values accepted by default.
    WHO_AM_I_IDS: ClassVar[tuple[int, ...]] = ()
    #: Usual address first, then the alternative one.
    ADDRESSES: ClassVar[tuple[int, ...]] = ()
    #: Accelerometer ranges, ±g -> sensitivity in the chip's datasheet unit.
    ACCEL_RANGES_G: ClassVar[tuple[float, ...]] = (2, 4, 8, 16)
    #: Gyroscope ranges, ±°/s.
    GYRO_RANGES_DPS: ClassVar[tuple[float, ...]] = (250, 500, 1000, 2000)
    #: On overflow the chip overwrites its oldest samples and keeps the newest readable, whole and
    #: in order: :meth:`read_fifo` then delivers them after the gap instead of resetting the FIFO.
    KEEPS_NEWEST_ON_OVERFLOW: ClassVar[bool] = False
    #: The chip's FIFO data pin the index of the first sample after a FIFO restart (the ICM-42688-P's
    #: packet timestamps): a restart keeps the grid as soon as a sample was read on it.
    _PINS_FIRST_AFTER_RESTART: ClassVar[bool] = False

    def __init__(
        self,
        bus: I2CBus,
        address: int | None = None,
        *,
        sampling_rate_hz: float = 200.0,
        accel_range_g: float = 16,
        gyro_range_dps: float = 2000,
        clock: Clock | None = None,
        who_am_i_ids: tuple[int, ...] | None = None,
        rate_time_constant_s: float = 120.0,
        stall_timeout_s: float = 0.5,
    ) -> None:
        if not MIN_SAMPLING_RATE_HZ <= sampling_rate_hz <= MAX_SAMPLING_RATE_HZ:
            raise ValueError(
                f"sampling_rate_hz={sampling_rate_hz!r} is outside "
                f"{MIN_SAMPLING_RATE_HZ:g}..{MAX_SAMPLING_RATE_HZ:g} Hz"
            )
        if accel_range_g not in self.ACCEL_RANGES_G:
            raise ValueError(
                f"accel_range_g={accel_range_g!r} not supported by {self.CHIP}; allowed: "
                f"{', '.join(f'{r:g}' for r in self.ACCEL_RANGES_G)}"
            )
        if gyro_range_dps not in self.GYRO_RANGES_DPS:
            raise ValueError(
                f"gyro_range_dps={gyro_range_dps!r} not supported by {self.CHIP}; allowed: "
                f"{', '.join(f'{r:g}' for r in self.GYRO_RANGES_DPS)}"
            )
        self.bus = bus
        self.address = self.ADDRESSES[0] if address is None else int(address)
        self.requested_rate_hz = float(sampling_rate_hz)
        self.accel_range_g = accel_range_g
        self.gyro_range_dps = gyro_range_dps
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.who_am_i_ids = tuple(who_am_i_ids) if who_am_i_ids is not None else self.WHO_AM_I_IDS
        self.stall_timeout_s = float(stall_timeout_s)
        self._rate_time_constant_s = float(rate_time_constant_s)
        self.regs = RegisterDevice(bus, self.address, self.REGISTERS)
        # Cached at setup().
        self.who_am_i: int | None = None
        self.sampling_rate_hz: float = math.nan
        self._acc_scale = math.nan  # m/s² per LSB
        self._gyro_scale = math.nan  # rad/s per LSB
        self._timing: SampleClock | None = None
        # Stream state.
        self._is_setup = False
        self._closed = False
        self._k_next = 0  # grid index of the next sample to deliver
        self._t_last_s = math.nan  # time of the last delivered sample
        self._t_progress_s = math.nan  # host time samples last arrived (or setup)
        self._pending_gap: str | None = None
        self._fifo_suspect = False
        self._t_resume = (math.nan, math.nan)  # host times around the write that (re)started the FIFO
        self._resume_mid_period = False  # time that write halfway between two samples of the grid
        self._grid_read = False  # samples were read since the grid (re)started

    # ---------------------------------------------------------------- public API

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    @abc.abstractmethod
    def fifo_capacity_samples(self) -> int:
        """Samples the FIFO holds: read at least every ``fifo_capacity_samples / rate`` seconds."""

    @property
    def estimated_rate_hz(self) -> float:
        """The chip's real output rate as estimated from the FIFO counts, Hz (NaN before setup)."""
        return self._timing.rate_hz if self._timing is not None else math.nan

    def setup(self) -> None:
        """Probe WHO_AM_I, wake the chip, set rate and ranges, and start the FIFO.

        Safe to call again, e.g. after an :class:`~firmware_py.exc.ImuFaultError` (the chip was
        unplugged and came back reset); the next batch then reports a ``"restart"`` gap.

        Raises
        ------
        ImuNotFoundError
            When nothing answers at the address, or WHO_AM_I is not one of :attr:`who_am_i_ids`.
        ImuFaultError
            When the chip answers the probe but then stops answering during configuration.
        """
        self._check_open()
        where = f"{bus_name(self.bus)} address 0x{self.address:02x}"
        try:
            who = self.regs.read("WHO_AM_I")
        except OSError as e:
            raise ImuNotFoundError(f"no {self.CHIP} answered on {where} ({e}); {_WIRING_FIX}") from e
        if who not in self.who_am_i_ids:
            expected = ", ".join(f"0x{i:02x}" for i in self.who_am_i_ids)
            raise ImuNotFoundError(
                f"{self.CHIP} expected on {where} but WHO_AM_I read 0x{who:02x} (expected {expected}); "
                f"{_WIRING_FIX}, or pick the right chip"
            )
        self.who_am_i = who
        try:
            self.sampling_rate_hz = float(self._configure())
            self._start_fifo()
        except OSError as e:
            raise self._fault("stopped answering during setup", e) from e
        t_lo, t_hi = self._t_resume
        acc_scale, gyro_scale = self._scales()
        self._acc_scale, self._gyro_scale = float(acc_scale), float(gyro_scale)
        if self._timing is None or self._timing.nominal_rate_hz != self.sampling_rate_hz:
            self._timing = SampleClock(self.sampling_rate_hz, time_constant_s=self._rate_time_constant_s)
        else:
            self._timing.restart(keep_rate=True)
        # The FIFO started empty: "0 samples written" is the grid's first observation.
        self._timing.observe(0, 0.5 * (t_lo + t_hi), t_lo, t_hi)
        if self._is_setup and not math.isnan(self._t_last_s):
            self._pending_gap = "restart"
        self._k_next = 0
        self._t_progress_s = t_hi
        self._fifo_suspect = False
        self._grid_read = False
        self._is_setup = True

    def read_fifo(self) -> FifoBatch:
        """Drain the FIFO: every complete sample waiting, in SI units, with timestamps.

        Returns
        -------
        FifoBatch
            Possibly empty. On an overflow ``overflow=True`` and ``gap`` says which samples were
            lost. A chip that keeps its newest samples (:attr:`KEEPS_NEWEST_ON_OVERFLOW`) delivers
            them in this batch, the gap ending at the first of them (its index is the count of
            samples written by the time the FIFO count was latched, from the chip's estimated rate,
            minus those read); any other chip has its FIFO reset and the batch is empty.

        Raises
        ------
        ImuFaultError
            When a transfer fails (the chip is unplugged, or the bus glitched: calling
            :meth:`read_fifo` again may work; after an unplug call :meth:`setup`), or when no sample
            arrived for ``stall_timeout_s`` (the chip lost power and came back asleep).
        DeviceClosedError
            After :meth:`close`.
        RuntimeError
            Before :meth:`setup`.
        """
        self._check_ready()
        timing = self._timing
        assert timing is not None
        try:
            if self._fifo_suspect:
                return self._restart_fifo("bus_error")
            status = self._read_status()
            if status.overflow and not self.KEEPS_NEWEST_ON_OVERFLOW:
                return self._restart_fifo("overflow")
            raw = self._empty_raw()
            if status.n_samples:
                self._fifo_suspect = True  # a failure half-way through a drain leaves the FIFO out of step
                raw = self._read_samples(status)
                self._fifo_suspect = False
        except FifoMisaligned:
            self._fifo_suspect = False
            return self._restart_fifo("misaligned")
        except OSError as e:
            raise self._fault("stopped answering", e) from e

        n = raw.shape[0]
        if status.overflow:
            return self._keep_after_overflow(status, raw)
        k0 = self._k_next
        self._k_next += n
        self._delivered(k0, n)
        # An empty read is news only while a sample could not yet be due; beyond that the chip is
        # not sampling as modelled (reset, unplugged) and must not bend the rate estimate.
        if n or status.t_lo_s - self._t_progress_s < 2.0 * timing.period_s:
            timing.observe(self._k_next, status.t_s, status.t_lo_s, status.t_hi_s)
        if n == 0:
            if status.t_s - self._t_progress_s > self.stall_timeout_s:
                silent_s = status.t_s - self._t_progress_s
                raise ImuFaultError(
                    f"{self.CHIP} on {bus_name(self.bus)} address 0x{self.address:02x} delivered no sample "
                    f"for {silent_s:.2f} s (reset or lost power?); {_WIRING_FIX}, then call setup() again"
                )
            return self._batch(np.empty(0), raw)
        self._t_progress_s = status.t_s
        self._grid_read = True
        t_s = timing.times(k0, n)
        # Strictly increasing across batches even when the estimate moves a little.
        if t_s[0] <= self._t_last_s:
            t_s = np.maximum(t_s, self._t_last_s + 0.5 * timing.period_s * np.arange(1, n + 1))
        gap = None
        if self._pending_gap is not None:
            n_lost = (
                -1
                if math.isnan(self._t_last_s)
                else max(round((t_s[0] - self._t_last_s) / timing.period_s) - 1, 0)
            )
            gap = Gap(self._t_last_s, float(t_s[0]), n_lost, self._pending_gap)
            self._pending_gap = None
        self._t_last_s = float(t_s[-1])
        return self._batch(t_s, raw, gap=gap)

    def reset_fifo(self) -> FifoBatch:
        """Empty the FIFO now, dropping what it held.

        Returns
        -------
        FifoBatch
            Empty; its ``gap`` (reason ``"restart"``) says which samples were dropped.

        Raises
        ------
        ImuFaultError
            When the chip does not answer.
        """
        self._check_ready()
        return self._restart_fifo("restart")

    def scale(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Convert raw counts ``(n, 6)`` (accel x/y/z, gyro x/y/z) to (m/s², rad/s) at the current ranges."""
        raw = np.asarray(raw)
        return raw[:, :3] * self._acc_scale, raw[:, 3:] * self._gyro_scale

    def __repr__(self) -> str:
        state = (
            "closed" if self._closed else f"{self.sampling_rate_hz:g} Hz" if self._is_setup else "not set up"
        )
        return f"{type(self).__name__}(address=0x{self.address:02x}, {state})"

    # ---------------------------------------------------------------- for subclasses

    @abc.abstractmethod
    def _configure(self) -> float:
        """Reset and wake the chip, set rate and ranges; return the real nominal rate in Hz."""

    @abc.abstractmethod
    def _start_fifo(self) -> None:
        """Configure the FIFO for accel + gyro, clear stale flags, start it with :meth:`_reset_fifo_hw`."""

    @abc.abstractmethod
    def _reset_fifo_hw(self) -> None:
        """Empty the FIFO (it keeps filling afterwards).

        The write that lets the FIFO fill again must be the last transaction, made with
        :meth:`_resume_write` so that its time is known.
        """

    def _resume_write(self, register: str, **fields: Any) -> None:
        """Read-modify-write ``register`` and record the host times around the write itself."""
        reg = self.REGISTERS[register]
        raw = reg.encode(self.regs.read(register), **fields)
        if self._resume_mid_period:
            self._wait_mid_period()
        t0 = self.clock.monotonic()
        self.regs.write(register, raw)
        self._t_resume = (t0, self.clock.monotonic())

    def _wait_mid_period(self) -> None:
        """Wait until the grid is halfway between two samples (less half the last resuming write).

        The FIFO's first sample after a restart is the first the chip writes after the resuming
        write: a write timed there is a half period from either candidate, so the grid's phase
        error (well under half a period once settled) cannot make its index one off.
        """
        timing = self._timing
        assert timing is not None
        half_write_s = 0.5 * (self._t_resume[1] - self._t_resume[0]) if self._is_setup else 0.0
        half_write_s = half_write_s if math.isfinite(half_write_s) else 0.0
        now = self.clock.monotonic()
        t_next = float(timing.times(timing.first_index_after(now), 1)[0])
        start = t_next - 0.5 * timing.period_s - half_write_s
        while start < now:
            start += timing.period_s
        self.clock.sleep(start - now)

    @abc.abstractmethod
    def _read_status(self) -> FifoStatus:
        """Read the FIFO count and overflow flags."""

    @abc.abstractmethod
    def _read_samples(self, status: FifoStatus) -> np.ndarray:
        """Read the ``status.n_samples`` complete samples; return int16 ``(n, 6)`` accel then gyro.

        Raise :class:`FifoMisaligned` when the data are out of step.
        """

    @abc.abstractmethod
    def _scales(self) -> tuple[float, float]:
        """Return (m/s² per LSB, rad/s per LSB) at the configured ranges."""

    def _timed_read(self, fn: Any, *args: Any) -> tuple[Any, float, float]:
        """Run ``fn(*args)``; return its result and the host times just before and just after."""
        t0 = self.clock.monotonic()
        out = fn(*args)
        return out, t0, self.clock.monotonic()

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _empty_raw() -> np.ndarray:
        return np.empty((0, 6), dtype=np.int16)

    def _batch(
        self, t_s: np.ndarray, raw: np.ndarray, *, overflow: bool = False, gap: Gap | None = None
    ) -> FifoBatch:
        acc_mps2, gyro_rads = self.scale(raw)
        assert self._timing is not None
        return FifoBatch(
            t_s=np.asarray(t_s, dtype=np.float64),
            acc_mps2=acc_mps2,
            gyro_rads=gyro_rads,
            raw=raw,
            overflow=overflow,
            gap=gap,
            sampling_rate_hz=self._timing.rate_hz,
        )

    def _restart_fifo(self, reason: str) -> FifoBatch:
        """Reset the FIFO and report the samples lost as a gap ending at the next sample to come."""
        timing = self._timing
        assert timing is not None
        # A grid read long enough knows its phase to well under half a period: it places the
        # restart, its resuming write timed halfway between two samples. A newer one does not (the
        # run's first read failed, or its first second): the restart starts a new grid, as setup()
        # does, rather than number what follows a sample off for good.
        settled = self._PINS_FIRST_AFTER_RESTART or timing.span_s >= _GRID_SETTLED_S
        keep_grid = self._grid_read and settled
        self._resume_mid_period = keep_grid
        try:
            self._reset_fifo_hw()
        except OSError as e:
            self._fifo_suspect = True
            raise self._fault("stopped answering while resetting its FIFO", e) from e
        finally:
            self._resume_mid_period = False
        self._fifo_suspect = False
        t_lo, t_hi = self._t_resume
        t_resume = 0.5 * (t_lo + t_hi)
        # The chip's sample clock keeps running: the next sample in the FIFO is the first grid
        # point after the write that restarted it.
        k_next = max(timing.first_index_after(t_resume), self._k_next)
        t_next = float(timing.times(k_next, 1)[0])
        gap = Gap(self._t_last_s, t_next, k_next - self._k_next, reason)
        if keep_grid:
            self._k_next = k_next
        else:
            # Start a new grid at the restart ("0 samples written"), keeping the rate. The gap's
            # count is the old grid's extrapolation: it may be a sample or two off.
            timing.restart(keep_rate=True)
            timing.observe(0, t_resume, t_lo, t_hi)
            self._k_next = 0
            self._grid_read = False
            gap = Gap(self._t_last_s, float(timing.times(0, 1)[0]), gap.n_lost, reason)
        self._t_progress_s = t_hi
        self._pending_gap = None
        return self._batch(
            np.empty(0), self._empty_raw(), overflow=reason in ("overflow", "misaligned"), gap=gap
        )

    def _keep_after_overflow(self, status: FifoStatus, raw: np.ndarray) -> FifoBatch:
        """Deliver the samples an overflowed FIFO kept, after a gap for those it overwrote."""
        timing = self._timing
        assert timing is not None
        n = raw.shape[0]
        if n == 0:  # nothing whole was left: start again from an empty FIFO
            return self._restart_fifo("overflow")
        # The FIFO held the newest samples: the last one read is the last the chip had written when
        # it latched the count (overwriting needs a full FIFO, so at least one sample was lost).
        k_written = timing.first_index_after(status.t_s)
        k_first = max(self._overflow_first_index(k_written - n), self._k_next + 1)
        if self._overflow_index_counted():  # a count as good as a normal read's: the grid learns from it
            timing.observe(k_first + n, status.t_s, status.t_lo_s, status.t_hi_s)
        t_s = timing.times(k_first, n)
        if t_s[0] <= self._t_last_s:
            t_s = np.maximum(t_s, self._t_last_s + 0.5 * timing.period_s * np.arange(1, n + 1))
        gap = Gap(self._t_last_s, float(t_s[0]), k_first - self._k_next, "overflow")
        self._k_next = k_first + n
        self._delivered(k_first, n)
        self._grid_read = True
        self._t_progress_s = status.t_s
        self._t_last_s = float(t_s[-1])
        self._pending_gap = None
        return self._batch(t_s, raw, overflow=True, gap=gap)

    def _overflow_first_index(self, k_estimate: int) -> int:
        """Return the grid index of the first sample kept after an overflow, from its estimate.

        Chips that number their samples (the tagged FIFO's time-slot counter) pin it down here.
        """
        return k_estimate

    def _overflow_index_counted(self) -> bool:
        """Tell whether the last :meth:`_overflow_first_index` came from the chip's own count.

        Then the samples written by the time of the count are known exactly (the first kept one's
        index plus those read), as after any read, and the rate estimate learns from them.
        """
        return False

    def _delivered(self, k0: int, n: int) -> None:
        """Note that the samples just read (by :meth:`_read_samples`) are ``k0 .. k0 + n - 1``."""

    def _fault(self, what: str, e: OSError) -> ImuFaultError:
        return ImuFaultError(
            e.errno,
            f"{self.CHIP} on {bus_name(self.bus)} address 0x{self.address:02x} {what} ({e}); "
            f"{_WIRING_FIX}; retry read_fifo(), or call setup() again after a reconnect",
        )

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosedError(f"{self.CHIP} driver at address 0x{self.address:02x} used after close()")

    def _check_ready(self) -> None:
        self._check_open()
        if not self._is_setup:
            raise RuntimeError(f"{self.CHIP} driver at address 0x{self.address:02x}: call setup() first")
