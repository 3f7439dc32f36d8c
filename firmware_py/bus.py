"""The I2C bus: the small contract drivers rely on, and the one place that opens a bus.

Drivers never open a bus; they receive an object that satisfies :class:`I2CBus` (an
``smbus2.SMBus`` on the Pi, a :class:`firmware_py.imu.fake.FakeI2CBus` in tests and replays).
Only :func:`open_bus` turns a spec string (``"smbus:1"``, ``"fake:run.csv"``) into such an object,
and nothing imports :mod:`smbus2` at import time.

Wiring and enabling the bus: see ``hardware/wiring.md`` and ``hardware/setup-pi.sh``.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl

import numpy as np

from firmware_py.exc import ConfigError, I2CBusError

if TYPE_CHECKING:
    from firmware_py.clock import Clock

__all__ = [
    "RDWR_MAX_BYTES",
    "SMBUS_BLOCK_MAX",
    "I2CBus",
    "LoadRecording",
    "bus_name",
    "open_bus",
    "read_stream",
]

#: Longest SMBus block transfer (``read_i2c_block_data``), bytes; smbus2 refuses more.
SMBUS_BLOCK_MAX = 32

#: Longest single ``i2c_rdwr`` read message we issue, bytes (Linux i2c-dev allows 8192).
RDWR_MAX_BYTES = 4096

#: ``load_recording(path) -> (t_s (n,), acc_mps2 (n, 3), gyro_rads (n, 3) or None, sampling_rate_hz)``
LoadRecording = Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray | None, float]]

_ENABLE_I2C_FIX = "enable I2C with `sudo raspi-config nonint do_i2c 0` (see hardware/setup-pi.sh)"


@runtime_checkable
class I2CBus(Protocol):
    """The subset of :class:`smbus2.SMBus` that the drivers use.

    Every method raises :class:`OSError` (errno 121 ``EREMOTEIO`` for a NACK, 5 ``EIO`` for a bus
    fault) when the transfer fails; drivers turn that into :class:`~firmware_py.exc.ImuFaultError`.
    """

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """Read one byte from ``register``."""
        ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int, force: bool | None = None) -> None:
        """Write one byte to ``register``."""
        ...

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        """Read ``length`` (at most 32) bytes starting at ``register``."""
        ...

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        """Write up to 32 bytes starting at ``register``."""
        ...

    def i2c_rdwr(self, *i2c_msgs: Any) -> None:
        """Run combined transactions of :class:`smbus2.i2c_msg` (repeated start between them)."""
        ...

    def close(self) -> None:
        """Release the bus."""
        ...


@functools.cache
def _i2c_msg() -> Any:
    # Imported on first use only: importing this module must not need smbus2.
    from smbus2 import i2c_msg

    return i2c_msg


def read_stream(bus: I2CBus, i2c_addr: int, register: int, length: int) -> bytes:
    """Burst-read ``length`` bytes at ``register`` in one combined write-then-read transaction.

    This is how a FIFO is drained: SMBus block reads stop at 32 bytes, ``i2c_rdwr`` does not.

    Parameters
    ----------
    bus : I2CBus
        The bus.
    i2c_addr : int
        7-bit device address.
    register : int
        Register address written first (the FIFO data register).
    length : int
        Bytes to read, 1 .. :data:`RDWR_MAX_BYTES`.

    Returns
    -------
    bytes
        What the device sent.

    Raises
    ------
    ValueError
        When ``length`` is outside 1 .. :data:`RDWR_MAX_BYTES`.
    OSError
        When the transfer fails.
    """
    if not 1 <= length <= RDWR_MAX_BYTES:
        raise ValueError(f"read_stream length must be 1..{RDWR_MAX_BYTES} bytes; got {length}")
    i2c_msg = _i2c_msg()
    write = i2c_msg.write(i2c_addr, [register])
    read = i2c_msg.read(i2c_addr, length)
    bus.i2c_rdwr(write, read)
    return bytes(read)


def bus_name(bus: object) -> str:
    """Describe a bus for error messages (its spec when :func:`open_bus` made it)."""
    spec = getattr(bus, "spec", None)
    return f"bus {spec}" if spec else f"bus {type(bus).__name__}"


def open_bus(
    spec: str,
    *,
    clock: Clock | None = None,
    load_recording: LoadRecording | None = None,
    keep_history: bool = True,
) -> I2CBus:
    """Open the I2C bus named by ``spec``.

    Parameters
    ----------
    spec : str
        One of

        - ``"smbus:N"``: ``/dev/i2c-N`` through :class:`smbus2.SMBus` (``smbus:1`` on every Pi).
        - ``"fake:PATH"``: a :class:`~firmware_py.imu.fake.FakeI2CBus` holding a fake IMU fed from
          the recording at ``PATH`` (any format ``firmware_py.logs.read_log`` reads) and a fake
          BMP280. Options may follow a ``?``: ``chip`` (``mpu6050``, ``lsm6ds3``, ``lsm6dsl``,
          ``lsm6dso``, ``lsm6dsox``, ``icm42688``; default ``mpu6050``), ``address`` (e.g. ``0x69``),
          ``clock_error`` (e.g. ``1.02``: the fake chip's oscillator runs 2 % fast),
          ``accel_gain`` (e.g. ``1.04``: its accelerometer reads 4 % high), ``seed``.
          Example: ``"fake:runs/hill.csv?chip=lsm6dso&clock_error=1.01"``.
        - ``"fake"``: the same with a synthetic recording (standing still, gravity on +z); options
          as above, e.g. ``"fake?chip=icm42688"``.
    clock : Clock, optional
        Time base of a fake bus: :class:`~firmware_py.clock.SystemClock` (the default, the fake chip
        fills its FIFO in real time) or a :class:`~firmware_py.clock.FakeClock` for ``--fast`` runs.
        Ignored for ``smbus``.
    load_recording : callable, optional
        ``load_recording(path) -> (t_s, acc_mps2, gyro_rads or None, sampling_rate_hz)`` for
        ``fake:PATH``; by default ``firmware_py.logs.read_log`` is used.
    keep_history : bool
        A fake bus keeps a log of its transactions (``log``, the last 100,000) and its chip the
        truth of every sample it produced (``produced_t_s``, ``produced_raw``), for tests. A
        simulated device run (``cadence-coach run --bus fake:...``) reads neither and passes False:
        kept, they grow with the run (about 24 MB in a 10-minute run at 200 Hz). Ignored for
        ``smbus``.

    Returns
    -------
    I2CBus
        The open bus; its ``spec`` attribute holds ``spec``. The caller owns it: use ``with`` or
        call ``close()``.

    Raises
    ------
    ConfigError
        When ``spec`` is not one of the forms above.
    I2CBusError
        When ``/dev/i2c-N`` is missing (I2C not enabled), not accessible, or smbus2 is not installed.
    """
    kind, _, rest = spec.strip().partition(":")
    if "?" in kind:  # "fake?chip=..." (no path)
        kind, _, query = kind.partition("?")
        rest = "?" + query
    kind = kind.lower()
    if kind == "smbus":
        bus = _open_smbus(spec, rest)
    elif kind == "fake":
        bus = _open_fake(spec, rest, clock=clock, load_recording=load_recording, keep_history=keep_history)
    else:
        raise ConfigError(
            f"I2C bus spec {spec!r} not understood; "
            "allowed: 'smbus:N' (e.g. smbus:1), 'fake:PATH.csv', 'fake'"
        )
    # Named for error messages (see bus_name); SMBus has no slots, so this is safe.
    bus.spec = spec  # type: ignore[attr-defined]
    return bus


def _open_smbus(spec: str, rest: str) -> I2CBus:
    try:
        number = int(rest, 0)
    except ValueError:
        raise ConfigError(f"I2C bus spec {spec!r}: bus number must be an integer, as in 'smbus:1'") from None
    device = f"/dev/i2c-{number}"
    if not os.path.exists(device):
        raise I2CBusError(
            errno.ENOENT,
            f"{device} does not exist: {_ENABLE_I2C_FIX}; not on a Pi? simulate the sensor with "
            "--bus fake:RECORDING.csv",
        )
    try:
        import smbus2
    except ImportError as e:
        raise I2CBusError(errno.ENOPKG, f"smbus2 is not installed: `pip install smbus2` ({e})") from e
    try:
        return smbus2.SMBus(number)
    except PermissionError as e:
        raise I2CBusError(
            errno.EACCES,
            f"no permission to open {device}: add the user to the i2c group "
            "(`sudo adduser $USER i2c`, then log in again)",
        ) from e
    except OSError as e:
        raise I2CBusError(e.errno or errno.EIO, f"cannot open {device} ({e}): {_ENABLE_I2C_FIX}") from e


def _default_load_recording(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float]:
    from firmware_py.logs import read_log  # lazy: the log readers live elsewhere

    rec = read_log(path)
    return rec.t_s, rec.acc_mps2, rec.gyro_rads, float(rec.sampling_rate_hz)


def _open_fake(
    spec: str,
    rest: str,
    *,
    clock: Clock | None,
    load_recording: LoadRecording | None,
    keep_history: bool = True,
) -> I2CBus:
    from firmware_py.clock import SystemClock
    from firmware_py.imu import fake

    path, _, query = rest.partition("?")
    try:
        options = dict(parse_qsl(query, strict_parsing=True)) if query else {}
    except ValueError:
        raise ConfigError(
            f"I2C bus spec {spec!r}: options after '?' must be key=value pairs joined by '&'"
        ) from None
    unknown = set(options) - {"chip", "address", "clock_error", "accel_gain", "seed"}
    if unknown:
        raise ConfigError(
            f"I2C bus spec {spec!r}: unknown option(s) {sorted(unknown)}; "
            "allowed: accel_gain, address, chip, clock_error, seed"
        )
    chip = options.get("chip", "mpu6050").lower()
    if chip not in fake.FAKE_IMUS:
        raise ConfigError(
            f"I2C bus spec {spec!r}: chip={chip!r} unknown; allowed: {', '.join(fake.FAKE_IMUS)}"
        )
    try:
        address = int(options["address"], 0) if "address" in options else None
        clock_error = float(options.get("clock_error", "1.0"))
        accel_gain = float(options.get("accel_gain", "1.0"))
        seed = int(options.get("seed", "0"))
    except ValueError as e:
        raise ConfigError(f"I2C bus spec {spec!r}: {e}") from None
    clock = clock if clock is not None else SystemClock()
    if path:
        loader = load_recording if load_recording is not None else _default_load_recording
        t_s, acc_mps2, gyro_rads, rate_hz = loader(path)
        source = fake.SourceRecording(t_s, acc_mps2, gyro_rads, rate_hz)
    else:
        source = fake.SourceRecording.still()
    if not accel_gain > 0:
        raise ConfigError(f"I2C bus spec {spec!r}: accel_gain must be > 0; got {accel_gain!r}")
    imu = fake.FAKE_IMUS[chip](
        address,
        source=source,
        clock=clock,
        clock_error=clock_error,
        accel_gain=accel_gain,
        seed=seed,
        keep_produced=keep_history,
    )
    baro = fake.FakeBmp280(clock=clock)
    if keep_history:
        return fake.FakeI2CBus([imu, baro], clock=clock)
    return fake.FakeI2CBus([imu, baro], clock=clock, log_limit=0)
