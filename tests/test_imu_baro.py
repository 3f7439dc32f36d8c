"""BMP280 / BMP388 barometers: datasheet compensation, setup writes, altitude."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from firmware_py.clock import FakeClock
from firmware_py.exc import DeviceClosedError, ImuFaultError, ImuNotFoundError
from firmware_py.imu.baro import (
    Bmp280,
    Bmp280Calibration,
    Bmp388,
    Bmp388Calibration,
    altitude_m,
    bmp280_compensate,
    bmp388_compensate,
)
from firmware_py.imu.fake import FakeBmp280, FakeBmp388, FakeI2CBus

#: BMP280 datasheet, section 3.12 (compensation example): trimming values, raw readings, results.
DATASHEET_CAL = Bmp280Calibration(
    27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000
)
ADC_T, ADC_P = 519888, 415148
T_C, P_PA = 25.08, 100653.27


def test_bmp280_datasheet_example():
    temperature_c, pressure_pa = bmp280_compensate(ADC_T, ADC_P, DATASHEET_CAL)
    assert temperature_c == pytest.approx(T_C, abs=0.005)
    # The datasheet's double-precision code (t_fine truncated to an integer) gives 100653.258 Pa;
    # its example table prints 100653.27 Pa.
    assert pressure_pa == pytest.approx(P_PA, abs=0.015)


def test_bmp280_driver_reads_the_datasheet_example_through_the_registers():
    clock = FakeClock()
    chip = FakeBmp280(clock=clock)  # datasheet trimming values and raw readings
    bus = FakeI2CBus([chip])
    with Bmp280(bus, clock=clock) as baro:
        assert baro.calibration == DATASHEET_CAL
        pressure_pa, temperature_c = baro.read()
        assert temperature_c == pytest.approx(T_C, abs=0.005)
        assert pressure_pa == pytest.approx(P_PA, abs=0.015)
        assert baro.read_pressure_pa() == pressure_pa
        assert baro.read_temperature_c() == temperature_c
    writes = bus.writes(0x76)
    assert writes[0] == (0xE0, 0xB6)  # RESET
    assert (0xF5, 0x08) in writes  # CONFIG: t_sb 0.5 ms, filter 4
    assert (0xF4, 0x57) in writes  # CTRL_MEAS: osrs_t x2 (010), osrs_p x16 (101), normal (11)
    assert bus.last_write(0x76, 0xF4) & 0x03 == 0  # close() put it to sleep
    assert not any(tr.kind == "read" and tr.register == 0xE0 for tr in bus.log)  # RESET is write-only


def test_bmp280_follows_set_conditions():
    clock = FakeClock()
    chip = FakeBmp280(clock=clock)
    chip.set_conditions(89874.6, 15.0)
    baro = Bmp280(FakeI2CBus([chip]), clock=clock)
    baro.setup()
    pressure_pa, temperature_c = baro.read()
    assert temperature_c == pytest.approx(15.0, abs=0.01)
    assert pressure_pa == pytest.approx(89874.6, abs=0.5)  # one raw count is ~0.2 Pa here


def _bmp388_reference(ut: float, up: float, cal: Bmp388Calibration) -> tuple[float, float]:
    """BMP388 datasheet section 9.3, written out step by step as printed."""
    par_t1 = cal.par_t1 / 2.0**-8
    par_t2 = cal.par_t2 / 2.0**30
    par_t3 = cal.par_t3 / 2.0**48
    partial_data1 = ut - par_t1
    partial_data2 = partial_data1 * par_t2
    t_lin = partial_data2 + (partial_data1 * partial_data1) * par_t3
    par_p1 = (cal.par_p1 - 2.0**14) / 2.0**20
    par_p2 = (cal.par_p2 - 2.0**14) / 2.0**29
    par_p3 = cal.par_p3 / 2.0**32
    par_p4 = cal.par_p4 / 2.0**37
    par_p5 = cal.par_p5 / 2.0**-3
    par_p6 = cal.par_p6 / 2.0**6
    par_p7 = cal.par_p7 / 2.0**8
    par_p8 = cal.par_p8 / 2.0**15
    par_p9 = cal.par_p9 / 2.0**48
    par_p10 = cal.par_p10 / 2.0**48
    par_p11 = cal.par_p11 / 2.0**65
    partial_data1 = par_p6 * t_lin
    partial_data2 = par_p7 * (t_lin * t_lin)
    partial_data3 = par_p8 * (t_lin * t_lin * t_lin)
    partial_out1 = par_p5 + partial_data1 + partial_data2 + partial_data3
    partial_data1 = par_p2 * t_lin
    partial_data2 = par_p3 * (t_lin * t_lin)
    partial_data3 = par_p4 * (t_lin * t_lin * t_lin)
    partial_out2 = up * (par_p1 + partial_data1 + partial_data2 + partial_data3)
    partial_data1 = up * up
    partial_data2 = par_p9 + par_p10 * t_lin
    partial_data3 = partial_data1 * partial_data2
    partial_data4 = partial_data3 + (up * up * up) * par_p11
    return t_lin, partial_out1 + partial_out2 + partial_data4


@pytest.mark.parametrize(
    ("ut", "up"), [(8_300_000, 4_000_000), (7_500_000, 3_000_000), (9_000_000, 5_500_000)]
)
def test_bmp388_compensation_matches_the_datasheet_formula(ut, up):
    cal = FakeBmp388.DEFAULT_CALIBRATION
    assert bmp388_compensate(ut, up, cal) == pytest.approx(_bmp388_reference(ut, up, cal), rel=1e-12)


def test_bmp388_driver_round_trip_and_setup_writes():
    clock = FakeClock()
    chip = FakeBmp388(address=0x77, clock=clock)
    chip.set_conditions(90000.0, 10.0)
    bus = FakeI2CBus([chip])
    baro = Bmp388(bus, 0x77, clock=clock)
    baro.setup()
    assert baro.calibration == FakeBmp388.DEFAULT_CALIBRATION
    pressure_pa, temperature_c = baro.read()
    assert temperature_c == pytest.approx(10.0, abs=0.01)
    assert pressure_pa == pytest.approx(90000.0, abs=0.5)
    assert bus.writes(0x77)[0] == (0x7E, 0xB6)  # CMD: soft reset
    assert bus.last_write(0x77, 0x1C) == 0x03  # OSR: osr_p x8, osr_t x1
    assert bus.last_write(0x77, 0x1D) == 0x03  # ODR: 25 Hz
    assert bus.last_write(0x77, 0x1F) == 0x04  # CONFIG: IIR coefficient 3
    assert bus.last_write(0x77, 0x1B) == 0x33  # PWR_CTRL: normal mode, temp_en, press_en


@pytest.mark.parametrize(
    ("driver_cls", "fake_cls", "reg"), [(Bmp280, FakeBmp280, "0xd0"), (Bmp388, FakeBmp388, "0x00")]
)
def test_wrong_chip_id_is_not_found(driver_cls, fake_cls, reg):
    clock = FakeClock()
    baro = driver_cls(FakeI2CBus([fake_cls(clock=clock, who_am_i=0x61)]), clock=clock)
    with pytest.raises(ImuNotFoundError, match=r"address 0x76.*read 0x61.*hardware/wiring\.md"):
        baro.setup()


def test_barometer_faults_and_lifetime():
    clock = FakeClock()
    chip = FakeBmp280(clock=clock)
    baro = Bmp280(FakeI2CBus([chip]), clock=clock)
    with pytest.raises(RuntimeError, match="setup"):
        baro.read()
    baro.setup()
    chip.unplug()
    with pytest.raises(ImuFaultError) as info:
        baro.read()
    assert info.value.errno == errno.EREMOTEIO
    baro.close()
    baro.close()
    with pytest.raises(DeviceClosedError):
        baro.read()


def test_altitude_of_the_standard_atmosphere():
    assert altitude_m(101325.0) == pytest.approx(0.0, abs=1e-9)
    assert altitude_m(89874.6) == pytest.approx(1000.0, abs=0.5)  # ISA table: 1000 m at 898.746 hPa
    assert altitude_m(79495.2) == pytest.approx(2000.0, abs=1.0)  # ISA table: 2000 m at 794.952 hPa
    assert altitude_m(100000.0, sea_level_pa=100000.0) == pytest.approx(0.0, abs=1e-9)
    heights = altitude_m(np.array([101325.0, 89874.6]))
    assert isinstance(heights, np.ndarray)
    assert heights.shape == (2,)
    assert isinstance(altitude_m(95000.0), float)
