"""Bosch BMP280 and BMP388 barometers: pressure in Pa, temperature in °C, altitude in m.

Both use the datasheets' compensation formulas in floating point (BMP280 datasheet section 8.1,
BMP388 datasheet section 9.3) on the trimming parameters read from the chip's NVM at setup.

Wiring: VCC to 3V3, GND, SDA to GPIO2, SCL to GPIO3; SDO low gives address 0x76, high 0x77. See
``hardware/wiring.md``.
"""

from __future__ import annotations

import abc
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

import numpy as np

from firmware_py.bus import bus_name
from firmware_py.clock import Clock, SystemClock
from firmware_py.exc import DeviceClosedError, ImuFaultError, ImuNotFoundError
from firmware_py.imu.base import _WIRING_FIX, ChipLifecycle
from firmware_py.imu.registers import (
    BMP280_CALIB_FIELDS,
    BMP280_CALIB_FORMAT,
    BMP280_REGISTERS,
    BMP388_CALIB_FIELDS,
    BMP388_CALIB_FORMAT,
    BMP388_REGISTERS,
    RegisterDevice,
    RegisterMap,
)

if TYPE_CHECKING:
    from firmware_py.bus import I2CBus

__all__ = [
    "SEA_LEVEL_PA",
    "Bmp280",
    "Bmp280Calibration",
    "Bmp388",
    "Bmp388Calibration",
    "altitude_m",
    "bmp280_compensate",
    "bmp388_compensate",
]

#: ISA standard pressure at sea level, Pa.
SEA_LEVEL_PA = 101325.0
# International Standard Atmosphere, troposphere: T0 / L (m) and R L / (g M).
_ISA_HEIGHT_SCALE_M = 44330.77
_ISA_EXPONENT = 0.190263


def altitude_m(pressure_pa: float | np.ndarray, sea_level_pa: float = SEA_LEVEL_PA) -> float | np.ndarray:
    """Return the altitude of ``pressure_pa`` in the International Standard Atmosphere.

    Parameters
    ----------
    pressure_pa : float or numpy.ndarray
        Static pressure, Pa.
    sea_level_pa : float
        Pressure at 0 m, Pa (set it from a known elevation for absolute altitude; for a climb only
        differences matter).

    Returns
    -------
    float or numpy.ndarray
        Altitude above the ``sea_level_pa`` level, m.
    """
    return (
        _ISA_HEIGHT_SCALE_M
        * (1.0 - np.power(np.asarray(pressure_pa, dtype=np.float64) / sea_level_pa, _ISA_EXPONENT))[()]
    )


class _PackedCalibration:
    """Trimming parameters stored in the chip's NVM as one packed ``struct`` (``_FORMAT``, ``_FIELDS``)."""

    _FORMAT: ClassVar[str]
    _FIELDS: ClassVar[tuple[str, ...]]

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode the calibration block as read from the chip."""
        return cls(*struct.unpack(cls._FORMAT, data))

    def to_bytes(self) -> bytes:
        """Encode as the calibration block the chip stores (the fake chips serve it)."""
        return struct.pack(self._FORMAT, *(getattr(self, f) for f in self._FIELDS))


@dataclass(frozen=True)
class Bmp280Calibration(_PackedCalibration):
    """BMP280 trimming parameters dig_T1 .. dig_P9 (datasheet table 17)."""

    dig_t1: int
    dig_t2: int
    dig_t3: int
    dig_p1: int
    dig_p2: int
    dig_p3: int
    dig_p4: int
    dig_p5: int
    dig_p6: int
    dig_p7: int
    dig_p8: int
    dig_p9: int

    _FORMAT: ClassVar[str] = BMP280_CALIB_FORMAT  # the 24 bytes at 0x88..0x9F
    _FIELDS: ClassVar[tuple[str, ...]] = BMP280_CALIB_FIELDS


def bmp280_compensate(adc_t: int, adc_p: int, cal: Bmp280Calibration) -> tuple[float, float]:
    """Compensate raw BMP280 readings (datasheet section 8.1, double precision).

    Parameters
    ----------
    adc_t, adc_p : int
        Raw 20-bit temperature and pressure.
    cal : Bmp280Calibration
        Trimming parameters.

    Returns
    -------
    temperature_c : float
        Temperature, °C.
    pressure_pa : float
        Pressure, Pa (0.0 when the calibration would divide by zero).
    """
    var1 = (adc_t / 16384.0 - cal.dig_t1 / 1024.0) * cal.dig_t2
    var2 = (adc_t / 131072.0 - cal.dig_t1 / 8192.0) ** 2 * cal.dig_t3
    t_fine = int(var1 + var2)
    temperature_c = (var1 + var2) / 5120.0
    var1 = t_fine / 2.0 - 64000.0
    var2 = var1 * var1 * cal.dig_p6 / 32768.0
    var2 = var2 + var1 * cal.dig_p5 * 2.0
    var2 = var2 / 4.0 + cal.dig_p4 * 65536.0
    var1 = (cal.dig_p3 * var1 * var1 / 524288.0 + cal.dig_p2 * var1) / 524288.0
    var1 = (1.0 + var1 / 32768.0) * cal.dig_p1
    if var1 == 0.0:
        return temperature_c, 0.0
    p = 1048576.0 - adc_p
    p = (p - var2 / 4096.0) * 6250.0 / var1
    var1 = cal.dig_p9 * p * p / 2147483648.0
    var2 = p * cal.dig_p8 / 32768.0
    return temperature_c, p + (var1 + var2 + cal.dig_p7) / 16.0


@dataclass(frozen=True)
class Bmp388Calibration(_PackedCalibration):
    """BMP388 NVM trimming parameters NVM_PAR_T1 .. NVM_PAR_P11 (datasheet table 22), as stored."""

    par_t1: int
    par_t2: int
    par_t3: int
    par_p1: int
    par_p2: int
    par_p3: int
    par_p4: int
    par_p5: int
    par_p6: int
    par_p7: int
    par_p8: int
    par_p9: int
    par_p10: int
    par_p11: int

    _FORMAT: ClassVar[str] = BMP388_CALIB_FORMAT  # the 21 bytes at 0x31..0x45
    _FIELDS: ClassVar[tuple[str, ...]] = BMP388_CALIB_FIELDS

    def scaled(self) -> tuple[float, ...]:
        """Return PAR_T1 .. PAR_P11 as floats (datasheet section 9.1: NVM value times 2^-n)."""
        return (
            self.par_t1 * 2.0**8,
            self.par_t2 / 2.0**30,
            self.par_t3 / 2.0**48,
            (self.par_p1 - 2.0**14) / 2.0**20,
            (self.par_p2 - 2.0**14) / 2.0**29,
            self.par_p3 / 2.0**32,
            self.par_p4 / 2.0**37,
            self.par_p5 * 2.0**3,
            self.par_p6 / 2.0**6,
            self.par_p7 / 2.0**8,
            self.par_p8 / 2.0**15,
            self.par_p9 / 2.0**48,
            self.par_p10 / 2.0**48,
            self.par_p11 / 2.0**65,
        )


def bmp388_compensate(uncomp_temp: int, uncomp_press: int, cal: Bmp388Calibration) -> tuple[float, float]:
    """Compensate raw BMP388 readings (datasheet section 9.3, floating point).

    Parameters
    ----------
    uncomp_temp, uncomp_press : int
        Raw 24-bit temperature and pressure.
    cal : Bmp388Calibration
        Trimming parameters.

    Returns
    -------
    temperature_c : float
        Temperature, °C.
    pressure_pa : float
        Pressure, Pa.
    """
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11 = cal.scaled()
    d1 = uncomp_temp - t1
    t_lin = d1 * t2 + d1 * d1 * t3
    out1 = p5 + p6 * t_lin + p7 * t_lin**2 + p8 * t_lin**3
    out2 = uncomp_press * (p1 + p2 * t_lin + p3 * t_lin**2 + p4 * t_lin**3)
    out3 = uncomp_press**2 * (p9 + p10 * t_lin) + uncomp_press**3 * p11
    return t_lin, out1 + out2 + out3


class _Barometer(ChipLifecycle):
    """Probe, reset, calibration and lifetime shared by the Bosch barometers."""

    CHIP: ClassVar[str]
    REGISTERS: ClassVar[RegisterMap]
    ID_REGISTER: ClassVar[str]
    CHIP_IDS: ClassVar[tuple[int, ...]]
    ADDRESSES: ClassVar[tuple[int, ...]] = (0x76, 0x77)

    def __init__(
        self,
        bus: I2CBus,
        address: int | None = None,
        *,
        clock: Clock | None = None,
        chip_ids: tuple[int, ...] | None = None,
    ) -> None:
        self.bus = bus
        self.address = self.ADDRESSES[0] if address is None else int(address)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.chip_ids = tuple(chip_ids) if chip_ids is not None else self.CHIP_IDS
        self.regs = RegisterDevice(bus, self.address, self.REGISTERS)
        self.chip_id: int | None = None
        self._is_setup = False
        self._closed = False

    def setup(self) -> None:
        """Probe the chip id, reset, read the trimming parameters and start normal-mode measuring.

        Raises
        ------
        ImuNotFoundError
            When nothing answers at the address or the id is wrong.
        ImuFaultError
            When the chip stops answering during setup.
        """
        if self._closed:
            raise DeviceClosedError(f"{self.CHIP} at address 0x{self.address:02x} used after close()")
        where = f"{bus_name(self.bus)} address 0x{self.address:02x}"
        try:
            chip_id = self.regs.read(self.ID_REGISTER)
        except OSError as e:
            raise ImuNotFoundError(f"no {self.CHIP} answered on {where} ({e}); {_WIRING_FIX}") from e
        if chip_id not in self.chip_ids:
            expected = ", ".join(f"0x{i:02x}" for i in self.chip_ids)
            raise ImuNotFoundError(
                f"{self.CHIP} expected on {where} but the chip id read 0x{chip_id:02x} "
                f"(expected {expected}); {_WIRING_FIX}"
            )
        self.chip_id = chip_id
        try:
            self._configure()
        except OSError as e:
            raise self._fault(e) from e
        self._is_setup = True

    def read(self) -> tuple[float, float]:
        """Return the latest (pressure in Pa, temperature in °C).

        Raises
        ------
        ImuFaultError
            When the chip does not answer.
        """
        self._check_ready()
        try:
            return self._read()
        except OSError as e:
            raise self._fault(e) from e

    def read_pressure_pa(self) -> float:
        """Return the latest pressure, Pa."""
        return self.read()[0]

    def read_temperature_c(self) -> float:
        """Return the latest temperature, °C."""
        return self.read()[1]

    def _fault(self, e: OSError) -> ImuFaultError:
        return ImuFaultError(
            e.errno,
            f"{self.CHIP} on {bus_name(self.bus)} address 0x{self.address:02x} stopped answering ({e}); "
            f"{_WIRING_FIX}",
        )

    def _check_ready(self) -> None:
        if self._closed:
            raise DeviceClosedError(f"{self.CHIP} at address 0x{self.address:02x} used after close()")
        if not self._is_setup:
            raise RuntimeError(f"{self.CHIP} at address 0x{self.address:02x}: call setup() first")

    @abc.abstractmethod
    def _configure(self) -> None: ...

    @abc.abstractmethod
    def _read(self) -> tuple[float, float]: ...


class Bmp280(_Barometer):
    """BMP280 (chip id 0x58).

    Parameters
    ----------
    bus : I2CBus
        The I2C bus.
    address : int, optional
        0x76 (SDO low, the default) or 0x77.
    clock : Clock, optional
        For the waits after reset.
    chip_ids : tuple of int, optional
        Accepted ids (default 0x58; add 0x60 to drive a BME280's pressure part).

    Notes
    -----
    Runs in normal mode: temperature ×2, pressure ×16 oversampling, IIR filter 4, 0.5 ms standby
    (about 26 Hz); each read takes the latest result in one 6-byte burst.
    """

    CHIP = "BMP280"
    REGISTERS = BMP280_REGISTERS
    ID_REGISTER = "ID"
    CHIP_IDS = (0x58,)

    def _configure(self) -> None:
        regs = self.regs
        regs.set("RESET", reset="reset")
        self.clock.sleep(0.002)  # start-up time 2 ms
        reg = self.REGISTERS["CALIB00"]
        self.calibration = Bmp280Calibration.from_bytes(self.regs.read_block(reg.address, reg.n_bytes))
        regs.set("CONFIG", t_sb=0.5, filter=4, spi3w_en=0)
        regs.set("CTRL_MEAS", osrs_t=2, osrs_p=16, mode="normal")

    def _read(self) -> tuple[float, float]:
        data = self.regs.read_group("PRESS_MSB", "TEMP_MSB")
        temperature_c, pressure_pa = bmp280_compensate(
            data["TEMP_MSB"].adc_t, data["PRESS_MSB"].adc_p, self.calibration
        )
        return pressure_pa, temperature_c

    def _power_down(self) -> None:
        self.regs.set("CTRL_MEAS", mode="sleep")


class Bmp388(_Barometer):
    """BMP388 (chip id 0x50).

    Parameters
    ----------
    bus : I2CBus
        The I2C bus.
    address : int, optional
        0x76 (SDO low, the default) or 0x77.
    clock : Clock, optional
        For the waits after reset.
    chip_ids : tuple of int, optional
        Accepted ids (default 0x50; the BMP390 reads 0x60 and has the same formulas).

    Notes
    -----
    Runs in normal mode: pressure ×8, temperature ×1 oversampling, 25 Hz, IIR coefficient 3.
    """

    CHIP = "BMP388"
    REGISTERS = BMP388_REGISTERS
    ID_REGISTER = "CHIP_ID"
    CHIP_IDS = (0x50,)

    def _configure(self) -> None:
        regs = self.regs
        regs.set("CMD", cmd="softreset")
        self.clock.sleep(0.002)
        reg = self.REGISTERS["NVM_PAR_T1"]
        self.calibration = Bmp388Calibration.from_bytes(self.regs.read_block(reg.address, reg.n_bytes))
        regs.set("OSR", osr_p=8, osr_t=1)
        regs.set("ODR", odr_sel=25)
        regs.set("CONFIG", iir_filter=3)
        regs.set("PWR_CTRL", press_en=1, temp_en=1, mode="normal")

    def _read(self) -> tuple[float, float]:
        data = self.regs.read_group("DATA_0", "DATA_3")
        temperature_c, pressure_pa = bmp388_compensate(
            data["DATA_3"].temp, data["DATA_0"].press, self.calibration
        )
        return pressure_pa, temperature_c

    def _power_down(self) -> None:
        self.regs.set("PWR_CTRL", mode="sleep")
