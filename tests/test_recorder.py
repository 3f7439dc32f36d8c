"""The recorder: every sample, fsync pacing, power cuts, full and read-only disks."""

from __future__ import annotations

import errno
import os
import warnings
from typing import ClassVar

import numpy as np
import pytest

from firmware_py.clock import FakeClock
from firmware_py.logs import read_log
from firmware_py.logs.cclog import CclogWriter
from firmware_py.recorder import Recorder

ACC_LSB = 9.80665 / 2048.0  # ±16 g
GYRO_LSB = np.deg2rad(1.0 / 16.4)  # ±2000 dps
HEADER = {
    "sampling_rate_hz": 200.0,
    "acc_lsb_mps2": ACC_LSB,
    "gyro_lsb_rads": GYRO_LSB,
    "chip": "lsm6dsox",
    "accel_range_g": 16,
    "gyro_range_dps": 2000,
    "placement": "foot",
    "config": {"device": {"chip": "lsm6dsox"}},
}


def _batches(rng, seconds, block_s=0.05, fs=200.0):
    n = round(block_s * fs)
    for k in range(int(seconds / block_s)):
        t = (k * n + np.arange(n)) / fs
        yield t, rng.integers(-32768, 32767, size=(n, 6), dtype=np.int16)


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(path)


def test_every_sample_is_recorded_in_si_units(tmp_path, rng):
    clock = FakeClock()
    t_all, raw_all = [], []
    with Recorder(tmp_path, HEADER, clock=clock) as rec:
        for t, raw in _batches(rng, 5.0):
            rec.write(t, raw)
            t_all.append(t)
            raw_all.append(raw)
            clock.sleep(0.05)
        path = rec.path
    got = _read(path)
    raw = np.concatenate(raw_all).astype(float)
    assert got.n_samples == len(np.concatenate(t_all)) == 1000
    np.testing.assert_array_equal(got.t_s, np.concatenate(t_all))
    np.testing.assert_allclose(got.acc_mps2, raw[:, :3] * ACC_LSB, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.gyro_rads, raw[:, 3:] * GYRO_LSB, rtol=0, atol=1e-12)
    assert got.meta["chip"] == "lsm6dsox"
    assert got.meta["config"] == HEADER["config"]
    assert "software_version" in got.meta
    assert "start_time_utc" in got.meta


def test_new_file_per_session_never_overwrites(tmp_path):
    clock = FakeClock()
    paths = set()
    for _ in range(3):
        with Recorder(tmp_path, HEADER, clock=clock) as rec:
            rec.write(np.array([0.0]), np.zeros((1, 6), np.int16))
            paths.add(rec.path)
    assert len(paths) == 3
    assert all(p.suffix == ".cclog" and p.exists() for p in paths)


class CountingWriter(CclogWriter):
    syncs: ClassVar[list[float]] = []
    clock: ClassVar[FakeClock | None] = None

    def flush(self, fsync: bool = True) -> None:
        super().flush(fsync)
        if fsync and self.clock is not None:
            CountingWriter.syncs.append(self.clock.monotonic())


def test_fsync_at_least_once_a_second(tmp_path, rng):
    clock = FakeClock()
    CountingWriter.syncs = []
    CountingWriter.clock = clock
    rec = Recorder(tmp_path, HEADER, clock=clock, writer_factory=CountingWriter)
    for t, raw in _batches(rng, 10.0, block_s=0.07):
        rec.write(t, raw)
        clock.sleep(0.07)
    rec.close()
    gaps = np.diff(CountingWriter.syncs)
    assert gaps.size >= 9
    assert gaps.max() <= 1.0 + 0.07 + 1e-9  # paced by the loop's blocks


def test_power_cut_loses_at_most_the_last_second(tmp_path, rng):
    """Copy the file as it is on disk at a random moment: everything up to the last fsync is there."""
    clock = FakeClock()
    rec = Recorder(tmp_path, HEADER, clock=clock)
    written = 0
    snapshot = None
    for i, (t, raw) in enumerate(_batches(rng, 8.0)):
        rec.write(t, raw)
        written += len(t)
        clock.sleep(0.05)
        if i == 97:  # the power goes: what the OS holds is the file as it stands now
            snapshot = (tmp_path / "cut.cclog", rec.path.read_bytes(), written)
    rec.close()
    path, data, n_at_cut = snapshot
    path.write_bytes(data)
    got = _read(path)
    assert n_at_cut - 200 <= got.n_samples <= n_at_cut  # at most 1 s at 200 Hz missing


class FullDisk:
    """A file object that accepts ``budget`` bytes, then fails like a full SD card."""

    def __init__(self, inner, budget):
        self.inner = inner
        self.budget = budget

    def write(self, data):
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = min(len(data), self.budget)
        self.budget -= n
        return self.inner.write(bytes(data[:n]))

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_disk_full_mid_run_stops_recording_and_keeps_what_was_written(tmp_path, rng):
    clock = FakeClock()

    def factory(path, header, *, encoding):
        w = CclogWriter(path, header, encoding=encoding)
        w._file = FullDisk(w._file, budget=20_000)
        return w

    rec = Recorder(tmp_path, HEADER, clock=clock, writer_factory=factory)
    for t, raw in _batches(rng, 10.0):
        rec.write(t, raw)  # must never raise into the live loop
        clock.sleep(0.05)
    assert not rec.recording
    assert "disk full" in rec.stopped_reason
    assert str(rec.path) in rec.stopped_reason
    got = _read(rec.path)
    assert 0 < got.n_samples < 2000
    rec.close()


def test_unwritable_folder_means_no_log_but_no_crash(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rec = Recorder(blocker / "logs", HEADER, clock=FakeClock())
    assert not rec.recording
    assert rec.path is None
    assert "cannot record" in rec.stopped_reason
    rec.write(np.array([0.0]), np.zeros((1, 6), np.int16))  # silently ignored
    rec.gap(0.0, 1.0, "unplugged")
    rec.close()


def test_gaps_and_events_are_recorded(tmp_path, rng):
    clock = FakeClock()
    with Recorder(tmp_path, HEADER, clock=clock) as rec:
        rec.write(np.arange(10) / 200.0, np.zeros((10, 6), np.int16))
        rec.gap(0.045, 5.0, "i2c_unplugged")
        rec.write(5.0 + np.arange(10) / 200.0, np.zeros((10, 6), np.int16))
        rec.event(5.01, {"cue": "sensor_lost", "reason": "no answer for 5 s"})
        path = rec.path
    got = _read(path)
    assert got.n_samples == 20
    assert any(abs(a - 0.045) < 1e-9 and abs(b - 5.0) < 1e-9 for a, b in got.gaps)
    assert got.meta["events"] == [
        {"t_s": 5.01, "event": {"cue": "sensor_lost", "reason": "no answer for 5 s"}}
    ]


@pytest.mark.parametrize("low", [True, False])
def test_low_disk_is_reported_at_start(tmp_path, low):
    rec = Recorder(tmp_path, HEADER, clock=FakeClock(), min_free_mb=1e12 if low else 0.0)
    assert rec.low_disk is low
    rec.close()
