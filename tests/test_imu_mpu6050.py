"""MPU-6050 family driver: raw FIFO bytes -> SI values per range, and the register writes of setup.

Expected values are computed by hand from the register map's sensitivities (section 4.17 and
4.19 of RM-MPU-6000A): accel 16384 / 8192 / 4096 / 2048 LSB/g, gyro 131 / 65.5 / 32.8 / 16.4
LSB/(°/s); 1 g = 9.80665 m/s², 100 °/s = 1.7453292519943295 rad/s.
"""

from __future__ import annotations

import pytest

from firmware_py.clock import FakeClock
from firmware_py.imu import Mpu6050
from firmware_py.imu.fake import FakeI2CBus, FakeMpu6050

ADDR = 0x68


def rig(**driver_kw):
    clock = FakeClock()
    chip = FakeMpu6050(clock=clock, who_am_i=driver_kw.pop("who_am_i", 0x68))
    bus = FakeI2CBus([chip])
    imu = Mpu6050(bus, clock=clock, **driver_kw)
    imu.setup()
    return clock, chip, bus, imu


def frame(ax: int, ay: int, az: int, gx: int, gy: int, gz: int) -> bytes:
    """One FIFO frame as the chip writes it: accel x/y/z then gyro x/y/z, big-endian int16."""
    return b"".join(v.to_bytes(2, "big", signed=True) for v in (ax, ay, az, gx, gy, gz))


@pytest.mark.parametrize(
    ("range_g", "raw_1g"),
    [(2, 0x4000), (4, 0x2000), (8, 0x1000), (16, 0x0800)],  # 16384, 8192, 4096, 2048 LSB = 1 g
)
def test_accel_counts_to_mps2_at_every_range(range_g, raw_1g):
    _, chip, _, imu = rig(accel_range_g=range_g)
    chip.inject_fifo_bytes(frame(raw_1g, -raw_1g, raw_1g // 2, 0, 0, 0))
    batch = imu.read_fifo()
    assert batch.raw.tolist() == [[raw_1g, -raw_1g, raw_1g // 2, 0, 0, 0]]
    assert batch.acc_mps2[0].tolist() == pytest.approx([9.80665, -9.80665, 4.903325], rel=1e-12)
    assert batch.gyro_rads[0].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("range_dps", "raw_100dps"),
    [(250, 13100), (500, 6550), (1000, 3280), (2000, 1640)],  # 131, 65.5, 32.8, 16.4 LSB per °/s
)
def test_gyro_counts_to_rads_at_every_range(range_dps, raw_100dps):
    _, chip, _, imu = rig(gyro_range_dps=range_dps)
    chip.inject_fifo_bytes(frame(0, 0, 0, raw_100dps, -raw_100dps, 0))
    batch = imu.read_fifo()
    assert batch.gyro_rads[0].tolist() == pytest.approx(
        [1.7453292519943295, -1.7453292519943295, 0.0], rel=1e-12
    )


def test_extreme_counts_are_full_scale():
    _, chip, _, imu = rig(accel_range_g=16, gyro_range_dps=2000)
    chip.inject_fifo_bytes(bytes.fromhex("7fff 8000 0000 7fff 8000 0000"))
    batch = imu.read_fifo()
    # 32767 / 2048 g and -32768 / 2048 g; 32767 / 16.4 °/s and -32768 / 16.4 °/s
    assert batch.acc_mps2[0, :2].tolist() == pytest.approx([156.9016115966797, -156.9064], rel=1e-12)
    assert batch.gyro_rads[0, :2].tolist() == pytest.approx(
        [34.87146560981598, -34.87252983496963], rel=1e-12
    )


def test_setup_resets_wakes_and_configures():
    _, chip, bus, imu = rig(sampling_rate_hz=200, accel_range_g=8, gyro_range_dps=2000)
    writes = bus.writes(ADDR)
    assert writes[0] == (0x6B, 0xC0)  # PWR_MGMT_1.DEVICE_RESET (read-modify-write keeps SLEEP)
    assert (0x6B, 0x01) in writes  # awake (SLEEP = 0), clock = PLL with X gyro
    assert bus.last_write(ADDR, 0x1A) == 0x02  # CONFIG: DLPF 98 Hz (1 kHz gyro rate)
    assert bus.last_write(ADDR, 0x19) == 0x04  # SMPLRT_DIV: 1 kHz / (1 + 4) = 200 Hz
    assert bus.last_write(ADDR, 0x1B) == 0x18  # GYRO_CONFIG.FS_SEL = 3: ±2000 °/s
    assert bus.last_write(ADDR, 0x1C) == 0x10  # ACCEL_CONFIG.AFS_SEL = 2: ±8 g
    assert bus.last_write(ADDR, 0x23) == 0x78  # FIFO_EN: XG, YG, ZG, ACCEL (no temperature)
    assert (0x6A, 0x04) in writes  # USER_CTRL.FIFO_RESET while FIFO_EN = 0
    assert bus.last_write(ADDR, 0x6A) == 0x40  # USER_CTRL.FIFO_EN
    assert bus.last_write(ADDR, 0x1D) is None  # no ACCEL_CONFIG2 on the MPU-6050
    assert imu.sampling_rate_hz == 200.0
    assert imu.fifo_capacity_bytes == 1024
    assert chip.rate_hz == 200.0


def test_mpu6500_gets_its_accel_filter_and_512_byte_fifo():
    _, _, bus, imu = rig(who_am_i=0x70, sampling_rate_hz=200)
    assert bus.last_write(ADDR, 0x1D) == 0x02  # ACCEL_CONFIG2.A_DLPF_CFG = 2: 99 Hz
    assert imu.fifo_capacity_bytes == 512


@pytest.mark.parametrize(
    ("wanted_hz", "real_hz", "smplrt_div", "dlpf_cfg"),
    [
        (1000, 1000.0, 0, 1),  # DLPF 188 Hz
        (500, 500.0, 1, 1),
        (200, 200.0, 4, 2),  # 98 Hz
        (150, 1000 / 7, 6, 3),  # 142.86 Hz is nearer than 166.67 Hz; 42 Hz
        (120, 125.0, 7, 3),
        (100, 100.0, 9, 3),
        (50, 50.0, 19, 4),  # 20 Hz
    ],
)
def test_rate_snaps_to_one_khz_over_one_plus_smplrt_div(wanted_hz, real_hz, smplrt_div, dlpf_cfg):
    _, chip, bus, imu = rig(sampling_rate_hz=wanted_hz)
    assert imu.sampling_rate_hz == pytest.approx(real_hz)
    assert bus.last_write(ADDR, 0x19) == smplrt_div
    assert bus.last_write(ADDR, 0x1A) == dlpf_cfg
    assert chip.rate_hz == pytest.approx(real_hz)


def test_a_partial_frame_is_treated_as_misalignment():
    _, chip, _, imu = rig()
    chip.inject_fifo_bytes(bytes(13))
    batch = imu.read_fifo()
    assert batch.overflow
    assert batch.gap.reason == "misaligned"
    assert batch.n_samples == 0
    assert chip.fifo_bytes == 0


def test_close_puts_the_chip_to_sleep():
    _, _, bus, imu = rig()
    imu.close()
    assert bus.last_write(ADDR, 0x6B) & 0x40  # PWR_MGMT_1.SLEEP
