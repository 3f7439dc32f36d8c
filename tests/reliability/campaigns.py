"""Fault campaigns: the code shared by ``tests/reliability`` (small counts) and ``benchmarks.reliability``.

Every campaign tries one kind of fault on purpose, many times, and returns a :class:`CampaignResult`
per table row: how many trials, how many the device survived as documented, how many samples were
lost beyond what the documentation allows, how many trials crashed (an exception or a process death
that the product should have turned into a message), and notes. ``docs/reliability.md`` describes
each campaign and what "survived" means for it.

Two entry points run in a subprocess (``python -m tests.reliability.campaigns ...``):

* ``writer DATA_DIR PROGRESS SEED`` records a deterministic session with the real
  :class:`~firmware_py.recorder.Recorder` (fake clock, real fsync) until it is killed, and appends
  ``fsynced N samples B bytes t=T`` to ``PROGRESS`` (flushed and fsynced) after every recorder flush;
* ``atheris RUNS CORPUS_DIR`` fuzzes both log readers with atheris (opt-in: only when it installs).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gc
import json
import math
import os
import random
import re
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
import tomllib
import tracemalloc
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FOOT_CSV = FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv"
BACK_CSV = FIXTURES / "harlab_treadmill_jog" / "S028_jog.csv"
UNIT_FILE = REPO / "hardware" / "cadence-coach.service"
DEFAULT_TOML = REPO / "config" / "default.toml"

MAGIC = b"\x89CCLOG\r\n"
SYNC = b"\xa5ZCB"
_BLOCK = struct.Struct("<4sBBHIII")


# ================================================================================================
# results and the table
# ================================================================================================


@dataclass
class CampaignResult:
    """One row of the reliability table.

    Attributes
    ----------
    fault : str
        What was done on purpose.
    trials : int
        Times it was done.
    survived : int
        Trials after which everything the documentation promises held.
    samples_lost : int
        Samples lost beyond what the documentation allows (e.g. fsynced samples missing after a
        power cut; samples the driver delivered that are not in the log).
    crashes : int
        Trials that ended in an exception or a process death the product should have handled.
    notes : list of str
        Short facts for the table.
    failures : list of str
        What went wrong in the trials that did not survive (the first few).
    """

    fault: str
    trials: int = 0
    survived: int = 0
    samples_lost: int = 0
    crashes: int = 0
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, ok: bool, *, lost: int = 0, crashed: bool = False, why: str = "") -> None:
        """Count one trial."""
        self.trials += 1
        self.survived += int(ok)
        self.samples_lost += int(max(lost, 0))
        self.crashes += int(crashed)
        if not ok and why and len(self.failures) < 20:
            self.failures.append(why)

    @property
    def ok(self) -> bool:
        """Every trial survived, nothing lost, nothing crashed."""
        return self.trials > 0 and self.survived == self.trials and not self.samples_lost and not self.crashes

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return dataclasses.asdict(self)


def format_table(results: list[CampaignResult]) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| fault | trials | survived | samples lost | crashes | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        notes = "; ".join(r.notes).replace("|", "\\|")
        fault = r.fault.replace("|", "\\|")
        lines.append(f"| {fault} | {r.trials} | {r.survived} | {r.samples_lost} | {r.crashes} | {notes} |")
    return "\n".join(lines)


def replace_between_markers(text: str, body: str, name: str = "reliability") -> str:
    """Replace what lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.

    Raises
    ------
    ValueError
        When a marker is missing or they are out of order.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    i, j = text.find(start), text.find(end)
    if i < 0 or j < 0 or j < i:
        raise ValueError(f"markers {start} and {end} not found (in that order)")
    return text[: i + len(start)] + "\n" + body.strip("\n") + "\n" + text[j:]


# ================================================================================================
# shared helpers
# ================================================================================================


def quiet_read(path: str | os.PathLike[str]) -> Any:
    """Read a log with its (expected) warnings silenced."""
    from firmware_py.logs import read_log

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(path)


@dataclass
class ReadOutcome:
    """What a reader did with one file."""

    rec: Any = None
    error: BaseException | None = None
    warnings: list[warnings.WarningMessage] = field(default_factory=list)
    peak_bytes: int = 0


def read_capturing(reader: Callable[[Path], Any], path: Path, *, trace_memory: bool = False) -> ReadOutcome:
    """Run ``reader(path)`` catching every exception and every warning (and, optionally, peak memory)."""
    out = ReadOutcome()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if trace_memory:
            tracemalloc.start()
        try:
            out.rec = reader(path)
        except Exception as exc:  # the campaign counts what escapes
            out.error = exc
        finally:
            if trace_memory:
                out.peak_bytes = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
    out.warnings = list(caught)
    return out


#: A message names a place in the file: a byte offset, or ``path:line:`` for text files.
_OFFSET = re.compile(r"(\bbyte \d+|\boffset \d+|:\d+:|\bline \d+)")


def message_problems(msg: str, path: Path, *, need_offset: bool) -> list[str]:
    """What is wrong with an error or warning message (empty when it is fine)."""
    problems = []
    if "\n" in msg:
        problems.append("message spans several lines")
    if not msg.startswith(str(path)) and not msg.startswith(str(path.with_suffix(".json"))):
        problems.append("message does not start with the file name")
    exempt = ("is newer than this software reads", "file is empty", "no such file")
    if need_offset and not _OFFSET.search(msg) and not any(e in msg for e in exempt):
        problems.append("message names no byte offset or line")
    return problems


def outcome_problems(out: ReadOutcome, path: Path) -> tuple[list[str], bool]:
    """Check a read against the contract: only LogFormatError or cadence warnings, one-line messages.

    Returns
    -------
    (list of str, bool)
        The problems found, and whether an undocumented exception escaped (a crash).
    """
    from firmware_py.exc import CadenceWarning, LogFormatError

    problems: list[str] = []
    crashed = False
    if out.error is not None:
        if isinstance(out.error, LogFormatError):
            problems += [
                f"{p}: {str(out.error)[:160]!r}"
                for p in message_problems(str(out.error), path, need_offset=True)
            ]
        else:
            crashed = True
            problems.append(f"{type(out.error).__name__} escaped: {str(out.error)[:160]}")
    for w in out.warnings:
        if not issubclass(w.category, CadenceWarning):
            problems.append(f"{w.category.__name__} escaped: {str(w.message)[:120]}")
            continue
        problems += [
            f"warning {p}: {str(w.message)[:120]!r}"
            for p in message_problems(str(w.message), path, need_offset=False)
        ]
    if out.rec is not None:
        problems += recording_problems(out.rec)
    return problems, crashed


def recording_problems(rec: Any) -> list[str]:
    """Inconsistencies in a returned recording (shapes, times, rate, gaps)."""
    n = rec.n_samples
    bad = []
    if rec.t_s.shape != (n,) or rec.acc_mps2.shape != (n, 3):
        bad.append("shapes do not match")
    if rec.gyro_rads is not None and rec.gyro_rads.shape != (n, 3):
        bad.append("gyro shape does not match")
    if not np.isfinite(rec.t_s).all() or not (np.diff(rec.t_s) > 0).all():
        bad.append("times not finite and increasing")
    if not (np.isfinite(rec.sampling_rate_hz) and rec.sampling_rate_hz > 0):
        bad.append("rate not positive")
    if any(not b > a for a, b in rec.gaps):
        bad.append("a gap ends before it starts")
    return bad


@dataclass
class PlainBlock:
    """A block found by the independent plain walker (docs/cclog-format.md, 'plain Python')."""

    offset: int
    end: int
    kind: int
    n: int


def plain_walk(data: bytes) -> tuple[int, list[PlainBlock]]:
    """Walk a ``.cclog`` like the format document's plain reader: stop at the first bad block.

    Returns
    -------
    (int, list of PlainBlock)
        The offset of the first block (-1 when the header is not intact) and the intact blocks.
    """
    if len(data) < 16 or data[:8] != MAGIC:
        return -1, []
    _v, _f, hlen = struct.unpack_from("<HHI", data, 8)
    start = 20 + hlen
    if len(data) < start or zlib.crc32(data[8 : 16 + hlen]) != struct.unpack_from("<I", data, 16 + hlen)[0]:
        return -1, []
    blocks = []
    pos = start
    while pos + 20 <= len(data):
        sync, btype, _fl, _r, length, n, crc = _BLOCK.unpack_from(data, pos)
        payload = data[pos + 20 : pos + 20 + length]
        if sync != SYNC or len(payload) != length or zlib.crc32(data[pos : pos + 16] + payload) != crc:
            break
        blocks.append(PlainBlock(pos, pos + 20 + length, btype, n if btype == 1 else 0))
        pos += 20 + length
    return start, blocks


def rss_mb() -> float:
    """Resident memory of this process, MB (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6


# ================================================================================================
# 1. power cuts
# ================================================================================================

#: The deterministic session the power-cut writer records: 200 Hz, a 2 s gap every 1000 samples.
FS = 200.0
GAP_EVERY = 1000
ACC_LSB = 9.80665 / 2048.0
GYRO_LSB = math.radians(1.0 / 16.4)
WRITER_HEADER = {
    "sampling_rate_hz": FS,
    "acc_lsb_mps2": ACC_LSB,
    "gyro_lsb_rads": GYRO_LSB,
    "chip": "lsm6dsox",
    "accel_range_g": 16,
    "gyro_range_dps": 2000,
    "placement": "foot",
    "config": {"campaign": "power_cut"},
}


def sample_times(idx: Any) -> np.ndarray:
    """Time of sample ``idx`` of the writer's session, s (a 2 s gap after every 1000 samples)."""
    idx = np.asarray(idx, dtype=np.int64)
    return idx / FS + 2.0 * (idx // GAP_EVERY)


def sample_raw(idx: Any) -> np.ndarray:
    """Raw int16 counts ``(n, 6)`` of the writer's samples (a hash of the index: every one differs)."""
    i = np.asarray(idx, dtype=np.int64)[:, None]
    j = np.arange(6, dtype=np.int64)[None, :]
    x = (i * 2654435761 + j * 40503 + 12345) % 4294967296
    return ((x >> 16) - 32768).astype(np.int16)


def expected_si(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first ``n`` samples of the writer's session as a reader returns them (t, acc, gyro)."""
    ids = np.arange(n)
    raw = sample_raw(ids).astype(np.float64)
    return sample_times(ids), raw[:, :3] * ACC_LSB, raw[:, 3:] * GYRO_LSB


def record_session(rec: Any, clock: Any, rng: np.random.Generator, n_total: int) -> None:
    """Feed the writer's deterministic session to a recorder, in batches of 1-24 samples."""
    idx = 0
    while idx < n_total:
        end = min(idx + int(rng.integers(1, 25)), n_total, (idx // GAP_EVERY + 1) * GAP_EVERY)
        ids = np.arange(idx, end)
        rec.write(sample_times(ids), sample_raw(ids))
        clock.sleep((end - idx) / FS)
        idx = end
        if idx % GAP_EVERY == 0 and idx < n_total:
            before, after = float(sample_times([idx - 1])[0]), float(sample_times([idx])[0])
            rec.gap(before, after, "i2c_unplugged")
            rec.event(after, {"kind": "sensor_back", "reason": "power-cut campaign"})


def writer_main(data_dir: str, progress_path: str, seed: int, fsync_interval_s: float = 1.0) -> None:
    """The process that gets killed: record the session and report every fsync to ``progress_path``."""
    from firmware_py.clock import FakeClock
    from firmware_py.logs.cclog import CclogWriter
    from firmware_py.recorder import Recorder

    clock = FakeClock()
    progress = open(progress_path, "a")  # noqa: SIM115 - lives as long as the process

    def note(line: str) -> None:
        progress.write(line + "\n")
        progress.flush()
        os.fsync(progress.fileno())

    class ReportingWriter(CclogWriter):
        def flush(self, fsync: bool = True) -> None:
            super().flush(fsync)
            if fsync:
                note(f"fsynced {self.n_samples} samples {self.bytes_written} bytes t={clock.monotonic():.4f}")

    rec = Recorder(
        data_dir,
        WRITER_HEADER,
        clock=clock,
        fsync_interval_s=fsync_interval_s,
        writer_factory=ReportingWriter,
    )
    note(f"ready {rec.path}")
    record_session(rec, clock, np.random.default_rng(seed), 10**9)


@dataclass
class Progress:
    """What the killed writer said before it died."""

    path: Path | None = None
    n_durable: int = 0
    bytes_durable: int = 0
    sync_times: list[float] = field(default_factory=list)


def read_progress(path: Path) -> Progress:
    """Parse the writer's progress file (an incomplete last line is ignored)."""
    p = Progress()
    text = path.read_text() if path.exists() else ""
    for line in text.split("\n")[:-1]:  # the part after the last newline may be cut
        if line.startswith("ready "):
            p.path = Path(line[6:])
        elif line.startswith("fsynced "):
            parts = line.split()
            p.n_durable, p.bytes_durable = int(parts[1]), int(parts[3])
            p.sync_times.append(float(parts[5][2:]))
    return p


def check_cut_log(path: Path, data: bytes, n_durable: int) -> tuple[list[str], int, bool, Any]:
    """Read a log cut by a power loss; check what the documentation promises.

    Returns
    -------
    (list of str, int, bool, Recording or None)
        Problems, fsynced samples missing, whether the reader crashed, and what it returned.
    """
    from firmware_py.exc import LogTruncatedWarning
    from firmware_py.logs.cclog import read_cclog

    path.write_bytes(data)
    out = read_capturing(read_cclog, path)
    problems, crashed = outcome_problems(out, path)
    if out.error is not None:
        return [*problems, "the reader did not open a log whose header was fsynced"], n_durable, True, None
    rec = out.rec
    start, blocks = plain_walk(data)
    intact_end = blocks[-1].end if blocks else start
    n_plain = sum(b.n for b in blocks)
    n = rec.n_samples
    lost = max(0, n_durable - n)
    if lost:
        problems.append(f"{lost} fsynced samples missing ({n} read, {n_durable} fsynced)")
    if n != n_plain:
        problems.append(f"the reader returned {n} samples, the intact blocks hold {n_plain}")
    t, acc, gyro = expected_si(min(n, n_plain))
    m = len(t)
    if not (
        np.array_equal(rec.t_s[:m], t)
        and np.array_equal(rec.acc_mps2[:m], acc)
        and np.array_equal(rec.gyro_rads[:m], gyro)
    ):
        problems.append("samples differ from what was written")
    cut = len(data) - intact_end
    recovery = rec.meta.get("recovery", {})
    if cut > 0:
        if recovery.get("bytes_cut") != cut or recovery.get("truncated_at_byte") != intact_end:
            problems.append(f"cut of {cut} bytes at {intact_end} reported as {recovery}")
        if not any(issubclass(w.category, LogTruncatedWarning) for w in out.warnings):
            problems.append("no LogTruncatedWarning for a cut log")
    elif "bytes_cut" in recovery:
        problems.append(f"an intact log reported as cut: {recovery}")
    return problems, lost, crashed, rec


def power_cut_trial(workdir: Path, seed: int, max_delay_s: float = 0.4) -> tuple[list[str], int, bool, dict]:
    """Start the writer, SIGKILL it at a random moment, then read what is on disk (and simulated losses).

    The file as the killed process left it is read, and three copies that simulate what a real power
    cut can leave besides: the page cache lost after the last fsync (cut at a random length between
    the fsynced size and the file size), that plus a zero-filled tail, and that plus a garbage tail.
    """
    rng = random.Random(seed)
    tdir = workdir / f"cut{seed}"
    data_dir, progress_path = tdir / "logs", tdir / "progress.txt"
    tdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "tests.reliability.campaigns",
        "writer",
        str(data_dir),
        str(progress_path),
        str(seed),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while read_progress(progress_path).path is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.communicate()[1].decode(errors="replace")[-300:]
            return [f"the writer did not start: {err}"], 0, True, {}
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, max_delay_s))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    if proc.returncode != -signal.SIGKILL:
        return [f"the writer ended with {proc.returncode} before the kill"], 0, True, {}
    prog = read_progress(progress_path)
    data = prog.path.read_bytes()
    _start, intact = plain_walk(data)
    info = {
        "size": len(data),
        "n_durable": prog.n_durable,
        "fsyncs": len(prog.sync_times),
        "half_block": bool(intact) and intact[-1].end < len(data),
    }
    intervals = np.diff(prog.sync_times) if len(prog.sync_times) > 2 else np.zeros(1)
    info["max_fsync_interval_s"] = float(intervals[1:].max()) if intervals.size > 1 else 0.0
    problems: list[str] = []
    lost_total, crashed_any = 0, False
    cut_at = rng.randint(prog.bytes_durable, len(data))
    variants = {
        "as left": data,
        "page cache lost": data[:cut_at],
        "zero tail": data[:cut_at] + bytes(rng.randint(1, 4096)),
        "garbage tail": data[:cut_at] + rng.randbytes(rng.randint(1, 4096)),
    }
    for name, blob in variants.items():
        probs, lost, crashed, _rec = check_cut_log(
            scratch_dir(tdir) / f"read{seed}.cclog", blob, prog.n_durable
        )
        problems += [f"{name}: {p}" for p in probs]
        lost_total = max(lost_total, lost)
        crashed_any |= crashed
    # the recorder's promise: an fsync at least every second of its clock (plus one loop block)
    if info["max_fsync_interval_s"] > 1.0 + 24 / FS + 1e-6:
        problems.append(f"fsyncs {info['max_fsync_interval_s']:.3f} s apart")
    return problems, lost_total, crashed_any, info


def power_cut_campaign(trials: int, workdir: Path, seed: int = 1) -> CampaignResult:
    """SIGKILL a real recording process ``trials`` times at random moments."""
    res = CampaignResult("power cut: recorder process SIGKILLed at a random moment (+ page cache lost)")
    sizes, durable, halves = [], [], 0
    for k in range(trials):
        problems, lost, crashed, info = power_cut_trial(workdir, seed * 100_000 + k)
        res.add(not problems, lost=lost, crashed=crashed, why="; ".join(problems[:3]))
        sizes.append(info.get("size", 0))
        durable.append(info.get("n_durable", 0))
        halves += int(info.get("half_block", False))
    if sizes:
        res.notes.append(
            f"4 readings per kill (as left, page cache lost, zero tail, garbage tail); files of "
            f"{min(sizes) / 1024:.1f}-{max(sizes) / 1024:.0f} KiB, {min(durable)}-{max(durable)} samples "
            f"fsynced; in {halves} of {len(sizes)} kills the process died half-way through a block"
        )
    return res


def scratch_dir(folder: Path) -> Path:
    """``folder``, created if missing (the campaign's scratch files go there)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def finished_log(workdir: Path, n_total: int = 2 * GAP_EVERY + 30, fsync_interval_s: float = 0.25) -> Path:
    """Record the writer's session to the end (one block per 0.25 s; a gap and an event near the end)."""
    from firmware_py.clock import FakeClock
    from firmware_py.recorder import Recorder

    clock = FakeClock()
    with Recorder(workdir, WRITER_HEADER, clock=clock, fsync_interval_s=fsync_interval_s) as rec:
        record_session(rec, clock, np.random.default_rng(7), n_total)
    return rec.path


def truncation_campaign(workdir: Path, last_frames: int = 4) -> list[CampaignResult]:
    """Cut a finished log at every byte offset of its header and of its last frames."""
    from firmware_py.logs.cclog import read_cclog

    workdir.mkdir(parents=True, exist_ok=True)
    src = finished_log(workdir / "finished")
    data = src.read_bytes()
    start, blocks = plain_walk(data)
    if not blocks or blocks[-1].end != len(data):
        raise RuntimeError(f"{src}: the finished log is not intact")
    head = CampaignResult("power cut inside the header: log cut at every byte of its header")
    path = scratch_dir(workdir) / "cut.cclog"
    for cut in range(start):
        path.write_bytes(data[:cut])
        out = read_capturing(read_cclog, path)
        problems, crashed = outcome_problems(out, path)
        if out.error is None:
            problems.append("a log without its whole header was read")
        head.add(not problems, crashed=crashed, why=f"cut at {cut}: {'; '.join(problems[:2])}")
    head.notes.append(f"{start}-byte header: every cut is a one-line LogFormatError naming the byte")
    tail = CampaignResult(f"power cut in the last {last_frames} frames: log cut at every byte offset")
    first = blocks[-last_frames].offset
    kinds = {b.kind for b in blocks[-last_frames:]}
    for cut in range(first, len(data) + 1):
        complete = [b for b in blocks if b.end <= cut]
        n_expected = sum(b.n for b in complete)
        problems, lost, crashed, rec = check_cut_log(path, data[:cut], n_expected)
        if rec is not None:
            gaps = sum(b.kind == 2 for b in complete)
            events = sum(b.kind == 3 for b in complete)
            if len(rec.meta["gap_blocks"]) != gaps or len(rec.meta["events"]) != events:
                problems.append("gap or event blocks lost or invented")
        tail.add(not problems, lost=lost, crashed=crashed, why=f"cut at {cut}: {'; '.join(problems[:2])}")
    tail.notes.append(
        f"offsets {first}-{len(data)} ({len(data) - first + 1}), blocks of types {sorted(kinds)}: "
        "every complete block kept, the cut named in bytes"
    )
    return [head, tail]


# ================================================================================================
# 2. corrupt logs
# ================================================================================================

CORRUPTIONS = (
    "random bytes",
    "magic then random bytes",
    "bit flips",
    "wrong block length",
    "huge block length",
    "huge header length",
    "huge sample count",
    "wrong version",
    "wrong header field",
    "cut anywhere",
    "block written twice",
    "blocks swapped",
    "CSV renamed .cclog",
    ".cclog renamed .csv",
    "two logs concatenated",
    "CSV bit flips",
    "CSV random text",
)


def corrupt_originals(workdir: Path) -> dict[str, bytes]:
    """Valid files to damage: recorder logs (i2, gaps, events), f8 logs with and without gyro, CSVs."""
    from firmware_py.logs import read_log, write_log

    workdir.mkdir(parents=True, exist_ok=True)
    out: dict[str, bytes] = {}
    out["i2"] = finished_log(workdir / "i2", n_total=1400, fsync_interval_s=0.5).read_bytes()
    foot = quiet_read(FOOT_CSV)
    n = 600
    from firmware_py.logs.recording import Recording

    for gyro in (True, False):
        rec = Recording(
            "",
            foot.t_s[:n],
            foot.acc_mps2[:n],
            foot.gyro_rads[:n] if gyro else None,
            foot.sampling_rate_hz,
            "foot",
        )
        p = workdir / f"f8_{gyro}.cclog"
        p.unlink(missing_ok=True)
        write_log(rec, p)
        out[f"f8_{gyro}"] = p.read_bytes()
        c = workdir / f"csv_{gyro}.csv"
        c.unlink(missing_ok=True)
        c.with_suffix(".json").unlink(missing_ok=True)
        write_log(rec, c)
        c.with_suffix(".json").unlink()
        out[f"csv_{gyro}"] = c.read_bytes()
    del read_log
    return out


def _block_offsets(data: bytes) -> list[PlainBlock]:
    return plain_walk(data)[1]


def _recrc_block(buf: bytearray, off: int) -> None:
    """Recompute the CRC of the block at ``off`` over the bytes present (a "malicious" corruption)."""
    length = struct.unpack_from("<I", buf, off + 8)[0]
    payload = bytes(buf[off + 20 : off + 20 + length])
    struct.pack_into("<I", buf, off + 16, zlib.crc32(payload, zlib.crc32(bytes(buf[off : off + 16]))))


def corrupt(kind: str, originals: dict[str, bytes], rng: random.Random) -> tuple[bytes, str]:
    """Return damaged bytes and the extension to store them under."""
    logs = [v for k, v in originals.items() if not k.startswith("csv")]
    csvs = [v for k, v in originals.items() if k.startswith("csv")]
    data = bytearray(rng.choice(logs))
    blocks = _block_offsets(bytes(data))
    blk = rng.choice(blocks)
    if kind == "random bytes":
        return rng.randbytes(rng.randint(0, 3000)), ".cclog"
    if kind == "magic then random bytes":
        return MAGIC + rng.randbytes(rng.randint(0, 3000)), ".cclog"
    if kind == "bit flips":
        lo = rng.choice([0, blocks[0].offset])
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(lo, len(data))
            data[pos] ^= 1 << rng.randrange(8)
        return bytes(data), ".cclog"
    if kind == "wrong block length":
        old = struct.unpack_from("<I", data, blk.offset + 8)[0]
        struct.pack_into("<I", data, blk.offset + 8, max(0, old + rng.randint(-60, 60)))
        if rng.random() < 0.5:
            _recrc_block(data, blk.offset)
        return bytes(data), ".cclog"
    if kind == "huge block length":
        struct.pack_into("<I", data, blk.offset + 8, rng.choice([(1 << 20) + 1, 1 << 31, (1 << 32) - 1]))
        if rng.random() < 0.5:
            _recrc_block(data, blk.offset)
        return bytes(data), ".cclog"
    if kind == "huge header length":
        struct.pack_into("<I", data, 12, rng.choice([(1 << 20) + 1, 1 << 31, (1 << 32) - 1, len(data) - 10]))
        return bytes(data), ".cclog"
    if kind == "huge sample count":
        struct.pack_into("<I", data, blk.offset + 12, rng.choice([(1 << 32) - 1, 1 << 30, blk.n + 1]))
        _recrc_block(data, blk.offset)
        return bytes(data), ".cclog"
    if kind == "wrong version":
        struct.pack_into("<H", data, 8, rng.choice([0, 2, 7, 255, 65535]))
        if rng.random() < 0.8:  # a consistent header CRC: only the version is wrong
            hlen = struct.unpack_from("<I", data, 12)[0]
            struct.pack_into("<I", data, 16 + hlen, zlib.crc32(bytes(data[8 : 16 + hlen])))
        return bytes(data), ".cclog"
    if kind == "wrong header field":
        hlen = struct.unpack_from("<I", data, 12)[0]
        header = json.loads(bytes(data[16 : 16 + hlen]))
        key = rng.choice(
            ["format_version", "encoding", "has_gyro", "sampling_rate_hz", "acc_lsb_mps2", "placement"]
        )
        header[key] = rng.choice([None, "x", -1, 0, [], {}, True, 2])
        if rng.random() < 0.3:
            header.pop(key)
        body = json.dumps(header).encode()
        head = struct.pack("<HHI", 1, 0, len(body)) + body
        return MAGIC + head + struct.pack("<I", zlib.crc32(head)) + bytes(data[20 + hlen :]), ".cclog"
    if kind == "cut anywhere":
        return bytes(data[: rng.randint(0, len(data))]), ".cclog"
    if kind == "block written twice":
        raw = bytes(data[blk.offset : blk.end])
        return bytes(data[: blk.end]) + raw + bytes(data[blk.end :]), ".cclog"
    if kind == "blocks swapped":
        a, b = sorted(rng.sample(blocks, 2), key=lambda x: x.offset) if len(blocks) > 1 else (blk, blk)
        return (
            bytes(data[: a.offset])
            + bytes(data[b.offset : b.end])
            + bytes(data[a.end : b.offset])
            + bytes(data[a.offset : a.end])
            + bytes(data[b.end :])
        ), ".cclog"
    if kind == "CSV renamed .cclog":
        return rng.choice(csvs), ".cclog"
    if kind == ".cclog renamed .csv":
        return bytes(data), ".csv"
    if kind == "two logs concatenated":
        other = rng.choice([*logs, *csvs])
        return bytes(data) + other, ".cclog"
    text = bytearray(rng.choice(csvs))
    if kind == "CSV bit flips":
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(text))
            text[pos] ^= 1 << rng.randrange(8)
        return bytes(text), ".csv"
    if kind == "CSV random text":
        alphabet = "0123456789.,-+eEnaNifIy \t\r\n\"'x\x00é"
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
        return rng.choice([b"t,ax,ay,az,gx,gy,gz\n", b"t,ax,ay,az\n", b""]) + body.encode(), ".csv"
    raise ValueError(f"unknown corruption {kind!r}")


#: A damaged length field must never make the reader allocate much more than one block (1 MiB).
MEMORY_BOUND_BYTES = 6 << 20


def corrupt_log_campaign(trials: int, workdir: Path, seed: int = 2) -> CampaignResult:
    """Damage valid logs ``trials`` times (cycling through :data:`CORRUPTIONS`) and read them."""
    from firmware_py.logs import read_log

    workdir.mkdir(parents=True, exist_ok=True)
    originals = corrupt_originals(workdir / "orig")
    rng = random.Random(seed)
    res = CampaignResult("corrupt logs: " + ", ".join(CORRUPTIONS[:4]) + ", ... (17 kinds, both readers)")
    no_offset: dict[str, int] = {}
    peaks = []
    for k in range(trials):
        kind = CORRUPTIONS[k % len(CORRUPTIONS)]
        blob, ext = corrupt(kind, originals, rng)
        path = workdir / f"damaged{ext}"
        path.write_bytes(blob)
        huge = kind.startswith("huge")
        out = read_capturing(read_log, path, trace_memory=huge)
        problems, crashed = outcome_problems(out, path)
        if huge:
            peaks.append(out.peak_bytes)
            if out.peak_bytes > MEMORY_BOUND_BYTES:
                problems.append(f"{out.peak_bytes / 1e6:.1f} MB allocated for a {len(blob)}-byte file")
        for p in problems:
            if "no byte offset" in p:
                key = re.sub(r"[0-9.]+|'[^']*'", "#", p.split(": ", 1)[1])[:70]
                no_offset[key] = no_offset.get(key, 0) + 1
        res.add(not problems, crashed=crashed, why=f"{kind}: {'; '.join(problems[:2])}")
    if peaks:
        res.notes.append(f"peak allocation for a huge length field {max(peaks) / 1e6:.2f} MB")
    if no_offset:
        res.notes.append(f"{sum(no_offset.values())} errors name no byte offset (header fields)")
    return res


def atheris_main(runs: int, corpus: str) -> None:
    """Fuzz both readers with atheris; a crash (an undocumented exception) ends with a report."""
    import atheris

    with atheris.instrument_imports():
        from firmware_py.exc import CadenceWarning, LogFormatError
        from firmware_py.logs.cclog import read_cclog
        from firmware_py.logs.csvlog import read_csv

    tmp = Path(corpus).parent / "atheris-work"
    tmp.mkdir(exist_ok=True)
    paths = {0: tmp / "input.cclog", 1: tmp / "input.csv"}
    readers = {0: read_cclog, 1: read_csv}

    def one(data: bytes) -> None:
        which = 1 if data[:1] and (data[0] & 1 or not data.startswith(MAGIC)) and b"," in data[:64] else 0
        path = paths[which]
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", CadenceWarning)
            try:
                readers[which](path)
            except LogFormatError as exc:
                if "\n" in str(exc) or not str(exc).startswith(str(path)):
                    raise AssertionError(f"badly formed message: {exc!r}") from None

    atheris.Setup([sys.argv[0], f"-runs={runs}", "-max_len=8192", "-rss_limit_mb=2048", corpus], one)
    atheris.Fuzz()


def atheris_campaign(runs: int, workdir: Path) -> CampaignResult:
    """Run :func:`atheris_main` in a subprocess (needs ``pip install atheris``)."""
    res = CampaignResult(f"corrupt logs, coverage-guided: atheris, {runs} inputs")
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name, blob in corrupt_originals(workdir / "orig").items():
        (corpus / name).write_bytes(blob[:8192])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tests.reliability.campaigns", "atheris", str(runs), str(corpus)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    done = re.findall(r"#(\d+)\s+DONE", proc.stderr)
    crashed = proc.returncode != 0
    res.trials = int(done[-1]) if done else runs
    res.survived = res.trials - int(crashed)
    res.crashes = int(crashed)
    if crashed:
        res.failures.append(proc.stderr[-2000:])
    cov = re.findall(r"cov: (\d+)", proc.stderr)
    if cov:
        res.notes.append(f"{cov[-1]} coverage edges reached")
    return res


# ================================================================================================
# 3. bad samples
# ================================================================================================

BAD_KINDS = (
    "NaN acc",
    "inf acc",
    "saturated axes",
    "all-zero acc",
    "frozen sensor",
    "time jumps forward",
    "time jumps back",
    "dropped gyro (NaN)",
)
#: Damage lasts this long, s; steps are compared outside it, with this long to settle after it, s.
DAMAGE_S = 3.0
SETTLE_S = 3.0
JUMP_S = 5.0


@dataclass
class BadCase:
    """A recording with one stretch damaged on purpose."""

    kind: str
    t: np.ndarray
    acc: np.ndarray
    gyro: np.ndarray | None
    i0: int  # first damaged sample (or the first sample after the jump)
    i1: int  # first sample after the damage
    shift_s: float = 0.0  # time added to every sample from i0 on

    @property
    def n_damaged(self) -> int:
        """Samples damaged."""
        return self.i1 - self.i0


#: Full-scale ranges the damaged recordings are read with (what the device configured).
ACC_RANGE_MPS2 = 2 * 9.80665
GYRO_RANGE_RADS = float(np.radians(500.0))


def bad_case(rec: Any, kind: str, start_frac: float) -> BadCase:
    """Damage ``DAMAGE_S`` of ``rec`` from ``start_frac`` of its length on."""
    t0, acc0 = rec.t_s, rec.acc_mps2
    gyro0 = rec.gyro_rads
    i0 = int(np.searchsorted(t0, t0[0] + start_frac * (t0[-1] - t0[0])))
    i1 = int(np.searchsorted(t0, t0[i0] + DAMAGE_S))
    t, acc = t0.copy(), acc0.copy()
    gyro = None if gyro0 is None else gyro0.copy()
    s = slice(i0, i1)
    shift = 0.0
    if kind == "NaN acc":
        acc[s] = np.nan
    elif kind == "inf acc":
        acc[s, 0] = np.inf
        acc[s, 2] = -np.inf
    elif kind == "saturated axes":
        # a ±2 g, ±500 °/s range: landing peaks and the swing clip
        acc[s] = np.clip(acc[s], -ACC_RANGE_MPS2, ACC_RANGE_MPS2)
        if gyro is not None:
            gyro[s] = np.clip(gyro[s], -GYRO_RANGE_RADS, GYRO_RANGE_RADS)
    elif kind == "all-zero acc":
        acc[s] = 0.0
    elif kind == "frozen sensor":
        acc[s] = acc0[i0]
        if gyro is not None:
            gyro[s] = gyro0[i0]
    elif kind == "time jumps forward":
        shift = JUMP_S
        i1 = i0
    elif kind == "time jumps back":
        shift = -JUMP_S
        i1 = i0
    elif kind == "dropped gyro (NaN)":
        if gyro is None:
            raise ValueError("no gyroscope to drop")
        gyro[s] = np.nan
    else:
        raise ValueError(f"unknown bad-sample kind {kind!r}")
    t[i0:] += shift
    return BadCase(kind, t, acc, gyro, i0, i1, shift)


@dataclass
class BadOutcome:
    """How the step core coped with one damaged recording."""

    recall: float
    extra: int
    expected: int
    flags: Any
    flagged: bool


def flag_count(flags: Any) -> int:
    """Bad samples the core says it saw: every counter of DetectorFlags but ``samples`` and ``gaps``."""
    d = dataclasses.asdict(flags)
    return sum(int(v) for k, v in d.items() if k not in ("samples", "gaps") and isinstance(v, int | float))


def clipped_in_damage(case: BadCase) -> int:
    """Samples of the damaged stretch with an axis at the full-scale range (counted here, not by the core)."""
    s = slice(case.i0, case.i1)
    hit = (np.abs(case.acc[s]) >= 0.995 * ACC_RANGE_MPS2).any(axis=1)
    if case.gyro is not None:
        hit |= (np.abs(case.gyro[s]) >= 0.995 * GYRO_RANGE_RADS).any(axis=1)
    return int(hit.sum())


def expected_flagged(case: BadCase, flags: Any) -> bool:
    """Did the core flag the damage as the documentation asks (counted, or a gap for a time jump)?"""
    if case.kind.startswith("time jumps"):
        return flags.gaps >= 1
    if case.kind in ("NaN acc", "inf acc", "all-zero acc", "dropped gyro (NaN)"):
        return flags.repaired_samples >= case.n_damaged
    if case.kind == "saturated axes":
        n = clipped_in_damage(case)
        return n > 0 and flags.saturated_samples >= n
    if case.kind == "frozen sensor":
        # every repeat of the frozen reading is counted, and the detector restarts after it
        return flags.frozen_samples >= case.n_damaged - 1 and flags.gaps >= 1
    return flag_count(flags) > 0


def detect_in_two_blocks(
    rec: Any, placement: str, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, i: int
) -> tuple[Any, Any, Any]:
    """Run the step core on ``[:i]`` then ``[i:]`` (identical to one block); return both parts and flags."""
    from dsp import StepDetector

    det = StepDetector(
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=placement,
        has_gyro=gyro is not None,
        acc_range_mps2=ACC_RANGE_MPS2,
        gyro_range_rads=GYRO_RANGE_RADS,
    )
    g = (lambda s: gyro[s]) if gyro is not None else (lambda s: None)
    a = det.update(t[:i], acc[:i], g(slice(None, i)))
    b = det.update(t[i:], acc[i:], g(slice(i, None)))
    return a, b, det.flags


def evaluate_bad_case(rec: Any, placement: str, case: BadCase, clean_t: np.ndarray) -> BadOutcome:
    """Compare the steps of a damaged recording with the clean steps outside the damage (20 ms)."""
    a, b, flags = detect_in_two_blocks(rec, placement, case.t, case.acc, case.gyro, case.i0)
    got_b = b.t_s.copy()
    if case.shift_s:
        # steps decided after the jump are on the new time base (latency < 1 s); a step from before the
        # jump that is decided just after it is not (its latency looks like the jump): undo the shift
        post = np.abs(b.emitted_at_s - b.t_s) < abs(case.shift_s) / 2
        got_b[post] -= case.shift_s
    got = np.concatenate([a.t_s, got_b])
    lo = rec.t_s[case.i0] - 0.5
    hi = rec.t_s[max(case.i1 - 1, case.i0)] + SETTLE_S
    ref = clean_t[(clean_t < lo) | (clean_t > hi)]
    got_out = got[(got < lo) | (got > hi)]
    matched = 0
    if got_out.size:
        matched = int(sum(np.min(np.abs(got_out - x)) <= 0.02 for x in ref))
    recall = matched / max(ref.size, 1)
    return BadOutcome(
        recall, int(got_out.size - matched), int(ref.size), flags, expected_flagged(case, flags)
    )


def detection_ok(out: BadOutcome) -> bool:
    """Steps outside the damage: at least 90 % of the clean ones found, few extra."""
    return out.recall >= 0.9 and out.extra <= max(2, 0.1 * out.expected)


def bad_recordings() -> list[tuple[str, Any, str]]:
    """The clean recordings damaged: a shoe-worn run (gyro) and a waist-worn treadmill jog."""
    return [("foot", quiet_read(FOOT_CSV), "foot"), ("lower back", quiet_read(BACK_CSV), "lower_back")]


def bad_samples_campaign(positions: tuple[float, ...] = (0.3, 0.5, 0.7)) -> list[CampaignResult]:
    """Damage both recordings with every kind of bad sample at several positions."""
    from dsp import detect_steps

    rows = {kind: CampaignResult(f"bad samples: {kind}") for kind in BAD_KINDS}
    for name, rec, placement in bad_recordings():
        clean = detect_steps(
            rec.t_s, rec.acc_mps2, rec.gyro_rads, sampling_rate_hz=rec.sampling_rate_hz, placement=placement
        ).t_s
        for kind in BAD_KINDS:
            if kind == "dropped gyro (NaN)" and rec.gyro_rads is None:
                continue
            for frac in positions:
                try:
                    case = bad_case(rec, kind, frac)
                    out = evaluate_bad_case(rec, placement, case, clean)
                except Exception as exc:
                    rows[kind].add(False, crashed=True, why=f"{name} at {frac}: {type(exc).__name__}: {exc}")
                    continue
                problems = []
                if not out.flagged:
                    problems.append(f"not flagged ({out.flags})")
                if not detection_ok(out):
                    problems.append(f"steps outside the damage: recall {out.recall:.2f}, {out.extra} extra")
                rows[kind].add(not problems, why=f"{name} at {frac:.0%}: {'; '.join(problems)}")
    for row in rows.values():
        flagged = sum("not flagged" not in f for f in row.failures) + row.survived
        detected = row.trials - sum("recall" in f for f in row.failures)
        row.notes.append(
            f"flagged in {flagged}/{row.trials}, steps kept outside it in {detected}/{row.trials}"
        )
    return list(rows.values())


# ================================================================================================
# 4. I2C faults on the fake chips
# ================================================================================================


class ScriptClock:
    """A :class:`~firmware_py.clock.FakeClock` that runs scheduled actions when time passes them."""

    def __init__(self) -> None:
        from firmware_py.clock import FakeClock

        self._clock = FakeClock()
        self._actions: list[tuple[float, int, Callable[[], None]]] = []

    def monotonic(self) -> float:
        """The fake time, s."""
        return self._clock.monotonic()

    def sleep(self, s: float) -> None:
        """Advance the fake time and run the actions now due."""
        self.advance(s)

    def advance(self, s: float) -> None:
        """Advance the fake time and run the actions now due."""
        self._clock.advance(s)
        while self._actions and self._actions[0][0] <= self._clock.monotonic():
            self._actions.pop(0)[2]()

    def at(self, t_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` once the time reaches ``t_s``."""
        self._actions.append((t_s, len(self._actions), action))
        self._actions.sort(key=lambda a: (a[0], a[1]))


class Listener:
    """Records what the loop tells the cue hardware."""

    def __init__(self) -> None:
        self.device: list[tuple[str, float, str]] = []
        self.step_times: list[float] = []
        self.on_steps_hook: Callable[[], None] | None = None

    def on_steps(self, events: list) -> None:
        """Note contact times."""
        self.step_times.extend(e.t_s for e in events)
        if self.on_steps_hook is not None:
            self.on_steps_hook()

    def on_device(self, kind: str, t_s: float, reason: str) -> None:
        """Note device events."""
        self.device.append((kind, t_s, reason))


def lean_fake_class(base: type) -> type:
    """A fake chip that keeps counts and a checksum of what it produced instead of every sample."""

    class Lean(base):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.raw_sum = np.zeros(6, dtype=np.int64)
            self.tail: deque[np.ndarray] = deque(maxlen=64)
            super().__init__(*args, **kwargs)

        def _push(self, t: np.ndarray, raw: np.ndarray, k: np.ndarray) -> None:
            super()._push(t, raw, k)
            while self._chunks_raw:
                chunk = self._chunks_raw.pop()
                self.raw_sum += chunk.sum(axis=0, dtype=np.int64)
                self.tail.appendleft(chunk)
            self._chunks_t.clear()

        def last_raw(self, n: int) -> np.ndarray:
            """The last ``n`` samples produced."""
            if n == 0:
                return np.zeros((0, 6), dtype=np.int16)
            return np.concatenate(list(self.tail))[-n:]

    Lean.__name__ = f"Lean{base.__name__}"
    return Lean


@dataclass
class FakeSession:
    """A live loop on a fake chip, a fake bus and an injected clock, recording to ``data_dir``."""

    clock: Any
    fake: Any
    bus: Any
    loop: Any
    recorder: Any
    listener: Listener
    rate_hz: float
    reopens: list[float]


_SOURCES: dict[Path, Any] = {}


def fake_session(
    data_dir: Path,
    *,
    chip: str = "lsm6dsox",
    source_csv: Path = FOOT_CSV,
    placement: str = "foot",
    clock_error: float = 1.01,
    lean: bool = False,
    keep_events: bool = False,
    writer_factory: Any = None,
    seed: int = 0,
) -> FakeSession:
    """Build the live loop as ``tests/test_live_loop.py`` does, with a scriptable clock."""
    from dsp import Pipeline
    from firmware_py.imu.detect import open_imu
    from firmware_py.imu.fake import FAKE_IMUS, FakeI2CBus, SourceRecording
    from firmware_py.loop import LiveLoop
    from firmware_py.recorder import Recorder

    if source_csv not in _SOURCES:
        _SOURCES[source_csv] = quiet_read(source_csv)
    rec = _SOURCES[source_csv]
    clock = ScriptClock()
    source = SourceRecording(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    cls = lean_fake_class(FAKE_IMUS[chip]) if lean else FAKE_IMUS[chip]
    fake = cls(source=source, clock=clock, clock_error=clock_error, seed=seed)
    bus = FakeI2CBus([fake], clock=clock, log_limit=0)
    accel = 16 if placement == "foot" else 8

    def open_driver() -> Any:
        return open_imu(bus, "auto", sampling_rate_hz=200.0, accel_range_g=accel, clock=clock)

    probe = open_driver()
    acc_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[:1])[0][0, 0])
    gyro_lsb = float(probe.scale(np.eye(6, dtype=np.int16)[3:4])[1][0, 0])
    rate = probe.sampling_rate_hz
    probe.close()
    header = {
        "sampling_rate_hz": rate,
        "acc_lsb_mps2": acc_lsb,
        "gyro_lsb_rads": gyro_lsb,
        "placement": placement,
    }
    kw = {"writer_factory": writer_factory} if writer_factory is not None else {}
    recorder = Recorder(data_dir, header, clock=clock, **kw)
    pipe = Pipeline(sampling_rate_hz=rate, placement=placement, has_gyro=True)
    listener = Listener()
    reopens: list[float] = []
    loop = LiveLoop(
        open_driver=open_driver,
        pipeline=pipe,
        recorder=recorder,
        clock=clock,
        reopen_bus=lambda: reopens.append(clock.monotonic()),
        listener=listener,
        keep_events=keep_events,
    )
    return FakeSession(clock, fake, bus, loop, recorder, listener, rate, reopens)


@dataclass(frozen=True)
class I2CScenario:
    """A fault on the bus: a storm of errors, an unplug, or a chip that comes back reset."""

    kind: str  # storm | unplug | reset
    value: float = 0.0  # storm: fraction of transactions; unplug: seconds
    start_s: float = 20.0
    storm_s: float = 20.0
    errnos: tuple[int, ...] = (errno.EREMOTEIO, errno.EIO, errno.ETIMEDOUT)

    @property
    def name(self) -> str:
        """Label for the table."""
        if self.kind == "storm":
            return f"I2C storm: OSError 121/5/110 on {self.value:.0%} of transactions for {self.storm_s:g} s"
        if self.kind == "unplug":
            return f"sensor unplugged for {self.value:g} s (comes back reset)"
        return "chip resets itself (asleep, FIFO off) while plugged"

    @property
    def end_s(self) -> float:
        """When the fault is over, s after the start of the run."""
        if self.kind == "storm":
            return self.start_s + self.storm_s
        if self.kind == "unplug":
            return self.start_s + self.value
        return self.start_s

    @property
    def duration_s(self) -> float:
        """Length of the whole run, s (40 s of clean running after the fault)."""
        return self.end_s + 40.0


I2C_SCENARIOS = (
    I2CScenario("storm", 0.01),
    I2CScenario("storm", 0.10),
    I2CScenario("storm", 0.50),
    I2CScenario("unplug", 1.0),
    I2CScenario("unplug", 5.0),
    I2CScenario("unplug", 60.0),
    I2CScenario("reset"),
)


@dataclass
class I2COutcome:
    """What one faulty run did."""

    problems: list[str]
    lost: int
    crashed: bool
    kept_fraction: float = math.nan
    steps_after: int = 0
    steps_after_clean: int = 0
    report: Any = None
    log: Any = None
    session: Any = None


_CLEAN_STEPS: dict[str, np.ndarray] = {}


def clean_step_times(workdir: Path, chip: str, duration_s: float) -> np.ndarray:
    """Contact times of a fault-free run on the same chip, at least ``duration_s`` long (cached).

    The fake chip, its source and the clock are deterministic, so the first minutes of a longer
    clean run are those of a shorter one: one run of the longest scenario serves them all.
    """
    longest = max(duration_s, max(sc.duration_s for sc in I2C_SCENARIOS))
    if chip not in _CLEAN_STEPS:
        s = fake_session(workdir / f"clean-{chip}", chip=chip)
        s.loop.run(threading.Event(), duration_s=longest)
        _CLEAN_STEPS[chip] = np.array(s.listener.step_times)
    return _CLEAN_STEPS[chip]


def i2c_trial(workdir: Path, chip: str, sc: I2CScenario, seed: int = 1) -> I2COutcome:
    """Run the loop through one fault and check the log, the gaps and the steps after it."""
    s = fake_session(workdir / f"{chip}-{sc.kind}-{sc.value:g}-{seed}", chip=chip, seed=seed)
    t0 = s.clock.monotonic()
    if sc.kind == "storm":
        s.clock.at(t0 + sc.start_s, lambda: s.fake.inject_faults(sc.value, sc.errnos, seed))
        s.clock.at(t0 + sc.end_s, lambda: s.fake.inject_faults(0.0))
    elif sc.kind == "unplug":
        s.clock.at(t0 + sc.start_s, lambda: s.fake.unplug(sc.value))
    else:
        s.clock.at(t0 + sc.start_s, s.fake.power_on_reset)
    try:
        rep = s.loop.run(threading.Event(), duration_s=sc.duration_s)
    except Exception as exc:
        return I2COutcome([f"the loop died: {type(exc).__name__}: {exc}"], 0, True, session=s)
    problems: list[str] = []
    log = quiet_read(s.recorder.path)
    lost = abs(rep.samples - log.n_samples)
    if lost:
        problems.append(f"the driver delivered {rep.samples} samples, the log holds {log.n_samples}")
    if rep.last_t_s < t0 + sc.duration_s - 1.0:
        problems.append(f"the loop stopped reading at {rep.last_t_s:.1f} s of {sc.duration_s:.0f} s")
    blocks = log.meta["gap_blocks"]
    fault_lo, fault_hi = t0 + sc.start_s - 0.2, t0 + sc.end_s + 2.5
    dropped = s.fake.produced - s.fake.fifo_samples - log.n_samples
    if dropped > 0 and not any(b["t_after_s"] > fault_lo and b["t_before_s"] < fault_hi for b in blocks):
        problems.append(f"{dropped} samples lost but no GAP block over the fault")
    unmarked = [
        (a, b)
        for a, b in log.gaps
        if not any(g["t_before_s"] <= a + 1e-6 and g["t_after_s"] >= b - 1e-6 for g in blocks)
    ]
    if unmarked:
        problems.append(f"{len(unmarked)} steps in time without a GAP block, first {unmarked[0]}")
    # every sample the chip produced is in the log, in a marked gap, or still in its FIFO
    produced_t = s.fake.produced_t_s
    in_gaps = np.zeros(produced_t.shape, dtype=bool)
    for g in blocks:
        in_gaps |= (produced_t > g["t_before_s"] - 0.02) & (produced_t < g["t_after_s"] + 0.02)
    unaccounted = s.fake.produced - s.fake.fifo_samples - log.n_samples - int(in_gaps.sum())
    if unaccounted > 0:
        problems.append(f"{unaccounted} produced samples neither logged nor inside a GAP block")
        lost += unaccounted
    # detection resumes: contacts after the fault (3 s to settle) as in a clean run
    clean = clean_step_times(workdir, chip, sc.duration_s)
    lo, hi = t0 + sc.end_s + 3.0, t0 + sc.duration_s - 1.0
    got = np.array(s.listener.step_times)
    after = int(((got > lo) & (got < hi)).sum())
    after_clean = int(((clean > lo) & (clean < hi)).sum())
    if after < 0.8 * after_clean:
        problems.append(f"{after} contacts after the fault, {after_clean} in a clean run")
    kinds = [k for k, _, _ in s.listener.device]
    if sc.kind == "unplug" and sc.value >= 5 and ("sensor_lost" not in kinds or "sensor_back" not in kinds):
        problems.append(f"device events {kinds}: sensor_lost/sensor_back missing")
    window = (log.t_s > t0 + sc.start_s) & (log.t_s < t0 + sc.end_s)
    span = sc.end_s - sc.start_s
    kept = float(window.sum() / (span * s.rate_hz)) if span > 0 else 1.0
    return I2COutcome(problems, lost, False, kept, after, after_clean, rep, log, s)


def i2c_campaign(
    workdir: Path, chips: tuple[str, ...], seeds: tuple[int, ...] = (1,)
) -> list[CampaignResult]:
    """Every scenario of :data:`I2C_SCENARIOS` on every chip with every seed."""
    rows = []
    for sc in I2C_SCENARIOS:
        row = CampaignResult(sc.name)
        kept = []
        for chip in chips:
            for seed in seeds:
                out = i2c_trial(workdir, chip, sc, seed)
                row.add(
                    not out.problems,
                    lost=out.lost,
                    crashed=out.crashed,
                    why=f"{chip} seed {seed}: {'; '.join(out.problems[:3])}",
                )
                kept.append(out.kept_fraction)
        if sc.kind == "storm":
            row.notes.append(
                f"{np.nanmean(kept):.0%} of the storm's samples recorded (the rest in GAP blocks)"
            )
        row.notes.append(f"chips: {', '.join(chips)}")
        rows.append(row)
    return rows


# ================================================================================================
# 5. resources
# ================================================================================================


class TmpfsUnavailable(RuntimeError):
    """Mounting a small tmpfs is not allowed here."""


@contextlib.contextmanager
def tmpfs(path: Path, size_kb: int, *, read_only: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of ``size_kb`` KiB at ``path`` (needs root); optionally read-only after ``prepare``."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
    except OSError as exc:
        raise TmpfsUnavailable(str(exc)) from None
    if r.returncode != 0:
        raise TmpfsUnavailable(r.stderr.strip())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path: Path) -> None:
    """Make a tmpfs mounted by :func:`tmpfs` read-only."""
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)


def fill_up(path: Path) -> None:
    """Fill the file system of ``path`` until it refuses (ENOSPC)."""
    fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\xff" * 512):
            pass
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


class BudgetFile:
    """A file object that accepts ``budget`` bytes, then fails like a full card (ENOSPC)."""

    def __init__(self, inner: Any, budget: int) -> None:
        self.inner = inner
        self.budget = budget

    def write(self, data: Any) -> int:
        """Write what the budget allows; raise ENOSPC when it is spent."""
        if self.budget <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = min(len(data), self.budget)
        self.budget -= n
        return self.inner.write(bytes(data[:n]))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def budget_writer(budget: int) -> Callable[..., Any]:
    """A writer factory whose file fills up after ``budget`` bytes (when no tmpfs can be mounted)."""
    from firmware_py.logs.cclog import CclogWriter

    class Budgeted(CclogWriter):
        def __init__(self, path: Any, header: Any, *, encoding: str = "f8") -> None:
            self._budget = budget
            super().__init__(path, header, encoding=encoding)

        def _write_buffer(self) -> None:
            if not isinstance(self._file, BudgetFile):
                self._file = BudgetFile(self._file, self._budget)
            super()._write_buffer()

    return Budgeted


@dataclass
class ResourceOutcome:
    """One resource trial."""

    problems: list[str]
    crashed: bool = False
    lost: int = 0
    note: str = ""
    stopped_reason: str | None = None
    session: Any = None


def _steps_after(s: FakeSession, t_from: float, t_to: float) -> int:
    st = np.array(s.listener.step_times)
    return int(((st > t_from) & (st < t_to)).sum())


def disk_full_trial(workdir: Path, *, at_start: bool) -> ResourceOutcome:
    """Fill the disk before the run (no log) or during it (the log stops); coaching goes on."""
    mount = workdir / ("full-at-start" if at_start else "full-mid-run")
    how = "tmpfs"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(tmpfs(mount, 4 if at_start else 64))
            data_dir = mount / "logs"
            data_dir.mkdir()
            if at_start:
                fill_up(mount)
            factory = None
        except TmpfsUnavailable:
            how = "injected"
            data_dir = mount / "logs"
            factory = budget_writer(0 if at_start else 60_000)
        try:
            s = fake_session(data_dir, writer_factory=factory)
            rep = s.loop.run(threading.Event(), duration_s=40.0)
        except Exception as exc:
            return ResourceOutcome([f"{type(exc).__name__}: {exc}"], crashed=True)
        problems = []
        reason = s.recorder.stopped_reason or ""
        stopped = [t for k, t, _ in s.listener.device if k == "recording_stopped"]
        if not stopped:
            problems.append("no recording_stopped device event")
        if "\n" in reason or str(data_dir) not in reason:
            problems.append(f"stop reason does not name the folder: {reason!r}")
        if at_start:
            if "No space left" not in reason and "disk full" not in reason:
                problems.append(f"stop reason does not say the disk is full: {reason!r}")
            left = list(data_dir.glob("*.cclog"))
            if left:
                problems.append(f"a log without a header was left behind: {left}")
            elif "safe in" in reason or s.recorder.path is not None:
                problems.append(f"the message points at a log that does not exist: {reason!r}")
        else:
            if "disk full" not in reason:
                problems.append(f"stop reason does not say the disk is full: {reason!r}")
            log = quiet_read(s.recorder.path)
            truth = s.fake.produced_raw[: log.n_samples]
            hdr = log.meta
            want = truth.astype(np.float64) * np.array([hdr["acc_lsb_mps2"]] * 3 + [hdr["gyro_lsb_rads"]] * 3)
            if not np.array_equal(np.hstack([log.acc_mps2, log.gyro_rads]), want):
                problems.append("the samples kept differ from what the chip produced")
            if log.n_samples < 200:
                problems.append(f"only {log.n_samples} samples kept before the disk filled")
            # at most the last second (and the block being written) is lost when the card fills up
            if s.recorder.samples_written - log.n_samples > 1.2 * s.rate_hz:
                problems.append(f"{s.recorder.samples_written - log.n_samples} samples written but not kept")
        t0 = stopped[0] if stopped else 0.0
        after = _steps_after(s, t0 + 3.0, 39.0)
        if after < 10:
            problems.append(f"coaching stopped with the recording: {after} contacts after it")
        note = f"{how}; {rep.n_steps} contacts detected, {after} after the stop"
        return ResourceOutcome(problems, note=note, stopped_reason=reason, session=s)


def read_only_trial(workdir: Path) -> ResourceOutcome:
    """A read-only data folder (a read-only tmpfs, else a file where the folder should be)."""
    mount = workdir / "read-only"
    how = "read-only tmpfs"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(tmpfs(mount, 64))
            data_dir = mount / "logs"
            data_dir.mkdir()
            old = finished_log(data_dir, n_total=300)
            before = old.read_bytes()
            remount_read_only(mount)
        except TmpfsUnavailable:
            how = "a file in the way"
            mount.mkdir(parents=True, exist_ok=True)
            (mount / "blocker").write_text("x")
            data_dir = mount / "blocker" / "logs"
            old, before = None, b""
        try:
            s = fake_session(data_dir)
            rep = s.loop.run(threading.Event(), duration_s=30.0)
        except Exception as exc:
            return ResourceOutcome([f"{type(exc).__name__}: {exc}"], crashed=True)
        problems = []
        reason = s.recorder.stopped_reason or ""
        if (
            s.recorder.recording
            or "cannot record" not in reason
            or str(data_dir) not in reason
            or "\n" in reason
        ):
            problems.append(f"unclear stop reason: {reason!r}")
        if not any(k == "recording_stopped" for k, _, _ in s.listener.device):
            problems.append("no recording_stopped device event")
        if _steps_after(s, 5.0, 29.0) < 10:
            problems.append("coaching stopped")
        if old is not None and old.read_bytes() != before:
            problems.append("an existing log changed")
        del rep
        return ResourceOutcome(problems, note=how, stopped_reason=reason, session=s)


def cli_run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120, preexec: Any = None
) -> subprocess.CompletedProcess | None:
    """Run ``python -m firmware_py.cli ARGS`` in a subprocess; None when it hangs past ``timeout``."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    cmd = [sys.executable, "-m", "firmware_py.cli", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def fast_run_args(data_dir: Path, duration_s: float = 30.0) -> list[str]:
    """``cadence-coach run`` on the fake bus, simulated clock."""
    return [
        "run", "--bus", f"fake:{FOOT_CSV}", "--chip", "lsm6dsox", "--fast",
        "--duration", f"{duration_s:g}", "--data-dir", str(data_dir),
    ]  # fmt: skip


def numba_cache_trial(workdir: Path) -> ResourceOutcome:
    """An unwritable numba cache folder: the kernels compile in memory, with a warning."""
    blocker = workdir / "numba-blocker"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the cache folder should be")
    p = cli_run(
        fast_run_args(workdir / "numba-logs"), env={"NUMBA_CACHE_DIR": str(blocker / "cache")}, timeout=600
    )
    if p is None:
        return ResourceOutcome(["hung"], crashed=True)
    problems = []
    if p.returncode != 0 or "Traceback" in p.stderr:
        problems.append(f"exit {p.returncode}: {p.stderr.strip()[-300:]}")
    if " steps" not in p.stdout:
        problems.append(f"no steps reported: {p.stdout.strip()[-200:]}")
    if "NUMBA_CACHE_DIR" not in p.stderr:
        problems.append("no message about the cache folder")
    return ResourceOutcome(
        problems,
        crashed=p.returncode != 0,
        note=p.stderr.strip().splitlines()[0] if p.stderr.strip() else "",
    )


@dataclass
class MemoryOutcome:
    """``cadence-coach run`` under an address-space limit."""

    limit_mb: int
    status: str  # ok | clean failure | traceback | signal | hang
    detail: str
    log_ok: bool


def low_memory_trial(workdir: Path, limit_mb: int, timeout: float = 90) -> MemoryOutcome:
    """Run a 30 s fast session with ``RLIMIT_AS = limit_mb``; classify what happened."""
    data_dir = workdir / f"lowmem-{limit_mb}"

    def limit() -> None:
        lim = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

    p = cli_run(fast_run_args(data_dir), timeout=timeout, preexec=limit)
    log_ok = True
    for f in data_dir.glob("*.cclog") if data_dir.exists() else []:
        try:
            quiet_read(f)
        except Exception:
            log_ok = False
    if p is None:
        return MemoryOutcome(limit_mb, "hang", f"no exit within {timeout:g} s (SIGKILLed)", log_ok)
    err = p.stderr.strip()
    if p.returncode == 0 and " steps" in p.stdout:
        return MemoryOutcome(limit_mb, "ok", p.stdout.strip().splitlines()[-1][:80], log_ok)
    if p.returncode < 0:
        return MemoryOutcome(limit_mb, "signal", f"killed by signal {-p.returncode}: {err[-160:]}", log_ok)
    last = err.splitlines()[-1] if err else ""
    if "Traceback" in err:
        return MemoryOutcome(limit_mb, "traceback", last[:160], log_ok)
    return MemoryOutcome(limit_mb, "clean failure", last[:160], log_ok)


def short_paths(text: str) -> str:
    """Drop the folders of the paths in a message (the table shows file names only)."""
    return re.sub(r"(/[^\s/:;']+)+/", "", text)


def resources_campaign(
    workdir: Path, memory_levels_mb: tuple[int, ...] = (2048, 1024, 512, 384, 256)
) -> list[CampaignResult]:
    """Disk full at start and mid-run, read-only folder, unwritable numba cache, low memory."""
    rows = []
    for at_start in (True, False):
        row = CampaignResult(f"disk full {'at start' if at_start else 'mid-run'}")
        out = disk_full_trial(workdir, at_start=at_start)
        row.add(not out.problems, crashed=out.crashed, why="; ".join(out.problems))
        row.notes.append(out.note)
        if out.stopped_reason:
            row.notes.append(f"says: {short_paths(out.stopped_reason)}")
        rows.append(row)
    row = CampaignResult("read-only data folder")
    out = read_only_trial(workdir)
    row.add(not out.problems, crashed=out.crashed, why="; ".join(out.problems))
    row.notes.append(out.note)
    if out.stopped_reason:
        row.notes.append(f"says: {short_paths(out.stopped_reason)}")
    rows.append(row)
    row = CampaignResult("unwritable numba cache folder (NUMBA_CACHE_DIR)")
    out = numba_cache_trial(workdir)
    row.add(not out.problems, crashed=out.crashed, why="; ".join(out.problems))
    row.notes.append(f"says: {short_paths(out.note)}")
    rows.append(row)
    row = CampaignResult("low memory: RLIMIT_AS, " + "/".join(str(m) for m in memory_levels_mb) + " MB")
    for mb in memory_levels_mb:
        m = low_memory_trial(workdir, mb)
        ok = m.status in ("ok", "clean failure") and m.log_ok
        row.add(ok, crashed=m.status != "ok" and not ok, why=f"{mb} MB: {m.status}: {m.detail}")
        row.notes.append(f"{mb} MB: {m.status}")
    rows.append(row)
    return rows


# ================================================================================================
# 6. configuration
# ================================================================================================


@dataclass(frozen=True)
class ConfigKey:
    """A key of ``config/default.toml`` (set, or documented as a comment), with its default."""

    section: str
    key: str
    default: Any
    comment: str

    @property
    def dotted(self) -> str:
        """``section.key``."""
        return f"{self.section}.{self.key}"

    @property
    def documented_range(self) -> tuple[float, float] | None:
        """The ``(lo-hi)`` range its comment documents, if any."""
        m = re.search(r"\((-?[\d.]+)\s*-\s*(-?[\d.]+)", self.comment)
        return (float(m.group(1)), float(m.group(2))) if m else None


def default_config_keys(path: Path = DEFAULT_TOML) -> list[ConfigKey]:
    """Every key of the default config, including the optional ones written as ``# key = value``."""
    keys: list[ConfigKey] = []
    section = ""
    comment: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        m_sec = re.fullmatch(r"\[([\w.]+)\]", s)
        m_key = re.fullmatch(r"(#\s*)?([a-z_][a-z0-9_]*)\s*=\s*(.+)", s)
        if m_sec:
            section, comment = m_sec.group(1), []
        elif m_key and section:
            value = tomllib.loads(f"v = {m_key.group(3)}")["v"]
            keys.append(ConfigKey(section, m_key.group(2), value, " ".join(comment)))
            comment = []
        elif s.startswith("#"):
            comment.append(s.lstrip("# "))
        elif not s:
            comment = []
    return keys


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


@dataclass(frozen=True)
class ConfigCase:
    """A broken user config file and what its error must name."""

    label: str  # wrong type | out of range | unknown key | missing file | broken TOML
    text: str | bytes | None  # None: the file does not exist
    key: str | None  # the dotted key the message must name
    allowed: tuple[str, ...] = ()  # words the "allowed" part must contain


def config_cases() -> list[ConfigCase]:
    """Generate the cases from the default config itself (new keys are covered automatically)."""
    cases: list[ConfigCase] = []
    for k in default_config_keys():
        header = f"[{k.section}]\n"

        def case(
            label: str, value: str, allowed: tuple[str, ...] = (), k: ConfigKey = k, header: str = header
        ) -> None:
            cases.append(ConfigCase(label, f"{header}{k.key} = {value}\n", k.dotted, allowed))

        d = k.default
        if isinstance(d, bool):
            case("wrong type", '"yes"', ("true", "false"))
            case("wrong type", "1")
        elif isinstance(d, int | float):
            case("wrong type", '"fast"')
            case("wrong type", "true")
            rng = k.documented_range
            words = tuple(f"{x:g}" for x in rng) if rng else ()
            big = "1000000000" if isinstance(d, int) else "1e9"
            case("out of range", big, words)
            case("out of range", "-" + big, words)
        elif isinstance(d, str):
            case("wrong type", "42")
            case("wrong type", "[1, 2]")
            if k.key not in ("data_dir",):
                case("out of range", '"no-such-value-xyz"')
        elif isinstance(d, list):
            case("wrong type", '"red"')
            case("out of range", "[1, 2]")
            case("out of range", "[99, 98, 97]")
    sections = sorted({k.section for k in default_config_keys()})
    for sec in sections:
        cases.append(ConfigCase("unknown key", f"[{sec}]\nno_such_key_xyz = 1\n", f"{sec}.no_such_key_xyz"))
    cases.append(ConfigCase("unknown key", "[no_such_section]\nx = 1\n", "no_such_section"))
    cases.append(ConfigCase("missing file", None, None))
    cases.append(ConfigCase("wrong type", "[[device]]\n", "device", ("table",)))
    for text in (
        '[device]\nbus = "unterminated\n',
        "[device\nbus = 1\n",
        '[device]\nbus == "smbus:1"\n',
        '[device]\nchip = "auto"\nchip = "auto"\n',
        "[device]\nsampling_rate_hz = 2OO\n",
        b'[device]\nbus = "\xff\xfe"\n',
        '[device]\n[device]\nbus = "smbus:1"\n',
    ):
        cases.append(ConfigCase("broken TOML", text, None))
    return cases


def check_config_case(case: ConfigCase, path: Path) -> tuple[list[str], bool]:
    """Load a broken config; the error must be one line naming the file, the key and what is allowed."""
    from firmware_py.config import load_config
    from firmware_py.exc import ConfigError

    path.unlink(missing_ok=True)
    if case.text is not None:
        path.write_bytes(case.text if isinstance(case.text, bytes) else case.text.encode("utf-8"))
    try:
        load_config(path)
    except ConfigError as exc:
        msg = str(exc)
    except Exception as exc:
        return [f"{type(exc).__name__} escaped: {exc}"], True
    else:
        return ["accepted"], False
    problems = []
    if "\n" in msg:
        problems.append("several lines")
    if str(path) not in msg:
        problems.append("does not name the file")
    if case.key and case.key not in msg:
        problems.append(f"does not name {case.key}")
    if "allowed" not in msg:
        problems.append("does not say what is allowed")
    for w in case.allowed:
        if w not in msg:
            problems.append(f"allowed values lack {w!r}")
    if case.label == "broken TOML" and not re.search(r"line \d+|end of the file|UTF-8", msg):
        problems.append("does not say where in the file")
    return [f"{p}: {msg[:200]!r}" for p in problems], False


def config_campaign(workdir: Path) -> list[CampaignResult]:
    """Every generated broken config, one row per kind of mistake."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, CampaignResult] = {}
    n_keys = len(default_config_keys())
    for case in config_cases():
        row = rows.setdefault(case.label, CampaignResult(f"config: {case.label}"))
        problems, crashed = check_config_case(case, workdir / "user.toml")
        row.add(not problems, crashed=crashed, why=f"{case.key or case.text!r}: {'; '.join(problems)}")
    rows["wrong type"].notes.append(f"every one of the {n_keys} keys of config/default.toml")
    return list(rows.values())


# ================================================================================================
# 7. a long run
# ================================================================================================


@dataclass
class LongRun:
    """What an accelerated session on the fake bus did."""

    duration_s: float
    wall_s: float
    produced: int
    leftover: int
    driver_samples: int
    log_samples: int
    checksum_ok: bool
    rss_after_10min_mb: float
    rss_end_mb: float
    live_steps: list[float]
    replay_steps: list[float]
    gaps: int

    @property
    def growth_mb(self) -> float:
        """Resident memory growth from 10 minutes in to the end, MB."""
        return self.rss_end_mb - self.rss_after_10min_mb

    @property
    def samples_lost(self) -> int:
        """Produced samples (but those left in the FIFO) missing from the log."""
        return self.produced - self.leftover - self.log_samples


def long_run(
    duration_s: float, workdir: Path, chip: str = "lsm6dsox", measure_at_s: float = 600.0
) -> LongRun:
    """Run the live loop as the device does (``keep_events=False``) for ``duration_s`` of fake time."""
    from firmware_py.logs.cclog import iter_cclog_blocks
    from firmware_py.replay import replay_recording

    s = fake_session(workdir / f"long-{chip}", chip=chip, lean=True, keep_events=False)
    marks: dict[str, float] = {}
    s.clock.at(measure_at_s, lambda: (gc.collect(), marks.setdefault("rss", rss_mb())))
    wall = time.perf_counter()
    rep = s.loop.run(threading.Event(), duration_s=duration_s)
    wall = time.perf_counter() - wall
    gc.collect()
    rss_end = rss_mb()
    n_log, log_sum = 0, np.zeros(6, dtype=np.int64)
    for blk in iter_cclog_blocks(s.recorder.path):
        if blk.kind == "samples":
            n_log += blk.t_s.shape[0]
            log_sum += blk.values.astype(np.int64).sum(axis=0)
    leftover = s.fake.fifo_samples
    want = s.fake.raw_sum - s.fake.last_raw(leftover).astype(np.int64).sum(axis=0)
    log = quiet_read(s.recorder.path)
    replay = replay_recording(log, placement="foot")
    return LongRun(
        duration_s=duration_s,
        wall_s=wall,
        produced=s.fake.produced,
        leftover=leftover,
        driver_samples=rep.samples,
        log_samples=n_log,
        checksum_ok=bool(np.array_equal(want, log_sum)),
        rss_after_10min_mb=marks.get("rss", math.nan),
        rss_end_mb=rss_end,
        live_steps=list(s.listener.step_times),
        replay_steps=[e.t_s for e in replay.events],
        gaps=rep.n_gaps,
    )


def long_run_campaign(hours: float, workdir: Path) -> CampaignResult:
    """One accelerated session of ``hours``: every sample recorded, memory flat, live == replay."""
    row = CampaignResult(f"long run: {hours:g} h ultra on the fake bus (accelerated)")
    try:
        lr = long_run(hours * 3600.0, workdir)
    except Exception as exc:
        row.add(False, crashed=True, why=f"{type(exc).__name__}: {exc}")
        return row
    problems = []
    if not (lr.log_samples == lr.driver_samples == lr.produced - lr.leftover) or not lr.checksum_ok:
        problems.append(
            f"log {lr.log_samples}, driver {lr.driver_samples}, produced-leftover {lr.produced - lr.leftover}"
        )
    if lr.growth_mb >= 5.0:
        problems.append(f"resident memory grew {lr.growth_mb:.1f} MB")
    if lr.live_steps != lr.replay_steps:
        problems.append(f"{len(lr.live_steps)} live contacts, {len(lr.replay_steps)} replayed")
    row.add(not problems, lost=lr.samples_lost, why="; ".join(problems))
    row.notes.append(
        f"{lr.log_samples:,} samples, {len(lr.live_steps):,} contacts (= replay), "
        f"RSS {lr.rss_after_10min_mb:.0f} MB at 10 min -> {lr.rss_end_mb:.0f} MB at the end "
        f"({lr.growth_mb:+.1f} MB), {lr.wall_s:.0f} s wall"
    )
    return row


# ================================================================================================
# 8. security
# ================================================================================================


def unit_settings(path: Path = UNIT_FILE) -> dict[str, list[str]]:
    """The ``[Service]`` settings of the unit file (a key may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("["):
            section = s
            continue
        if section == "[Service]" and "=" in s:
            k, v = s.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def unit_file_checks() -> list[tuple[str, bool, str]]:
    """``(check, passed, detail)`` for the hardening the device promises."""
    from firmware_py.config import load_config

    u = unit_settings()

    def one(key: str) -> str:
        return (u.get(key) or [""])[-1]

    data_dir = load_config().recording.data_dir
    rw = " ".join(u.get("ReadWritePaths", [])).split()
    yes = ("yes", "true", "1")
    groups = sorted(" ".join(u.get("SupplementaryGroups", [])).split())
    umask = one("UMask")
    checks = [
        (
            "own unprivileged user",
            one("User") not in ("", "root", "0") and one("DynamicUser") != "yes",
            one("User"),
        ),
        ("SupplementaryGroups i2c gpio only", groups == ["gpio", "i2c"], str(groups)),
        ("NoNewPrivileges", one("NoNewPrivileges") in yes, one("NoNewPrivileges")),
        ("ProtectSystem=strict", one("ProtectSystem") == "strict", one("ProtectSystem")),
        (
            "ReadWritePaths holds the data folder",
            any(data_dir == p or data_dir.startswith(p.rstrip("/") + "/") for p in rw),
            f"{data_dir} in {rw}",
        ),
        ("PrivateTmp", one("PrivateTmp") in yes, one("PrivateTmp")),
        ("ProtectHome", one("ProtectHome") in (*yes, "read-only", "tmpfs"), one("ProtectHome")),
        (
            "no capabilities",
            "CapabilityBoundingSet" in u and one("CapabilityBoundingSet") == "",
            "CapabilityBoundingSet=",
        ),
        (
            "no network (PrivateNetwork, AF_UNIX only)",
            one("PrivateNetwork") in yes and one("RestrictAddressFamilies") == "AF_UNIX",
            one("RestrictAddressFamilies"),
        ),
        ("recordings not world-readable (UMask)", umask != "" and int(umask, 8) & 0o007 == 0o007, umask),
    ]
    exec_start = one("ExecStart").split()
    try:
        from firmware_py.cli import build_parser

        with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
            build_parser().parse_args(exec_start[1:])
        parsed, detail = True, " ".join(exec_start[1:])
    except SystemExit:
        parsed, detail = False, f"cadence-coach rejects: {' '.join(exec_start[1:])}"
    checks.append(("ExecStart arguments accepted by the CLI", parsed, detail))
    return checks


#: Source patterns that would open a network port.
NETWORK_PATTERNS = re.compile(
    r"^\s*(import socket|from socket|import socketserver|from socketserver|from http\.server"
    r"|import http\.server|from xmlrpc|import asyncio)"
    r"|\.bind\(|\.listen\(|start_server|HTTPServer|create_server",
    re.MULTILINE,
)


def network_code_hits() -> list[str]:
    """Lines of the device code (firmware_py, dsp) that could open a network port."""
    hits = []
    for pkg in ("firmware_py", "dsp"):
        for f in sorted((REPO / pkg).rglob("*.py")):
            for m in NETWORK_PATTERNS.finditer(f.read_text(encoding="utf-8")):
                line = f.read_text(encoding="utf-8").count("\n", 0, m.start()) + 1
                hits.append(f"{f.relative_to(REPO)}:{line}: {m.group(0).strip()}")
    return hits


def _socket_inodes(pid: int) -> list[str]:
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                out.append(target[8:-1])
    return out


def _inet_inodes(pid: int) -> dict[str, str]:
    """inode -> 'proto local_address state' for every IP socket in the process's network namespace."""
    found = {}
    for proto in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6"):
        p = Path(f"/proc/{pid}/net/{proto}")
        if not p.exists():
            continue
        for line in p.read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) > 9:
                found[cols[9]] = f"{proto} {cols[1]} state {cols[3]}"
    return found


def live_process_sockets(workdir: Path, seconds: float = 3.0) -> tuple[list[str], list[str], Path | None]:
    """Run ``cadence-coach run`` on the fake bus in real time; list its IP sockets and all its sockets."""
    data_dir = workdir / "net-logs"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "firmware_py.cli",
        "run",
        "--bus",
        f"fake:{FOOT_CSV}",
        "--chip",
        "lsm6dsox",
        "--data-dir",
        str(data_dir),
        "--duration",
        "30",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ip, socks = [], []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(data_dir.glob("*.cclog")):
            time.sleep(0.05)
        time.sleep(seconds)  # the live loop is running: numba loaded, FIFO drained, log written
        inet = _inet_inodes(proc.pid)
        socks = _socket_inodes(proc.pid)
        ip = [inet[i] for i in socks if i in inet]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    logs = list(data_dir.glob("*.cclog"))
    return ip, socks, logs[0] if logs else None


def file_mode_checks(workdir: Path) -> list[tuple[str, bool, str]]:
    """Record a log under the umask of a default shell (022) and of the unit (027); check the modes."""
    import stat

    from firmware_py.clock import FakeClock
    from firmware_py.recorder import Recorder

    checks = []
    for umask in (0o022, 0o027):
        old = os.umask(umask)
        try:
            d = workdir / f"umask{umask:03o}" / "logs"
            with Recorder(d, WRITER_HEADER, clock=FakeClock()) as rec:
                rec.write(np.arange(3) / FS, sample_raw(np.arange(3)))
                path = rec.path
        finally:
            os.umask(old)
        fmode, dmode = stat.S_IMODE(path.stat().st_mode), stat.S_IMODE(d.stat().st_mode)
        ok = not fmode & stat.S_IWOTH and not dmode & stat.S_IWOTH
        if umask == 0o027:
            ok = ok and not fmode & stat.S_IRWXO
        checks.append(
            (
                f"log and folder not world-writable (umask {umask:03o})",
                ok,
                f"log {fmode:04o}, folder {dmode:04o}",
            )
        )
    return checks


def security_campaign(workdir: Path) -> CampaignResult:
    """Unit-file hardening, no network port (code and a live process), file modes of the logs."""
    workdir.mkdir(parents=True, exist_ok=True)
    row = CampaignResult("security: unit hardening, no network port, log file modes")
    for name, ok, detail in unit_file_checks():
        row.add(ok, why=f"{name}: {detail}")
    hits = network_code_hits()
    row.add(not hits, why=f"network code: {hits[:3]}")
    ip, socks, log = live_process_sockets(workdir)
    row.add(not ip, why=f"IP sockets of the live process: {ip}")
    for name, ok, detail in file_mode_checks(workdir):
        row.add(ok, why=f"{name}: {detail}")
        row.notes.append(detail)
    row.notes.insert(0, f"{len(socks)} sockets (no IP socket) in the live process")
    del log
    return row


# ================================================================================================
# all of it
# ================================================================================================


def run_all(
    workdir: Path, *, quick: bool, progress: Callable[[str], None] | None = None, atheris_runs: int = 0
) -> list[CampaignResult]:
    """Run every campaign with the benchmark's counts (``quick``: small counts) and return the rows."""
    from firmware_py.imu.fake import FAKE_IMUS

    say = progress or (lambda _msg: None)
    rows: list[CampaignResult] = []
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("power cuts", lambda: [power_cut_campaign(10 if quick else 200, workdir / "power")]),
        ("truncation", lambda: truncation_campaign(workdir / "trunc", last_frames=2 if quick else 4)),
        ("corrupt logs", lambda: [corrupt_log_campaign(300 if quick else 5000, workdir / "corrupt")]),
        ("bad samples", lambda: bad_samples_campaign((0.5,) if quick else (0.3, 0.4, 0.5, 0.6, 0.7))),
        (
            "I2C faults",
            lambda: i2c_campaign(
                workdir / "i2c",
                ("lsm6dsox",) if quick else tuple(sorted(FAKE_IMUS)),
                (1,) if quick else (1, 2, 3),
            ),
        ),
        (
            "resources",
            lambda: resources_campaign(
                workdir / "res", (1024, 256) if quick else (2048, 1024, 512, 384, 256)
            ),
        ),
        ("config", lambda: config_campaign(workdir / "config")),
        ("long run", lambda: [long_run_campaign(0.5 if quick else 12.0, workdir / "long")]),
        ("security", lambda: [security_campaign(workdir / "security")]),
    ]
    if atheris_runs:
        steps.insert(3, ("atheris", lambda: [atheris_campaign(atheris_runs, workdir / "atheris")]))
    for name, fn in steps:
        t0 = time.perf_counter()
        got = fn()
        rows.extend(got)
        say(f"{name}: {sum(r.trials for r in got)} trials in {time.perf_counter() - t0:.0f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Subprocess entry points: ``writer DATA_DIR PROGRESS SEED`` and ``atheris RUNS CORPUS``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["writer"]:
        writer_main(args[1], args[2], int(args[3]), float(args[4]) if len(args) > 4 else 1.0)
        return 0
    if args[:1] == ["atheris"]:
        atheris_main(int(args[1]), args[2])
        return 0
    print(
        "usage: python -m tests.reliability.campaigns writer DATA_DIR PROGRESS SEED | atheris RUNS CORPUS",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
