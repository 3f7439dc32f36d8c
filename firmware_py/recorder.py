"""Crash-safe recording of every raw sample to the native log (``.cclog``).

The recorder writes from the first sample: a header (chip, ranges, rate, placement, config
snapshot, software version, start time) and then framed, checksummed blocks of the chip's
raw counts with their timestamps. It fsyncs at least every ``fsync_interval_s`` (default
1 s) of the injected clock, so a power cut loses at most the last second. Each session gets
a new file and nothing is ever overwritten. When the disk fills up the recorder stops,
says why, and lets the caller keep coaching; it never raises into the live loop.

Sample times are on the monotonic clock, which an NTP sync never moves. Given a
``time_origin_s`` (what ``run`` does), they count from the start of the run: the header's
``time_base`` is ``"start"``, ``start_time_utc`` is the wall-clock time of t = 0 (to the
millisecond) and ``monotonic_origin_s`` the monotonic clock's reading there (seconds since boot
on Linux, as ``journalctl -o short-monotonic`` shows). Older logs have no ``time_base``: their
times are the host's monotonic clock itself. The wall clock does move:
a Raspberry Pi has no real-time clock, boots with the time it saved at its last shutdown
(``fake-hwclock``) and jumps, often by hours, when NTP syncs mid-run. Given a ``wall_clock``, the
recorder watches it at every fsync and writes a ``wall_clock`` event when it jumps, with the new
UTC time on the log's time line, so the run can still be placed in real time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from firmware_py import __version__
from firmware_py.clock import Clock
from firmware_py.exc import LogWriteError
from firmware_py.logs.cclog import CclogWriter

#: A change of the wall clock against the monotonic clock larger than this is a jump (an NTP step,
#: a manual ``date -s``), s; NTP's gradual slewing stays far below it.
WALL_CLOCK_JUMP_S = 2.0


class Recorder:
    """Append FIFO batches to a new ``.cclog`` in ``data_dir``.

    Parameters
    ----------
    data_dir : str or Path
        Folder for the logs (created if missing).
    header : dict
        Header fields for :class:`firmware_py.logs.cclog.CclogWriter` (``sampling_rate_hz``,
        ``acc_lsb_mps2``, ``gyro_lsb_rads``, ``chip``, ranges, placement, ``config``, ...).
    clock : Clock
        Monotonic clock used to pace the fsyncs.
    fsync_interval_s : float
        Longest time between two fsyncs, s.
    min_free_mb : float
        Below this much free space at start the recorder warns (``low_disk``); when free space
        falls below it during the run (checked at every fsync) the recorder flushes what it has
        and stops, so that the card never fills up (the system on it needs some room too).
        0 (the default): no threshold, only a full disk stops the recording.
    prefix : str
        File name prefix; files are ``<prefix>-YYYYmmdd-HHMMSS.cclog`` (UTC).
    writer_factory : callable, optional
        Builds the writer (tests inject faulty disks here).
    wall_clock : callable, optional
        Returns the wall-clock time (an aware ``datetime``); default :func:`datetime.datetime.now`
        in UTC. Watched for jumps only when ``watch_wall_clock`` is true.
    watch_wall_clock : bool
        Write a ``wall_clock`` event (``{"kind": "wall_clock", "utc": ISO time, "jump_s": s}`` at
        the last sample's time) whenever the wall clock moves by more than
        :data:`WALL_CLOCK_JUMP_S` against ``clock`` (an NTP sync after boot). Only meaningful when
        ``clock`` is the real monotonic clock.
    time_origin_s : float, optional
        The time on ``clock`` that is t = 0 of the samples the caller will write (the start of the
        run), s. The header then says so (``time_base = "start"``, ``monotonic_origin_s``) and its
        ``start_time_utc`` is the wall-clock time at that instant. None: the caller's times are
        ``clock``'s own and the header has no time base (as logs before it had).

    Attributes
    ----------
    path : Path or None
        The log being written (None when recording could not start).
    recording : bool
        True while samples are being written.
    stopped_reason : str or None
        Why recording stopped or never started (disk full, read-only folder, ...).
    low_disk : bool
        Free space was below ``min_free_mb`` at start.
    samples_written : int
        Samples handed to the writer.
    """

    def __init__(
        self,
        data_dir: str | Path,
        header: dict[str, Any],
        *,
        clock: Clock,
        fsync_interval_s: float = 1.0,
        min_free_mb: float = 0.0,
        prefix: str = "run",
        writer_factory: Callable[..., CclogWriter] = CclogWriter,
        wall_clock: Callable[[], _dt.datetime] | None = None,
        watch_wall_clock: bool = False,
        free_mb: Callable[[Path], float] | None = None,
        time_origin_s: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.min_free_mb = float(min_free_mb)
        self._free_mb = free_mb or (lambda d: shutil.disk_usage(d).free / 1e6)
        self._wall = wall_clock or (lambda: _dt.datetime.now(_dt.UTC))
        self._watch_wall = bool(watch_wall_clock)
        self._last_t_s = float("nan")
        self._clock = clock
        self.fsync_interval_s = float(fsync_interval_s)
        self.path: Path | None = None
        self.recording = False
        self.stopped_reason: str | None = None
        self.low_disk = False
        self.samples_written = 0
        self._writer: CclogWriter | None = None
        self._last_sync = clock.monotonic()
        start = self._wall()
        now_s = clock.monotonic()
        self._wall_offset_s = start.timestamp() - now_s
        time_base: dict[str, Any] = {}
        if time_origin_s is not None:
            # the header's start is the wall-clock time of t = 0 itself, so that t + start_time_utc
            # places every sample in real time (until a wall_clock event corrects the wall clock)
            start = start - _dt.timedelta(seconds=now_s - float(time_origin_s))
            time_base = {"time_base": "start", "monotonic_origin_s": float(time_origin_s)}
        full_header = {
            "software_version": __version__,
            "start_time_utc": start.isoformat(timespec="milliseconds"),
            **time_base,
            **header,
        }
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            free_mb = self._free_mb(self.data_dir)
            self.low_disk = free_mb < min_free_mb
            self.path = self._new_path(prefix, start)
            self._writer = writer_factory(self.path, full_header, encoding="i2")
            self.recording = True
        except (OSError, LogWriteError) as exc:
            if self.path is not None and not self.path.exists():
                self.path = None  # the writer removed a log it could not start: nothing to point at
            self._stop(f"cannot record in {self.data_dir}: {exc}; coaching continues without a log")

    @staticmethod
    def _stamp(start: _dt.datetime) -> str:
        return start.strftime("%Y%m%d-%H%M%S")

    def _new_path(self, prefix: str, start: _dt.datetime) -> Path:
        base = f"{prefix}-{self._stamp(start)}"
        path = self.data_dir / f"{base}.cclog"
        n = 2
        while path.exists():
            path = self.data_dir / f"{base}-{n}.cclog"
            n += 1
        return path

    def _stop(self, reason: str) -> None:
        self.recording = False
        self.stopped_reason = reason
        if self._writer is not None:
            with contextlib.suppress(OSError, LogWriteError):
                self._writer.close()  # the disk is gone or full: what was fsynced before is safe
            self._writer = None

    def _guard(self, fn: Callable[[], None]) -> None:
        if not self.recording:
            return
        try:
            fn()
        except (OSError, LogWriteError) as exc:
            full = False
            link: BaseException | None = exc
            while link is not None:  # the writer may wrap the OS error
                full = full or (isinstance(link, OSError) and link.errno in (errno.ENOSPC, errno.EDQUOT))
                link = link.__cause__ or link.__context__
            what = "disk full" if full else f"write failed ({exc})"
            self._stop(f"recording stopped: {what}; samples up to the last flush are safe in {self.path}")
            if self.path is not None and not self.path.exists():
                # the writer removes a log whose header never reached the disk: say so
                self.stopped_reason = (
                    f"recording stopped: {what} in {self.data_dir} before the log's header was saved, "
                    "so no log was kept; free some space; coaching continues without a log"
                )
                self.path = None

    def write(self, t_s: np.ndarray, raw_counts: np.ndarray) -> None:
        """Append samples (raw int16 counts, shape ``(n, 6)`` or ``(n, 3)``) and their times (s)."""
        if len(t_s) == 0:
            return

        def do() -> None:
            self._writer.append(t_s, raw_counts)
            self.samples_written += len(t_s)
            self._last_t_s = float(t_s[-1])

        self._guard(do)
        self.maybe_flush()

    def gap(self, t_before_s: float, t_after_s: float, reason: str) -> None:
        """Mark samples that were lost (FIFO overflow, unplugged sensor) between two times, s."""
        self._guard(lambda: self._writer.append_gap(float(t_before_s), float(t_after_s), reason))

    def event(self, t_s: float, obj: dict[str, Any]) -> None:
        """Store a note (a cue with its reason, a flag) on the log's time line."""
        self._guard(lambda: self._writer.append_event(float(t_s), obj))

    def maybe_flush(self) -> None:
        """Flush and fsync when ``fsync_interval_s`` has passed since the last one."""
        now = self._clock.monotonic()
        if now - self._last_sync >= self.fsync_interval_s:
            self.flush()

    def flush(self, *, check_space: bool = True) -> None:
        """Write buffered blocks and fsync now (after noting a jump of the wall clock, if any).

        Then, with ``min_free_mb`` and ``check_space``, stop if the free space fell below it.
        """
        self._last_sync = self._clock.monotonic()
        self._check_wall_clock()
        self._guard(lambda: self._writer.flush(fsync=True))
        if check_space:
            self._check_free_space()

    def _check_free_space(self) -> None:
        if not self.recording or self.min_free_mb <= 0:
            return
        try:
            free_mb = self._free_mb(self.data_dir)
        except OSError:
            return  # a failing statvfs says nothing about the space: the writes will tell
        if free_mb < self.min_free_mb:
            self._stop(
                f"recording stopped: less than {self.min_free_mb:g} MB free in {self.data_dir} "
                f"({free_mb:.0f} MB; [recording] min_free_mb); samples up to now are safe in {self.path}"
            )

    def _check_wall_clock(self) -> None:
        if not self._watch_wall or not self.recording:
            return
        wall = self._wall()
        offset_s = wall.timestamp() - self._clock.monotonic()
        jump_s = offset_s - self._wall_offset_s
        if abs(jump_s) <= WALL_CLOCK_JUMP_S:
            return
        self._wall_offset_s = offset_s
        t_s = self._last_t_s if np.isfinite(self._last_t_s) else 0.0
        utc = wall.astimezone(_dt.UTC).isoformat(timespec="milliseconds")
        self.event(t_s, {"kind": "wall_clock", "utc": utc, "jump_s": round(jump_s, 3)})

    def close(self) -> None:
        """Flush, fsync and close; idempotent."""
        if self._writer is not None and self.recording:
            self.flush(check_space=False)  # the log ends here anyway: no "recording stopped" now
        if self._writer is not None:
            try:
                self._writer.close()
            except (OSError, LogWriteError) as exc:
                self.stopped_reason = self.stopped_reason or f"closing the log failed: {exc}"
            self._writer = None
        self.recording = False

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
