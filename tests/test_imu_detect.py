"""Scanning the bus, the report (with its fixes), open_imu and `cadence-coach detect`."""

from __future__ import annotations

import pytest

from firmware_py.clock import FakeClock
from firmware_py.exc import ConfigError, ImuNotFoundError
from firmware_py.imu import Icm42688, Lsm6dso, Mpu6050, detect
from firmware_py.imu.detect import Found, detect_main, format_report, open_imu, scan
from firmware_py.imu.fake import (
    FakeBmp280,
    FakeBmp388,
    FakeI2CBus,
    FakeIcm42688,
    FakeLsm6ds3,
    FakeLsm6dsl,
    FakeLsm6dso,
    FakeMpu6050,
)


def test_scan_names_every_chip_and_its_address():
    clock = FakeClock()
    bus = FakeI2CBus(
        [
            FakeMpu6050(clock=clock),
            FakeIcm42688(0x69, clock=clock),
            FakeLsm6dsl(0x6A, clock=clock),
            FakeLsm6dso(0x6B, clock=clock),
            FakeBmp280(clock=clock),
            FakeBmp388(0x77, clock=clock),
        ]
    )
    found = scan(bus)
    assert [(f.address, f.chip, f.who_am_i, f.kind) for f in found] == [
        (0x68, "MPU-6050", 0x68, "imu"),
        (0x69, "ICM-42688-P", 0x47, "imu"),
        (0x6A, "LSM6DSL", 0x6A, "imu"),
        (0x6B, "LSM6DSO/LSM6DSOX", 0x6C, "imu"),
        (0x76, "BMP280", 0x58, "baro"),
        (0x77, "BMP388", 0x50, "baro"),
    ]
    assert found[0].driver is Mpu6050
    assert found[1].driver is Icm42688
    assert found[3].driver is Lsm6dso
    report = format_report(found)
    assert "0x69  ICM-42688-P (id 0x47)  [imu]" in report
    assert report.endswith("IMU: MPU-6050 at 0x68.")


@pytest.mark.parametrize(
    ("who_am_i", "name"), [(0x70, "MPU-6500"), (0x71, "MPU-9250"), (0x74, "MPU-6050 family (id 0x74)")]
)
def test_scan_names_the_invensense_variants(who_am_i, name):
    found = scan(FakeI2CBus([FakeMpu6050(clock=FakeClock(), who_am_i=who_am_i)]))
    assert [(f.chip, f.kind) for f in found] == [(name, "imu")]


def test_nothing_found_gives_the_three_fixes():
    report = format_report([])
    assert "nothing answered" in report
    assert "sudo raspi-config nonint do_i2c 0" in report
    assert "hardware/wiring.md" in report
    assert "PiSugar" in report
    assert "PiJuice" in report
    assert "0x69 (AD0 high)" in report
    assert "LSM6DS" in report


def test_a_battery_hat_rtc_on_0x68_is_named_as_the_clash():
    rtc = FakeMpu6050(clock=FakeClock(), who_am_i=0x00)  # answers, but not with an IMU id
    found = scan(FakeI2CBus([rtc, FakeBmp280(clock=rtc.clock)]))
    assert found[0] == Found(0x68, "unknown device", 0x00, "unknown")
    report = format_report(found)
    assert "No supported IMU found" in report
    assert "Something that is not an IMU answers at 0x68" in report


def test_open_imu_auto_picks_and_sets_up_the_driver():
    clock = FakeClock()
    chip = FakeLsm6ds3(0x6B, clock=clock)
    imu = open_imu(FakeI2CBus([chip, FakeBmp280(clock=clock)]), "auto", clock=clock, sampling_rate_hz=100)
    assert type(imu).__name__ == "Lsm6ds3"
    assert imu.address == 0x6B
    assert imu.sampling_rate_hz == 104.0
    clock.advance(0.1)
    assert imu.read_fifo().n_samples == 10


def test_open_imu_by_name_and_address():
    clock = FakeClock()
    imu = open_imu(FakeI2CBus([FakeIcm42688(0x69, clock=clock)]), "icm42688", address=0x69, clock=clock)
    assert isinstance(imu, Icm42688)


def test_open_imu_errors():
    with pytest.raises(ConfigError, match="allowed: auto, mpu6050"):
        open_imu(FakeI2CBus([]), "bmi270")
    with pytest.raises(ImuNotFoundError, match=r"raspi-config nonint do_i2c 0.*hardware/wiring\.md.*PiSugar"):
        open_imu(FakeI2CBus([FakeBmp280(clock=FakeClock())]), "auto")


def test_detect_main_on_the_fake_bus(capsys):
    assert detect_main("fake") == 0
    out = capsys.readouterr().out
    assert "0x68  MPU-6050 (id 0x68)  [imu]" in out
    assert "0x76  BMP280" in out


def test_detect_main_without_i2c_says_how_to_enable_it(capsys):
    assert detect_main("smbus:99") == 2
    assert "sudo raspi-config nonint do_i2c 0" in capsys.readouterr().out


def test_detect_main_with_no_imu(capsys, monkeypatch):
    monkeypatch.setattr(detect, "open_bus", lambda spec: FakeI2CBus([]))
    assert detect_main("smbus:1") == 1
    assert "No supported IMU found" in capsys.readouterr().out


def test_detect_scans_the_bus_the_device_config_names(tmp_path, monkeypatch):
    # `cadence-coach detect` scanned smbus:1 even where the device's config says another bus.
    from firmware_py import cli

    seen = []
    monkeypatch.setattr(detect, "detect_main", lambda spec: seen.append(spec) or 0)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[device]\nbus = "smbus:3"\n')
    assert cli.main(["detect", "--config", str(cfg)]) == 0
    assert cli.main(["detect"]) == 0
    assert cli.main(["detect", "--config", str(cfg), "--bus", "fake"]) == 0
    assert seen == ["smbus:3", "smbus:1", "fake"]
