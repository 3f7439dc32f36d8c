"""Find the sensors on a bus, say what is there, and open the IMU.

``scan(bus)`` probes the usual addresses (0x57: the PiSugar 3 battery controller; 0x68, 0x69:
InvenSense; 0x6A, 0x6B: ST; 0x76, 0x77: Bosch barometers) by reading each family's id register;
``format_report`` turns the result into text with the fix when no IMU answers; ``open_imu``
builds and sets up the right driver; ``detect_main`` is ``cadence-coach detect``.
"""

from __future__ import annotations

import contextlib
import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from firmware_py.bus import bus_name, open_bus
from firmware_py.exc import CadenceError, ConfigError, ImuNotFoundError
from firmware_py.imu.base import ImuDriver
from firmware_py.imu.icm42688 import Icm42688
from firmware_py.imu.lsm6ds import Lsm6ds3, Lsm6dsl, Lsm6dso, Lsm6dsox
from firmware_py.imu.mpu6050 import MPU_WHO_AM_I_IDS, Mpu6050
from firmware_py.imu.registers import (
    BMP280_REGISTERS,
    BMP388_REGISTERS,
    ICM42688_REGISTERS,
    LSM6DSO_REGISTERS,
    MPU_REGISTERS,
    PISUGAR3_ADDRESS,
    PISUGAR3_REGISTERS,
    PISUGAR3_VERSION,
)

if TYPE_CHECKING:
    from firmware_py.bus import I2CBus

__all__ = [
    "IMU_ADDRESSES",
    "IMU_DRIVERS",
    "SCAN_ADDRESSES",
    "Found",
    "detect_main",
    "format_report",
    "open_imu",
    "scan",
]

#: Addresses probed by :func:`scan`.
SCAN_ADDRESSES = (PISUGAR3_ADDRESS, 0x68, 0x69, 0x6A, 0x6B, 0x76, 0x77)
#: Addresses an IMU can sit at.
IMU_ADDRESSES = (0x68, 0x69, 0x6A, 0x6B)

#: Driver class by chip name accepted in configuration (``imu.chip``) and by :func:`open_imu`.
IMU_DRIVERS: dict[str, type[ImuDriver]] = {
    "mpu6050": Mpu6050,
    "mpu6500": Mpu6050,
    "mpu9250": Mpu6050,
    "lsm6ds3": Lsm6ds3,
    "lsm6dsl": Lsm6dsl,
    "lsm6dso": Lsm6dso,
    "lsm6dsox": Lsm6dsox,
    "icm42688": Icm42688,
}

_INVENSENSE_NAMES = {
    0x68: "MPU-6050",
    0x70: "MPU-6500",
    0x71: "MPU-9250",
    0x73: "MPU-9255",
    0x98: "ICM-20689",
}
# (register, {id: (chip name, driver class or None, kind)}) probed in order at each address.
_PROBES: dict[int, list[tuple[int, dict[int, tuple[str, type[ImuDriver] | None, str]]]]] = {}
for _address in (0x68, 0x69):
    _PROBES[_address] = [
        (
            MPU_REGISTERS["WHO_AM_I"].address,  # 0x75, the same register on the ICM-42688-P
            {
                **{
                    i: (_INVENSENSE_NAMES.get(i, f"MPU-6050 family (id 0x{i:02x})"), Mpu6050, "imu")
                    for i in MPU_WHO_AM_I_IDS
                },
                0x47: ("ICM-42688-P", Icm42688, "imu"),
            },
        )
    ]
for _address in (0x6A, 0x6B):
    _PROBES[_address] = [
        (
            LSM6DSO_REGISTERS["WHO_AM_I"].address,
            {
                0x69: ("LSM6DS3", Lsm6ds3, "imu"),
                0x6A: ("LSM6DSL", Lsm6dsl, "imu"),
                0x6C: ("LSM6DSO/LSM6DSOX", Lsm6dso, "imu"),
            },
        )
    ]
for _address in (0x76, 0x77):
    _PROBES[_address] = [
        (BMP280_REGISTERS["ID"].address, {0x58: ("BMP280", None, "baro"), 0x60: ("BME280", None, "baro")}),
        (
            BMP388_REGISTERS["CHIP_ID"].address,
            {0x50: ("BMP388", None, "baro"), 0x60: ("BMP390", None, "baro")},
        ),
    ]
_PROBES[PISUGAR3_ADDRESS] = [
    (
        PISUGAR3_REGISTERS["VERSION"].address,
        {PISUGAR3_VERSION: ("PiSugar 3 battery controller", None, "battery")},
    )
]
assert ICM42688_REGISTERS["WHO_AM_I"].address == MPU_REGISTERS["WHO_AM_I"].address


@dataclass(frozen=True)
class Found:
    """Something that answered during a scan.

    Attributes
    ----------
    address : int
        I2C address.
    chip : str
        Chip name, or ``"unknown device"``.
    who_am_i : int or None
        Id read (None when no known id register gave a known value).
    kind : str
        ``"imu"``, ``"baro"``, ``"battery"``, ``"unknown"``, or ``"busy"`` (a kernel driver owns the
        address: ``UU`` in ``i2cdetect``).
    driver : type or None
        The IMU driver class for it, if any.
    """

    address: int
    chip: str
    who_am_i: int | None
    kind: str
    driver: type[ImuDriver] | None = None


def scan(bus: I2CBus, addresses: tuple[int, ...] = SCAN_ADDRESSES) -> list[Found]:
    """Probe ``addresses`` and name what answers.

    Parameters
    ----------
    bus : I2CBus
        The bus.
    addresses : tuple of int
        Addresses to probe (the usual IMU and barometer ones by default).

    Returns
    -------
    list of Found
        One entry per address that answered, in address order; a device that answers with no
        known id is listed as ``"unknown device"`` (often a battery HAT's RTC on 0x68).
    """
    found: list[Found] = []
    for address in addresses:
        answered = False
        busy = False
        ids_read: list[int] = []
        for register, table in _PROBES.get(address, [(MPU_REGISTERS["WHO_AM_I"].address, {})]):
            try:
                value = bus.read_byte_data(address, register)
            except OSError as exc:
                # EBUSY: a kernel driver owns the address (i2cdetect shows UU), e.g. an RTC overlay
                busy = busy or exc.errno == errno.EBUSY
                continue
            answered = True
            ids_read.append(value)
            if value in table:
                chip, driver, kind = table[value]
                found.append(Found(address, chip, value, kind, driver))
                break
        else:
            if answered:
                found.append(Found(address, "unknown device", ids_read[0] if ids_read else None, "unknown"))
            elif busy:
                found.append(Found(address, "in use by a kernel driver (UU: an RTC overlay?)", None, "busy"))
    return found


def format_report(found: list[Found], bus_label: str = "the I2C bus") -> str:
    """Describe a scan for people, with the fix when no IMU was found.

    Parameters
    ----------
    found : list of Found
        What :func:`scan` returned.
    bus_label : str
        How to name the bus in the text.

    Returns
    -------
    str
        Several lines, ending without a newline.
    """
    lines = [f"Scanned {bus_label} at {', '.join(f'0x{a:02x}' for a in SCAN_ADDRESSES)}:"]
    for f in found:
        ident = f" (id 0x{f.who_am_i:02x})" if f.who_am_i is not None else ""
        lines.append(f"  0x{f.address:02x}  {f.chip}{ident}  [{f.kind}]")
    if not found:
        lines.append("  nothing answered.")
    imus = [f for f in found if f.kind == "imu"]
    if imus:
        first = imus[0]
        lines.append(f"IMU: {first.chip} at 0x{first.address:02x}.")
        return "\n".join(lines)
    lines.append("No supported IMU found. Check, in this order:")
    lines.append(
        "  1. I2C is enabled: `sudo raspi-config nonint do_i2c 0` (see hardware/setup-pi.sh), then reboot."
    )
    lines.append("  2. Wiring: 3V3, GND, SDA to GPIO2, SCL to GPIO3 (see hardware/wiring.md).")
    lines.append(
        "  3. Address clash: battery HATs such as PiSugar and PiJuice put an RTC on 0x68; move an MPU-6050 "
        "or ICM-42688-P to 0x69 (AD0 high) or use an LSM6DS part (0x6A/0x6B)."
    )
    if any(f.kind in ("unknown", "busy") and f.address == 0x68 for f in found):
        lines.append("  Something that is not an IMU answers at 0x68: that is the clash in 3.")
    return "\n".join(lines)


def open_imu(bus: I2CBus, chip: str = "auto", address: int | None = None, **kwargs: Any) -> ImuDriver:
    """Build the driver for the IMU on ``bus`` and run its :meth:`~firmware_py.imu.base.ImuDriver.setup`.

    Parameters
    ----------
    bus : I2CBus
        The bus.
    chip : str
        A name from :data:`IMU_DRIVERS`, or ``"auto"`` to scan for the first IMU.
    address : int, optional
        I2C address; the chip's usual one (or, for ``"auto"``, every IMU address) when omitted.
    **kwargs
        Passed to the driver (``sampling_rate_hz``, ``accel_range_g``, ``gyro_range_dps``, ``clock``...).

    Returns
    -------
    ImuDriver
        Set up and filling its FIFO. The caller closes it.

    Raises
    ------
    ConfigError
        When ``chip`` is not a known name.
    ImuNotFoundError
        When no IMU answers (the message carries the fixes of :func:`format_report`).
    """
    name = chip.strip().lower()
    if name == "auto":
        addresses = IMU_ADDRESSES if address is None else (address,)
        imus = [f for f in scan(bus, addresses) if f.kind == "imu" and f.driver is not None]
        if not imus:
            found = scan(bus)
            if address is not None:
                _raise_if_elsewhere(bus, found, "IMU", address)
            report = format_report(found, bus_name(bus))
            raise ImuNotFoundError(" ".join(line.strip() for line in report.splitlines()))
        driver_cls: type[ImuDriver] = imus[0].driver  # type: ignore[assignment]
        address = imus[0].address
    else:
        try:
            driver_cls = IMU_DRIVERS[name]
        except KeyError:
            raise ConfigError(f"IMU chip {chip!r} unknown; allowed: auto, {', '.join(IMU_DRIVERS)}") from None
    driver = driver_cls(bus, address, **kwargs)
    try:
        driver.setup()
    except ImuNotFoundError:
        if name != "auto":  # the chip or address asked for is not the one wired?
            with contextlib.suppress(OSError):
                _raise_if_elsewhere(bus, scan(bus), driver_cls.CHIP, driver.address)
        raise
    return driver


def _raise_if_elsewhere(bus: I2CBus, found: list[Found], wanted: str, address: int) -> None:
    """Raise a ConfigError when nothing answers at ``address`` but an IMU does at another one.

    Waiting or checking the wiring cannot help then: the chip or address in the config (or on the
    command line) is not the one wired. An IMU at that very address (a transient fault during
    setup, or a wrong chip name, which the driver's WHO_AM_I message covers) is not such a case.
    """
    imus = [f for f in found if f.kind == "imu" and f.driver is not None]
    if not imus or any(f.address == address for f in imus):
        return
    there = ", ".join(f"{f.chip} at 0x{f.address:02x}" for f in imus)
    raise ConfigError(
        f"no {wanted} answers at 0x{address:02x} on {bus_name(bus)}, but the bus has {there}: "
        '[device] chip and address (or --chip, --address) name another sensor; set chip = "auto" '
        "and leave address out (or give the ones above), then start again"
    )


def detect_main(bus_spec: str) -> int:
    """``cadence-coach detect``: scan the bus, print the report, return the exit code.

    Parameters
    ----------
    bus_spec : str
        As for :func:`~firmware_py.bus.open_bus` (``"smbus:1"``).

    Returns
    -------
    int
        0 when an IMU was found, 1 when none was, 2 when the bus could not be opened.
    """
    try:
        bus = open_bus(bus_spec)
    except CadenceError as e:
        print(f"cadence-coach detect: {e}")
        return 2
    try:
        found = scan(bus)
        print(format_report(found, bus_name(bus)))
        return 0 if any(f.kind == "imu" for f in found) else 1
    finally:
        bus.close()
