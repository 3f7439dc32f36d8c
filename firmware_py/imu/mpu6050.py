"""InvenSense MPU-6050 / MPU-6500 / MPU-9250 family (and register-compatible parts).

Wiring: VCC to 3V3, GND, SDA to GPIO2, SCL to GPIO3; AD0 low gives address 0x68, AD0 high 0x69
(use 0x69 when a battery HAT's RTC sits on 0x68). See ``hardware/wiring.md``.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.imu.base import STANDARD_GRAVITY_MPS2, FifoMisaligned, FifoStatus, ImuDriver
from firmware_py.imu.registers import (
    MPU_ACCEL_LSB_PER_G,
    MPU_FIFO_CAPACITY_BYTES,
    MPU_FIFO_FRAME,
    MPU_GYRO_LSB_PER_DPS,
    MPU_REGISTERS,
)

__all__ = ["MPU_WHO_AM_I_IDS", "Mpu6050", "mpu_supported_rates_hz"]

#: WHO_AM_I values of the family: 0x68 MPU-6050, 0x70 MPU-6500, 0x71 MPU-9250, 0x73 MPU-9255,
#: and 0x72, 0x74, 0x75, 0x98 seen on register-compatible parts and clones.
MPU_WHO_AM_I_IDS = (0x68, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x98)

#: Gyroscope output rate with the digital low-pass filter on (DLPF_CFG 1..6), Hz.
_DLPF_BASE_RATE_HZ = 1000.0
#: Gyro bandwidths of DLPF_CFG 1..6, Hz (MPU-6050 register map, CONFIG).
_DLPF_BANDWIDTHS_HZ = (188, 98, 42, 20, 10, 5)
#: Accel bandwidths of A_DLPF_CFG 1..6 on the MPU-6500 family, Hz, paired with the above.
_A_DLPF_FOR_GYRO_BW = {188: 218, 98: 99, 42: 45, 20: 21, 10: 10, 5: 5}


def mpu_supported_rates_hz() -> dict[float, int]:
    """Return ``{rate_hz: SMPLRT_DIV}`` for the 50..1000 Hz rates (1 kHz / (1 + SMPLRT_DIV))."""
    return {_DLPF_BASE_RATE_HZ / (1 + div): div for div in range(0, 20)}


class Mpu6050(ImuDriver):
    """MPU-6050 family driver: accel + gyro through the 1024- (6050) or 512-byte (6500) FIFO.

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.

    Notes
    -----
    The chip powers up asleep (PWR_MGMT_1.SLEEP). :meth:`setup` resets it, wakes it on the X-gyro
    PLL, sets SMPLRT_DIV for ``1 kHz / (1 + SMPLRT_DIV)`` with the DLPF on (bandwidth below half the
    rate), and puts accel x/y/z and gyro x/y/z in the FIFO (12 big-endian bytes per sample, no
    temperature). An overflow overwrites the oldest bytes (so the frames lose alignment) and sets
    INT_STATUS.FIFO_OFLOW_INT, which clears on read; the driver then resets the FIFO
    (RM-MPU-6000A-00 rev 4.2 §4.31 FIFO_R_W: "the oldest data will be lost and new data will be
    written"; frames carry no marker and 1024 or 512 bytes are not whole 12-byte frames, so what
    is left cannot be realigned: the samples it holds are lost with those overwritten). The
    MPU-6500 family's CONFIG.FIFO_MODE = 1 (stop when full, RM-MPU-9250A-00 §4.37) would keep the
    oldest frames instead; it is not used.
    """

    CHIP = "MPU-6050/6500/9250"
    REGISTERS = MPU_REGISTERS
    WHO_AM_I_IDS = MPU_WHO_AM_I_IDS
    ADDRESSES = (0x68, 0x69)
    ACCEL_RANGES_G = tuple(MPU_ACCEL_LSB_PER_G)
    GYRO_RANGES_DPS = tuple(MPU_GYRO_LSB_PER_DPS)

    _FRAME_BYTES = MPU_FIFO_FRAME.itemsize

    @property
    def fifo_capacity_bytes(self) -> int:
        """FIFO size of the chip found at setup, bytes."""
        return MPU_FIFO_CAPACITY_BYTES.get(self.who_am_i or 0, 512)

    @property
    def fifo_capacity_samples(self) -> int:
        """Samples the FIFO holds (85 on the MPU-6050, 42 on the MPU-6500 family)."""
        return self.fifo_capacity_bytes // self._FRAME_BYTES

    def _configure(self) -> float:
        regs = self.regs
        regs.set("PWR_MGMT_1", device_reset=1)
        self.clock.sleep(0.1)  # registers back to defaults, chip asleep
        regs.set("PWR_MGMT_1", sleep=0, clksel="pll_x_gyro")
        self.clock.sleep(0.05)  # gyro start-up
        rates = mpu_supported_rates_hz()
        rate_hz = min(rates, key=lambda r: (abs(r - self.requested_rate_hz), r))
        bandwidth = max(bw for bw in _DLPF_BANDWIDTHS_HZ if bw < rate_hz / 2)
        regs.set("CONFIG", dlpf_cfg=bandwidth, ext_sync_set=0)
        regs.set("SMPLRT_DIV", smplrt_div=rates[rate_hz])
        regs.set("GYRO_CONFIG", fs_sel=self.gyro_range_dps)
        regs.set("ACCEL_CONFIG", afs_sel=self.accel_range_g)
        if self.who_am_i != 0x68:  # the MPU-6500 family filters the accelerometer separately
            regs.set("ACCEL_CONFIG2", accel_fchoice_b=0, a_dlpf_cfg=_A_DLPF_FOR_GYRO_BW[bandwidth])
        return rate_hz

    def _start_fifo(self) -> None:
        regs = self.regs
        regs.set("USER_CTRL", fifo_en=0)
        regs.set(
            "FIFO_EN",
            temp_fifo_en=0,
            xg_fifo_en=1,
            yg_fifo_en=1,
            zg_fifo_en=1,
            accel_fifo_en=1,
            slv2_fifo_en=0,
            slv1_fifo_en=0,
            slv0_fifo_en=0,
        )
        self._reset_fifo_hw()

    def _reset_fifo_hw(self) -> None:
        regs = self.regs
        regs.set("USER_CTRL", fifo_en=0)
        regs.set("USER_CTRL", fifo_reset=1)  # only works while FIFO_EN is 0; clears itself
        regs.get("INT_STATUS")  # clear a stale FIFO_OFLOW_INT
        self._resume_write("USER_CTRL", fifo_en=1)

    def _read_status(self) -> FifoStatus:
        int_status = self.regs.get("INT_STATUS")  # clears on read
        count, t_lo, t_hi = self._timed_read(self.regs.get, "FIFO_COUNTH")
        n_bytes = count.fifo_count
        overflow = bool(int_status.fifo_oflow_int) or n_bytes >= self.fifo_capacity_bytes
        return FifoStatus(n_bytes // self._FRAME_BYTES, overflow, t_lo, t_hi, n_bytes)

    def _read_samples(self, status: FifoStatus) -> np.ndarray:
        if status.info % self._FRAME_BYTES:
            raise FifoMisaligned  # a partial frame means the byte stream is out of step
        data = self.regs.read_fifo("FIFO_R_W", status.n_samples * self._FRAME_BYTES, unit=self._FRAME_BYTES)
        frames = np.frombuffer(data, dtype=MPU_FIFO_FRAME)
        return np.hstack([frames["acc"], frames["gyro"]]).astype(np.int16)

    def _scales(self) -> tuple[float, float]:
        acc = STANDARD_GRAVITY_MPS2 / MPU_ACCEL_LSB_PER_G[self.accel_range_g]
        gyro = math.radians(1.0) / MPU_GYRO_LSB_PER_DPS[self.gyro_range_dps]
        return acc, gyro

    def _power_down(self) -> None:
        self.regs.set("USER_CTRL", fifo_en=0)
        self.regs.set("PWR_MGMT_1", sleep=1)
