"""LSM6DS3 / LSM6DSL / LSM6DSO(X) drivers: raw FIFO bytes -> SI values per range, setup writes, FIFO parsing.

Expected values are computed by hand from the datasheets' sensitivities: accel 0.061 / 0.122 /
0.244 / 0.488 mg/LSB at ±2 / 4 / 8 / 16 g, gyro 4.375 / 8.75 / 17.5 / 35 / 70 mdps/LSB at ±125 /
250 / 500 / 1000 / 2000 dps. A raw 10000 is then 610 / 1220 / 2440 / 4880 mg (times 9.80665e-3
m/s² per mg) and 43.75 / 87.5 / 175 / 350 / 700 °/s.
"""

from __future__ import annotations

import pytest

from firmware_py.clock import FakeClock
from firmware_py.imu import Lsm6ds3, Lsm6dsl, Lsm6dso, Lsm6dsox
from firmware_py.imu.fake import FakeI2CBus, FakeLsm6ds3, FakeLsm6dsl, FakeLsm6dso, FakeLsm6dsox

UNTAGGED = [(FakeLsm6ds3, Lsm6ds3), (FakeLsm6dsl, Lsm6dsl)]
TAGGED = [(FakeLsm6dso, Lsm6dso), (FakeLsm6dsox, Lsm6dsox)]
ALL = UNTAGGED + TAGGED
ADDR = 0x6A

ACCEL_CASES = [(2, 5.9820565), (4, 11.964113), (8, 23.928226), (16, 47.856452)]
GYRO_CASES = [
    (125, 0.7635815477475192),  # 43.75 °/s
    (250, 1.5271630954950384),  # 87.5 °/s
    (500, 3.0543261909900767),  # 175 °/s
    (1000, 6.1086523819801535),  # 350 °/s
    (2000, 12.217304763960307),  # 700 °/s
]
GYRO_TAG, ACCEL_TAG = 0x09, 0x11  # TAG_SENSOR 1 / 2, TAG_CNT 0, parity bit (even number of 1s)


def rig(fake_cls, driver_cls, **driver_kw):
    clock = FakeClock()
    chip = fake_cls(clock=clock)
    bus = FakeI2CBus([chip])
    imu = driver_cls(bus, clock=clock, **driver_kw)
    imu.setup()
    return clock, chip, bus, imu


def le(*values: int) -> bytes:
    return b"".join(v.to_bytes(2, "little", signed=True) for v in values)


def sample_bytes(fake_cls, acc: tuple[int, int, int], gyro: tuple[int, int, int], cnt: int = 0) -> bytes:
    """One sample as the chip writes it to its FIFO."""
    if fake_cls in (FakeLsm6ds3, FakeLsm6dsl):
        return le(*gyro) + le(*acc)  # data set 1 (gyro) then data set 2 (accel)
    return bytes([GYRO_TAG | cnt << 1]) + le(*gyro) + bytes([ACCEL_TAG | cnt << 1]) + le(*acc)


@pytest.mark.parametrize(("fake_cls", "driver_cls"), ALL)
@pytest.mark.parametrize(("range_g", "expected_mps2"), ACCEL_CASES)
def test_accel_counts_to_mps2_at_every_range(fake_cls, driver_cls, range_g, expected_mps2):
    _, chip, _, imu = rig(fake_cls, driver_cls, accel_range_g=range_g)
    chip.inject_fifo_bytes(sample_bytes(fake_cls, (10000, -10000, 0), (0, 0, 0)))
    batch = imu.read_fifo()
    assert batch.raw.tolist() == [[10000, -10000, 0, 0, 0, 0]]
    assert batch.acc_mps2[0].tolist() == pytest.approx([expected_mps2, -expected_mps2, 0.0], rel=1e-12)


@pytest.mark.parametrize(("fake_cls", "driver_cls"), ALL)
@pytest.mark.parametrize(("range_dps", "expected_rads"), GYRO_CASES)
def test_gyro_counts_to_rads_at_every_range(fake_cls, driver_cls, range_dps, expected_rads):
    _, chip, _, imu = rig(fake_cls, driver_cls, gyro_range_dps=range_dps)
    chip.inject_fifo_bytes(sample_bytes(fake_cls, (0, 0, 0), (0, 10000, -10000)))
    batch = imu.read_fifo()
    assert batch.raw.tolist() == [[0, 0, 0, 0, 10000, -10000]]
    assert batch.gyro_rads[0].tolist() == pytest.approx([0.0, expected_rads, -expected_rads], rel=1e-12)


@pytest.mark.parametrize(("fake_cls", "driver_cls"), UNTAGGED)
def test_untagged_setup_writes(fake_cls, driver_cls):
    _, chip, bus, imu = rig(fake_cls, driver_cls, sampling_rate_hz=200, accel_range_g=16, gyro_range_dps=2000)
    writes = bus.writes(ADDR)
    assert writes[0] == (0x12, 0x05)  # CTRL3_C.SW_RESET (IF_INC kept)
    assert bus.last_write(ADDR, 0x12) == 0x44  # CTRL3_C: BDU, IF_INC
    assert bus.last_write(ADDR, 0x10) == 0x54  # CTRL1_XL: ODR 0101 = 208 Hz, FS_XL 01 = ±16 g
    assert bus.last_write(ADDR, 0x11) == 0x5C  # CTRL2_G: ODR 0101 = 208 Hz, FS_G 11 = ±2000 dps
    assert bus.last_write(ADDR, 0x08) == 0x09  # FIFO_CTRL3: gyro and accel in the FIFO, no decimation
    assert (0x0A, 0x28) in writes  # FIFO_CTRL5: bypass (empties the FIFO) at ODR_FIFO 208 Hz
    assert bus.last_write(ADDR, 0x0A) == 0x2E  # FIFO_CTRL5: ODR_FIFO 208 Hz, continuous mode
    assert imu.sampling_rate_hz == 208.0
    assert chip.rate_hz == 208.0


def test_tagged_setup_writes():
    _, _chip, bus, imu = rig(FakeLsm6dso, Lsm6dso, sampling_rate_hz=200, accel_range_g=8, gyro_range_dps=500)
    assert bus.last_write(ADDR, 0x10) == 0x5C  # CTRL1_XL: 208 Hz, FS_XL 11 = ±8 g
    assert bus.last_write(ADDR, 0x11) == 0x54  # CTRL2_G: 208 Hz, FS_G 01 = ±500 dps
    assert bus.last_write(ADDR, 0x09) == 0x55  # FIFO_CTRL3: BDR_GY = BDR_XL = 208 Hz
    assert (0x0A, 0x00) in bus.writes(ADDR)  # FIFO_CTRL4: bypass
    assert bus.last_write(ADDR, 0x0A) == 0x06  # FIFO_CTRL4: continuous mode
    assert imu.sampling_rate_hz == 208.0


def test_125_dps_uses_fs_125():
    _, _, bus, _ = rig(FakeLsm6ds3, Lsm6ds3, gyro_range_dps=125)
    assert bus.last_write(ADDR, 0x11) == 0x52  # CTRL2_G: 208 Hz, FS_125


@pytest.mark.parametrize(
    ("driver_cls", "fake_cls", "wanted_hz", "real_hz"),
    [
        (Lsm6ds3, FakeLsm6ds3, 50, 52.0),
        (Lsm6ds3, FakeLsm6ds3, 400, 416.0),
        (Lsm6dsl, FakeLsm6dsl, 1000, 833.0),
        (Lsm6dso, FakeLsm6dso, 400, 417.0),
        (Lsm6dso, FakeLsm6dso, 100, 104.0),
    ],
)
def test_rate_snaps_to_the_nearest_odr(driver_cls, fake_cls, wanted_hz, real_hz):
    _, chip, _, imu = rig(fake_cls, driver_cls, sampling_rate_hz=wanted_hz)
    assert imu.sampling_rate_hz == real_hz
    assert chip.rate_hz == real_hz


def test_tagged_fifo_pairs_words_by_time_slot_in_either_order_and_skips_other_tags():
    _, chip, _, imu = rig(FakeLsm6dso, Lsm6dso, accel_range_g=2, gyro_range_dps=250)
    timestamp_word = bytes([0x04 << 3]) + bytes(6)
    accel_first = bytes([ACCEL_TAG | 1 << 1]) + le(3, 4, 5) + bytes([GYRO_TAG | 1 << 1]) + le(6, 7, 8)
    chip.inject_fifo_bytes(sample_bytes(FakeLsm6dso, (1, 2, 3), (4, 5, 6)) + timestamp_word + accel_first)
    batch = imu.read_fifo()
    assert batch.raw.tolist() == [[1, 2, 3, 4, 5, 6], [3, 4, 5, 6, 7, 8]]


def test_tagged_fifo_carries_a_half_sample_to_the_next_read():
    _, chip, _, imu = rig(FakeLsm6dso, Lsm6dso)
    full = sample_bytes(FakeLsm6dso, (1, 2, 3), (4, 5, 6), cnt=2)
    chip.inject_fifo_bytes(full + full[:7])  # the gyro word of the next slot is already there
    assert imu.read_fifo().raw.tolist() == [[1, 2, 3, 4, 5, 6]]
    chip.inject_fifo_bytes(full[7:])
    assert imu.read_fifo().raw.tolist() == [[1, 2, 3, 4, 5, 6]]


def test_tagged_words_of_different_slots_are_out_of_step():
    _, chip, _, imu = rig(FakeLsm6dso, Lsm6dso)
    chip.inject_fifo_bytes(bytes([GYRO_TAG]) + le(1, 2, 3) + bytes([ACCEL_TAG | 1 << 1]) + le(4, 5, 6))
    batch = imu.read_fifo()
    assert batch.overflow
    assert batch.gap.reason == "misaligned"
    assert batch.n_samples == 0


def test_untagged_fifo_out_of_pattern_is_out_of_step():
    _clock, chip, bus, imu = rig(FakeLsm6ds3, Lsm6ds3)
    chip.inject_fifo_bytes(le(1, 2, 3) + le(4, 5, 6) + le(7))
    bus.read_i2c_block_data(ADDR, 0x3E, 2)  # someone else read one word: FIFO_PATTERN is now 1
    batch = imu.read_fifo()
    assert batch.gap is not None
    assert batch.gap.reason == "misaligned"


def test_close_powers_down_both_sensors():
    _, chip, bus, imu = rig(FakeLsm6dso, Lsm6dso)
    imu.close()
    assert bus.last_write(ADDR, 0x10) >> 4 == 0
    assert bus.last_write(ADDR, 0x11) >> 4 == 0
    assert chip.rate_hz is None


def test_after_an_overflow_a_word_whose_partner_was_overwritten_is_dropped():
    # continuous mode overwrites word by word: the oldest word left may be the accel half of a
    # time slot whose gyro word is gone; the whole samples after it are kept, in order
    _, chip, _, imu = rig(FakeLsm6dso, Lsm6dso)
    orphan = bytes([ACCEL_TAG | 1 << 1]) + le(9, 9, 9)
    chip.inject_fifo_bytes(
        orphan
        + sample_bytes(FakeLsm6dso, (1, 2, 3), (4, 5, 6), cnt=2)
        + sample_bytes(FakeLsm6dso, (7, 8, 9), (1, 1, 1), cnt=3)
    )
    chip._ovr = chip._ovr_latched = True  # the chip flags the overwrite
    batch = imu.read_fifo()
    assert batch.overflow
    assert batch.gap is not None
    assert batch.gap.reason == "overflow"
    assert batch.raw.tolist() == [[1, 2, 3, 4, 5, 6], [7, 8, 9, 1, 1, 1]]


def test_without_an_overflow_a_lone_accel_word_is_still_out_of_step():
    _, chip, _, imu = rig(FakeLsm6dso, Lsm6dso)
    orphan = bytes([ACCEL_TAG | 1 << 1]) + le(9, 9, 9)
    chip.inject_fifo_bytes(orphan + sample_bytes(FakeLsm6dso, (1, 2, 3), (4, 5, 6), cnt=2))
    batch = imu.read_fifo()
    assert batch.gap is not None
    assert batch.gap.reason == "misaligned"
    assert batch.n_samples == 0
