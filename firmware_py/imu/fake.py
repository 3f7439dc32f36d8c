"""Register-level fake chips and a fake I2C bus, for tests, replays and ``--fast`` runs.

:class:`FakeI2CBus` satisfies :class:`~firmware_py.bus.I2CBus`: it routes every transaction
(``read_byte_data`` .. ``i2c_rdwr`` with real :class:`smbus2.i2c_msg` objects) to the fake device at
that address, logs it, and answers OSError 121 (NACK) where no device sits.

There is one fake per supported chip family. Each holds the chip's registers (power-on values from
:mod:`firmware_py.imu.registers`), reacts to writes as the datasheet says (reset bits, sleep, FIFO
reset and modes, self-clearing bits, clear-on-read status), and fills its FIFO on the injected
clock at the configured rate times ``clock_error`` (the chip's oscillator error, e.g. 1.02) from a
:class:`SourceRecording`, quantised at the configured range and saturated at ±32767. FIFO size and
overflow behaviour follow the datasheets: the MPU-6050 overwrites its oldest BYTES (frames lose
alignment) and sets FIFO_OFLOW_INT; ST parts in continuous mode overwrite the oldest data and set
the overrun flag; the ICM-42688-P in stream mode drops whole packets, counts them in
FIFO_LOST_PKT and sets FIFO_FULL_INT (the oldest by default; which ones the datasheet does not say,
see :class:`FakeIcm42688`). Chips power up asleep and produce nothing until woken.

Faults: :meth:`FakeDevice.inject_faults` (OSError 121 / 5 on a fraction of transactions, seeded),
a wrong WHO_AM_I (``who_am_i=``), :meth:`FakeDevice.unplug` / :meth:`FakeDevice.replug` (every
transaction fails with OSError 121 meanwhile; the chip comes back RESET: asleep, FIFO off,
registers at their defaults).

Truth: an IMU fake records every sample it put in its FIFO (``produced``, ``produced_t_s``,
``produced_raw``) and the ``produced`` count at every FIFO reset (``fifo_resets``), so tests can
check that every sample delivered was read once, in order, with the right time.
"""

from __future__ import annotations

import ctypes
import errno
import math
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from firmware_py.bus import SMBUS_BLOCK_MAX
from firmware_py.clock import Clock, SystemClock
from firmware_py.imu.baro import Bmp280Calibration, Bmp388Calibration, bmp280_compensate, bmp388_compensate
from firmware_py.imu.base import STANDARD_GRAVITY_MPS2
from firmware_py.imu.registers import (
    BMP280_REGISTERS,
    BMP388_REGISTERS,
    ICM42688_ACCEL_LSB_PER_G,
    ICM42688_FIFO_CAPACITY_BYTES,
    ICM42688_FIFO_HEADER,
    ICM42688_FIFO_PACKET3,
    ICM42688_FIFO_TMST_TICKS_PER_US,
    ICM42688_GYRO_LSB_PER_DPS,
    ICM42688_REGISTERS,
    LSM6DS3_FIFO_CAPACITY_WORDS,
    LSM6DS3_REGISTERS,
    LSM6DS_ACCEL_MG_PER_LSB,
    LSM6DS_FIFO_DATA_SET,
    LSM6DS_GYRO_MDPS_PER_LSB,
    LSM6DSL_FIFO_CAPACITY_WORDS,
    LSM6DSL_REGISTERS,
    LSM6DSO_FIFO_CAPACITY_WORDS,
    LSM6DSO_FIFO_WORD,
    LSM6DSO_REGISTERS,
    MPU_ACCEL_LSB_PER_G,
    MPU_FIFO_CAPACITY_BYTES,
    MPU_GYRO_LSB_PER_DPS,
    MPU_REGISTERS,
    RegisterMap,
)

__all__ = [
    "FAKE_IMUS",
    "FakeBmp280",
    "FakeBmp388",
    "FakeDevice",
    "FakeI2CBus",
    "FakeIcm42688",
    "FakeImu",
    "FakeLsm6ds3",
    "FakeLsm6dsl",
    "FakeLsm6dso",
    "FakeLsm6dsox",
    "FakeMpu6050",
    "FakeMpu6500",
    "FakeMpu9250",
    "SourceRecording",
    "Transaction",
]

_G_MPS2 = STANDARD_GRAVITY_MPS2
_I2C_M_RD = 0x0001
_FULL_SCALE = 32767


# --------------------------------------------------------------------------------------------------
# Source data
# --------------------------------------------------------------------------------------------------


@dataclass
class SourceRecording:
    """The motion a fake IMU "feels": a recording it samples at its own rate, looping at the end.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, seconds (only their count and rate matter).
    acc_mps2 : numpy.ndarray
        Acceleration, shape ``(n, 3)``, m/s².
    gyro_rads : numpy.ndarray or None
        Angular rate, shape ``(n, 3)``, rad/s; zeros when None.
    sampling_rate_hz : float
        Rate of the recording, Hz. The fake picks, for a sample taken ``t`` seconds after it was
        created, the recording's sample nearest to ``t`` (modulo the recording's length).
    """

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray | None
    sampling_rate_hz: float

    def __post_init__(self) -> None:
        self.acc_mps2 = np.asarray(self.acc_mps2, dtype=np.float64).reshape(-1, 3)
        n = self.acc_mps2.shape[0]
        self.gyro_rads = (
            np.zeros((n, 3))
            if self.gyro_rads is None
            else np.asarray(self.gyro_rads, dtype=np.float64).reshape(-1, 3)
        )
        self.t_s = np.asarray(self.t_s, dtype=np.float64)
        if n == 0 or self.gyro_rads.shape[0] != n or self.t_s.shape[0] != n:
            raise ValueError(
                f"source recording: t_s, acc_mps2 and gyro_rads must have the same non-zero length; "
                f"got {self.t_s.shape[0]}, {n}, {self.gyro_rads.shape[0]}"
            )
        if not self.sampling_rate_hz > 0:
            raise ValueError(f"source recording: sampling_rate_hz must be > 0; got {self.sampling_rate_hz!r}")
        self._quantised: dict[tuple[float, float], np.ndarray] = {}

    @classmethod
    def still(cls, duration_s: float = 1.0, sampling_rate_hz: float = 100.0) -> SourceRecording:
        """Standing still, sensor z axis up: +1 g on z, no rotation."""
        n = max(int(duration_s * sampling_rate_hz), 1)
        acc = np.zeros((n, 3))
        acc[:, 2] = _G_MPS2
        return cls(np.arange(n) / sampling_rate_hz, acc, None, sampling_rate_hz)

    @classmethod
    def noise(
        cls,
        duration_s: float = 10.0,
        sampling_rate_hz: float = 200.0,
        *,
        seed: int = 0,
        acc_sd_mps2: float = 30.0,
        gyro_sd_rads: float = 5.0,
    ) -> SourceRecording:
        """Gaussian noise (every sample different: good for checking that nothing is lost or doubled)."""
        rng = np.random.default_rng(seed)
        n = max(int(duration_s * sampling_rate_hz), 1)
        acc = rng.normal(0.0, acc_sd_mps2, (n, 3))
        gyro = rng.normal(0.0, gyro_sd_rads, (n, 3))
        return cls(np.arange(n) / sampling_rate_hz, acc, gyro, sampling_rate_hz)

    def quantised(self, lsb_per_g: float, lsb_per_dps: float) -> np.ndarray:
        """Return the whole recording as int16 counts ``(n, 6)`` at a range, saturated at ±32767."""
        key = (float(lsb_per_g), float(lsb_per_dps))
        if key not in self._quantised:
            acc = np.rint(self.acc_mps2 / _G_MPS2 * lsb_per_g)
            gyro = np.rint(np.degrees(self.gyro_rads) * lsb_per_dps)
            self._quantised[key] = np.clip(np.hstack([acc, gyro]), -_FULL_SCALE, _FULL_SCALE).astype(np.int16)
        return self._quantised[key]

    def index(self, t_rel_s: np.ndarray) -> np.ndarray:
        """Return the recording's sample index for times since the start (looping)."""
        return np.rint(np.asarray(t_rel_s) * self.sampling_rate_hz).astype(np.int64) % self.acc_mps2.shape[0]


# --------------------------------------------------------------------------------------------------
# Bus
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    """One logged bus transfer.

    Attributes
    ----------
    t_s : float
        Bus clock time, seconds.
    address : int
        Device address.
    kind : str
        ``"read"`` or ``"write"``.
    register : int or None
        Register the transfer started at (None for an ``i2c_rdwr`` read continuing after a write).
    data : bytes
        Bytes written, or read (empty when it failed).
    error : int or None
        errno of the OSError it raised, if any.
    """

    t_s: float
    address: int
    kind: str
    register: int | None
    data: bytes
    error: int | None = None


class FakeI2CBus:
    """A fake I2C bus: routes transfers to fake devices by address and logs every one.

    Parameters
    ----------
    devices : iterable of FakeDevice
        Devices on the bus (each at its ``address``).
    clock : Clock, optional
        Time stamped on the log; by default the first device's clock.
    log_limit : int or None
        Keep at most this many transactions in :attr:`log` (oldest dropped); None keeps all.
    """

    spec = "fake"

    def __init__(
        self,
        devices: Iterable[FakeDevice] = (),
        *,
        clock: Clock | None = None,
        log_limit: int | None = 100_000,
    ) -> None:
        self.devices: dict[int, FakeDevice] = {}
        for device in devices:
            self.attach(device)
        first = next(iter(self.devices.values()), None)
        self.clock: Clock = (
            clock if clock is not None else (first.clock if first is not None else SystemClock())
        )
        self.log: deque[Transaction] = deque(maxlen=log_limit)
        self.closed = False

    def attach(self, device: FakeDevice) -> None:
        """Put ``device`` on the bus at ``device.address``.

        Raises
        ------
        ValueError
            When another device already answers at that address (an address clash).
        """
        if device.address in self.devices:
            raise ValueError(
                f"address 0x{device.address:02x} is already taken by {self.devices[device.address]!r}"
            )
        self.devices[device.address] = device

    def detach(self, address: int) -> FakeDevice:
        """Take the device at ``address`` off the bus and return it."""
        return self.devices.pop(address)

    def __getitem__(self, address: int) -> FakeDevice:
        return self.devices[address]

    # -- smbus2 API ---------------------------------------------------------------------------------

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte at ``register``."""
        return self._read(i2c_addr, register, 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: bool | None = None) -> None:
        """Write one byte at ``register``."""
        self._write(i2c_addr, register, bytes([value & 0xFF]))

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` (at most 32) bytes from ``register`` on.

        Raises
        ------
        ValueError
            When ``length`` exceeds 32, as smbus2 does.
        """
        if length > SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {SMBUS_BLOCK_MAX} bytes")
        return list(self._read(i2c_addr, register, length))

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """Write up to 32 bytes from ``register`` on."""
        if len(data) > SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {SMBUS_BLOCK_MAX} bytes")
        self._write(i2c_addr, register, bytes(data))

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Run :class:`smbus2.i2c_msg` messages as one combined transaction, filling read buffers."""
        started: set[int] = set()
        for msg in i2c_msgs:
            address = int(msg.addr)
            device = self._device(address, "write" if not msg.flags & _I2C_M_RD else "read", None)
            try:
                if address not in started:
                    device.begin()
                    started.add(address)
                if msg.flags & _I2C_M_RD:
                    data = device.read(int(msg.len))
                    ctypes.memmove(msg.buf, data, len(data))
                    self._log(address, "read", None, data)
                else:
                    data = bytes(msg)
                    device.set_pointer(data[0])
                    if len(data) > 1:
                        device.write(data[1:])
                    self._log(address, "write", data[0], data[1:])
            except OSError as e:
                self._log(address, "read" if msg.flags & _I2C_M_RD else "write", None, b"", e.errno)
                raise

    def close(self) -> None:
        """Mark the bus closed (the fake keeps working; this only records it)."""
        self.closed = True

    def __enter__(self) -> FakeI2CBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for tests ----------------------------------------------------------------------------

    def writes(self, address: int | None = None) -> list[tuple[int, int]]:
        """Return every byte written as ``(register, value)``, in order (for one address, or all)."""
        out = []
        for tr in self.log:
            if (
                tr.kind == "write"
                and tr.error is None
                and tr.register is not None
                and (address is None or tr.address == address)
            ):
                out.extend((tr.register + i, b) for i, b in enumerate(tr.data))
        return out

    def last_write(self, address: int, register: int) -> int | None:
        """Return the last value written to ``register`` of ``address`` (None if never written)."""
        for reg, value in reversed(self.writes(address)):
            if reg == register:
                return value
        return None

    # -- internals ------------------------------------------------------------------------------------

    def _device(self, address: int, kind: str, register: int | None) -> FakeDevice:
        device = self.devices.get(address)
        if device is None:
            self._log(address, kind, register, b"", errno.EREMOTEIO)
            raise OSError(errno.EREMOTEIO, f"Remote I/O error: no device at 0x{address:02x}")
        return device

    def _read(self, address: int, register: int, length: int) -> bytes:
        device = self._device(address, "read", register)
        try:
            device.begin()
            device.set_pointer(register)
            data = device.read(length)
        except OSError as e:
            self._log(address, "read", register, b"", e.errno)
            raise
        self._log(address, "read", register, data)
        return data

    def _write(self, address: int, register: int, data: bytes) -> None:
        device = self._device(address, "write", register)
        try:
            device.begin()
            device.set_pointer(register)
            device.write(data)
        except OSError as e:
            self._log(address, "write", register, b"", e.errno)
            raise
        self._log(address, "write", register, data)

    def _log(
        self, address: int, kind: str, register: int | None, data: bytes, error: int | None = None
    ) -> None:
        self.log.append(Transaction(self.clock.monotonic(), address, kind, register, data, error))


# --------------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------------


class FakeDevice:
    """A register file behind an I2C address, with fault injection. Subclasses add behaviour.

    Parameters
    ----------
    address : int, optional
        Bus address; the chip's usual one when omitted.
    clock : Clock, optional
        Time base (:class:`~firmware_py.clock.FakeClock` in tests); real time by default.
    who_am_i : int, optional
        Value of the id register (set it wrong to test the probe).
    fault_rate : float
        Fraction of transactions that raise OSError (see :meth:`inject_faults`).
    fault_errnos : tuple of int
        errnos to pick from: 121 (EREMOTEIO, a NACK) and 5 (EIO, a bus fault).
    seed : int
        Seed of the fault RNG.
    """

    REGISTERS: ClassVar[RegisterMap]
    ADDRESSES: ClassVar[tuple[int, ...]]
    ID_REGISTER: ClassVar[str] = "WHO_AM_I"
    DEFAULT_ID: ClassVar[int]

    def __init__(
        self,
        address: int | None = None,
        *,
        clock: Clock | None = None,
        who_am_i: int | None = None,
        fault_rate: float = 0.0,
        fault_errnos: tuple[int, ...] = (errno.EREMOTEIO, errno.EIO),
        seed: int = 0,
    ) -> None:
        self.address = self.ADDRESSES[0] if address is None else int(address)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.who_am_i = self.DEFAULT_ID if who_am_i is None else int(who_am_i)
        self.inject_faults(fault_rate, fault_errnos, seed)
        self._unplugged_until: float | None = None
        self._read_only = {
            reg.address + i for reg in self.REGISTERS if reg.access == "r" for i in range(reg.n_bytes)
        }
        self._reset_bytes = self.REGISTERS.reset_bytes()
        self.regs = bytearray(256)
        self._pointer = 0
        self.n_power_on_resets = 0
        self.n_faults = 0
        self.power_on_reset()
        self.n_power_on_resets = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(address=0x{self.address:02x})"

    # -- lifetime and faults ------------------------------------------------------------------------

    def power_on_reset(self) -> None:
        """Every register to its power-on value (what a reset or a replug does)."""
        self.regs[:] = bytes(256)
        for address, value in self._reset_bytes.items():
            self.regs[address] = value
        self.regs[self.REGISTERS[self.ID_REGISTER].address] = self.who_am_i
        self._pointer = 0
        self.n_power_on_resets += 1
        self._on_reset()

    def inject_faults(
        self, rate: float, errnos: tuple[int, ...] = (errno.EREMOTEIO, errno.EIO), seed: int = 0
    ) -> None:
        """Make a fraction ``rate`` of transactions raise ``OSError(errno)`` (errno drawn from ``errnos``)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be in 0..1; got {rate!r}")
        self.fault_rate = float(rate)
        self.fault_errnos = tuple(errnos)
        self._rng = random.Random(seed)

    def unplug(self, duration_s: float = math.inf) -> None:
        """Disconnect now for ``duration_s`` seconds of the device clock (until :meth:`replug` by default).

        Every transaction meanwhile raises OSError 121; the first one after that finds the chip
        reset (as after a power cycle).
        """
        now = self.clock.monotonic()
        self.begin_time(now)  # whatever was due before the unplug happened
        self._unplugged_until = now + duration_s

    def replug(self) -> None:
        """Reconnect now; the chip comes back from a power-on reset."""
        if self._unplugged_until is not None:
            self._unplugged_until = self.clock.monotonic()

    @property
    def plugged(self) -> bool:
        """False while unplugged."""
        return self._unplugged_until is None or self.clock.monotonic() >= self._unplugged_until

    def begin(self) -> None:
        """Start a transaction: apply faults, then bring the device state up to now."""
        now = self.clock.monotonic()
        if self._unplugged_until is not None:
            if now < self._unplugged_until:
                self.n_faults += 1
                raise OSError(errno.EREMOTEIO, f"Remote I/O error: 0x{self.address:02x} unplugged")
            self._unplugged_until = None
            self.power_on_reset()
        if self.fault_rate and self._rng.random() < self.fault_rate:
            self.n_faults += 1
            code = self._rng.choice(self.fault_errnos)
            raise OSError(code, f"injected fault ({errno.errorcode.get(code, code)}) at 0x{self.address:02x}")
        self.begin_time(now)

    def begin_time(self, now_s: float) -> None:
        """Bring the device state up to ``now_s`` (IMUs fill their FIFO here)."""

    # -- register access --------------------------------------------------------------------------------

    def set_pointer(self, register: int) -> None:
        """Set the register address the next read or write starts at."""
        self._pointer = register & 0xFF

    def read(self, length: int) -> bytes:
        """Read ``length`` bytes from the register pointer on (auto-increment per chip rules)."""
        fast = self._read_burst(self._pointer, length)
        if fast is not None:
            return fast
        out = bytearray()
        reg = self._pointer
        for _ in range(length):
            out.append(self._read_byte(reg) & 0xFF)
            reg = self._next_address(reg)
        self._pointer = reg
        return bytes(out)

    def write(self, data: bytes) -> None:
        """Write ``data`` from the register pointer on."""
        reg = self._pointer
        for value in data:
            if reg not in self._read_only:
                old = self.regs[reg]
                self.regs[reg] = value
                self._on_write(reg, old, value)
            reg = self._next_address(reg)
        self._pointer = reg

    def field(self, register: str, name: str) -> Any:
        """Decode field ``name`` of ``register`` from the current register bytes."""
        reg = self.REGISTERS[register]
        raw = reg.from_bytes(bytes(self.regs[reg.address : reg.address + reg.n_bytes]))
        return reg.field(name).decode(raw)

    # Hooks.
    def _on_reset(self) -> None:
        """React to a power-on reset (subclasses reset their own state)."""

    def _read_byte(self, reg: int) -> int:
        return self.regs[reg]

    def _on_write(self, reg: int, old: int, new: int) -> None:
        """React to a byte stored in a writable register."""

    def _next_address(self, reg: int) -> int:
        return (reg + 1) & 0xFF

    def _read_burst(self, reg: int, length: int) -> bytes | None:
        """Fast path for FIFO data registers; None means "byte by byte"."""
        return None


class FakeImu(FakeDevice):
    """The FIFO machinery every fake IMU shares: a sample grid on the clock, quantisation, truth.

    Parameters
    ----------
    address : int, optional
        Bus address.
    source : SourceRecording, optional
        What the chip measures; standing still by default.
    clock : Clock, optional
        Time base.
    clock_error : float
        Real rate / configured rate of the chip's oscillator (1.02: 2 % fast).
    accel_gain : float
        What the accelerometer reads / what it feels (1.04: 4 % high, |a| = 10.2 m/s² at rest, as
        a unit with a gain error reads); the gyroscope is exact.
    fifo_capacity_bytes : int, optional
        FIFO size; the datasheet's by default.
    keep_produced : bool
        Keep the time and raw counts of every sample put in the FIFO (:attr:`produced_t_s`,
        :attr:`produced_raw`: the truth tests compare with). A simulated device run that never
        reads them passes False: kept, they grow by about 0.9 MB a minute at 200 Hz.
    **kwargs
        ``who_am_i``, ``fault_rate``, ``fault_errnos``, ``seed`` as for :class:`FakeDevice`.
    """

    FIFO_CAPACITY_BYTES: ClassVar[int]
    #: Bytes dropped at a time when the FIFO is full (1 for a byte FIFO, a word or packet size otherwise).
    DROP_UNIT: ClassVar[int] = 1
    #: Bytes of one complete sample in the FIFO.
    SAMPLE_BYTES: ClassVar[int] = 12

    def __init__(
        self,
        address: int | None = None,
        *,
        source: SourceRecording | None = None,
        clock: Clock | None = None,
        clock_error: float = 1.0,
        accel_gain: float = 1.0,
        fifo_capacity_bytes: int | None = None,
        keep_produced: bool = True,
        **kwargs: Any,
    ) -> None:
        if not clock_error > 0:
            raise ValueError(f"clock_error must be > 0; got {clock_error!r}")
        if not accel_gain > 0:
            raise ValueError(f"accel_gain must be > 0; got {accel_gain!r}")
        self.source = source if source is not None else SourceRecording.still()
        self.clock_error = float(clock_error)
        self.accel_gain = float(accel_gain)
        self._capacity_override = fifo_capacity_bytes
        self._fifo = bytearray()
        self._chunks_t: list[np.ndarray] = []
        self._chunks_raw: list[np.ndarray] = []
        self.keep_produced = bool(keep_produced)
        self.produced = 0
        self.fifo_resets: list[int] = []
        self.overflows = 0
        self.dropped_bytes = 0
        self._rate_hz: float | None = None
        self._anchor_s: float | None = None
        self._k_next = 0
        self._config: tuple[bool, tuple[float, float]] | None = (
            None  # (accepting, lsb), cached between writes
        )
        super().__init__(address, clock=clock, **kwargs)
        self.t_origin_s = self.clock.monotonic()

    @property
    def fifo_capacity_bytes(self) -> int:
        """FIFO size, bytes."""
        return self._capacity_override if self._capacity_override is not None else self.FIFO_CAPACITY_BYTES

    # -- truth ----------------------------------------------------------------------------------------

    @property
    def produced_t_s(self) -> np.ndarray:
        """True time of every sample put in the FIFO, in order, seconds on the device clock."""
        self._check_kept()
        self._merge_truth()
        return self._chunks_t[0] if self._chunks_t else np.empty(0)

    @property
    def produced_raw(self) -> np.ndarray:
        """Raw counts of every sample put in the FIFO, int16 ``(n, 6)``: accel x/y/z, gyro x/y/z."""
        self._check_kept()
        self._merge_truth()
        return self._chunks_raw[0] if self._chunks_raw else np.empty((0, 6), dtype=np.int16)

    @property
    def fifo_bytes(self) -> int:
        """Bytes waiting in the FIFO now (without advancing time)."""
        return len(self._fifo)

    @property
    def fifo_samples(self) -> int:
        """Complete samples waiting in the FIFO now."""
        return len(self._fifo) // self.SAMPLE_BYTES

    @property
    def rate_hz(self) -> float | None:
        """Real output rate (configured rate times ``clock_error``), Hz; None while not sampling."""
        return None if self._rate_hz is None else self._rate_hz * self.clock_error

    def inject_fifo_bytes(self, data: bytes) -> None:
        """Append raw bytes to the FIFO as if the chip had written them (known-answer tests)."""
        self._fifo += data

    def _check_kept(self) -> None:
        if not self.keep_produced:
            raise RuntimeError("this fake chip does not keep what it produced (keep_produced=False)")

    def _merge_truth(self) -> None:
        if len(self._chunks_t) > 1:
            self._chunks_t = [np.concatenate(self._chunks_t)]
            self._chunks_raw = [np.concatenate(self._chunks_raw)]

    # -- the sample grid --------------------------------------------------------------------------------

    def _on_reset(self) -> None:
        self._fifo.clear()
        self.fifo_resets.append(self.produced)
        self._rate_hz = None
        self._anchor_s = None
        self._k_next = 0
        self._config = None

    def write(self, data: bytes) -> None:
        """Write ``data`` from the register pointer on (and forget the cached configuration)."""
        super().write(data)
        self._config = None

    def begin_time(self, now_s: float) -> None:
        """Put in the FIFO every sample the chip wrote up to ``now_s``."""
        if self._anchor_s is None or self._rate_hz is None:
            return
        period = 1.0 / (self._rate_hz * self.clock_error)
        k_end = math.floor((now_s - self._anchor_s) / period)
        if k_end <= self._k_next:
            return
        k = np.arange(self._k_next, k_end, dtype=np.float64)
        self._k_next = k_end
        if self._config is None:
            accepting = self._fifo_accepting()
            self._config = (accepting, self._lsb() if accepting else (math.nan, math.nan))
        accepting, (lsb_g, lsb_dps) = self._config
        if not accepting:
            return
        t = self._anchor_s + (k + 1.0) * period
        # a gain error scales the counts per g: the same as a range that reads gain times too much
        raw = self.source.quantised(lsb_g * self.accel_gain, lsb_dps)[self.source.index(t - self.t_origin_s)]
        self._push(t, raw, k.astype(np.int64))

    def _push(self, t: np.ndarray, raw: np.ndarray, k: np.ndarray) -> None:
        if self.keep_produced:
            self._chunks_t.append(t)
            self._chunks_raw.append(raw)
        self.produced += len(t)
        self._fifo += self._encode(raw, t, k)
        excess = len(self._fifo) - self.fifo_capacity_bytes
        if excess > 0:
            drop = -(-excess // self.DROP_UNIT) * self.DROP_UNIT
            del self._fifo[:drop]
            self.dropped_bytes += drop
            self.overflows += 1
            self._on_overflow(drop)

    def _update_rate(self) -> None:
        """Re-anchor the sample grid when sampling starts, stops or changes rate."""
        rate = self._production_rate_hz()
        if rate != self._rate_hz:
            self._rate_hz = rate
            self._anchor_s = None if rate is None else self.clock.monotonic()
            self._k_next = 0

    def _clear_fifo(self) -> None:
        self._fifo.clear()
        self.fifo_resets.append(self.produced)

    def _pop(self, n: int, fill: int = 0) -> bytes:
        data = bytes(self._fifo[:n])
        del self._fifo[:n]
        if len(data) < n:
            data += bytes([fill]) * (n - len(data))
        return data

    # -- per chip ---------------------------------------------------------------------------------------

    def _production_rate_hz(self) -> float | None:
        """Return the configured output rate while awake, Hz; None while asleep."""
        raise NotImplementedError

    def _fifo_accepting(self) -> bool:
        raise NotImplementedError

    def _lsb(self) -> tuple[float, float]:
        """(LSB per g, LSB per °/s) at the configured ranges."""
        raise NotImplementedError

    def _encode(self, raw: np.ndarray, t: np.ndarray, k: np.ndarray) -> bytes:
        raise NotImplementedError

    def _on_overflow(self, dropped_bytes: int) -> None:
        """Set the chip's overflow flags."""


# -- InvenSense -----------------------------------------------------------------------------------------


class FakeMpu6050(FakeImu):
    """Fake MPU-6050 / 6500 / 9250 (pick with ``who_am_i``; 0x68 has the 1024-byte FIFO, others 512).

    Powers up asleep (PWR_MGMT_1 = 0x40). Rate = 1 kHz / (1 + SMPLRT_DIV) with DLPF_CFG 1..6,
    8 kHz / (1 + SMPLRT_DIV) with 0 or 7. FIFO frames follow FIFO_EN in register order (accel,
    temperature, gyro x, y, z), big-endian. When full, the oldest bytes are overwritten and
    INT_STATUS.FIFO_OFLOW_INT is set; INT_STATUS clears when read. FIFO_R_W does not auto-increment.
    """

    REGISTERS = MPU_REGISTERS
    ADDRESSES = (0x68, 0x69)
    DEFAULT_ID = 0x68
    DROP_UNIT = 1

    _INT_STATUS = MPU_REGISTERS["INT_STATUS"].address
    _OFLOW = MPU_REGISTERS["INT_STATUS"].field("fifo_oflow_int").mask
    _COUNT = MPU_REGISTERS["FIFO_COUNTH"].address
    _FIFO_R_W = MPU_REGISTERS["FIFO_R_W"].address
    _PWR_MGMT_1 = MPU_REGISTERS["PWR_MGMT_1"]
    _USER_CTRL = MPU_REGISTERS["USER_CTRL"]
    _FIFO_EN = MPU_REGISTERS["FIFO_EN"]
    _RATE_REGS = frozenset(MPU_REGISTERS[n].address for n in ("SMPLRT_DIV", "CONFIG", "PWR_MGMT_1"))

    @property
    def FIFO_CAPACITY_BYTES(self) -> int:
        """1024 bytes on the MPU-6050, 512 on the 6500/9250 family (4096 on the ICM-20689)."""
        return MPU_FIFO_CAPACITY_BYTES.get(self.who_am_i, 512)

    @property
    def SAMPLE_BYTES(self) -> int:
        """Frame size for the current FIFO_EN."""
        return max(len(self._frame_columns()) * 2, 1)

    def _frame_columns(self) -> list[int]:
        en = self._FIFO_EN.decode(self.regs[self._FIFO_EN.address])
        cols: list[int] = []
        if en.accel_fifo_en:
            cols += [0, 1, 2]
        if en.temp_fifo_en:
            cols.append(6)  # temperature
        cols += [3 + i for i, on in enumerate((en.xg_fifo_en, en.yg_fifo_en, en.zg_fifo_en)) if on]
        return cols

    def _production_rate_hz(self) -> float | None:
        if self.field("PWR_MGMT_1", "sleep"):
            return None
        dlpf = self.regs[MPU_REGISTERS["CONFIG"].address] & MPU_REGISTERS["CONFIG"].field("dlpf_cfg").mask
        base_hz = 8000.0 if dlpf in (0, 7) else 1000.0
        return base_hz / (1 + self.field("SMPLRT_DIV", "smplrt_div"))

    def _fifo_accepting(self) -> bool:
        return bool(self.field("USER_CTRL", "fifo_en")) and bool(self._frame_columns())

    def _lsb(self) -> tuple[float, float]:
        return MPU_ACCEL_LSB_PER_G[self.field("ACCEL_CONFIG", "afs_sel")], MPU_GYRO_LSB_PER_DPS[
            self.field("GYRO_CONFIG", "fs_sel")
        ]

    def _encode(self, raw: np.ndarray, t: np.ndarray, k: np.ndarray) -> bytes:
        temp = np.full((raw.shape[0], 1), -3920, dtype=np.int16)  # 25 °C: (25 - 36.53) * 340
        table = np.hstack([raw, temp])
        return table[:, self._frame_columns()].astype(">i2").tobytes()

    def _on_overflow(self, dropped_bytes: int) -> None:
        self.regs[self._INT_STATUS] |= self._OFLOW

    def _read_byte(self, reg: int) -> int:
        if reg == self._INT_STATUS:
            value = self.regs[reg]
            self.regs[reg] = 0  # clear on read
            return value
        if reg == self._COUNT:
            return (len(self._fifo) >> 8) & 0xFF
        if reg == self._COUNT + 1:
            return len(self._fifo) & 0xFF
        if reg == self._FIFO_R_W:
            return self._pop(1)[0]
        return self.regs[reg]

    def _next_address(self, reg: int) -> int:
        return reg if reg == self._FIFO_R_W else (reg + 1) & 0xFF

    def _read_burst(self, reg: int, length: int) -> bytes | None:
        return self._pop(length) if reg == self._FIFO_R_W else None

    def _on_write(self, reg: int, old: int, new: int) -> None:
        if reg == self._PWR_MGMT_1.address and new & self._PWR_MGMT_1.field("device_reset").mask:
            self.power_on_reset()
            return
        if reg == self._USER_CTRL.address:
            reset = self._USER_CTRL.field("fifo_reset").mask
            self_clearing = (
                reset
                | self._USER_CTRL.field("i2c_mst_reset").mask
                | self._USER_CTRL.field("sig_cond_reset").mask
            )
            if new & reset and not old & self._USER_CTRL.field("fifo_en").mask:
                self._clear_fifo()  # only works while FIFO_EN was 0
            self.regs[reg] = new & ~self_clearing
        if reg in self._RATE_REGS:
            self._update_rate()


# -- ST ------------------------------------------------------------------------------------------------


class FakeMpu6500(FakeMpu6050):
    """Fake MPU-6500 (WHO_AM_I 0x70): the MPU-6050's registers, a 512-byte FIFO."""

    DEFAULT_ID = 0x70


class FakeMpu9250(FakeMpu6050):
    """Fake MPU-9250 (WHO_AM_I 0x71): the MPU-6500 inside (its magnetometer is not modelled)."""

    DEFAULT_ID = 0x71


class _FakeLsm6ds(FakeImu):
    """ST parts: CTRL3_C software reset, power-down ODR at reset, IF_INC addressing."""

    ADDRESSES = (0x6A, 0x6B)

    def _lsb(self) -> tuple[float, float]:
        fs_g = 125 if self.field("CTRL2_G", "fs_125") else self.field("CTRL2_G", "fs_g")
        return 1000.0 / LSM6DS_ACCEL_MG_PER_LSB[
            self.field("CTRL1_XL", "fs_xl")
        ], 1000.0 / LSM6DS_GYRO_MDPS_PER_LSB[fs_g]

    def _production_rate_hz(self) -> float | None:
        odr_xl, odr_g = self.field("CTRL1_XL", "odr_xl"), self.field("CTRL2_G", "odr_g")
        if odr_xl == "power_down" or odr_g == "power_down":
            return None
        return float(odr_xl)  # the FIFO writes at the sensors' rate; both must match (checked when batching)

    def _sw_reset(self, reg: int, new: int) -> bool:
        ctrl3 = self.REGISTERS["CTRL3_C"]
        if reg == ctrl3.address and new & ctrl3.field("sw_reset").mask:
            self.power_on_reset()
            return True
        return False

    def _next_address(self, reg: int) -> int:
        if not self.regs[self.REGISTERS["CTRL3_C"].address] & self.REGISTERS["CTRL3_C"].field("if_inc").mask:
            return reg
        return (reg + 1) & 0xFF


class _FakeUntaggedLsm6ds(_FakeLsm6ds):
    """LSM6DS3 / LSM6DSL: 16-bit words, pattern gyro x/y/z then accel x/y/z; continuous mode overwrites."""

    DROP_UNIT = LSM6DS_FIFO_DATA_SET.itemsize  # a whole data set pair: the pattern stays aligned
    SAMPLE_BYTES = LSM6DS_FIFO_DATA_SET.itemsize
    CAPACITY_WORDS: ClassVar[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._over_run = False
        self._popped_words = 0
        super().__init__(*args, **kwargs)

    @property
    def FIFO_CAPACITY_BYTES(self) -> int:
        """The datasheet's FIFO size, bytes."""
        return 2 * self.CAPACITY_WORDS

    def _on_reset(self) -> None:
        super()._on_reset()
        self._over_run = False
        self._popped_words = 0

    def _clear_fifo(self) -> None:
        super()._clear_fifo()
        self._over_run = False
        self._popped_words = 0

    def _fifo_accepting(self) -> bool:
        rate = self._production_rate_hz()
        return (
            rate is not None
            and self.field("FIFO_CTRL5", "fifo_mode") == "continuous"
            and self.field("FIFO_CTRL5", "odr_fifo") == rate
            and self.field("CTRL2_G", "odr_g") == rate
            and self.field("FIFO_CTRL3", "dec_fifo_gyro") == "no_decimation"
            and self.field("FIFO_CTRL3", "dec_fifo_xl") == "no_decimation"
        )

    def _encode(self, raw: np.ndarray, t: np.ndarray, k: np.ndarray) -> bytes:
        sets = np.empty(raw.shape[0], dtype=LSM6DS_FIFO_DATA_SET)
        sets["gyro"] = raw[:, 3:]
        sets["acc"] = raw[:, :3]
        return sets.tobytes()

    def _on_overflow(self, dropped_bytes: int) -> None:
        self._over_run = True

    def _status_bytes(self) -> bytes:
        reg = self.REGISTERS["FIFO_STATUS1"]
        words = len(self._fifo) // 2
        raw = reg.encode(
            0,
            diff_fifo=min(words, reg.field("diff_fifo").max_code),
            over_run=int(self._over_run),
            fifo_full=int(words + self.SAMPLE_BYTES // 2 > self.CAPACITY_WORDS),  # no room for one more set
            fifo_empty=int(words == 0),
            waterm=0,
        )
        pattern = self.REGISTERS["FIFO_STATUS3"].encode(0, fifo_pattern=self._popped_words % 6)
        return reg.to_bytes(raw) + self.REGISTERS["FIFO_STATUS3"].to_bytes(pattern)

    def _read_byte(self, reg: int) -> int:
        status = self.REGISTERS["FIFO_STATUS1"].address
        if status <= reg < status + 4:
            return self._status_bytes()[reg - status]
        data_out = self.REGISTERS["FIFO_DATA_OUT_L"].address
        if reg in (data_out, data_out + 1):
            return self._pop_fifo(1)[0]
        return self.regs[reg]

    def _pop_fifo(self, n: int) -> bytes:
        data = self._pop(n)
        if data:
            self._over_run = False  # no longer full
        self._popped_words += n // 2
        return data

    def _next_address(self, reg: int) -> int:
        data_out = self.REGISTERS["FIFO_DATA_OUT_L"].address
        if reg == data_out + 1:
            return data_out  # rolls back from 3Fh to 3Eh
        return super()._next_address(reg)

    def _read_burst(self, reg: int, length: int) -> bytes | None:
        if reg == self.REGISTERS["FIFO_DATA_OUT_L"].address and length % 2 == 0:
            return self._pop_fifo(length)
        return None

    def _on_write(self, reg: int, old: int, new: int) -> None:
        if self._sw_reset(reg, new):
            return
        ctrl5 = self.REGISTERS["FIFO_CTRL5"]
        if reg == ctrl5.address and ctrl5.field("fifo_mode").decode(new) == "bypass":
            self._clear_fifo()
        self._update_rate()


class FakeLsm6ds3(_FakeUntaggedLsm6ds):
    """Fake LSM6DS3 (WHO_AM_I 0x69), 8 KiB FIFO."""

    REGISTERS = LSM6DS3_REGISTERS
    DEFAULT_ID = 0x69
    CAPACITY_WORDS = LSM6DS3_FIFO_CAPACITY_WORDS


class FakeLsm6dsl(_FakeUntaggedLsm6ds):
    """Fake LSM6DSL (WHO_AM_I 0x6A), 4 KiB FIFO."""

    REGISTERS = LSM6DSL_REGISTERS
    DEFAULT_ID = 0x6A
    CAPACITY_WORDS = LSM6DSL_FIFO_CAPACITY_WORDS


class FakeLsm6dso(_FakeLsm6ds):
    """Fake LSM6DSO / LSM6DSOX (WHO_AM_I 0x6C): tagged 7-byte words, 512 words (3 KiB).

    Each time slot writes a gyro word then an accel word with the same TAG_CNT. In continuous mode
    a full FIFO overwrites its oldest word and sets FIFO_OVR_IA (cleared once a word is read or the
    FIFO is reset) and FIFO_OVR_LATCHED (cleared when FIFO_STATUS2 is read).
    """

    REGISTERS = LSM6DSO_REGISTERS
    DEFAULT_ID = 0x6C
    DROP_UNIT = LSM6DSO_FIFO_WORD.itemsize
    SAMPLE_BYTES = 2 * LSM6DSO_FIFO_WORD.itemsize
    FIFO_CAPACITY_BYTES = LSM6DSO_FIFO_CAPACITY_WORDS * LSM6DSO_FIFO_WORD.itemsize
    _TAG = LSM6DSO_REGISTERS["FIFO_DATA_OUT_TAG"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._ovr = False
        self._ovr_latched = False
        super().__init__(*args, **kwargs)

    def _on_reset(self) -> None:
        super()._on_reset()
        self._ovr = self._ovr_latched = False

    def _clear_fifo(self) -> None:
        super()._clear_fifo()
        self._ovr = self._ovr_latched = False

    def _fifo_accepting(self) -> bool:
        rate = self._production_rate_hz()
        return (
            rate is not None
            and self.field("FIFO_CTRL4", "fifo_mode") == "continuous"
            and self.field("CTRL2_G", "odr_g") == rate
            and self.field("FIFO_CTRL3", "bdr_xl") == rate
            and self.field("FIFO_CTRL3", "bdr_gy") == rate
        )

    @classmethod
    def _tag_table(cls, sensor: str) -> np.ndarray:
        """Return the 4 tag bytes of ``sensor`` for TAG_CNT 0..3 (parity bit makes the 1s even)."""
        tags = []
        for cnt in range(4):
            tag = cls._TAG.encode(0, tag_sensor=sensor, tag_cnt=cnt)
            tags.append(cls._TAG.encode(tag, tag_parity=bin(tag).count("1") & 1))
        return np.array(tags, dtype=np.uint8)

    def _tags(self, sensor: str, k: np.ndarray) -> np.ndarray:
        return self._TAG_TABLES[sensor][np.asarray(k) % 4]

    def _encode(self, raw: np.ndarray, t: np.ndarray, k: np.ndarray) -> bytes:
        words = np.empty(2 * raw.shape[0], dtype=LSM6DSO_FIFO_WORD)
        words["tag"][0::2] = self._tags("gyro_nc", k)
        words["data"][0::2] = raw[:, 3:]
        words["tag"][1::2] = self._tags("accel_nc", k)
        words["data"][1::2] = raw[:, :3]
        return words.tobytes()

    def _on_overflow(self, dropped_bytes: int) -> None:
        self._ovr = self._ovr_latched = True

    def _status_bytes(self) -> bytes:
        reg = self.REGISTERS["FIFO_STATUS1"]
        words = len(self._fifo) // LSM6DSO_FIFO_WORD.itemsize
        raw = reg.encode(
            0,
            diff_fifo=min(words, reg.field("diff_fifo").max_code),
            fifo_ovr_ia=int(self._ovr),
            fifo_full_ia=int(words >= LSM6DSO_FIFO_CAPACITY_WORDS),
            fifo_ovr_latched=int(self._ovr_latched),
        )
        return reg.to_bytes(raw)

    def _read_byte(self, reg: int) -> int:
        status = self.REGISTERS["FIFO_STATUS1"].address
        if reg in (status, status + 1):
            value = self._status_bytes()[reg - status]
            if reg == status + 1:
                self._ovr_latched = False  # FIFO_OVR_LATCHED clears when FIFO_STATUS2 is read
            return value
        tag = self._TAG.address
        if tag <= reg <= tag + 6:
            return self._pop_fifo(1)[0]
        return self.regs[reg]

    def _pop_fifo(self, n: int) -> bytes:
        data = self._pop(n)
        if data:
            self._ovr = False
        return data

    def _next_address(self, reg: int) -> int:
        if reg == self._TAG.address + 6:
            return self._TAG.address  # rolls back from 7Eh to 78h
        return super()._next_address(reg)

    def _read_burst(self, reg: int, length: int) -> bytes | None:
        if reg == self._TAG.address and length % LSM6DSO_FIFO_WORD.itemsize == 0:
            return self._pop_fifo(length)
        return None

    def _on_write(self, reg: int, old: int, new: int) -> None:
        if self._sw_reset(reg, new):
            return
        ctrl4 = self.REGISTERS["FIFO_CTRL4"]
        if reg == ctrl4.address and ctrl4.field("fifo_mode").decode(new) == "bypass":
            self._clear_fifo()
        self._update_rate()


FakeLsm6dso._TAG_TABLES = {s: FakeLsm6dso._tag_table(s) for s in ("gyro_nc", "accel_nc")}


class FakeLsm6dsox(FakeLsm6dso):
    """Fake LSM6DSOX: the LSM6DSO's registers and id (compression not modelled)."""


# -- ICM-42688-P -----------------------------------------------------------------------------------------


class FakeIcm42688(FakeImu):
    """Fake ICM-42688-P (WHO_AM_I 0x47), 2 KiB FIFO of 16-byte packets.

    Sensors off at power-up (PWR_MGMT0 = 0). Packet 3 (header 0x68, accel, gyro, temperature,
    timestamp) in the byte order of INTF_CONFIG0; the timestamp is the low 16 bits of the chip's
    timestamp counter, which runs on the chip's own oscillator at 30/32 tick per µs (datasheet
    section 12.7). The FIFO count is in bytes or records, in the byte order INTF_CONFIG0 says.
    SIGNAL_PATH_RESET.FIFO_FLUSH empties the FIFO.

    A full FIFO sets INT_STATUS.FIFO_FULL_INT (every INT_STATUS bit clears when read) and counts
    each packet it loses in FIFO_LOST_PKT0/1 (read-only, 0 at reset; here saturating at 0xFFFF and
    cleared by a flush, which the datasheet does not say either way). Which packets stream mode
    loses, the datasheet does not say: ``stream_overflow="drop_oldest"`` (default: the newest
    packet takes the place of the oldest, as in the InvenSense parts' "stream" FIFO mode) or
    ``"drop_newest"`` (the FIFO keeps its oldest packets and the new ones are lost), so that
    drivers can be tried against both. STOP-on-FULL mode keeps the oldest and counts nothing.

    Parameters
    ----------
    stream_overflow : str
        ``"drop_oldest"`` or ``"drop_newest"``.
    *args, **kwargs
        As for :class:`FakeImu`.
    """

    REGISTERS = ICM42688_REGISTERS
    ADDRESSES = (0x68, 0x69)
    DEFAULT_ID = 0x47
    FIFO_CAPACITY_BYTES = ICM42688_FIFO_CAPACITY_BYTES
    DROP_UNIT = ICM42688_FIFO_PACKET3["big"].itemsize
    SAMPLE_BYTES = ICM42688_FIFO_PACKET3["big"].itemsize
    _HEADER = ICM42688_FIFO_HEADER.encode(0, header_accel=1, header_gyro=1, header_timestamp_fsync=0b10)

    def __init__(self, *args: Any, stream_overflow: str = "drop_oldest", **kwargs: Any) -> None:
        if stream_overflow not in ("drop_oldest", "drop_newest"):
            raise ValueError(f"stream_overflow={stream_overflow!r}; allowed: 'drop_oldest', 'drop_newest'")
        self.stream_overflow = stream_overflow
        self.lost_packets = 0
        super().__init__(*args, **kwargs)

    def _on_reset(self) -> None:
        super()._on_reset()
        self.lost_packets = 0

    def _clear_fifo(self) -> None:
        super()._clear_fifo()
        self.lost_packets = 0

    def _production_rate_hz(self) -> float | None:
        if (
            self.field("PWR_MGMT0", "gyro_mode") != "low_noise"
            or self.field("PWR_MGMT0", "accel_mode") == "off"
        ):
            return None
        gyro_odr = self.field("GYRO_CONFIG0", "gyro_odr")
        return float(gyro_odr) if gyro_odr == self.field("ACCEL_CONFIG0", "accel_odr") else None

    def _fifo_accepting(self) -> bool:
        return (
            self.field("FIFO_CONFIG", "fifo_mode") != "bypass"
            and bool(self.field("FIFO_CONFIG1", "fifo_accel_en"))
            and bool(self.field("FIFO_CONFIG1", "fifo_gyro_en"))
        )

    def _lsb(self) -> tuple[float, float]:
        return (
            ICM42688_ACCEL_LSB_PER_G[self.field("ACCEL_CONFIG0", "accel_fs_sel")],
            ICM42688_GYRO_LSB_PER_DPS[self.field("GYRO_CONFIG0", "gyro_fs_sel")],
        )

    def _encode(self, raw: np.ndarray, t: np.ndarray, k: np.ndarray) -> bytes:
        packets = np.zeros(
            raw.shape[0], dtype=ICM42688_FIFO_PACKET3[self.field("INTF_CONFIG0", "sensor_data_endian")]
        )
        packets["header"] = self._HEADER
        packets["acc"] = raw[:, :3]
        packets["gyro"] = raw[:, 3:]
        packets["temp"] = 0  # 25 °C: T = temp / 2.07 + 25
        # The counter counts the chip's own (oscillator) time since power-up.
        chip_us = (t - self.t_origin_s) * self.clock_error * 1e6
        ticks = np.floor(chip_us * ICM42688_FIFO_TMST_TICKS_PER_US).astype(np.int64)
        packets["timestamp"] = (ticks & 0xFFFF).astype(np.uint16)
        return packets.tobytes()

    def _push(self, t: np.ndarray, raw: np.ndarray, k: np.ndarray) -> None:
        mode = self.field("FIFO_CONFIG", "fifo_mode")
        room = max(self.fifo_capacity_bytes - len(self._fifo), 0) // self.SAMPLE_BYTES
        if mode == "stop_on_full":
            t, raw, k = t[:room], raw[:room], k[:room]
        elif self.stream_overflow == "drop_newest" and len(t) > room:
            super()._push(t[:room], raw[:room], k[:room])
            lost = len(t) - room  # sampled (part of the truth) but never in the FIFO
            if self.keep_produced:
                self._chunks_t.append(t[room:])
                self._chunks_raw.append(raw[room:])
            self.produced += lost
            self.overflows += 1
            self.lost_packets += lost
            t, raw, k = t[:0], raw[:0], k[:0]
        super()._push(t, raw, k)
        if len(self._fifo) + self.SAMPLE_BYTES > self.fifo_capacity_bytes:
            self.regs[self.REGISTERS["INT_STATUS"].address] |= (
                self.REGISTERS["INT_STATUS"].field("fifo_full_int").mask
            )

    def _on_overflow(self, dropped_bytes: int) -> None:
        self.lost_packets += dropped_bytes // self.DROP_UNIT

    def _read_byte(self, reg: int) -> int:
        regs = self.REGISTERS
        if reg == regs["INT_STATUS"].address:
            value = self.regs[reg]
            self.regs[reg] = 0  # every bit clears when read
            return value
        count_reg = regs["FIFO_COUNTH"].address
        if reg in (count_reg, count_reg + 1):
            count = len(self._fifo)
            if self.field("INTF_CONFIG0", "fifo_count_rec") == "records":
                count //= self.SAMPLE_BYTES
            return count.to_bytes(2, self.field("INTF_CONFIG0", "fifo_count_endian"))[reg - count_reg]
        if reg == regs["FIFO_DATA"].address:
            return self._pop(1, fill=0x80)[0]
        lost = regs["FIFO_LOST_PKT0"].address
        if reg in (lost, lost + 1):
            counter = regs["FIFO_LOST_PKT0"]
            shown = min(self.lost_packets, counter.field("fifo_lost_pkt_cnt").max_code)  # saturates
            return counter.to_bytes(shown)[reg - lost]
        return self.regs[reg]

    def _next_address(self, reg: int) -> int:
        return reg if reg == self.REGISTERS["FIFO_DATA"].address else (reg + 1) & 0xFF

    def _read_burst(self, reg: int, length: int) -> bytes | None:
        return self._pop(length, fill=0x80) if reg == self.REGISTERS["FIFO_DATA"].address else None

    def _on_write(self, reg: int, old: int, new: int) -> None:
        regs = self.REGISTERS
        if (
            reg == regs["DEVICE_CONFIG"].address
            and new & regs["DEVICE_CONFIG"].field("soft_reset_config").mask
        ):
            self.power_on_reset()
            return
        if reg == regs["SIGNAL_PATH_RESET"].address:
            if new & regs["SIGNAL_PATH_RESET"].field("fifo_flush").mask:
                self._clear_fifo()
            self.regs[reg] = 0  # self-clearing bits
        if (
            reg == regs["FIFO_CONFIG"].address
            and regs["FIFO_CONFIG"].field("fifo_mode").decode(new) == "bypass"
        ):
            self._clear_fifo()
        self._update_rate()


#: Fake IMU class by chip name (as used by ``open_bus("fake:...?chip=...")``).
FAKE_IMUS: dict[str, type[FakeImu]] = {
    "mpu6050": FakeMpu6050,
    "mpu6500": FakeMpu6500,
    "mpu9250": FakeMpu9250,
    "lsm6ds3": FakeLsm6ds3,
    "lsm6dsl": FakeLsm6dsl,
    "lsm6dso": FakeLsm6dso,
    "lsm6dsox": FakeLsm6dsox,
    "icm42688": FakeIcm42688,
}


# -- Barometers -------------------------------------------------------------------------------------------


def _invert_monotonic(f: Any, target: float, lo: int, hi: int) -> int:
    """Return the integer x in [lo, hi] whose f(x) is nearest ``target`` (f monotonic)."""
    increasing = f(hi) > f(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return lo if abs(f(lo) - target) <= abs(f(hi) - target) else hi


class FakeBmp280(FakeDevice):
    """Fake BMP280 (chip id 0x58) with the datasheet's example trimming parameters.

    In normal or forced mode the data registers hold :attr:`adc_t` / :attr:`adc_p` (by default the
    datasheet example, 519888 and 415148: 25.08 °C and 100653.27 Pa); :meth:`set_conditions`
    picks the raw values that compensate to a pressure and temperature. Writing 0xB6 to RESET
    resets it; reading in sleep mode before any measurement gives 0x80000.
    """

    REGISTERS = BMP280_REGISTERS
    ADDRESSES = (0x76, 0x77)
    ID_REGISTER = "ID"
    DEFAULT_ID = 0x58
    #: Datasheet section 3.12 example.
    DATASHEET_CALIBRATION = Bmp280Calibration(
        27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000
    )

    def __init__(
        self, address: int | None = None, *, calibration: Bmp280Calibration | None = None, **kwargs: Any
    ) -> None:
        self.calibration = calibration if calibration is not None else self.DATASHEET_CALIBRATION
        self.adc_t, self.adc_p = 519888, 415148
        super().__init__(address, **kwargs)

    def _on_reset(self) -> None:
        reg = self.REGISTERS["CALIB00"]
        self.regs[reg.address : reg.address + reg.n_bytes] = self.calibration.to_bytes()

    def set_raw(self, adc_t: int, adc_p: int) -> None:
        """Set the raw 20-bit readings the next measurement returns."""
        self.adc_t, self.adc_p = int(adc_t), int(adc_p)

    def set_conditions(self, pressure_pa: float, temperature_c: float) -> None:
        """Set the raw readings that compensate to ``pressure_pa`` and ``temperature_c``."""
        cal = self.calibration
        adc_t = _invert_monotonic(lambda x: bmp280_compensate(x, 0, cal)[0], temperature_c, 0, (1 << 20) - 1)
        adc_p = _invert_monotonic(
            lambda x: bmp280_compensate(adc_t, x, cal)[1], pressure_pa, 0, (1 << 20) - 1
        )
        self.set_raw(adc_t, adc_p)

    def begin_time(self, now_s: float) -> None:
        """Latch a measurement into the data registers while measuring."""
        mode = self.field("CTRL_MEAS", "mode")
        if mode == "sleep":
            return
        for name, value in (("PRESS_MSB", self.adc_p), ("TEMP_MSB", self.adc_t)):
            reg = self.REGISTERS[name]
            self.regs[reg.address : reg.address + 3] = reg.to_bytes(
                reg.encode(0, **{reg.fields[0].name: value})
            )
        if mode == "forced":  # one measurement, then back to sleep
            ctrl = self.REGISTERS["CTRL_MEAS"]
            self.regs[ctrl.address] = ctrl.encode(self.regs[ctrl.address], mode="sleep")

    def _on_write(self, reg: int, old: int, new: int) -> None:
        reset = self.REGISTERS["RESET"]
        if reg == reset.address:
            if new == reset.field("reset").encode("reset"):
                self.power_on_reset()
            else:
                self.regs[reg] = 0


class FakeBmp388(FakeDevice):
    """Fake BMP388 (chip id 0x50) with illustrative trimming parameters (not a datasheet example).

    In normal or forced mode with press_en / temp_en the data registers hold :attr:`uncomp_press`
    / :attr:`uncomp_temp` (by default those of about 101325 Pa at 25 °C); CMD 0xB6 resets it.
    """

    REGISTERS = BMP388_REGISTERS
    ADDRESSES = (0x76, 0x77)
    ID_REGISTER = "CHIP_ID"
    DEFAULT_ID = 0x50
    #: Plausible NVM values (pressure falls as the raw count rises, as on real parts).
    DEFAULT_CALIBRATION = Bmp388Calibration(
        27794, 19217, -7, -1040, -3051, 34, 1, 19936, 23869, 3, -7, 13425, 19, -55
    )

    def __init__(
        self, address: int | None = None, *, calibration: Bmp388Calibration | None = None, **kwargs: Any
    ) -> None:
        self.calibration = calibration if calibration is not None else self.DEFAULT_CALIBRATION
        self.uncomp_temp, self.uncomp_press = 0, 0
        super().__init__(address, **kwargs)
        self.set_conditions(101325.0, 25.0)

    def _on_reset(self) -> None:
        reg = self.REGISTERS["NVM_PAR_T1"]
        self.regs[reg.address : reg.address + reg.n_bytes] = self.calibration.to_bytes()

    def set_raw(self, uncomp_temp: int, uncomp_press: int) -> None:
        """Set the raw 24-bit readings the next measurement returns."""
        self.uncomp_temp, self.uncomp_press = int(uncomp_temp), int(uncomp_press)

    def set_conditions(self, pressure_pa: float, temperature_c: float) -> None:
        """Set the raw readings that compensate to ``pressure_pa`` and ``temperature_c``."""
        cal = self.calibration
        ut = _invert_monotonic(lambda x: bmp388_compensate(x, 0, cal)[0], temperature_c, 0, (1 << 24) - 1)
        up = _invert_monotonic(lambda x: bmp388_compensate(ut, x, cal)[1], pressure_pa, 0, (1 << 24) - 1)
        self.set_raw(ut, up)

    def begin_time(self, now_s: float) -> None:
        """Latch a measurement into the data registers while measuring."""
        pwr = self.REGISTERS["PWR_CTRL"]
        mode = pwr.field("mode").decode(self.regs[pwr.address])
        if mode == "sleep":
            return
        values = pwr.decode(self.regs[pwr.address])
        for name, on, value in (
            ("DATA_0", values.press_en, self.uncomp_press),
            ("DATA_3", values.temp_en, self.uncomp_temp),
        ):
            if on:
                reg = self.REGISTERS[name]
                self.regs[reg.address : reg.address + 3] = reg.to_bytes(value & 0xFFFFFF)
        if mode == "forced":
            self.regs[pwr.address] = pwr.encode(self.regs[pwr.address], mode="sleep")

    def _on_write(self, reg: int, old: int, new: int) -> None:
        cmd = self.REGISTERS["CMD"]
        if reg == cmd.address:
            if new == cmd.field("cmd").encode("softreset"):
                self.power_on_reset()
            self.regs[reg] = 0
