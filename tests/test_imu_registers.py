"""The register DSL, and the register maps as data (addresses checked against the datasheets)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py.clock import FakeClock
from firmware_py.imu import registers as r
from firmware_py.imu.fake import FakeBmp280, FakeI2CBus, FakeLsm6ds3, FakeMpu6050
from firmware_py.imu.registers import BitField, Register, RegisterDevice, RegisterMap, nearest

MAPS = [
    r.MPU_REGISTERS,
    r.LSM6DS3_REGISTERS,
    r.LSM6DSL_REGISTERS,
    r.LSM6DSO_REGISTERS,
    r.ICM42688_REGISTERS,
    r.BMP280_REGISTERS,
    r.BMP388_REGISTERS,
]
FIELDS = [(m, reg, f) for m in MAPS for reg in m for f in reg.fields]


def test_bitfield_shift_and_lookup():
    field = BitField("fs_xl", 0x0C, {2: 0, 16: 1, 4: 2, 8: 3})
    assert field.shift == 2
    assert field.max_code == 3
    assert field.encode(16) == 0x04
    assert field.encode(8) == 0x0C
    assert field.decode(0xF8) == 4  # code 2
    with pytest.raises(ValueError, match=r"fs_xl=3 is not allowed; allowed: 2, 16, 4, 8"):
        field.encode(3)
    plain = BitField("smplrt_div", 0xFF)
    assert plain.encode(19) == 19
    with pytest.raises(ValueError, match=r"0\.\.255"):
        plain.encode(256)


def test_bitfield_definition_errors():
    with pytest.raises(ValueError, match="not contiguous"):
        BitField("x", 0b1010)
    with pytest.raises(ValueError, match="does not fit"):
        BitField("x", 0b11, {"big": 4})
    with pytest.raises(ValueError, match="reserved"):
        BitField("mode", 0x03, {"sleep": 0, "normal": 3}).decode(0x01)


def test_register_definition_errors():
    with pytest.raises(ValueError, match="overlaps"):
        Register("R", 0x10, (BitField("a", 0x0F), BitField("b", 0x18)))
    with pytest.raises(ValueError, match="wider"):
        Register("R", 0x10, (BitField("a", 0x100),))
    with pytest.raises(ValueError, match="duplicate"):
        RegisterMap("chip", (Register("R", 1), Register("R", 2)))
    with pytest.raises(KeyError, match="no field 'nope'; fields: fs_sel"):
        Register("R", 1, (BitField("fs_sel", 0x18),)).field("nope")


def test_multi_byte_registers():
    reg = r.LSM6DS3_REGISTERS["FIFO_STATUS1"]
    fields = reg.decode(reg.from_bytes(bytes([0x34, 0x52])))  # 0x5234: OVER_RUN, FIFO_EMPTY, 0x234 words
    assert fields.diff_fifo == 0x234
    assert fields.over_run == 1
    assert fields.fifo_empty == 1
    assert fields.waterm == 0
    count = r.MPU_REGISTERS["FIFO_COUNTH"]
    assert count.decode(count.from_bytes(b"\x03\xfc")).fifo_count == 1020
    assert count.to_bytes(1020) == b"\x03\xfc"


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(FIELDS), data=st.data())
def test_every_field_of_every_map_round_trips(case, data):
    _, reg, field = case
    if field.lookup:
        value = data.draw(st.sampled_from(field.allowed()))
        code = field.lookup[value]
    else:
        value = code = data.draw(st.integers(0, field.max_code))
    other = data.draw(st.integers(0, (1 << (8 * reg.n_bytes)) - 1)) & ~field.mask
    raw = reg.encode(other, **{field.name: value})
    assert raw & ~field.mask == other  # the other bits are kept
    assert field.code_of(raw) == code
    decoded = field.decode(raw)
    assert (field.lookup[decoded] if field.lookup else decoded) == code


@pytest.mark.parametrize("regmap", MAPS, ids=lambda m: m.chip)
def test_maps_are_consistent(regmap):
    spans = sorted((reg.address, reg.address + reg.n_bytes, reg.name) for reg in regmap)
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        assert end <= start, f"{name} overlaps {other}"
    for reg in regmap:
        assert reg.name.isupper()
        assert all(f.name.islower() for f in reg.fields)


@pytest.mark.parametrize(
    ("regmap", "expected"),
    [
        (
            r.MPU_REGISTERS,
            {
                "SMPLRT_DIV": 0x19,
                "CONFIG": 0x1A,
                "GYRO_CONFIG": 0x1B,
                "ACCEL_CONFIG": 0x1C,
                "FIFO_EN": 0x23,
                "INT_STATUS": 0x3A,
                "USER_CTRL": 0x6A,
                "PWR_MGMT_1": 0x6B,
                "FIFO_COUNTH": 0x72,
                "FIFO_R_W": 0x74,
                "WHO_AM_I": 0x75,
            },
        ),
        (
            r.LSM6DS3_REGISTERS,
            {
                "FIFO_CTRL1": 0x06,
                "FIFO_CTRL3": 0x08,
                "FIFO_CTRL5": 0x0A,
                "WHO_AM_I": 0x0F,
                "CTRL1_XL": 0x10,
                "CTRL2_G": 0x11,
                "CTRL3_C": 0x12,
                "FIFO_STATUS1": 0x3A,
                "FIFO_STATUS3": 0x3C,
                "FIFO_DATA_OUT_L": 0x3E,
            },
        ),
        (
            r.LSM6DSO_REGISTERS,
            {
                "FIFO_CTRL1": 0x07,
                "FIFO_CTRL3": 0x09,
                "FIFO_CTRL4": 0x0A,
                "WHO_AM_I": 0x0F,
                "CTRL1_XL": 0x10,
                "CTRL3_C": 0x12,
                "FIFO_STATUS1": 0x3A,
                "FIFO_DATA_OUT_TAG": 0x78,
            },
        ),
        (
            r.ICM42688_REGISTERS,
            {
                "DEVICE_CONFIG": 0x11,
                "FIFO_CONFIG": 0x16,
                "INT_STATUS": 0x2D,
                "FIFO_COUNTH": 0x2E,
                "FIFO_DATA": 0x30,
                "SIGNAL_PATH_RESET": 0x4B,
                "INTF_CONFIG0": 0x4C,
                "PWR_MGMT0": 0x4E,
                "GYRO_CONFIG0": 0x4F,
                "ACCEL_CONFIG0": 0x50,
                "FIFO_CONFIG1": 0x5F,
                "FIFO_LOST_PKT0": 0x6C,
                "WHO_AM_I": 0x75,
                "REG_BANK_SEL": 0x76,
            },
        ),
        (
            r.BMP280_REGISTERS,
            {
                "CALIB00": 0x88,
                "ID": 0xD0,
                "RESET": 0xE0,
                "CTRL_MEAS": 0xF4,
                "CONFIG": 0xF5,
                "PRESS_MSB": 0xF7,
                "TEMP_MSB": 0xFA,
            },
        ),
        (
            r.BMP388_REGISTERS,
            {
                "CHIP_ID": 0x00,
                "DATA_0": 0x04,
                "DATA_3": 0x07,
                "PWR_CTRL": 0x1B,
                "OSR": 0x1C,
                "ODR": 0x1D,
                "CONFIG": 0x1F,
                "NVM_PAR_T1": 0x31,
                "CMD": 0x7E,
            },
        ),
    ],
    ids=lambda v: getattr(v, "chip", ""),
)
def test_datasheet_addresses(regmap, expected):
    assert {name: regmap[name].address for name in expected} == expected


def test_fifo_record_layouts():
    assert r.MPU_FIFO_FRAME.itemsize == 12
    assert r.LSM6DS_FIFO_DATA_SET.itemsize == 12
    assert r.LSM6DSO_FIFO_WORD.itemsize == 7
    assert r.ICM42688_FIFO_PACKET3["big"].itemsize == 16


def test_register_device_read_modify_write_keeps_other_bits():
    clock = FakeClock()
    bus = FakeI2CBus([FakeMpu6050(clock=clock)])
    dev = RegisterDevice(bus, 0x68, r.MPU_REGISTERS)
    dev.write("GYRO_CONFIG", 0xE0)  # self-test bits on
    assert dev.set("GYRO_CONFIG", fs_sel=2000) == 0xF8
    assert dev.get("GYRO_CONFIG").fs_sel == 2000
    assert dev.get("GYRO_CONFIG").xg_st == 1
    with pytest.raises(ValueError, match="allowed: 250, 500, 1000, 2000"):
        dev.set("GYRO_CONFIG", fs_sel=300)


def test_write_only_registers_are_not_read_first():
    bus = FakeI2CBus([FakeBmp280(clock=FakeClock())])
    RegisterDevice(bus, 0x76, r.BMP280_REGISTERS).set("RESET", reset="reset")
    assert [(t.kind, t.register, t.data) for t in bus.log] == [("write", 0xE0, b"\xb6")]


def test_read_group_is_one_transaction():
    bus = FakeI2CBus([FakeMpu6050(clock=FakeClock())])
    dev = RegisterDevice(bus, 0x68, r.MPU_REGISTERS)
    values = dev.read_group("PWR_MGMT_1", "FIFO_COUNTH")  # 0x6B .. 0x73
    assert values["PWR_MGMT_1"].sleep == 1
    assert values["FIFO_COUNTH"].fifo_count == 0
    assert len(bus.log) == 1
    assert bus.log[0].register == 0x6B
    assert len(bus.log[0].data) == 9
    # A burst across FIFO_R_W (0x74) stays there, as on the chip: WHO_AM_I is not reached.
    assert dev.read_block(0x73, 3) == bytes(3)


def test_long_fifo_reads_split_on_whole_records():
    clock = FakeClock()
    chip = FakeLsm6ds3(clock=clock)
    bus = FakeI2CBus([chip])
    payload = bytes(range(256)) * 31 + bytes(range(248))  # 8184 bytes = 682 data sets
    chip.inject_fifo_bytes(payload)
    data = RegisterDevice(bus, 0x6A, r.LSM6DS3_REGISTERS).read_fifo("FIFO_DATA_OUT_L", len(payload), unit=12)
    assert data == payload
    assert [len(t.data) for t in bus.log if t.kind == "read"] == [4092, 4092]


def test_nearest():
    table = {"power_down": 0, 12.5: 1, 52: 3, 104: 4, 208: 5, 416: 6, 833: 7, 1666: 8}
    assert nearest(table, 200) == 208
    assert nearest(table, 78) == 52  # a tie goes to the lower rate
    assert nearest(table, 5000, hi=1000) == 833
    assert nearest(table, 1, lo=50) == 52
    with pytest.raises(ValueError):
        nearest(table, 100, lo=2000)
