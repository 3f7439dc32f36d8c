"""IMU and barometer drivers, their register maps, and register-level fakes.

Drivers receive the I2C bus (see :mod:`firmware_py.bus`); :func:`open_imu` picks and sets up the
right one, :func:`scan` says what is on the bus. Fakes for tests live in :mod:`firmware_py.imu.fake`.
"""

from firmware_py.imu.baro import Bmp280, Bmp388, altitude_m
from firmware_py.imu.base import FifoBatch, Gap, ImuDriver
from firmware_py.imu.detect import Found, detect_main, format_report, open_imu, scan
from firmware_py.imu.icm42688 import Icm42688
from firmware_py.imu.lsm6ds import Lsm6ds3, Lsm6dsl, Lsm6dso, Lsm6dsox
from firmware_py.imu.mpu6050 import Mpu6050
from firmware_py.imu.timing import SampleClock

__all__ = [
    "Bmp280",
    "Bmp388",
    "FifoBatch",
    "Found",
    "Gap",
    "Icm42688",
    "ImuDriver",
    "Lsm6ds3",
    "Lsm6dsl",
    "Lsm6dso",
    "Lsm6dsox",
    "Mpu6050",
    "SampleClock",
    "altitude_m",
    "detect_main",
    "format_report",
    "open_imu",
    "scan",
]
