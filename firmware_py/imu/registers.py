"""Registers declared once, as data: a small DSL and the register map of every supported chip.

A chip is a :class:`RegisterMap` of :class:`Register` (datasheet name, address, bit fields). A
:class:`BitField` is a mask (its shift and width follow from the mask) and, where the datasheet
gives a table, a ``lookup`` from a human value (Hz, ±g, dps, a mode name) to the code. Drivers do
no bit manipulation of their own: they call :meth:`RegisterDevice.set` (read-modify-write) and
:meth:`RegisterDevice.get` (decode every field), and decode FIFO data with the numpy dtypes and
fields declared here.

Names are the datasheets': registers in UPPER_CASE, fields in lower case. Sources:

- InvenSense MPU-6000/MPU-6050 Register Map and Descriptions rev 4.2 (RM-MPU-6000A-00), and the
  MPU-6500 / MPU-9250 register maps for ``ACCEL_CONFIG2`` and the 512-byte FIFO.
- ST LSM6DS3 (DocID026899), LSM6DSL (DocID028475) and LSM6DSO (DS12140) datasheets.
- TDK ICM-42688-P datasheet DS-000347 (user bank 0).
- Bosch BMP280 (BST-BMP280-DS001) and BMP388 (BST-BMP388-DS001) datasheets.
- PiSugar 3 battery controller: no datasheet; the I2C table of the vendor's wiki
  (github.com/PiSugar/PiSugar/wiki/PiSugar-3-Series) and its open-source power manager
  (github.com/PiSugar/pisugar-power-manager-rs, ``pisugar-core/src/pisugar3.rs``).
"""

from __future__ import annotations

import struct
from collections import namedtuple
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from firmware_py.bus import RDWR_MAX_BYTES, SMBUS_BLOCK_MAX, read_stream

if TYPE_CHECKING:
    from firmware_py.bus import I2CBus

__all__ = [
    "BMP280_CALIB_FIELDS",
    "BMP280_CALIB_FORMAT",
    "BMP280_REGISTERS",
    "BMP388_CALIB_FIELDS",
    "BMP388_CALIB_FORMAT",
    "BMP388_REGISTERS",
    "ICM42688_ACCEL_LSB_PER_G",
    "ICM42688_FIFO_CAPACITY_BYTES",
    "ICM42688_FIFO_HEADER",
    "ICM42688_FIFO_PACKET3",
    "ICM42688_FIFO_TMST_TICKS_PER_US",
    "ICM42688_GYRO_LSB_PER_DPS",
    "ICM42688_REGISTERS",
    "LSM6DS3_FIFO_CAPACITY_WORDS",
    "LSM6DS3_REGISTERS",
    "LSM6DSL_FIFO_CAPACITY_WORDS",
    "LSM6DSL_REGISTERS",
    "LSM6DSO_FIFO_CAPACITY_WORDS",
    "LSM6DSO_FIFO_WORD",
    "LSM6DSO_REGISTERS",
    "LSM6DS_ACCEL_MG_PER_LSB",
    "LSM6DS_FIFO_DATA_SET",
    "LSM6DS_GYRO_MDPS_PER_LSB",
    "MPU_ACCEL_LSB_PER_G",
    "MPU_FIFO_CAPACITY_BYTES",
    "MPU_FIFO_FRAME",
    "MPU_GYRO_LSB_PER_DPS",
    "MPU_REGISTERS",
    "PISUGAR3_ADDRESS",
    "PISUGAR3_REGISTERS",
    "PISUGAR3_VERSION",
    "BitField",
    "Register",
    "RegisterDevice",
    "RegisterMap",
    "nearest",
]


# --------------------------------------------------------------------------------------------------
# The DSL
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BitField:
    """A field of a register: a mask, and optionally a table of allowed values.

    Parameters
    ----------
    name : str
        Datasheet name, lower case (``fs_xl``, ``fifo_oflow_int``).
    mask : int
        Bits of the (possibly multi-byte) register the field occupies; must be contiguous.
    lookup : mapping, optional
        ``{human value: code}``. Without it the field holds a plain unsigned integer.
    doc : str
        Datasheet meaning.
    """

    name: str
    mask: int
    lookup: Mapping[Hashable, int] | None = None
    doc: str = ""
    shift: int = field(init=False, repr=False)
    _reverse: Mapping[int, Hashable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mask <= 0:
            raise ValueError(f"field {self.name}: mask must be positive; got {self.mask:#x}")
        shift = (self.mask & -self.mask).bit_length() - 1
        width = (self.mask >> shift).bit_length()
        if (self.mask >> shift) != (1 << width) - 1:
            raise ValueError(f"field {self.name}: mask {self.mask:#x} is not contiguous")
        object.__setattr__(self, "shift", shift)
        reverse: dict[int, Hashable] = {}
        for human, code in (self.lookup or {}).items():
            if not 0 <= code <= (self.mask >> shift):
                raise ValueError(
                    f"field {self.name}: code {code} for {human!r} does not fit mask {self.mask:#x}"
                )
            reverse.setdefault(code, human)  # the first name of a code wins
        object.__setattr__(self, "_reverse", reverse)

    @property
    def max_code(self) -> int:
        """Largest code the field can hold."""
        return self.mask >> self.shift

    def allowed(self) -> list[Hashable]:
        """Human values the lookup accepts (empty without a lookup)."""
        return list((self.lookup or {}).keys())

    def encode(self, value: Any) -> int:
        """Return ``value`` as bits in place (already shifted).

        Raises
        ------
        ValueError
            When ``value`` is not in the lookup (the message lists the allowed values), or does
            not fit the field.
        """
        if self.lookup is not None:
            try:
                code = self.lookup[value]
            except (KeyError, TypeError):
                allowed = ", ".join(repr(v) for v in self.lookup)
                raise ValueError(f"{self.name}={value!r} is not allowed; allowed: {allowed}") from None
        else:
            code = int(value)
            if not 0 <= code <= self.max_code:
                raise ValueError(f"{self.name}={value!r} does not fit 0..{self.max_code}")
        return code << self.shift

    def code_of(self, raw: int) -> int:
        """Return the field's code from a raw register value."""
        return (raw & self.mask) >> self.shift

    def decode(self, raw: int) -> Any:
        """Return the field's human value from a raw register value.

        Raises
        ------
        ValueError
            When the code is not in the lookup table (a reserved setting).
        """
        code = self.code_of(raw)
        if self.lookup is None:
            return code
        try:
            return self._reverse[code]
        except KeyError:
            raise ValueError(
                f"{self.name}: code {code:#x} is reserved (not in the datasheet table)"
            ) from None

    def extract(self, raw: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`code_of` over an integer array (FIFO tags and headers)."""
        return (raw & self.mask) >> self.shift


@dataclass(frozen=True)
class Register:
    """A register: datasheet name, address and fields.

    Parameters
    ----------
    name : str
        Datasheet name (``PWR_MGMT_1``).
    address : int
        Address of its first byte.
    fields : tuple of BitField
        Its fields; masks apply to the whole ``n_bytes``-wide value.
    n_bytes : int
        Width: registers the datasheet reads as a pair (``FIFO_COUNTH``/``FIFO_COUNTL``) are one
        register of 2 bytes here, named after the first.
    byteorder : {"big", "little"}
        Order of the bytes of a multi-byte register.
    reset : int
        Power-on value (what the fakes start from).
    access : {"rw", "r", "w"}
        ``"w"`` registers (command registers) are written without reading them first.
    doc : str
        Datasheet meaning.
    """

    name: str
    address: int
    fields: tuple[BitField, ...] = ()
    n_bytes: int = 1
    byteorder: Literal["big", "little"] = "big"
    reset: int = 0
    access: Literal["rw", "r", "w"] = "rw"
    doc: str = ""
    _by_name: Mapping[str, BitField] = field(init=False, repr=False, compare=False)
    _values: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {f.name: f for f in self.fields}
        if len(by_name) != len(self.fields):
            raise ValueError(f"register {self.name}: duplicate field names")
        seen = 0
        for f in self.fields:
            if f.mask & seen:
                raise ValueError(f"register {self.name}: field {f.name} overlaps another field")
            if f.mask >> (8 * self.n_bytes):
                raise ValueError(f"register {self.name}: field {f.name} is wider than {self.n_bytes} byte(s)")
            seen |= f.mask
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_values", namedtuple(self.name, [f.name for f in self.fields]))

    def field(self, name: str) -> BitField:
        """Return the field called ``name``.

        Raises
        ------
        KeyError
            When the register has no such field; the message lists its fields.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(
                f"register {self.name} has no field {name!r}; fields: {', '.join(self._by_name)}"
            ) from None

    def encode(self, current: int, **values: Any) -> int:
        """Return ``current`` with the named fields replaced by ``values``."""
        raw = current
        for name, value in values.items():
            f = self.field(name)
            raw = (raw & ~f.mask) | f.encode(value)
        return raw

    def decode(self, raw: int) -> Any:
        """Return every field of ``raw`` as a namedtuple (attribute per field)."""
        return self._values(*(f.decode(raw) for f in self.fields))

    def from_bytes(self, data: bytes) -> int:
        """Return the raw value of this register from its ``n_bytes`` bytes."""
        return int.from_bytes(data[: self.n_bytes], self.byteorder)

    def to_bytes(self, raw: int) -> bytes:
        """Return the ``n_bytes`` bytes of a raw value."""
        return raw.to_bytes(self.n_bytes, self.byteorder)


@dataclass(frozen=True)
class RegisterMap:
    """The registers of one chip, by name.

    Parameters
    ----------
    chip : str
        Chip name for messages.
    registers : tuple of Register
        Its registers; names must be unique.
    """

    chip: str
    registers: tuple[Register, ...]
    _by_name: Mapping[str, Register] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {r.name: r for r in self.registers}
        if len(by_name) != len(self.registers):
            raise ValueError(f"{self.chip}: duplicate register names")
        object.__setattr__(self, "_by_name", by_name)

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"{self.chip} has no register {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self.registers)

    def reset_bytes(self) -> dict[int, int]:
        """Return ``{address: byte}`` of every non-zero power-on value (for the fakes)."""
        out: dict[int, int] = {}
        for reg in self.registers:
            if reg.reset:
                for i, b in enumerate(reg.to_bytes(reg.reset)):
                    out[reg.address + i] = b
        return out


class RegisterDevice:
    """Register access to one chip at one bus address: the ``get``/``set`` of the house style.

    Parameters
    ----------
    bus : I2CBus
        The (injected) bus.
    address : int
        7-bit device address.
    regmap : RegisterMap
        The chip's registers.

    Notes
    -----
    Bus errors (:class:`OSError`) pass through unchanged; the driver decides what they mean.
    """

    def __init__(self, bus: I2CBus, address: int, regmap: RegisterMap) -> None:
        self.bus = bus
        self.address = address
        self.map = regmap

    def read(self, name: str) -> int:
        """Return the raw value of register ``name`` (one transaction)."""
        reg = self.map[name]
        if reg.n_bytes == 1:
            return self.bus.read_byte_data(self.address, reg.address)
        return reg.from_bytes(bytes(self.bus.read_i2c_block_data(self.address, reg.address, reg.n_bytes)))

    def write(self, name: str, raw: int) -> None:
        """Write the raw value of register ``name`` (one transaction)."""
        reg = self.map[name]
        if reg.n_bytes == 1:
            self.bus.write_byte_data(self.address, reg.address, raw)
        else:
            self.bus.write_i2c_block_data(self.address, reg.address, list(reg.to_bytes(raw)))

    def get(self, name: str) -> Any:
        """Read register ``name`` and return its fields as a namedtuple."""
        return self.map[name].decode(self.read(name))

    def set(self, name: str, **values: Any) -> int:
        """Set fields of register ``name``, keeping the others (read-modify-write).

        Returns
        -------
        int
            The raw value written.

        Raises
        ------
        ValueError
            When a value is not allowed for its field (the message lists the allowed ones).
        """
        reg = self.map[name]
        current = 0 if reg.access == "w" else self.read(name)
        raw = reg.encode(current, **values)
        self.write(name, raw)
        return raw

    def read_group(self, *names: str) -> dict[str, Any]:
        """Read several registers in ONE block transaction and decode each.

        The registers should be close together (the span from the lowest to the highest byte is
        read). Returns ``{name: namedtuple of fields}``.
        """
        regs = [self.map[n] for n in names]
        start = min(r.address for r in regs)
        end = max(r.address + r.n_bytes for r in regs)
        data = self.read_block(start, end - start)
        return {r.name: r.decode(r.from_bytes(data[r.address - start :])) for r in regs}

    def read_block(self, address: int, length: int) -> bytes:
        """Read ``length`` bytes from ``address`` on in one transaction (block read or ``i2c_rdwr``)."""
        if length <= SMBUS_BLOCK_MAX:
            return bytes(self.bus.read_i2c_block_data(self.address, address, length))
        return read_stream(self.bus, self.address, address, length)

    def read_fifo(self, name: str, length: int, unit: int = 1) -> bytes:
        """Drain ``length`` bytes from FIFO data register ``name`` with ``i2c_rdwr``.

        Reads longer than :data:`~firmware_py.bus.RDWR_MAX_BYTES` are split at multiples of
        ``unit`` (the FIFO word or frame size) so that no word straddles two transactions.
        """
        reg = self.map[name]
        chunk = (RDWR_MAX_BYTES // unit) * unit
        parts = []
        done = 0
        while done < length:
            n = min(chunk, length - done)
            parts.append(read_stream(self.bus, self.address, reg.address, n))
            done += n
        return b"".join(parts)


def nearest(
    table: Iterable[Any], value: float, *, lo: float = float("-inf"), hi: float = float("inf")
) -> float:
    """Return the numeric key of ``table`` nearest to ``value`` among those in ``[lo, hi]``.

    Non-numeric keys (mode names such as ``"power_down"``) are ignored.
    """
    keys = [k for k in table if isinstance(k, int | float) and not isinstance(k, bool) and lo <= k <= hi]
    if not keys:
        raise ValueError(f"no setting in {lo}..{hi}")
    return min(keys, key=lambda k: (abs(k - value), k))


def _flag(name: str, mask: int, doc: str) -> BitField:
    return BitField(name, mask, doc=doc)


# --------------------------------------------------------------------------------------------------
# InvenSense MPU-6050 / MPU-6500 / MPU-9250 (same register layout for what we use)
# --------------------------------------------------------------------------------------------------

#: Accelerometer sensitivity per full scale (AFS_SEL), LSB/g (register map section 4.17).
MPU_ACCEL_LSB_PER_G: dict[int, float] = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
#: Gyroscope sensitivity per full scale (FS_SEL), LSB/(°/s) (section 4.19).
MPU_GYRO_LSB_PER_DPS: dict[int, float] = {250: 131.0, 500: 65.5, 1000: 32.8, 2000: 16.4}
#: FIFO size by WHO_AM_I, bytes: 1024 on the MPU-6050, 512 on the MPU-6500/9250 family, 4 KiB on
#: the ICM-20689 (0x98). Unknown ids use 512.
MPU_FIFO_CAPACITY_BYTES: dict[int, int] = {0x68: 1024, 0x98: 4096}
#: One FIFO frame with FIFO_EN = accel + gyro x/y/z: registers 59..64 then 67..72, big-endian.
MPU_FIFO_FRAME = np.dtype([("acc", ">i2", (3,)), ("gyro", ">i2", (3,))])

MPU_REGISTERS = RegisterMap(
    "MPU-6050/6500/9250",
    (
        Register(
            "SMPLRT_DIV",
            0x19,
            (BitField("smplrt_div", 0xFF, doc="Sample Rate = Gyroscope Output Rate / (1 + SMPLRT_DIV)"),),
        ),
        Register(
            "CONFIG",
            0x1A,
            (
                _flag(
                    "fifo_mode",
                    0x40,
                    "MPU-6500 only: 1 = stop writing when the FIFO is full; 0 = overwrite oldest",
                ),
                BitField("ext_sync_set", 0x38, doc="FSYNC pin sampling; 0 = disabled"),
                BitField(
                    "dlpf_cfg",
                    0x07,
                    # Gyro bandwidth (Hz) -> DLPF_CFG. 0 (256 Hz) and 7 switch the DLPF off and the
                    # gyroscope output rate becomes 8 kHz; 1..6 keep it at 1 kHz.
                    lookup={256: 0, 188: 1, 98: 2, 42: 3, 20: 4, 10: 5, 5: 6, "reserved": 7},
                    doc="Digital low-pass filter, keyed by gyro bandwidth in Hz",
                ),
            ),
        ),
        Register(
            "GYRO_CONFIG",
            0x1B,
            (
                _flag("xg_st", 0x80, "X gyro self-test"),
                _flag("yg_st", 0x40, "Y gyro self-test"),
                _flag("zg_st", 0x20, "Z gyro self-test"),
                BitField("fs_sel", 0x18, {250: 0, 500: 1, 1000: 2, 2000: 3}, "Gyro full scale, ±°/s"),
                BitField("fchoice_b", 0x03, doc="MPU-6500 only: 0 = use DLPF_CFG (keep 0)"),
            ),
        ),
        Register(
            "ACCEL_CONFIG",
            0x1C,
            (
                _flag("xa_st", 0x80, "X accel self-test"),
                _flag("ya_st", 0x40, "Y accel self-test"),
                _flag("za_st", 0x20, "Z accel self-test"),
                BitField("afs_sel", 0x18, {2: 0, 4: 1, 8: 2, 16: 3}, "Accel full scale, ±g"),
            ),
        ),
        Register(
            "ACCEL_CONFIG2",
            0x1D,
            (
                _flag("accel_fchoice_b", 0x08, "MPU-6500 only: 0 = use A_DLPF_CFG"),
                BitField(
                    "a_dlpf_cfg",
                    0x07,
                    lookup={218: 1, 99: 2, 45: 3, 21: 4, 10: 5, 5: 6, 420: 7},
                    doc="MPU-6500 only: accel low-pass filter, keyed by 3-dB bandwidth in Hz (1 kHz rate)",
                ),
            ),
            doc="MPU-6500/9250 only (absent on the MPU-6050)",
        ),
        Register(
            "FIFO_EN",
            0x23,
            (
                _flag("temp_fifo_en", 0x80, "TEMP_OUT_H/L into the FIFO"),
                _flag("xg_fifo_en", 0x40, "GYRO_XOUT_H/L into the FIFO"),
                _flag("yg_fifo_en", 0x20, "GYRO_YOUT_H/L into the FIFO"),
                _flag("zg_fifo_en", 0x10, "GYRO_ZOUT_H/L into the FIFO"),
                _flag("accel_fifo_en", 0x08, "ACCEL_XOUT_H .. ACCEL_ZOUT_L into the FIFO"),
                _flag("slv2_fifo_en", 0x04, "external sensor slave 2 into the FIFO"),
                _flag("slv1_fifo_en", 0x02, "external sensor slave 1 into the FIFO"),
                _flag("slv0_fifo_en", 0x01, "external sensor slave 0 into the FIFO"),
            ),
        ),
        Register(
            "INT_PIN_CFG",
            0x37,
            (_flag("int_rd_clear", 0x10, "0 = status bits clear only when INT_STATUS is read"),),
        ),
        Register(
            "INT_ENABLE",
            0x38,
            (
                _flag("fifo_oflow_en", 0x10, "interrupt on FIFO overflow"),
                _flag("data_rdy_en", 0x01, "interrupt on data ready"),
            ),
        ),
        Register(
            "INT_STATUS",
            0x3A,
            (
                _flag("fifo_oflow_int", 0x10, "FIFO overflowed (oldest data overwritten); clears when read"),
                _flag("i2c_mst_int", 0x08, "I2C master interrupt"),
                _flag("data_rdy_int", 0x01, "data ready; clears when read"),
            ),
            access="r",
        ),
        Register("ACCEL_XOUT_H", 0x3B, (BitField("accel_xout", 0xFFFF),), n_bytes=2, access="r"),
        Register("TEMP_OUT_H", 0x41, (BitField("temp_out", 0xFFFF),), n_bytes=2, access="r"),
        Register("GYRO_XOUT_H", 0x43, (BitField("gyro_xout", 0xFFFF),), n_bytes=2, access="r"),
        Register(
            "SIGNAL_PATH_RESET",
            0x68,
            (
                _flag("gyro_reset", 0x04, "reset gyro signal path"),
                _flag("accel_reset", 0x02, "reset accel signal path"),
                _flag("temp_reset", 0x01, "reset temperature signal path"),
            ),
        ),
        Register(
            "USER_CTRL",
            0x6A,
            (
                _flag("fifo_en", 0x40, "enable FIFO operations"),
                _flag("i2c_mst_en", 0x20, "enable the auxiliary I2C master"),
                _flag("i2c_if_dis", 0x10, "disable I2C (SPI only)"),
                _flag("fifo_reset", 0x04, "reset the FIFO while FIFO_EN is 0; clears itself"),
                _flag("i2c_mst_reset", 0x02, "reset the I2C master; clears itself"),
                _flag("sig_cond_reset", 0x01, "reset all signal paths and sensor registers; clears itself"),
            ),
        ),
        Register(
            "PWR_MGMT_1",
            0x6B,
            (
                _flag("device_reset", 0x80, "reset every register to its default; clears itself"),
                _flag("sleep", 0x40, "sleep mode (set at power-up)"),
                _flag("cycle", 0x20, "cycle between sleep and one sample"),
                _flag("temp_dis", 0x08, "disable the temperature sensor"),
                BitField(
                    "clksel",
                    0x07,
                    {"internal_8mhz": 0, "pll_x_gyro": 1, "pll_y_gyro": 2, "pll_z_gyro": 3, "stop": 7},
                    "clock source; PLL with the X gyro (1) is the recommended one",
                ),
            ),
            reset=0x40,
        ),
        Register("PWR_MGMT_2", 0x6C, (BitField("stby", 0x3F, doc="standby bits of each axis; 0 = all on"),)),
        Register(
            "FIFO_COUNTH",
            0x72,
            (BitField("fifo_count", 0x1FFF, doc="bytes in the FIFO (FIFO_COUNTH:FIFO_COUNTL)"),),
            n_bytes=2,
            byteorder="big",
            access="r",
        ),
        Register(
            "FIFO_R_W", 0x74, (BitField("fifo_data", 0xFF),), doc="FIFO read/write; address does not advance"
        ),
        Register(
            "WHO_AM_I", 0x75, (BitField("who_am_i", 0xFF, doc="device id: 0x68 MPU-6050, 0x70 MPU-6500 ..."),)
        ),
    ),
)

# --------------------------------------------------------------------------------------------------
# ST LSM6DS3 / LSM6DSL (untagged FIFO) and LSM6DSO / LSM6DSOX (tagged FIFO)
# --------------------------------------------------------------------------------------------------

#: Accelerometer sensitivity per full scale, mg/LSB (datasheet table 3, "LA_So").
LSM6DS_ACCEL_MG_PER_LSB: dict[int, float] = {2: 0.061, 4: 0.122, 8: 0.244, 16: 0.488}
#: Gyroscope sensitivity per full scale, mdps/LSB (datasheet table 3, "G_So").
LSM6DS_GYRO_MDPS_PER_LSB: dict[int, float] = {125: 4.375, 250: 8.75, 500: 17.5, 1000: 35.0, 2000: 70.0}
#: FIFO size in 16-bit words: 8 KiB on the LSM6DS3, 4 KiB on the LSM6DSL.
LSM6DS3_FIFO_CAPACITY_WORDS = 4096
LSM6DSL_FIFO_CAPACITY_WORDS = 2048
#: FIFO size in 7-byte words (tag + 6 data bytes) on the LSM6DSO/DSOX without compression: 3 KiB.
LSM6DSO_FIFO_CAPACITY_WORDS = 512
#: One untagged FIFO pattern with gyro and accel at the same rate: data set 1 (gyro) then data
#: set 2 (accel), each x/y/z, little-endian 16-bit words (LSM6DSL section 5.5.6).
LSM6DS_FIFO_DATA_SET = np.dtype([("gyro", "<i2", (3,)), ("acc", "<i2", (3,))])
#: One tagged FIFO word: FIFO_DATA_OUT_TAG then X, Y, Z little-endian (LSM6DSO section 9.x).
LSM6DSO_FIFO_WORD = np.dtype([("tag", "u1"), ("data", "<i2", (3,))])

# ODR codes shared by CTRL1_XL.ODR_XL, CTRL2_G.ODR_G and FIFO_CTRL5.ODR_FIFO (LSM6DS3/DSL), Hz.
_DS3_ODR = {
    "power_down": 0,
    12.5: 1,
    26: 2,
    52: 3,
    104: 4,
    208: 5,
    416: 6,
    833: 7,
    1666: 8,
    3332: 9,
    6664: 10,
}
# LSM6DSO rates are printed 417 / 1667 / 3333 / 6667 Hz; 1.6 Hz (code 11) is accel low-power only.
_DSO_ODR = {
    "power_down": 0,
    12.5: 1,
    26: 2,
    52: 3,
    104: 4,
    208: 5,
    417: 6,
    833: 7,
    1667: 8,
    3333: 9,
    6667: 10,
}
_DSO_BDR = {
    "not_batched": 0,
    12.5: 1,
    26: 2,
    52: 3,
    104: 4,
    208: 5,
    417: 6,
    833: 7,
    1667: 8,
    3333: 9,
    6667: 10,
}
_ST_FS_XL = {2: 0, 16: 1, 4: 2, 8: 3}  # note the order: 01 is ±16 g
_ST_FS_G = {250: 0, 500: 1, 1000: 2, 2000: 3}
_DS3_DEC = {"not_in_fifo": 0, "no_decimation": 1, 2: 2, 3: 3, 4: 4, 8: 5, 16: 6, 32: 7}
_ST_FIFO_MODE = {
    "bypass": 0,  # FIFO off; also empties it
    "fifo": 1,  # stop collecting when full
    "continuous_to_fifo": 3,
    "bypass_to_continuous": 4,
    "continuous": 6,  # when full, the newest sample overwrites the oldest
}


def _st_common(odr: Mapping[Hashable, int]) -> tuple[Register, ...]:
    return (
        Register("FUNC_CFG_ACCESS", 0x01, (_flag("func_cfg_en", 0x80, "embedded functions register bank"),)),
        Register(
            "WHO_AM_I", 0x0F, (BitField("who_am_i", 0xFF, doc="0x69 LSM6DS3, 0x6A LSM6DSL, 0x6C LSM6DSO/X"),)
        ),
        Register(
            "CTRL1_XL",
            0x10,
            (
                BitField("odr_xl", 0xF0, odr, "accel output data rate, Hz (power-down at reset)"),
                BitField("fs_xl", 0x0C, _ST_FS_XL, "accel full scale, ±g"),
                BitField(
                    "bw_xl", 0x03, doc="DS3: anti-aliasing bandwidth; DSL/DSO: LPF1_BW_SEL / LPF2_XL_EN"
                ),
            ),
        ),
        Register(
            "CTRL2_G",
            0x11,
            (
                BitField("odr_g", 0xF0, odr, "gyro output data rate, Hz (power-down at reset)"),
                BitField("fs_g", 0x0C, _ST_FS_G, "gyro full scale, ±dps (when fs_125 = 0)"),
                _flag("fs_125", 0x02, "gyro full scale ±125 dps (overrides fs_g)"),
            ),
        ),
        Register(
            "CTRL3_C",
            0x12,
            (
                _flag("boot", 0x80, "reboot memory content"),
                _flag("bdu", 0x40, "block data update: output registers not updated until read"),
                _flag("h_lactive", 0x20, "interrupt active low"),
                _flag("pp_od", 0x10, "open-drain interrupt pads"),
                _flag("sim", 0x08, "3-wire SPI"),
                _flag("if_inc", 0x04, "register address auto-increment on multi-byte access (default 1)"),
                _flag("ble", 0x02, "DS3/DSL: big/little endian data selection (0 = LSB at lower address)"),
                _flag("sw_reset", 0x01, "software reset; clears itself"),
            ),
            reset=0x04,
        ),
        Register(
            "STATUS_REG",
            0x1E,
            (_flag("gda", 0x02, "gyro data available"), _flag("xlda", 0x01, "accel data available")),
        ),
    )


def _ds3_like(chip: str, diff_mask: int) -> RegisterMap:
    return RegisterMap(
        chip,
        (
            *_st_common(_DS3_ODR),
            Register("FIFO_CTRL1", 0x06, (BitField("fth", 0xFF, doc="FIFO threshold [7:0], words"),)),
            Register(
                "FIFO_CTRL2",
                0x07,
                (
                    _flag("timer_pedo_fifo_en", 0x80, "step counter and timestamp as 4th FIFO data set"),
                    _flag("timer_pedo_fifo_drdy", 0x40, "FIFO write on step detection"),
                    BitField("fth_h", 0x07, doc="FIFO threshold upper bits"),
                ),
            ),
            Register(
                "FIFO_CTRL3",
                0x08,
                (
                    BitField("dec_fifo_gyro", 0x38, _DS3_DEC, "gyro decimation in the FIFO (data set 1)"),
                    BitField("dec_fifo_xl", 0x07, _DS3_DEC, "accel decimation in the FIFO (data set 2)"),
                ),
            ),
            Register("FIFO_CTRL4", 0x09, (_flag("stop_on_fth", 0x80, "limit FIFO depth to the threshold"),)),
            Register(
                "FIFO_CTRL5",
                0x0A,
                (
                    BitField("odr_fifo", 0x78, _DS3_ODR, "FIFO output data rate, Hz"),
                    BitField("fifo_mode", 0x07, _ST_FIFO_MODE, "FIFO mode"),
                ),
            ),
            Register(
                "FIFO_STATUS1",
                0x3A,
                (
                    _flag("waterm", 0x8000, "FIFO_STATUS2.WaterM: threshold reached"),
                    _flag(
                        "over_run",
                        0x4000,
                        "FIFO_STATUS2.OVER_RUN: FIFO full and at least one sample overwritten",
                    ),
                    _flag(
                        "fifo_full",
                        0x2000,
                        "FIFO_STATUS2.FIFO_FULL(_SMART): FIFO full or will be at the next ODR",
                    ),
                    _flag("fifo_empty", 0x1000, "FIFO_STATUS2.FIFO_EMPTY"),
                    BitField("diff_fifo", diff_mask, doc="unread 16-bit words in the FIFO"),
                ),
                n_bytes=2,
                byteorder="little",
                access="r",
                doc="FIFO_STATUS1 (3Ah) and FIFO_STATUS2 (3Bh) read as one little-endian word",
            ),
            Register(
                "FIFO_STATUS3",
                0x3C,
                (
                    BitField(
                        "fifo_pattern", 0x03FF, doc="which word of the pattern is read next (0 = gyro X)"
                    ),
                ),
                n_bytes=2,
                byteorder="little",
                access="r",
                doc="FIFO_STATUS3 (3Ch) and FIFO_STATUS4 (3Dh) read as one little-endian word",
            ),
            Register(
                "FIFO_DATA_OUT_L",
                0x3E,
                (BitField("fifo_data_out", 0xFFFF),),
                n_bytes=2,
                byteorder="little",
                access="r",
                doc="FIFO_DATA_OUT_L/H; burst reads roll back from 3Fh to 3Eh",
            ),
        ),
    )


LSM6DS3_REGISTERS = _ds3_like("LSM6DS3", 0x0FFF)
LSM6DSL_REGISTERS = _ds3_like("LSM6DSL", 0x07FF)

LSM6DSO_REGISTERS = RegisterMap(
    "LSM6DSO/LSM6DSOX",
    (
        *_st_common(_DSO_ODR),
        Register("FIFO_CTRL1", 0x07, (BitField("wtm", 0xFF, doc="FIFO watermark [7:0], words"),)),
        Register(
            "FIFO_CTRL2",
            0x08,
            (
                _flag("stop_on_wtm", 0x80, "limit FIFO depth to the watermark"),
                _flag("fifo_compr_rt_en", 0x40, "DSOX: run-time compression (off)"),
                _flag("odrchg_en", 0x10, "write a CFG-change word on ODR change"),
                BitField("uncoptr_rate", 0x06, doc="DSOX: uncompressed word rate"),
                _flag("wtm8", 0x01, "FIFO watermark bit 8"),
            ),
        ),
        Register(
            "FIFO_CTRL3",
            0x09,
            (
                BitField("bdr_gy", 0xF0, _DSO_BDR, "gyro batch data rate into the FIFO, Hz"),
                BitField("bdr_xl", 0x0F, _DSO_BDR, "accel batch data rate into the FIFO, Hz"),
            ),
        ),
        Register(
            "FIFO_CTRL4",
            0x0A,
            (
                BitField("dec_ts_batch", 0xC0, doc="timestamp batching decimation; 0 = off"),
                BitField("odr_t_batch", 0x30, doc="temperature batch rate; 0 = off"),
                BitField("fifo_mode", 0x07, {**_ST_FIFO_MODE, "bypass_to_fifo": 7}, "FIFO mode"),
            ),
        ),
        Register(
            "FIFO_STATUS1",
            0x3A,
            (
                _flag("fifo_wtm_ia", 0x8000, "FIFO_STATUS2.FIFO_WTM_IA: watermark reached"),
                _flag(
                    "fifo_ovr_ia",
                    0x4000,
                    "FIFO_STATUS2.FIFO_OVR_IA: FIFO full and at least one word overwritten",
                ),
                _flag("fifo_full_ia", 0x2000, "FIFO_STATUS2.FIFO_FULL_IA: FIFO full at the next ODR"),
                _flag("counter_bdr_ia", 0x1000, "FIFO_STATUS2.COUNTER_BDR_IA: batch counter threshold"),
                _flag(
                    "fifo_ovr_latched",
                    0x0800,
                    "FIFO_STATUS2.FIFO_OVR_LATCHED: latched overrun; clears when read",
                ),
                BitField("diff_fifo", 0x03FF, doc="unread 7-byte words in the FIFO"),
            ),
            n_bytes=2,
            byteorder="little",
            access="r",
            doc="FIFO_STATUS1 (3Ah) and FIFO_STATUS2 (3Bh) read as one little-endian word",
        ),
        Register(
            "FIFO_DATA_OUT_TAG",
            0x78,
            (
                BitField(
                    "tag_sensor",
                    0xF8,
                    {
                        "gyro_nc": 0x01,
                        "accel_nc": 0x02,
                        "temperature": 0x03,
                        "timestamp": 0x04,
                        "cfg_change": 0x05,
                    },
                    "which sensor the word holds (NC = not compressed)",
                ),
                BitField("tag_cnt", 0x06, doc="2-bit counter of the batch time slot"),
                _flag("tag_parity", 0x01, "parity of the tag"),
            ),
            access="r",
            doc="tag of the FIFO word; burst reads run 78h..7Eh and roll back to 78h",
        ),
        Register(
            "FIFO_DATA_OUT_X_L",
            0x79,
            (BitField("fifo_data_out", (1 << 48) - 1),),
            n_bytes=6,
            byteorder="little",
            access="r",
        ),
    ),
)

# --------------------------------------------------------------------------------------------------
# TDK ICM-42688-P, user bank 0
# --------------------------------------------------------------------------------------------------

#: Accelerometer sensitivity per full scale, LSB/g (datasheet table 2).
ICM42688_ACCEL_LSB_PER_G: dict[float, float] = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
#: Gyroscope sensitivity per full scale, LSB/(°/s) (datasheet table 1).
ICM42688_GYRO_LSB_PER_DPS: dict[float, float] = {
    2000: 16.4,
    1000: 32.8,
    500: 65.5,
    250: 131.0,
    125: 262.0,
    62.5: 524.3,
    31.25: 1048.6,
    15.625: 2097.2,
}
#: FIFO size, bytes (section 6.3): 128 packets of 16 bytes. With the read cache the count may reach
#: one packet more (2064) without any loss; the lost-packet counter, not the count, says what was lost.
ICM42688_FIFO_CAPACITY_BYTES = 2048
# ODR codes shared by GYRO_CONFIG0.GYRO_ODR and ACCEL_CONFIG0.ACCEL_ODR, Hz (accel adds 6.25 ..).
_ICM_ODR = {
    32000: 1,
    16000: 2,
    8000: 3,
    4000: 4,
    2000: 5,
    1000: 6,
    200: 7,
    100: 8,
    50: 9,
    25: 10,
    12.5: 11,
    500: 15,
}
#: FIFO packet 3 (accel + gyro, 16 bytes, section 6.1): header, accel x/y/z, gyro x/y/z,
#: temperature (8 bits), timestamp (16 bits). Sensor data are big-endian at reset
#: (INTF_CONFIG0.SENSOR_DATA_ENDIAN = 1); key ``"big"``/``"little"``.
ICM42688_FIFO_PACKET3 = {
    order: np.dtype(
        [
            ("header", "u1"),
            ("acc", f"{c}i2", (3,)),
            ("gyro", f"{c}i2", (3,)),
            ("temp", "i1"),
            ("timestamp", f"{c}u2"),
        ]
    )
    for order, c in (("big", ">"), ("little", "<"))
}
#: FIFO timestamp counter ticks per microsecond of the chip's own clock (section 12.7, RTC off, TMST_RES
#: = 1 µs at reset): the counter runs at 30/32 of the nominal 1 µs, so one 5 ms period at 200 Hz is
#: 4687.5 ticks (the field toggles 4687 / 4688). ODR and counter share the chip's oscillator, so the
#: ticks per period do not drift with it. TMST_CONFIG.TMST_DELTA_EN = 0 at reset: the field holds the
#: counter's low 16 bits, not a delta.
ICM42688_FIFO_TMST_TICKS_PER_US = 30.0 / 32.0
#: The header byte opening every FIFO packet (section 6.2).
ICM42688_FIFO_HEADER = Register(
    "FIFO_HEADER",
    0x30,
    (
        _flag("header_msg", 0x80, "1 = FIFO empty (the packet holds no data)"),
        _flag("header_accel", 0x40, "packet holds accelerometer data"),
        _flag("header_gyro", 0x20, "packet holds gyroscope data"),
        _flag("header_20", 0x10, "packet holds 20-bit data (packet 4)"),
        BitField("header_timestamp_fsync", 0x0C, doc="10 = ODR timestamp, 11 = FSYNC time"),
        _flag("header_odr_accel", 0x02, "accel ODR differs from the previous packet"),
        _flag("header_odr_gyro", 0x01, "gyro ODR differs from the previous packet"),
    ),
    doc="first byte of each FIFO packet (not a register)",
)

ICM42688_REGISTERS = RegisterMap(
    "ICM-42688-P",
    (
        Register(
            "DEVICE_CONFIG",
            0x11,
            (
                _flag("spi_mode", 0x10, "SPI mode 1/2"),
                _flag("soft_reset_config", 0x01, "software reset; wait 1 ms"),
            ),
        ),
        Register(
            "FIFO_CONFIG",
            0x16,
            (
                BitField(
                    "fifo_mode",
                    0xC0,
                    {"bypass": 0, "stream": 1, "stop_on_full": 2},
                    "bypass (FIFO off); stream-to-FIFO; stop-on-full",
                ),
            ),
        ),
        Register(
            "INT_STATUS",
            0x2D,
            (
                _flag("ui_fsync_int", 0x40, "FSYNC interrupt"),
                _flag("pll_rdy_int", 0x20, "PLL ready"),
                _flag("reset_done_int", 0x10, "software reset complete (set at power-up)"),
                _flag("data_rdy_int", 0x08, "data ready"),
                _flag("fifo_ths_int", 0x04, "FIFO threshold"),
                _flag("fifo_full_int", 0x02, "FIFO full"),
                _flag("agc_rdy_int", 0x01, "AGC ready"),
            ),
            reset=0x10,
            access="r",
            doc="every bit clears when read",
        ),
        Register(
            "FIFO_COUNTH",
            0x2E,
            (BitField("fifo_count", 0xFFFF, doc="bytes (or records) in the FIFO"),),
            n_bytes=2,
            byteorder="big",
            access="r",
            doc="FIFO_COUNTH/FIFO_COUNTL; big-endian at reset (INTF_CONFIG0.FIFO_COUNT_ENDIAN = 1)",
        ),
        Register(
            "FIFO_DATA",
            0x30,
            (BitField("fifo_data", 0xFF),),
            access="r",
            doc="FIFO read port; no auto-increment",
        ),
        Register(
            "SIGNAL_PATH_RESET",
            0x4B,
            (
                _flag("dmp_init_en", 0x40, "DMP init"),
                _flag("dmp_mem_reset_en", 0x20, "DMP memory reset"),
                _flag("abort_and_reset", 0x08, "abort and reset the signal path"),
                _flag("tmst_strobe", 0x04, "latch the timestamp"),
                _flag("fifo_flush", 0x02, "flush the FIFO; clears itself"),
            ),
        ),
        Register(
            "INTF_CONFIG0",
            0x4C,
            (
                _flag("fifo_hold_last_data_en", 0x80, "hold last valid sample instead of -32768"),
                BitField("fifo_count_rec", 0x40, {"bytes": 0, "records": 1}, "FIFO count unit"),
                BitField("fifo_count_endian", 0x20, {"little": 0, "big": 1}, "FIFO count byte order"),
                BitField(
                    "sensor_data_endian", 0x10, {"little": 0, "big": 1}, "sensor and FIFO data byte order"
                ),
                BitField("ui_sifs_cfg", 0x03, doc="serial interface: 2 = disable SPI, 3 = disable I2C"),
            ),
            reset=0x30,
        ),
        Register(
            "PWR_MGMT0",
            0x4E,
            (
                _flag("temp_dis", 0x20, "temperature sensor off"),
                _flag("idle", 0x10, "RC oscillator on while sensors are off"),
                BitField(
                    "gyro_mode", 0x0C, {"off": 0, "standby": 1, "low_noise": 3}, "gyro mode (off at reset)"
                ),
                BitField(
                    "accel_mode",
                    0x03,
                    {"off": 0, "low_power": 2, "low_noise": 3},
                    "accel mode (off at reset)",
                ),
            ),
        ),
        Register(
            "GYRO_CONFIG0",
            0x4F,
            (
                BitField(
                    "gyro_fs_sel",
                    0xE0,
                    {2000: 0, 1000: 1, 500: 2, 250: 3, 125: 4, 62.5: 5, 31.25: 6, 15.625: 7},
                    "gyro full scale, ±dps",
                ),
                BitField("gyro_odr", 0x0F, _ICM_ODR, "gyro output data rate, Hz (1 kHz at reset)"),
            ),
            reset=0x06,
        ),
        Register(
            "ACCEL_CONFIG0",
            0x50,
            (
                BitField("accel_fs_sel", 0xE0, {16: 0, 8: 1, 4: 2, 2: 3}, "accel full scale, ±g"),
                BitField(
                    "accel_odr",
                    0x0F,
                    {**_ICM_ODR, 6.25: 12, 3.125: 13, 1.5625: 14},
                    "accel output data rate, Hz",
                ),
            ),
            reset=0x06,
        ),
        Register(
            "TMST_CONFIG",
            0x54,
            (
                _flag("tmst_to_regs_en", 0x10, "timestamp readable from registers"),
                _flag("tmst_res", 0x08, "timestamp resolution: 0 = 1 µs, 1 = 16 µs"),
                _flag("tmst_delta_en", 0x04, "FIFO timestamp as delta"),
                _flag("tmst_fsync_en", 0x02, "FSYNC timestamp"),
                _flag("tmst_en", 0x01, "timestamp on"),
            ),
            reset=0x23,
        ),
        Register(
            "FIFO_CONFIG1",
            0x5F,
            (
                _flag("fifo_resume_partial_rd", 0x40, "partial packet reads resume"),
                _flag("fifo_wm_gt_th", 0x20, "watermark interrupt while count > threshold"),
                _flag("fifo_hires_en", 0x10, "20-bit packets (packet 4)"),
                _flag("fifo_tmst_fsync_en", 0x08, "FSYNC timestamp in the FIFO"),
                _flag("fifo_temp_en", 0x04, "temperature into the FIFO"),
                _flag("fifo_gyro_en", 0x02, "gyro into the FIFO"),
                _flag("fifo_accel_en", 0x01, "accel into the FIFO"),
            ),
        ),
        Register(
            "FIFO_LOST_PKT0",
            0x6C,
            (BitField("fifo_lost_pkt_cnt", 0xFFFF, doc="packets lost in the FIFO (sections 14.55, 14.56)"),),
            n_bytes=2,
            byteorder="little",
            access="r",
            doc="FIFO_LOST_PKT0 (low byte) and FIFO_LOST_PKT1 (high byte); read-only, 0 at reset",
        ),
        Register("WHO_AM_I", 0x75, (BitField("who_am_i", 0xFF, doc="0x47"),), access="r"),
        Register("REG_BANK_SEL", 0x76, (BitField("bank_sel", 0x07, doc="register bank 0..4"),)),
    ),
)

# --------------------------------------------------------------------------------------------------
# Bosch BMP280 and BMP388 barometers
# --------------------------------------------------------------------------------------------------

_BOSCH_OSRS = {"skipped": 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}

#: Trimming parameters dig_T1 .. dig_P9 at 0x88..0x9F, little-endian (datasheet table 17).
BMP280_CALIB_FORMAT = "<HhhHhhhhhhhh"
BMP280_CALIB_FIELDS = (
    "dig_t1",
    "dig_t2",
    "dig_t3",
    "dig_p1",
    "dig_p2",
    "dig_p3",
    "dig_p4",
    "dig_p5",
    "dig_p6",
    "dig_p7",
    "dig_p8",
    "dig_p9",
)

BMP280_REGISTERS = RegisterMap(
    "BMP280",
    (
        Register(
            "CALIB00",
            0x88,
            (BitField("calib", (1 << 192) - 1),),
            n_bytes=struct.calcsize(BMP280_CALIB_FORMAT),
            byteorder="little",
            access="r",
            doc="calib00..calib25 trimming parameters (decode with BMP280_CALIB_FORMAT)",
        ),
        Register("ID", 0xD0, (BitField("chip_id", 0xFF, doc="0x58"),), access="r"),
        Register(
            "RESET", 0xE0, (BitField("reset", 0xFF, {"reset": 0xB6}, "0xB6 = power-on reset"),), access="w"
        ),
        Register(
            "STATUS",
            0xF3,
            (
                _flag("measuring", 0x08, "conversion running"),
                _flag("im_update", 0x01, "NVM data being copied"),
            ),
            access="r",
        ),
        Register(
            "CTRL_MEAS",
            0xF4,
            (
                BitField("osrs_t", 0xE0, _BOSCH_OSRS, "temperature oversampling"),
                BitField("osrs_p", 0x1C, _BOSCH_OSRS, "pressure oversampling"),
                BitField("mode", 0x03, {"sleep": 0, "forced": 1, "normal": 3}, "power mode (sleep at reset)"),
            ),
        ),
        Register(
            "CONFIG",
            0xF5,
            (
                BitField(
                    "t_sb",
                    0xE0,
                    {0.5: 0, 62.5: 1, 125: 2, 250: 3, 500: 4, 1000: 5, 2000: 6, 4000: 7},
                    "standby between normal-mode measurements, ms",
                ),
                BitField("filter", 0x1C, {"off": 0, 2: 1, 4: 2, 8: 3, 16: 4}, "IIR filter coefficient"),
                _flag("spi3w_en", 0x01, "3-wire SPI"),
            ),
        ),
        Register(
            "PRESS_MSB",
            0xF7,
            (
                BitField(
                    "adc_p", 0xFFFFF0, doc="raw pressure, 20 bits (press_msb, press_lsb, press_xlsb[7:4])"
                ),
            ),
            n_bytes=3,
            byteorder="big",
            reset=0x800000,
            access="r",
        ),
        Register(
            "TEMP_MSB",
            0xFA,
            (
                BitField(
                    "adc_t", 0xFFFFF0, doc="raw temperature, 20 bits (temp_msb, temp_lsb, temp_xlsb[7:4])"
                ),
            ),
            n_bytes=3,
            byteorder="big",
            reset=0x800000,
            access="r",
        ),
    ),
)

#: NVM_PAR_T1 .. NVM_PAR_P11 at 0x31..0x45, little-endian (datasheet section 3.11.1, table 22).
BMP388_CALIB_FORMAT = "<HHbhhbbHHbbhbb"
BMP388_CALIB_FIELDS = (
    "par_t1",
    "par_t2",
    "par_t3",
    "par_p1",
    "par_p2",
    "par_p3",
    "par_p4",
    "par_p5",
    "par_p6",
    "par_p7",
    "par_p8",
    "par_p9",
    "par_p10",
    "par_p11",
)

BMP388_REGISTERS = RegisterMap(
    "BMP388",
    (
        Register("CHIP_ID", 0x00, (BitField("chip_id", 0xFF, doc="0x50"),), access="r"),
        Register(
            "ERR_REG",
            0x02,
            (
                _flag("conf_err", 0x04, "configuration error"),
                _flag("cmd_err", 0x02, "command error"),
                _flag("fatal_err", 0x01, "fatal"),
            ),
            access="r",
        ),
        Register(
            "STATUS",
            0x03,
            (
                _flag("drdy_temp", 0x40, "temperature data ready"),
                _flag("drdy_press", 0x20, "pressure data ready"),
                _flag("cmd_rdy", 0x10, "command decoder ready"),
            ),
            reset=0x10,
            access="r",
        ),
        Register(
            "DATA_0",
            0x04,
            (BitField("press", 0xFFFFFF, doc="raw pressure, 24 bits (DATA_0 xlsb .. DATA_2 msb)"),),
            n_bytes=3,
            byteorder="little",
            access="r",
        ),
        Register(
            "DATA_3",
            0x07,
            (BitField("temp", 0xFFFFFF, doc="raw temperature, 24 bits (DATA_3 xlsb .. DATA_5 msb)"),),
            n_bytes=3,
            byteorder="little",
            access="r",
        ),
        Register(
            "PWR_CTRL",
            0x1B,
            (
                BitField("mode", 0x30, {"sleep": 0, "forced": 1, "normal": 3}, "power mode (sleep at reset)"),
                _flag("temp_en", 0x02, "temperature sensor on"),
                _flag("press_en", 0x01, "pressure sensor on"),
            ),
        ),
        Register(
            "OSR",
            0x1C,
            (
                BitField("osr_t", 0x38, {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5}, "temperature oversampling"),
                BitField("osr_p", 0x07, {1: 0, 2: 1, 4: 2, 8: 3, 16: 4, 32: 5}, "pressure oversampling"),
            ),
            reset=0x02,
        ),
        Register(
            "ODR",
            0x1D,
            (
                BitField(
                    "odr_sel", 0x1F, {200: 0, 100: 1, 50: 2, 25: 3, 12.5: 4, 6.25: 5}, "normal-mode rate, Hz"
                ),
            ),
        ),
        Register(
            "CONFIG",
            0x1F,
            (
                BitField(
                    "iir_filter",
                    0x0E,
                    {0: 0, 1: 1, 3: 2, 7: 3, 15: 4, 31: 5, 63: 6, 127: 7},
                    "IIR coefficient",
                ),
            ),
        ),
        Register(
            "NVM_PAR_T1",
            0x31,
            (BitField("calib", (1 << 168) - 1),),
            n_bytes=struct.calcsize(BMP388_CALIB_FORMAT),
            byteorder="little",
            access="r",
            doc="NVM_PAR_T1 .. NVM_PAR_P11 (decode with BMP388_CALIB_FORMAT)",
        ),
        Register(
            "CMD",
            0x7E,
            (BitField("cmd", 0xFF, {"softreset": 0xB6, "fifo_flush": 0xB0}, "command"),),
            access="w",
        ),
    ),
)


# --------------------------------------------------------------------------------------------------
# PiSugar 3 battery HAT: its microcontroller answers at 0x57 (the RTC it emulates sits at 0x68)
# --------------------------------------------------------------------------------------------------

#: I2C address of the PiSugar 3 (and 3 Plus) battery controller.
PISUGAR3_ADDRESS = 0x57
#: What its ``VERSION`` register holds (the model: 3).
PISUGAR3_VERSION = 0x03

PISUGAR3_REGISTERS = RegisterMap(
    "PiSugar 3",
    (
        Register("VERSION", 0x00, (BitField("version", 0xFF, doc="3 on a PiSugar 3 / 3 Plus"),), access="r"),
        Register(
            "CTR1",
            0x02,
            (
                _flag("power_plugged", 0x80, "external 5 V (USB-C) present: the battery is not draining"),
                _flag("allow_charging", 0x40, "charging allowed"),
                _flag("output_enabled", 0x20, "5 V output to the Pi on"),
                _flag("auto_restore", 0x10, "power the Pi again when external power returns"),
            ),
            access="r",  # we never write it (writes need the 0x0B write-enable handshake)
            doc="global control 1",
        ),
        Register(
            "BAT_V",
            0x22,
            (BitField("voltage_mv", 0xFFFF, doc="battery voltage, mV"),),
            n_bytes=2,
            byteorder="big",
            access="r",
            doc="VH (0x22) and VL (0x23); the vendor's manager reads them as two single bytes",
        ),
        Register(
            "BAT_PERCENT",
            0x2A,
            (BitField("percent", 0xFF, doc="state of charge, % (0-100), the controller's own estimate"),),
            access="r",
        ),
    ),
)
