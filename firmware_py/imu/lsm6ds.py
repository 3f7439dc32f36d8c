"""ST LSM6DS3 / LSM6DSL (untagged FIFO) and LSM6DSO / LSM6DSOX (tagged FIFO).

Wiring: VDD and VDDIO to 3V3, GND, SDA to GPIO2, SCL to GPIO3, CS high (I2C mode); SDO/SA0 low
gives address 0x6A, high 0x6B. See ``hardware/wiring.md``.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_py.imu.base import STANDARD_GRAVITY_MPS2, FifoMisaligned, FifoStatus, ImuDriver
from firmware_py.imu.registers import (
    LSM6DS3_FIFO_CAPACITY_WORDS,
    LSM6DS3_REGISTERS,
    LSM6DS_ACCEL_MG_PER_LSB,
    LSM6DS_FIFO_DATA_SET,
    LSM6DS_GYRO_MDPS_PER_LSB,
    LSM6DSL_FIFO_CAPACITY_WORDS,
    LSM6DSL_REGISTERS,
    LSM6DSO_FIFO_CAPACITY_WORDS,
    LSM6DSO_FIFO_WORD,
    LSM6DSO_REGISTERS,
    nearest,
)

__all__ = ["Lsm6ds3", "Lsm6dsl", "Lsm6dso", "Lsm6dsox"]

#: Output rates used between 50 and 1000 Hz (ODR_XL = ODR_G = FIFO rate).
_MIN_HZ, _MAX_HZ = 50.0, 1000.0


class _Lsm6ds(ImuDriver):
    """What the LSM6DS parts share: probe, software reset, CTRL1_XL / CTRL2_G, scales."""

    ADDRESSES = (0x6A, 0x6B)
    ACCEL_RANGES_G = tuple(LSM6DS_ACCEL_MG_PER_LSB)
    GYRO_RANGES_DPS = tuple(LSM6DS_GYRO_MDPS_PER_LSB)

    def _configure(self) -> float:
        regs = self.regs
        regs.set("CTRL3_C", sw_reset=1)
        for _ in range(10):  # the reset takes ~50 µs; the bit clears itself
            self.clock.sleep(0.001)
            if not regs.get("CTRL3_C").sw_reset:
                break
        else:
            raise OSError(5, "CTRL3_C.SW_RESET did not clear")
        regs.set("CTRL3_C", bdu=1, if_inc=1)
        rate_hz = nearest(self._odr_table(), self.requested_rate_hz, lo=_MIN_HZ, hi=_MAX_HZ)
        gyro_fields = (
            {"fs_125": 1} if self.gyro_range_dps == 125 else {"fs_125": 0, "fs_g": self.gyro_range_dps}
        )
        regs.set("CTRL1_XL", odr_xl=rate_hz, fs_xl=self.accel_range_g)
        regs.set("CTRL2_G", odr_g=rate_hz, **gyro_fields)
        return rate_hz

    def _odr_table(self) -> dict:
        return self.REGISTERS["CTRL1_XL"].field("odr_xl").lookup  # type: ignore[return-value]

    def _scales(self) -> tuple[float, float]:
        acc = LSM6DS_ACCEL_MG_PER_LSB[self.accel_range_g] * 1e-3 * STANDARD_GRAVITY_MPS2
        gyro = math.radians(LSM6DS_GYRO_MDPS_PER_LSB[self.gyro_range_dps] * 1e-3)
        return acc, gyro

    def _power_down(self) -> None:
        self.regs.set("CTRL1_XL", odr_xl="power_down")
        self.regs.set("CTRL2_G", odr_g="power_down")


class _UntaggedLsm6ds(_Lsm6ds):
    """LSM6DS3 / LSM6DSL: FIFO of 16-bit words, gyro x/y/z then accel x/y/z per sample.

    The FIFO runs in continuous mode at the output rate: when full, the newest sample overwrites
    the oldest and FIFO_STATUS2.OVER_RUN is set (LSM6DSL datasheet DocID028475 §5.5.3
    "Continuous mode"; the LSM6DS3's FIFO chapter describes the same modes). FIFO_STATUS1/2 give the unread
    words, FIFO_STATUS3/4 which word of the pattern comes next. After an overflow the FIFO still
    holds the newest samples, so the driver reads them (:attr:`KEEPS_NEWEST_ON_OVERFLOW`) while
    the pattern says the next word is a gyro X; when it does not (the overwrite left the FIFO in
    the middle of a data set) the FIFO is reset as out of step. Nothing in the FIFO counts the
    overwritten samples: their number comes from the time of the count and the chip's rate.
    """

    KEEPS_NEWEST_ON_OVERFLOW = True

    _WORDS_PER_SAMPLE = LSM6DS_FIFO_DATA_SET.itemsize // 2
    #: FIFO size, 16-bit words.
    FIFO_CAPACITY_WORDS: int

    @property
    def fifo_capacity_samples(self) -> int:
        """Samples the FIFO holds (682 on the LSM6DS3, 341 on the LSM6DSL)."""
        return self.FIFO_CAPACITY_WORDS // self._WORDS_PER_SAMPLE

    def _start_fifo(self) -> None:
        regs = self.regs
        regs.set("FIFO_CTRL5", odr_fifo=self.sampling_rate_hz, fifo_mode="bypass")
        regs.set("FIFO_CTRL3", dec_fifo_gyro="no_decimation", dec_fifo_xl="no_decimation")
        self._reset_fifo_hw()

    def _reset_fifo_hw(self) -> None:
        self.regs.set("FIFO_CTRL5", fifo_mode="bypass")  # bypass empties the FIFO
        self._resume_write("FIFO_CTRL5", fifo_mode="continuous")

    def _read_status(self) -> FifoStatus:
        status, t_lo, t_hi = self._timed_read(self.regs.read_group, "FIFO_STATUS1", "FIFO_STATUS3")
        s1, s3 = status["FIFO_STATUS1"], status["FIFO_STATUS3"]
        words = 0 if s1.fifo_empty else s1.diff_fifo
        overflow = bool(s1.over_run)  # set while the FIFO is full and has overwritten a sample
        if s3.fifo_pattern != 0 and words:
            raise FifoMisaligned  # we always read whole patterns: the next word must be gyro X
        return FifoStatus(words // self._WORDS_PER_SAMPLE, overflow, t_lo, t_hi, words)

    def _read_samples(self, status: FifoStatus) -> np.ndarray:
        n_bytes = status.n_samples * LSM6DS_FIFO_DATA_SET.itemsize
        data = self.regs.read_fifo("FIFO_DATA_OUT_L", n_bytes, unit=LSM6DS_FIFO_DATA_SET.itemsize)
        sets = np.frombuffer(data, dtype=LSM6DS_FIFO_DATA_SET)
        return np.hstack([sets["acc"], sets["gyro"]]).astype(np.int16)


class Lsm6ds3(_UntaggedLsm6ds):
    """LSM6DS3 (WHO_AM_I 0x69), 8 KiB untagged FIFO.

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.
    """

    CHIP = "LSM6DS3"
    REGISTERS = LSM6DS3_REGISTERS
    WHO_AM_I_IDS = (0x69,)
    FIFO_CAPACITY_WORDS = LSM6DS3_FIFO_CAPACITY_WORDS


class Lsm6dsl(_UntaggedLsm6ds):
    """LSM6DSL / LSM6DS3TR-C (WHO_AM_I 0x6A), 4 KiB untagged FIFO.

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.
    """

    CHIP = "LSM6DSL"
    REGISTERS = LSM6DSL_REGISTERS
    WHO_AM_I_IDS = (0x6A,)
    FIFO_CAPACITY_WORDS = LSM6DSL_FIFO_CAPACITY_WORDS


class Lsm6dso(_Lsm6ds):
    """LSM6DSO / LSM6DSOX (WHO_AM_I 0x6C): tagged FIFO of 7-byte words, 512 words (3 KiB).

    Parameters are those of :class:`~firmware_py.imu.base.ImuDriver`.

    Notes
    -----
    Gyro and accel are batched at the output rate (FIFO_CTRL3 BDR_GY = BDR_XL) in continuous mode.
    Each word is FIFO_DATA_OUT_TAG (sensor in bits 7:3, a 2-bit time-slot counter in bits 2:1)
    and six data bytes; a sample is the gyro word and the accel word of one time slot. When the
    FIFO is full the newest word overwrites the oldest and FIFO_STATUS2.FIFO_OVR_IA is set
    (LSM6DSO datasheet §6.5 "FIFO", continuous mode, and §6.5.7 "FIFO reading
    procedure"). Every word names its sensor and time slot, so the words an overflow left are
    read (:attr:`KEEPS_NEWEST_ON_OVERFLOW`): a leading word whose partner was overwritten is
    dropped, and the time slot counter of the first whole sample pins its index among the four
    nearest the rate's estimate (the counter's offset is learnt from every read).
    """

    KEEPS_NEWEST_ON_OVERFLOW = True

    CHIP = "LSM6DSO/LSM6DSOX"
    REGISTERS = LSM6DSO_REGISTERS
    WHO_AM_I_IDS = (0x6C,)
    FIFO_CAPACITY_WORDS = LSM6DSO_FIFO_CAPACITY_WORDS
    _TAG = LSM6DSO_REGISTERS["FIFO_DATA_OUT_TAG"]
    _GYRO = _TAG.field("tag_sensor").lookup["gyro_nc"]  # type: ignore[index]
    _ACCEL = _TAG.field("tag_sensor").lookup["accel_nc"]  # type: ignore[index]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._carry = np.empty(0, dtype=LSM6DSO_FIFO_WORD)  # a half sample left by the last read
        self._first_cnt = 0  # TAG_CNT of the first sample of the last read
        self._cnt_offset: int | None = None  # (TAG_CNT - grid index) mod 4, once learnt

    @property
    def fifo_capacity_samples(self) -> int:
        """Samples the FIFO holds (256: two words each)."""
        return self.FIFO_CAPACITY_WORDS // 2

    def _start_fifo(self) -> None:
        regs = self.regs
        regs.set("FIFO_CTRL4", fifo_mode="bypass", odr_t_batch=0, dec_ts_batch=0)
        regs.set("FIFO_CTRL3", bdr_gy=self.sampling_rate_hz, bdr_xl=self.sampling_rate_hz)
        self._reset_fifo_hw()

    def _reset_fifo_hw(self) -> None:
        self._carry = self._carry[:0]
        self._cnt_offset = None  # the counter may restart with the FIFO: learn it again
        self.regs.set("FIFO_CTRL4", fifo_mode="bypass")  # bypass empties the FIFO
        self._resume_write("FIFO_CTRL4", fifo_mode="continuous")

    def _read_status(self) -> FifoStatus:
        s1, t_lo, t_hi = self._timed_read(self.regs.get, "FIFO_STATUS1")
        words = s1.diff_fifo
        overflow = bool(s1.fifo_ovr_ia or s1.fifo_ovr_latched)  # a word was overwritten
        return FifoStatus((words + len(self._carry)) // 2, overflow, t_lo, t_hi, words)

    def _read_samples(self, status: FifoStatus) -> np.ndarray:
        word_bytes = LSM6DSO_FIFO_WORD.itemsize
        data = self.regs.read_fifo("FIFO_DATA_OUT_TAG", status.info * word_bytes, unit=word_bytes)
        words = np.frombuffer(data, dtype=LSM6DSO_FIFO_WORD)
        if not status.overflow:  # after an overflow the carried word's partner may be overwritten
            words = np.concatenate([self._carry, words])
        sensor = self._TAG.field("tag_sensor").extract(words["tag"])
        words = words[(sensor == self._GYRO) | (sensor == self._ACCEL)]  # skip timestamp / config words
        if status.overflow and len(words) >= 2 and not self._is_pair(words[0], words[1]):
            words = words[1:]  # the oldest word left lost its partner to the overwrite
        n = len(words) // 2
        self._carry = words[2 * n :].copy()
        first, second = words[0 : 2 * n : 2], words[1 : 2 * n : 2]
        s1 = self._TAG.field("tag_sensor").extract(first["tag"])
        s2 = self._TAG.field("tag_sensor").extract(second["tag"])
        cnt = self._TAG.field("tag_cnt")
        if not (np.all(s1 != s2) and np.all(cnt.extract(first["tag"]) == cnt.extract(second["tag"]))):
            raise FifoMisaligned  # every pair must be one gyro and one accel word of the same time slot
        if n:
            self._first_cnt = int(cnt.extract(first["tag"][0]))
        gyro_first = (s1 == self._GYRO)[:, None]
        gyro = np.where(gyro_first, first["data"], second["data"])
        acc = np.where(gyro_first, second["data"], first["data"])
        return np.hstack([acc, gyro]).astype(np.int16)

    def _is_pair(self, a: np.void, b: np.void) -> bool:
        """Tell whether words ``a`` and ``b`` are the gyro and accel words of one time slot."""
        sensor, cnt = self._TAG.field("tag_sensor"), self._TAG.field("tag_cnt")
        return sensor.extract(a["tag"]) != sensor.extract(b["tag"]) and cnt.extract(a["tag"]) == cnt.extract(
            b["tag"]
        )

    def _delivered(self, k0: int, n: int) -> None:
        if n:
            self._cnt_offset = (self._first_cnt - k0) % 4

    def _overflow_first_index(self, k_estimate: int) -> int:
        if self._cnt_offset is None:
            return k_estimate
        # the index nearest the estimate (from -2 to +1) whose time slot counter is the one read
        return k_estimate + (self._first_cnt - self._cnt_offset - k_estimate + 2) % 4 - 2


class Lsm6dsox(Lsm6dso):
    """LSM6DSOX: same registers and WHO_AM_I (0x6C) as the LSM6DSO; compression is left off."""

    CHIP = "LSM6DSOX"
