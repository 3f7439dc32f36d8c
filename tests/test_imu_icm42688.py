"""ICM-42688-P driver: FIFO packets -> SI values per range, setup writes, packet checks.

Expected values are computed by hand from the datasheet's sensitivities: accel 16384 / 8192 /
4096 / 2048 LSB/g at ±2 / 4 / 8 / 16 g; gyro 16.4 / 32.8 / 65.5 / 131 / 262 / 524.3 / 1048.6 /
2097.2 LSB/(°/s) at ±2000 / 1000 / 500 / 250 / 125 / 62.5 / 31.25 / 15.625 °/s.
1 g = 9.80665 m/s²; 100 °/s = 1.7453292519943295 rad/s; 10 °/s = 0.17453292519943295 rad/s.
"""

from __future__ import annotations

import pytest

from firmware_py.clock import FakeClock
from firmware_py.imu import Icm42688
from firmware_py.imu.fake import FakeI2CBus, FakeIcm42688

ADDR = 0x68


def rig(**driver_kw):
    clock = FakeClock()
    chip = FakeIcm42688(clock=clock)
    bus = FakeI2CBus([chip])
    imu = Icm42688(bus, clock=clock, **driver_kw)
    imu.setup()
    return clock, chip, bus, imu


def packet(acc: tuple[int, int, int], gyro: tuple[int, int, int], header: int = 0x68) -> bytes:
    """FIFO packet 3: header, accel, gyro (big-endian int16), temperature (int8), timestamp (u16)."""
    body = b"".join(v.to_bytes(2, "big", signed=True) for v in (*acc, *gyro))
    return bytes([header]) + body + bytes([0x00]) + (0x1234).to_bytes(2, "big")


@pytest.mark.parametrize(("range_g", "raw_1g"), [(2, 16384), (4, 8192), (8, 4096), (16, 2048)])
def test_accel_counts_to_mps2_at_every_range(range_g, raw_1g):
    _, chip, _, imu = rig(accel_range_g=range_g)
    chip.inject_fifo_bytes(packet((raw_1g, -raw_1g, raw_1g // 4), (0, 0, 0)))
    batch = imu.read_fifo()
    assert batch.raw.tolist() == [[raw_1g, -raw_1g, raw_1g // 4, 0, 0, 0]]
    assert batch.acc_mps2[0].tolist() == pytest.approx([9.80665, -9.80665, 2.4516625], rel=1e-12)


@pytest.mark.parametrize(
    ("range_dps", "raw", "expected_rads"),
    [
        (2000, 1640, 1.7453292519943295),  # 1640 / 16.4 = 100 °/s
        (1000, 3280, 1.7453292519943295),  # / 32.8
        (500, 6550, 1.7453292519943295),  # / 65.5
        (250, 13100, 1.7453292519943295),  # / 131
        (125, 26200, 1.7453292519943295),  # / 262
        (62.5, 5243, 0.17453292519943295),  # 5243 / 524.3 = 10 °/s
        (31.25, 10486, 0.17453292519943295),  # / 1048.6
        (15.625, 20972, 0.17453292519943295),  # / 2097.2
    ],
)
def test_gyro_counts_to_rads_at_every_range(range_dps, raw, expected_rads):
    _, chip, _, imu = rig(gyro_range_dps=range_dps)
    chip.inject_fifo_bytes(packet((0, 0, 0), (-raw, 0, raw)))
    batch = imu.read_fifo()
    assert batch.gyro_rads[0].tolist() == pytest.approx([-expected_rads, 0.0, expected_rads], rel=1e-12)


def test_setup_writes():
    _, chip, bus, imu = rig(sampling_rate_hz=200, accel_range_g=8, gyro_range_dps=1000)
    writes = bus.writes(ADDR)
    assert (0x11, 0x01) in writes  # DEVICE_CONFIG.SOFT_RESET_CONFIG
    assert bus.last_write(ADDR, 0x76) == 0x00  # REG_BANK_SEL: bank 0
    assert bus.last_write(ADDR, 0x4C) == 0x30  # INTF_CONFIG0: count and data big-endian, count in bytes
    assert bus.last_write(ADDR, 0x4F) == 0x27  # GYRO_CONFIG0: FS 001 = ±1000 dps, ODR 0111 = 200 Hz
    assert bus.last_write(ADDR, 0x50) == 0x27  # ACCEL_CONFIG0: FS 001 = ±8 g, ODR 0111 = 200 Hz
    assert bus.last_write(ADDR, 0x4E) == 0x0F  # PWR_MGMT0: gyro and accel low-noise
    assert bus.last_write(ADDR, 0x5F) == 0x07  # FIFO_CONFIG1: accel, gyro, temperature
    assert bus.last_write(ADDR, 0x16) == 0x40  # FIFO_CONFIG: stream-to-FIFO
    assert bus.last_write(ADDR, 0x4B) == 0x02  # SIGNAL_PATH_RESET.FIFO_FLUSH
    assert imu.sampling_rate_hz == 200.0
    assert chip.rate_hz == 200.0


def test_defaults_are_16_g_and_2000_dps():
    _, _, bus, _imu = rig()
    assert bus.last_write(ADDR, 0x4F) == 0x07
    assert bus.last_write(ADDR, 0x50) == 0x07


@pytest.mark.parametrize(
    ("wanted_hz", "real_hz"), [(50, 50.0), (120, 100.0), (300, 200.0), (500, 500.0), (900, 1000.0)]
)
def test_rate_snaps_to_the_nearest_odr(wanted_hz, real_hz):
    _, chip, _, imu = rig(sampling_rate_hz=wanted_hz)
    assert imu.sampling_rate_hz == real_hz
    assert chip.rate_hz == real_hz


@pytest.mark.parametrize("header", [0x80, 0x48, 0x28, 0x78])  # empty; accel only; gyro only; 20-bit
def test_a_packet_that_is_not_packet_3_is_out_of_step(header):
    _, chip, _, imu = rig()
    chip.inject_fifo_bytes(packet((1, 2, 3), (4, 5, 6)) + packet((1, 2, 3), (4, 5, 6), header=header))
    batch = imu.read_fifo()
    assert batch.overflow
    assert batch.gap.reason == "misaligned"
    assert batch.n_samples == 0


def test_close_turns_the_sensors_off():
    _, chip, bus, imu = rig()
    imu.close()
    assert bus.last_write(ADDR, 0x4E) & 0x0F == 0
    assert chip.rate_hz is None


def test_a_count_one_packet_over_2048_bytes_is_no_overflow():
    # Datasheet section 6.3: with the read cache the FIFO holds up to 2048 bytes plus one packet;
    # only FIFO_LOST_PKT says packets were lost (before: a count over 2048 reset the FIFO).
    _, chip, _, imu = rig()
    chip.inject_fifo_bytes(b"".join(packet((i, 0, 0), (0, 0, -i)) for i in range(129)))
    batch = imu.read_fifo()
    assert batch.n_samples == 129
    assert batch.raw[:, 0].tolist() == list(range(129))
    assert not batch.overflow
    assert batch.gap is None
