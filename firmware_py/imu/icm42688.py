"""TDK InvenSense ICM-42688-P.

Wiring: VDD and VDDIO to 3V3, GND, SDA (AP_SDA) to GPIO2, SCL (AP_SCL) to GPIO3; AP_AD0 low
gives address 0x68, high 0x69. See ``hardware/wiring.md``.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.imu.base import STANDARD_GRAVITY_MPS2, FifoMisaligned, FifoStatus, ImuDriver
from firmware_py.imu.registers import (
    ICM42688_ACCEL_LSB_PER_G,
    ICM42688_FIFO_CAPACITY_BYTES,
    ICM42688_FIFO_HEADER,
    ICM42688_FIFO_PACKET3,
    ICM42688_GYRO_LSB_PER_DPS,
    ICM42688_REGISTERS,
    nearest,
)

__all__ = ["Icm42688"]

#: Data byte order the driver configures (INTF_CONFIG0; big endian is also the reset value).
_ENDIAN = "big"
_PACKET = ICM42688_FIFO_PACKET3[_ENDIAN]


class Icm42688(ImuDriver):
    """ICM-42688-P driver: accel + gyro through the 2 KiB FIFO as 16-byte packets.

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.

    Notes
    -----
    Accelerometer and gyroscope are off at power-up (PWR_MGMT0). :meth:`setup` soft-resets the chip,
    selects bank 0, sets big-endian data and a FIFO count in bytes (INTF_CONFIG0), rate and ranges
    (GYRO_CONFIG0, ACCEL_CONFIG0; rates 50, 100, 200, 500, 1000 Hz), puts accel, gyro and
    temperature in the FIFO (packet 3: header, accel, gyro, temperature, timestamp) in stream
    mode, and turns both sensors on in low-noise mode. FIFO_FULL_INT (clear on read) together with
    FIFO_LOST_PKT counts an overflow; the driver then flushes the FIFO, losing the packets it
    still held: what stream mode keeps after an overflow was not confirmed from the datasheet, so
    they are not relied on (``docs/reliability.md``, "FIFO overflow").
    """

    CHIP = "ICM-42688-P"
    REGISTERS = ICM42688_REGISTERS
    WHO_AM_I_IDS = (0x47,)
    ADDRESSES = (0x68, 0x69)
    ACCEL_RANGES_G = tuple(ICM42688_ACCEL_LSB_PER_G)
    GYRO_RANGES_DPS = tuple(ICM42688_GYRO_LSB_PER_DPS)
    FIFO_CAPACITY_BYTES = ICM42688_FIFO_CAPACITY_BYTES

    @property
    def fifo_capacity_samples(self) -> int:
        """Samples the FIFO holds (128 packets)."""
        return self.FIFO_CAPACITY_BYTES // _PACKET.itemsize

    def _configure(self) -> float:
        regs = self.regs
        regs.set("REG_BANK_SEL", bank_sel=0)
        regs.set("DEVICE_CONFIG", soft_reset_config=1)
        self.clock.sleep(0.001)  # 1 ms before any other register access
        regs.set("REG_BANK_SEL", bank_sel=0)
        regs.set(
            "INTF_CONFIG0", fifo_count_rec="bytes", fifo_count_endian=_ENDIAN, sensor_data_endian=_ENDIAN
        )
        odr_table = self.REGISTERS["GYRO_CONFIG0"].field("gyro_odr").lookup
        rate_hz = nearest(odr_table, self.requested_rate_hz, lo=50, hi=1000)  # type: ignore[arg-type]
        regs.set("GYRO_CONFIG0", gyro_fs_sel=self.gyro_range_dps, gyro_odr=rate_hz)
        regs.set("ACCEL_CONFIG0", accel_fs_sel=self.accel_range_g, accel_odr=rate_hz)
        regs.set("PWR_MGMT0", gyro_mode="low_noise", accel_mode="low_noise", temp_dis=0)
        self.clock.sleep(0.045)  # gyro start-up; no register writes for 200 µs after a mode change
        return rate_hz

    def _start_fifo(self) -> None:
        regs = self.regs
        regs.set(
            "FIFO_CONFIG1",
            fifo_accel_en=1,
            fifo_gyro_en=1,
            fifo_temp_en=1,
            fifo_tmst_fsync_en=0,
            fifo_hires_en=0,
        )
        regs.set("FIFO_CONFIG", fifo_mode="stream")
        self._reset_fifo_hw()

    def _reset_fifo_hw(self) -> None:
        self.regs.get("INT_STATUS")  # clear a stale FIFO_FULL_INT
        self._resume_write("SIGNAL_PATH_RESET", fifo_flush=1)  # empties the FIFO; clears itself

    def _read_status(self) -> FifoStatus:
        status, t_lo, t_hi = self._timed_read(self.regs.read_group, "INT_STATUS", "FIFO_COUNTH")
        n_bytes = status["FIFO_COUNTH"].fifo_count
        overflow = n_bytes > self.FIFO_CAPACITY_BYTES
        if status["INT_STATUS"].fifo_full_int or n_bytes >= self.FIFO_CAPACITY_BYTES:
            overflow = overflow or self.regs.get("FIFO_LOST_PKT0").fifo_lost_pkt_cnt > 0
        return FifoStatus(n_bytes // _PACKET.itemsize, overflow, t_lo, t_hi, n_bytes)

    def _read_samples(self, status: FifoStatus) -> np.ndarray:
        data = self.regs.read_fifo("FIFO_DATA", status.n_samples * _PACKET.itemsize, unit=_PACKET.itemsize)
        packets = np.frombuffer(data, dtype=_PACKET)
        header = packets["header"]
        ok = (
            (ICM42688_FIFO_HEADER.field("header_msg").extract(header) == 0)
            & (ICM42688_FIFO_HEADER.field("header_accel").extract(header) == 1)
            & (ICM42688_FIFO_HEADER.field("header_gyro").extract(header) == 1)
            & (ICM42688_FIFO_HEADER.field("header_20").extract(header) == 0)
        )
        if not np.all(ok):
            raise FifoMisaligned  # not a packet-3 header: out of step
        return np.hstack([packets["acc"], packets["gyro"]]).astype(np.int16)

    def _scales(self) -> tuple[float, float]:
        acc = STANDARD_GRAVITY_MPS2 / ICM42688_ACCEL_LSB_PER_G[self.accel_range_g]
        gyro = math.radians(1.0) / ICM42688_GYRO_LSB_PER_DPS[self.gyro_range_dps]
        return acc, gyro

    def _power_down(self) -> None:
        self.regs.set("FIFO_CONFIG", fifo_mode="bypass")
        self.regs.set("PWR_MGMT0", gyro_mode="off", accel_mode="off")
