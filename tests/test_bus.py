"""open_bus: smbus specs (with the fix when I2C is off) and fake specs fed from a recording."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import smbus2

import firmware_py.logs
from firmware_py import bus as bus_module
from firmware_py.bus import I2CBus, bus_name, open_bus
from firmware_py.clock import FakeClock
from firmware_py.exc import ConfigError, I2CBusError
from firmware_py.imu import open_imu
from firmware_py.imu.fake import FakeBmp280, FakeI2CBus, FakeIcm42688, FakeLsm6dso, FakeMpu6050


def test_smbus2_itself_satisfies_the_protocol():
    assert isinstance(smbus2.SMBus(), I2CBus)  # no bus number: nothing is opened
    assert isinstance(FakeI2CBus(), I2CBus)


def test_missing_dev_i2c_says_how_to_enable_i2c(monkeypatch):
    monkeypatch.setattr(os.path, "exists", lambda path: False)
    with pytest.raises(I2CBusError) as info:
        open_bus("smbus:1")
    message = str(info.value)
    assert "/dev/i2c-1" in message
    assert "sudo raspi-config nonint do_i2c 0" in message
    assert "hardware/setup-pi.sh" in message
    assert info.value.errno == errno.ENOENT
    assert isinstance(info.value, OSError)
    assert "\n" not in message


def test_smbus_spec_opens_smbus2(monkeypatch):
    opened = []

    class FakeSMBus:
        def __init__(self, number):
            opened.append(number)

    monkeypatch.setattr(os.path, "exists", lambda path: path == "/dev/i2c-3")
    monkeypatch.setattr(smbus2, "SMBus", FakeSMBus)
    bus = open_bus("smbus:3")
    assert isinstance(bus, FakeSMBus)
    assert opened == [3]
    assert bus.spec == "smbus:3"
    assert bus_name(bus) == "bus smbus:3"


def test_smbus_without_permission_names_the_i2c_group(monkeypatch):
    def refuse(number):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os.path, "exists", lambda path: True)
    monkeypatch.setattr(smbus2, "SMBus", refuse)
    with pytest.raises(I2CBusError, match="adduser \\$USER i2c"):
        open_bus("smbus:1")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spi:0", "allowed: 'smbus:N'"),
        ("smbus:one", "integer"),
        ("fake:x.csv?chip=bmi270", "allowed: mpu6050"),
        ("fake:x.csv?colour=red", "unknown option"),
        ("fake:x.csv?address=zz", "zz"),
        ("fake:x.csv?chip", "key=value"),
    ],
)
def test_bad_specs_are_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        open_bus(spec, load_recording=lambda path: pytest.fail("must not load"))


def _recording(path):
    n = 400
    acc = np.tile([0.0, 0.0, 9.80665], (n, 1))
    gyro = np.tile([0.0, np.radians(100.0), 0.0], (n, 1))
    return np.arange(n) / 100.0, acc, gyro, 100.0


def test_fake_spec_serves_the_recording_through_a_fake_chip():
    loaded = []
    clock = FakeClock()

    def loader(path):
        loaded.append(path)
        return _recording(path)

    bus = open_bus("fake:runs/hill.csv", clock=clock, load_recording=loader)
    assert loaded == ["runs/hill.csv"]
    assert isinstance(bus, FakeI2CBus)
    assert bus.spec == "fake:runs/hill.csv"
    assert isinstance(bus[0x68], FakeMpu6050)
    assert isinstance(bus[0x76], FakeBmp280)
    imu = open_imu(bus, "auto", clock=clock, accel_range_g=2, gyro_range_dps=250)
    clock.advance(0.25)
    batch = imu.read_fifo()
    assert batch.n_samples == 50  # 200 Hz
    # quantised at ±2 g and ±250 °/s: within one LSB of the recording
    assert np.abs(batch.acc_mps2 - [0.0, 0.0, 9.80665]).max() <= 9.80665 / 16384
    assert np.abs(batch.gyro_rads - [0.0, np.radians(100.0), 0.0]).max() <= np.radians(1 / 131)


def test_fake_spec_options():
    bus = open_bus("fake:r.csv?chip=lsm6dso&address=0x6b&clock_error=1.01&seed=3", load_recording=_recording)
    chip = bus[0x6B]
    assert isinstance(chip, FakeLsm6dso)
    assert chip.clock_error == 1.01


def test_fake_without_a_path_stands_still():
    clock = FakeClock()
    bus = open_bus("fake", clock=clock)
    imu = open_imu(bus, "auto", clock=clock)
    clock.advance(0.1)
    batch = imu.read_fifo()
    assert np.allclose(batch.acc_mps2.mean(axis=0), [0.0, 0.0, 9.80665], atol=0.01)


def test_fake_without_a_path_takes_options():
    bus = open_bus("fake?chip=icm42688&address=0x69")
    assert isinstance(bus[0x69], FakeIcm42688)


def test_fake_spec_reads_logs_with_firmware_py_logs_by_default(monkeypatch):
    class Recording:
        def __init__(self, path):
            self.t_s, self.acc_mps2, self.gyro_rads, self.sampling_rate_hz = _recording(path)

    monkeypatch.setattr(firmware_py.logs, "read_log", Recording, raising=False)
    bus = open_bus("fake:log.cclog")
    assert isinstance(bus[0x68], FakeMpu6050)
    assert bus[0x68].source.sampling_rate_hz == 100.0


def test_read_stream_is_one_combined_transaction():
    bus = FakeI2CBus([FakeMpu6050(clock=FakeClock())])
    assert bus_module.read_stream(bus, 0x68, 0x75, 3) == b"\x68\x00\x00"  # WHO_AM_I, then 0x76, 0x77
    assert [t.kind for t in bus.log] == ["write", "read"]


def test_fake_spec_replays_a_real_recording_through_the_fake_chip():
    path = Path(__file__).resolve().parent / "fixtures" / "gaitmap_example" / "sample_left_foot.csv"
    if not path.exists():
        pytest.skip("fixture not present")
    clock = FakeClock()
    bus = open_bus(f"fake:{path}?chip=lsm6dso", clock=clock)
    imu = open_imu(bus, "auto", clock=clock)
    chip = bus[imu.address]
    batches = []
    for _ in range(40):
        clock.advance(0.05)
        batches.append(imu.read_fifo())
    acc_mps2 = np.concatenate([b.acc_mps2 for b in batches])
    gyro_rads = np.concatenate([b.gyro_rads for b in batches])
    source = chip.source
    idx = source.index(chip.produced_t_s[: len(acc_mps2)] - chip.t_origin_s)
    # ±16 g: 0.488 mg per LSB; ±2000 °/s: 70 mdps per LSB (half an LSB of rounding)
    assert np.abs(acc_mps2 - source.acc_mps2[idx]).max() <= 0.5 * 0.488e-3 * 9.80665 + 1e-9
    assert np.abs(gyro_rads - source.gyro_rads[idx]).max() <= 0.5 * np.radians(0.070) + 1e-9


def _drain(bus, clock, blocks: int):
    imu = open_imu(bus, "auto", clock=clock, accel_range_g=2, gyro_range_dps=250)
    batches = []
    for _ in range(blocks):
        clock.advance(0.05)
        batches.append(imu.read_fifo())
    return imu, np.concatenate([b.acc_mps2 for b in batches])


def test_fake_spec_without_history_keeps_no_log_and_no_truth_but_serves_the_same_samples():
    # a simulated device run (cadence-coach run --bus fake:...) must not grow with the run
    kept_clock, bare_clock = FakeClock(), FakeClock()
    kept = open_bus("fake:r.csv?chip=lsm6dso", clock=kept_clock, load_recording=_recording)
    bare = open_bus(
        "fake:r.csv?chip=lsm6dso", clock=bare_clock, load_recording=_recording, keep_history=False
    )
    imu_kept, acc_kept = _drain(kept, kept_clock, 40)
    imu_bare, acc_bare = _drain(bare, bare_clock, 40)
    assert acc_bare.shape[0] > 0
    np.testing.assert_array_equal(acc_bare, acc_kept)
    assert len(kept.log) > 100
    assert len(kept[imu_kept.address].produced_t_s) >= acc_kept.shape[0]
    assert len(bare.log) == 0
    chip = bare[imu_bare.address]
    assert chip.produced >= acc_bare.shape[0]  # still counted
    with pytest.raises(RuntimeError, match="keep_produced"):
        chip.produced_t_s  # noqa: B018
    with pytest.raises(RuntimeError, match="keep_produced"):
        chip.produced_raw  # noqa: B018


def test_run_opens_its_fake_bus_without_history(monkeypatch, tmp_path):
    import firmware_py.run as run_module
    from firmware_py.cli import main

    opened = []

    def spy(spec, **kwargs):
        bus = open_bus(spec, **kwargs)
        opened.append(bus)
        return bus

    monkeypatch.setattr(run_module, "open_bus", spy)
    data = Path(__file__).resolve().parents[1] / "firmware_py" / "data" / "demo_foot_run.csv"
    rc = main(
        ["run", "--bus", f"fake:{data}", "--chip", "lsm6dsox", "--fast", "--duration", "5",
         "--data-dir", str(tmp_path), "--pins", "none"]
    )  # fmt: skip
    assert rc == 0
    assert len(opened) == 1
    bus = opened[0]
    assert len(bus.log) == 0
    assert not any(getattr(dev, "keep_produced", False) for dev in bus.devices.values())
