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
    ICM42688_FIFO_TMST_TICKS_PER_US,
    ICM42688_GYRO_LSB_PER_DPS,
    ICM42688_REGISTERS,
    nearest,
)

__all__ = ["Icm42688"]

#: Data byte order the driver configures (INTF_CONFIG0; big endian is also the reset value).
_ENDIAN = "big"
_PACKET = ICM42688_FIFO_PACKET3[_ENDIAN]
#: The packets' timestamp field wraps at this many ticks (16 bits).
_WRAP = 1 << (8 * _PACKET["timestamp"].itemsize)
#: FIFO_LOST_PKT's largest value (0xFFFF): a counter that reads it may have saturated.
_LOST_MAX = ICM42688_REGISTERS["FIFO_LOST_PKT0"].field("fifo_lost_pkt_cnt").max_code
#: Ticks a packet's timestamp may differ from the expected one (a period is a half-integer number
#: of ticks, which the counter rounds one way or the other at either end).
_TMST_TOLERANCE = 2.0


class Icm42688(ImuDriver):
    """ICM-42688-P driver: accel + gyro through the 2 KiB FIFO as 16-byte packets.

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.

    Notes
    -----
    Accelerometer and gyroscope are off at power-up (PWR_MGMT0). :meth:`setup` soft-resets the chip,
    selects bank 0, sets big-endian data and a FIFO count in bytes (INTF_CONFIG0), rate and ranges
    (GYRO_CONFIG0, ACCEL_CONFIG0; rates 50, 100, 200, 500, 1000 Hz), puts accel, gyro and
    temperature in the FIFO (packet 3: header, accel, gyro, temperature, timestamp) in stream
    mode, and turns both sensors on in low-noise mode.

    Overflow. When FIFO_FULL_INT (clear on read) is set or the count is full, the driver reads
    FIFO_LOST_PKT, the chip's count of whole packets lost (datasheet DS-000347 sections 14.55 and
    14.56); an overflow is a count that moved since the driver last looked. The packets still in
    the FIFO are kept (:attr:`KEEPS_NEWEST_ON_OVERFLOW`). Which packets stream mode drops the
    datasheet does not say, so every overflow is checked against the packets' timestamps (the
    chip's timestamp counter, 30/32 tick per µs of its own clock, section 12.7, low 16 bits in each
    packet): the kept packets must be consecutive, and the first must lie the lost packets plus one
    period after the last packet delivered. Its index is then the last one delivered plus the lost
    count plus one: exact, where the rate's extrapolation over a long stall is not. When the count
    is unknown (saturated at 0xFFFF, or no base since a flush other than setup's) or does not fit
    the timestamps, the index near the rate's estimate whose timestamp fits is taken; when none
    does (the chip kept its oldest packets, or the data are out of step) the FIFO is reset as
    "misaligned", losing what it held (``docs/reliability.md``, "FIFO overflow"). The first packet
    after any flush is pinned the same way (its index otherwise comes from the rate's estimate of
    when the FIFO restarted).

    Assumed, not stated by the datasheet: FIFO_LOST_PKT counts on between flushes (read-only, not
    clear-on-read like INT_STATUS), and a flush does not reset the timestamp counter (the chip's
    timer, not the FIFO's). Were the first wrong, the timestamps and the rate's estimate would
    place the kept packets instead of the count. Were the second, the first packet after a flush
    would mostly fit none of the indices near the estimate and stay at the estimate, as before,
    but about once in 1000 flushes one would fit by chance; an overflow after a flush, before any
    packet was delivered, would be reset as "misaligned".
    """

    CHIP = "ICM-42688-P"
    REGISTERS = ICM42688_REGISTERS
    WHO_AM_I_IDS = (0x47,)
    ADDRESSES = (0x68, 0x69)
    ACCEL_RANGES_G = tuple(ICM42688_ACCEL_LSB_PER_G)
    GYRO_RANGES_DPS = tuple(ICM42688_GYRO_LSB_PER_DPS)
    FIFO_CAPACITY_BYTES = ICM42688_FIFO_CAPACITY_BYTES
    KEEPS_NEWEST_ON_OVERFLOW = True
    _PINS_FIRST_AFTER_RESTART = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lost_base: int | None = 0  # FIFO_LOST_PKT when the driver last looked; None: unknown
        self._last_tmst: int | None = None  # timestamp field of the last packet delivered ...
        self._last_k = -1  # ... and its grid index
        self._read_tmst: int | None = None  # timestamp field of the last packet read, until delivered
        self._flushed = False  # the FIFO was flushed since the last packet delivered
        self._kept_first = 0  # grid index of the first packet an overflowed FIFO kept ...
        self._kept_counted = False  # ... from the lost count or the timestamps (not the rate alone)

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
        # The soft reset in _configure() zeroed FIFO_LOST_PKT (reset value 0x00) and the timestamp counter.
        self._lost_base = 0
        self._last_tmst = None

    def _reset_fifo_hw(self) -> None:
        self.regs.get("INT_STATUS")  # clear a stale FIFO_FULL_INT
        # Whether a flush zeroes FIFO_LOST_PKT the datasheet does not say: no base until the next
        # look. The timestamp counter is the chip's timer, not the FIFO's: it runs on.
        self._lost_base = None
        self._read_tmst = None
        self._flushed = True
        self._resume_write("SIGNAL_PATH_RESET", fifo_flush=1)  # empties the FIFO; clears itself

    def _read_status(self) -> FifoStatus:
        status, t_lo, t_hi = self._timed_read(self.regs.read_group, "INT_STATUS", "FIFO_COUNTH")
        n_bytes = status["FIFO_COUNTH"].fifo_count
        full = bool(status["INT_STATUS"].fifo_full_int) or n_bytes >= self.FIFO_CAPACITY_BYTES
        n_lost: int | None = 0  # packets lost since the last look; None: some, how many unknown
        if full or self._lost_base is None:
            lost = self.regs.get("FIFO_LOST_PKT0").fifo_lost_pkt_cnt
            base = self._lost_base
            if base is None:  # the first look since a flush: a base, unless the FIFO already filled
                n_lost = None if full and lost else 0
            elif lost == base:  # nothing counted, unless the counter is stuck at its top
                n_lost = None if full and lost == _LOST_MAX else 0
            else:
                n_lost = None if lost == _LOST_MAX else (lost - base) % (_LOST_MAX + 1)
            self._lost_base = lost
        return FifoStatus(n_bytes // _PACKET.itemsize, n_lost != 0, t_lo, t_hi, n_lost)

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
        tmst = packets["timestamp"].astype(np.int64)
        if status.overflow and len(tmst):
            self._kept_first, self._kept_counted = self._place_kept(status, tmst)
        elif self._flushed and len(tmst) and self._last_tmst is not None:
            # The first packet after a flush: its timestamp pins which of the samples near the
            # rate's estimate it is (the base class reads it as sample self._k_next).
            fitting = self._fitting(int(tmst[0]), self._k_next, self._last_k + 1)
            if len(fitting) == 1:
                self._k_next = int(fitting[0])
        self._read_tmst = int(tmst[-1]) if len(tmst) else self._read_tmst
        return np.hstack([packets["acc"], packets["gyro"]]).astype(np.int16)

    def _period_ticks(self) -> float:
        """Timestamp counter ticks per sample period (the chip's own clock: no drift)."""
        return 1e6 / self.sampling_rate_hz * ICM42688_FIFO_TMST_TICKS_PER_US

    def _fits(self, d_ticks: np.ndarray | int, periods: np.ndarray | int) -> np.ndarray:
        """Tell whether timestamp steps ``d_ticks`` (mod 2**16) are ``periods`` sample periods."""
        err = (np.asarray(d_ticks) - np.asarray(periods) * self._period_ticks()) % _WRAP
        return np.minimum(err, _WRAP - err) <= _TMST_TOLERANCE

    def _fitting(self, tmst: int, k_estimate: int, k_min: int) -> np.ndarray:
        """Return the indices near ``k_estimate`` (and >= ``k_min``) a packet stamped ``tmst`` can have.

        Indices with the same 16-bit timestamp are 2**16 ticks apart (14 periods at 200 Hz, 3.5 at
        50 Hz): only those within half that of the estimate are tried, so at most one fits.
        """
        assert self._last_tmst is not None
        half = max(int((_WRAP / self._period_ticks() - 1.0) // 2.0), 0)
        candidates = np.arange(max(k_estimate - half, k_min), k_estimate + half + 1)
        step = (tmst - self._last_tmst) % _WRAP  # ticks since the last packet delivered
        return candidates[self._fits(step, candidates - self._last_k)]

    def _place_kept(self, status: FifoStatus, tmst: np.ndarray) -> tuple[int, bool]:
        """Return the grid index of the first packet an overflowed FIFO kept, and if it was counted.

        Counted: exact (from FIFO_LOST_PKT or the timestamps, not the rate's extrapolation alone)
        and the last packet read the last one written when the count was latched.

        Raises
        ------
        FifoMisaligned
            When the kept packets are not the newest, consecutive packets (by their timestamps).
        """
        timing = self._timing
        assert timing is not None
        if not np.all(self._fits(np.diff(tmst) % _WRAP, 1)):
            raise FifoMisaligned  # the kept packets are not consecutive
        k_next = self._k_next
        k_estimate = max(timing.first_index_after(status.t_s) - len(tmst), k_next + 1)
        k_counted = None if status.info is None else k_next + status.info
        if self._last_tmst is None:  # nothing delivered since setup: nothing to check against
            return (k_estimate, False) if k_counted is None else (k_counted, True)
        if k_counted is not None:
            step = (int(tmst[0]) - self._last_tmst) % _WRAP
            slack = 2.0 + 0.01 * (k_estimate - k_next)  # the rate's extrapolation error, at most
            near = abs(k_counted - k_estimate) <= max(slack, _WRAP / self._period_ticks() / 2.0)
            if near and self._fits(step, k_counted - self._last_k):
                return k_counted, True
        fitting = self._fitting(int(tmst[0]), k_estimate, k_next + 1)
        if len(fitting) != 1:
            raise FifoMisaligned  # not the newest packets (or out of step): start again
        # A count that does not fit may mean a packet was written (and the oldest one dropped)
        # between the count's read and the data's: the data then end after the count's latch.
        return int(fitting[0]), k_counted is None

    def _overflow_first_index(self, k_estimate: int) -> int:
        return self._kept_first

    def _overflow_index_counted(self) -> bool:
        return self._kept_counted

    def _delivered(self, k0: int, n: int) -> None:
        if n:
            self._last_tmst = self._read_tmst
            self._last_k = k0 + n - 1
            self._flushed = False

    def _scales(self) -> tuple[float, float]:
        acc = STANDARD_GRAVITY_MPS2 / ICM42688_ACCEL_LSB_PER_G[self.accel_range_g]
        gyro = math.radians(1.0) / ICM42688_GYRO_LSB_PER_DPS[self.gyro_range_dps]
        return acc, gyro

    def _power_down(self) -> None:
        self.regs.set("FIFO_CONFIG", fifo_mode="bypass")
        self.regs.set("PWR_MGMT0", gyro_mode="off", accel_mode="off")
