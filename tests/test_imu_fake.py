"""The fakes themselves behave like the datasheets say (the driver tests rely on them)."""

from __future__ import annotations

import errno

import numpy as np
import pytest
from smbus2 import i2c_msg

from firmware_py.bus import I2CBus, read_stream
from firmware_py.clock import FakeClock
from firmware_py.imu.fake import (
    FakeBmp280,
    FakeI2CBus,
    FakeIcm42688,
    FakeLsm6ds3,
    FakeLsm6dsl,
    FakeLsm6dso,
    FakeMpu6050,
    SourceRecording,
)
from firmware_py.imu.registers import ICM42688_FIFO_PACKET3


def mpu(**kw):
    clock = FakeClock()
    chip = FakeMpu6050(clock=clock, **kw)
    return clock, chip, FakeI2CBus([chip])


def start_mpu(bus, smplrt_div=4):
    bus.write_byte_data(0x68, 0x6B, 0x01)  # PWR_MGMT_1: awake
    bus.write_byte_data(0x68, 0x1A, 0x01)  # CONFIG: DLPF on (1 kHz)
    bus.write_byte_data(0x68, 0x19, smplrt_div)
    bus.write_byte_data(0x68, 0x23, 0x78)  # FIFO_EN: accel + gyro
    bus.write_byte_data(0x68, 0x6A, 0x40)  # USER_CTRL.FIFO_EN


def fifo_count(bus) -> int:
    return int.from_bytes(bytes(bus.read_i2c_block_data(0x68, 0x72, 2)), "big")


# -- the bus ----------------------------------------------------------------------------------------


def test_bus_routes_by_address_logs_and_nacks_empty_addresses():
    clock, _chip, bus = mpu()
    assert isinstance(bus, I2CBus)
    assert bus.read_byte_data(0x68, 0x75) == 0x68
    with pytest.raises(OSError) as info:
        bus.read_byte_data(0x69, 0x75)
    assert info.value.errno == errno.EREMOTEIO
    bus.write_i2c_block_data(0x68, 0x19, [7, 3])  # SMPLRT_DIV, CONFIG
    assert bus.read_i2c_block_data(0x68, 0x19, 2) == [7, 3]
    assert bus.writes(0x68) == [(0x19, 7), (0x1A, 3)]
    assert bus.last_write(0x68, 0x1A) == 3
    assert [(t.kind, t.address, t.register, t.error) for t in bus.log] == [
        ("read", 0x68, 0x75, None),
        ("read", 0x69, 0x75, errno.EREMOTEIO),
        ("write", 0x68, 0x19, None),
        ("read", 0x68, 0x19, None),
    ]
    with pytest.raises(ValueError, match="32"):
        bus.read_i2c_block_data(0x68, 0x00, 33)
    with pytest.raises(ValueError, match="already taken"):
        bus.attach(FakeMpu6050(clock=clock))


def test_i2c_rdwr_with_real_i2c_msg_objects():
    _, _chip, bus = mpu()
    write, read = i2c_msg.write(0x68, [0x75]), i2c_msg.read(0x68, 1)
    bus.i2c_rdwr(write, read)
    assert list(read) == [0x68]
    assert read_stream(bus, 0x68, 0x75, 1) == b"\x68"
    with pytest.raises(ValueError, match=r"1\.\.4096"):
        read_stream(bus, 0x68, 0x75, 0)


# -- MPU-6050 ----------------------------------------------------------------------------------------


def test_mpu_powers_up_asleep_and_samples_at_the_configured_rate_times_the_clock_error():
    clock, chip, bus = mpu(clock_error=1.02)
    assert bus.read_byte_data(0x68, 0x6B) == 0x40  # PWR_MGMT_1: SLEEP
    bus.write_byte_data(0x68, 0x23, 0x78)
    bus.write_byte_data(0x68, 0x6A, 0x40)
    clock.advance(1.0)
    assert fifo_count(bus) == 0
    assert chip.produced == 0
    start_mpu(bus, smplrt_div=9)  # 100 Hz
    clock.advance(0.5)
    assert fifo_count(bus) == 51 * 12  # 0.5 s at 100 Hz * 1.02
    assert chip.rate_hz == pytest.approx(102.0)


def test_mpu_fifo_frames_follow_fifo_en_in_register_order():
    src = SourceRecording(np.arange(1), [[9.80665, 0, -9.80665]], [[np.radians(100.0), 0, 0]], 100.0)
    clock = FakeClock()
    chip = FakeMpu6050(clock=clock, source=src)
    bus = FakeI2CBus([chip])
    start_mpu(bus)
    bus.write_byte_data(0x68, 0x23, 0xC8)  # FIFO_EN: temperature, X gyro, accel
    clock.advance(0.005)
    data = read_stream(bus, 0x68, 0x74, 10)
    # ±2 g, ±250 °/s at reset: 16384 LSB/g, 131 LSB/(°/s); temperature 25 °C = -3920
    assert data == bytes.fromhex("4000 0000 c000 f0b0 332c")


def test_mpu_overflow_overwrites_oldest_bytes_and_flags_until_read():
    clock, chip, bus = mpu()
    start_mpu(bus)  # 200 Hz, 12-byte frames, 1024-byte FIFO
    clock.advance(1.0)
    assert fifo_count(bus) == 1024
    assert chip.dropped_bytes == 200 * 12 - 1024
    assert chip.dropped_bytes % 12 != 0  # the frames lost their alignment, as on the chip
    assert bus.read_byte_data(0x68, 0x3A) & 0x10  # INT_STATUS.FIFO_OFLOW_INT ...
    assert bus.read_byte_data(0x68, 0x3A) == 0  # ... clears when read


def test_mpu_fifo_reset_works_only_while_fifo_en_is_off_and_clears_itself():
    clock, chip, bus = mpu()
    start_mpu(bus)
    clock.advance(0.1)
    bus.write_byte_data(0x68, 0x6A, 0x44)  # FIFO_RESET while FIFO_EN = 1: ignored
    assert fifo_count(bus) == 20 * 12
    bus.write_byte_data(0x68, 0x6A, 0x00)
    bus.write_byte_data(0x68, 0x6A, 0x04)
    assert fifo_count(bus) == 0
    assert bus.read_byte_data(0x68, 0x6A) == 0x00  # self-clearing
    assert chip.fifo_resets[-1] == chip.produced


def test_mpu_device_reset_and_who_am_i():
    _clock, chip, bus = mpu(who_am_i=0x70)
    assert bus.read_byte_data(0x68, 0x75) == 0x70
    assert chip.fifo_capacity_bytes == 512
    start_mpu(bus)
    bus.write_byte_data(0x68, 0x6B, 0x80)  # DEVICE_RESET
    assert bus.read_byte_data(0x68, 0x6B) == 0x40
    assert bus.read_byte_data(0x68, 0x19) == 0
    assert chip.rate_hz is None


def test_quantisation_saturates_at_full_scale():
    src = SourceRecording(np.arange(1), [[100 * 9.80665, -100 * 9.80665, 0.5]], [[100.0, -100.0, 0.0]], 100.0)
    raw = src.quantised(16384.0, 131.0)
    assert raw.tolist() == [[32767, -32767, 835, 32767, -32767, 0]]  # 0.5 m/s² = 835.4 LSB at ±2 g


def test_source_recording_checks_its_shape():
    with pytest.raises(ValueError, match="same non-zero length"):
        SourceRecording(np.arange(3), np.zeros((2, 3)), None, 100.0)
    with pytest.raises(ValueError, match="sampling_rate_hz"):
        SourceRecording(np.arange(2), np.zeros((2, 3)), None, 0.0)


# -- ST ------------------------------------------------------------------------------------------------


def start_st(bus, tagged: bool):
    bus.write_byte_data(0x6A, 0x10, 0x50)  # CTRL1_XL: 208 Hz
    bus.write_byte_data(0x6A, 0x11, 0x50)  # CTRL2_G: 208 Hz
    if tagged:
        bus.write_byte_data(0x6A, 0x09, 0x55)  # FIFO_CTRL3: BDR 208 Hz
        bus.write_byte_data(0x6A, 0x0A, 0x06)  # FIFO_CTRL4: continuous
    else:
        bus.write_byte_data(0x6A, 0x08, 0x09)  # FIFO_CTRL3: no decimation
        bus.write_byte_data(0x6A, 0x0A, 0x2E)  # FIFO_CTRL5: 208 Hz, continuous


@pytest.mark.parametrize(("fake_cls", "words"), [(FakeLsm6ds3, 4096), (FakeLsm6dsl, 2048)])
def test_untagged_continuous_mode_overwrites_and_sets_over_run(fake_cls, words):
    clock = FakeClock()
    chip = fake_cls(clock=clock)
    bus = FakeI2CBus([chip])
    clock.advance(1.0)
    assert bus.read_i2c_block_data(0x6A, 0x3A, 2) == [0x00, 0x10]  # power-down at reset: FIFO_EMPTY
    start_st(bus, tagged=False)
    clock.advance(0.5)
    status = int.from_bytes(bytes(bus.read_i2c_block_data(0x6A, 0x3A, 4)), "little")
    assert status & 0x0FFF == 104 * 6
    assert not status & 0x4000
    clock.advance(30.0)
    status = int.from_bytes(bytes(bus.read_i2c_block_data(0x6A, 0x3A, 2)), "little")
    assert status & 0x4000
    assert status & 0x2000
    assert chip.fifo_bytes == 2 * words - (2 * words) % 12  # whole data sets are overwritten
    assert status & 0x0FFF == chip.fifo_bytes // 2
    bus.read_i2c_block_data(0x6A, 0x3E, 2)  # one word: gyro X
    assert bus.read_i2c_block_data(0x6A, 0x3C, 2) == [1, 0]  # FIFO_PATTERN: gyro Y next
    bus.write_byte_data(0x6A, 0x0A, 0x28)  # bypass: empties the FIFO
    assert bus.read_i2c_block_data(0x6A, 0x3A, 2) == [0x00, 0x10]


def test_tagged_fifo_words_rollover_flags_and_tags():
    clock = FakeClock()
    chip = FakeLsm6dso(clock=clock)
    bus = FakeI2CBus([chip])
    start_st(bus, tagged=True)
    clock.advance(3 / 208)
    data = bytes(bus.read_i2c_block_data(0x6A, 0x78, 21))  # 3 words in one burst: 7Eh rolls back to 78h
    assert [data[0] >> 3, data[7] >> 3, data[14] >> 3] == [1, 2, 1]  # gyro, accel, gyro
    assert [(data[0] >> 1) & 3, (data[7] >> 1) & 3, (data[14] >> 1) & 3] == [0, 0, 1]  # TAG_CNT per slot
    assert all(bin(data[i]).count("1") % 2 == 0 for i in (0, 7, 14))
    clock.advance(5.0)  # 512 words take 1.23 s at 208 Hz
    status = int.from_bytes(bytes(bus.read_i2c_block_data(0x6A, 0x3A, 2)), "little")
    assert status & 0x03FF == 512
    assert status & 0x4000
    assert status & 0x0800
    status = int.from_bytes(bytes(bus.read_i2c_block_data(0x6A, 0x3A, 2)), "little")
    assert status & 0x4000
    assert not status & 0x0800
    bus.read_i2c_block_data(0x6A, 0x78, 7)
    assert not int.from_bytes(bytes(bus.read_i2c_block_data(0x6A, 0x3A, 2)), "little") & 0x4000


# -- ICM-42688-P ---------------------------------------------------------------------------------------


def start_icm(bus, intf_config0=0x30):
    bus.write_byte_data(0x68, 0x4C, intf_config0)
    bus.write_byte_data(0x68, 0x4F, 0x07)  # gyro 200 Hz
    bus.write_byte_data(0x68, 0x50, 0x67)  # accel ±2 g, 200 Hz
    bus.write_byte_data(0x68, 0x5F, 0x07)
    bus.write_byte_data(0x68, 0x16, 0x40)  # stream
    bus.write_byte_data(0x68, 0x4E, 0x0F)  # low noise


def test_icm_packets_endianness_count_units_overflow_and_flush():
    src = SourceRecording.still()
    clock = FakeClock()
    chip = FakeIcm42688(clock=clock, source=src)
    bus = FakeI2CBus([chip])
    assert bus.read_byte_data(0x68, 0x2D) == 0x10  # INT_STATUS.RESET_DONE_INT at power-up ...
    assert bus.read_byte_data(0x68, 0x2D) == 0x00  # ... clears when read
    clock.advance(1.0)
    assert bus.read_i2c_block_data(0x68, 0x2E, 2) == [0, 0]  # sensors off at reset
    start_icm(bus, intf_config0=0x40)  # count in records, little-endian count and data
    clock.advance(0.01)
    assert bus.read_i2c_block_data(0x68, 0x2E, 2) == [2, 0]
    packet = read_stream(bus, 0x68, 0x30, 16)
    assert packet[0] == 0x68
    assert packet[5:7] == (16384).to_bytes(2, "little")
    clock.advance(2.0)
    assert bus.read_byte_data(0x68, 0x2D) & 0x02  # FIFO_FULL_INT
    lost = int.from_bytes(bytes(bus.read_i2c_block_data(0x68, 0x6C, 2)), "little")
    assert lost == chip.produced - 1 - 128  # everything but the 128 packets that fit (one was read)
    bus.write_byte_data(0x68, 0x4B, 0x02)  # FIFO_FLUSH
    assert bus.read_i2c_block_data(0x68, 0x2E, 2) == [0, 0]
    assert bus.read_byte_data(0x68, 0x4B) == 0  # self-clearing


def icm_packets(bus, n):
    """Read ``n`` big-endian packet-3s from the FIFO (INTF_CONFIG0 = 0x30)."""
    return np.frombuffer(read_stream(bus, 0x68, 0x30, 16 * n), dtype=ICM42688_FIFO_PACKET3["big"])


@pytest.mark.parametrize("clock_error", [0.97, 1.0, 1.03])
def test_icm_timestamps_count_the_chips_own_clock_at_30_32_tick_per_us(clock_error):
    # Datasheet section 12.7: one ODR period at 1 kHz is 937 or 938 in the FIFO (937.5 x 32/30 =
    # 1000 µs); at 200 Hz 4687 or 4688. The counter runs on the chip's oscillator like the ODR,
    # so the ticks per period do not depend on the oscillator's error.
    clock = FakeClock()
    chip = FakeIcm42688(clock=clock, clock_error=clock_error)
    bus = FakeI2CBus([chip])
    start_icm(bus)
    clock.advance(0.5)
    packets = icm_packets(bus, 90)
    steps = np.diff(packets["timestamp"].astype(np.int64)) % 65536
    assert set(steps.tolist()) == {4687, 4688}
    assert steps.mean() == pytest.approx(4687.5, abs=0.02)


def test_icm_stream_mode_loses_the_oldest_or_the_newest_packets_as_asked():
    for mode, kept in (("drop_oldest", "newest"), ("drop_newest", "oldest")):
        clock = FakeClock()
        chip = FakeIcm42688(clock=clock, source=SourceRecording.noise(seed=1), stream_overflow=mode)
        bus = FakeI2CBus([chip])
        start_icm(bus)
        clock.advance(1.0)  # 200 packets for a FIFO of 128
        assert bus.read_byte_data(0x68, 0x2D) & 0x02  # FIFO_FULL_INT
        assert bus.read_i2c_block_data(0x68, 0x2E, 2) == [0x08, 0x00]  # 2048 bytes
        lost = int.from_bytes(bytes(bus.read_i2c_block_data(0x68, 0x6C, 2)), "little")
        assert lost == chip.produced - 128 == chip.lost_packets
        packets = icm_packets(bus, 128)
        truth = chip.produced_raw[-128:] if kept == "newest" else chip.produced_raw[:128]
        np.testing.assert_array_equal(packets["acc"], truth[:, :3])
    with pytest.raises(ValueError, match=r"stream_overflow='drop_some'.*'drop_oldest', 'drop_newest'"):
        FakeIcm42688(stream_overflow="drop_some")


# -- faults ---------------------------------------------------------------------------------------------


def test_fault_injection_is_seeded_and_uses_the_given_errnos():
    def run(seed):
        _, chip, bus = mpu()
        chip.inject_faults(0.3, (errno.EREMOTEIO, errno.EIO), seed=seed)
        codes = []
        for _ in range(400):
            try:
                bus.read_byte_data(0x68, 0x75)
                codes.append(0)
            except OSError as e:
                codes.append(e.errno)
        return codes

    codes = run(1)
    assert codes == run(1)
    assert set(codes) == {0, errno.EREMOTEIO, errno.EIO}
    assert 0.2 < np.mean(np.array(codes) != 0) < 0.4


def test_unplug_then_the_chip_comes_back_reset():
    clock, chip, bus = mpu()
    start_mpu(bus)
    clock.advance(0.1)
    chip.unplug(0.5)
    assert not chip.plugged
    clock.advance(0.4)
    with pytest.raises(OSError) as info:
        bus.read_byte_data(0x68, 0x75)
    assert info.value.errno == errno.EREMOTEIO
    clock.advance(0.2)
    assert chip.plugged
    assert bus.read_byte_data(0x68, 0x6B) == 0x40  # asleep again
    assert bus.read_byte_data(0x68, 0x6A) == 0x00  # FIFO off
    assert fifo_count(bus) == 0
    assert chip.n_power_on_resets == 1
    chip.unplug()
    chip.replug()
    assert bus.read_byte_data(0x68, 0x75) == 0x68


def test_bmp280_fake_measures_only_when_asked():
    clock = FakeClock()
    chip = FakeBmp280(clock=clock)
    bus = FakeI2CBus([chip])
    assert bus.read_i2c_block_data(0x76, 0xF7, 6) == [0x80, 0, 0, 0x80, 0, 0]  # reset values
    bus.write_byte_data(0x76, 0xF4, 0x25)  # forced mode: one measurement
    data = bus.read_i2c_block_data(0x76, 0xF7, 6)
    assert (data[0] << 12 | data[1] << 4 | data[2] >> 4) == 415148
    assert bus.read_byte_data(0x76, 0xF4) & 0x03 == 0  # back to sleep
