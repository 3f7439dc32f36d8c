r"""The device's native raw log, ``.cclog``: an append-only, checksummed, power-cut-safe binary file.

The byte layout, the versioning policy and the recovery rules are documented in
``docs/cclog-format.md``.  In short::

    magic "\x89CCLOG\r\n" | u16 version | u16 flags | u32 header_len | header JSON | u32 CRC32
    block*:  "\xa5ZCB" | u8 type | u8 flags | u16 reserved | u32 payload_len | u32 n_samples
             | u32 CRC32(block header bytes 0..15 + payload) | payload

All integers are little-endian.  Block types: 1 SAMPLES, 2 GAP, 3 EVENT.  A SAMPLES payload is
``n_samples`` records of ``float64 t`` followed by 6 (or 3 without gyro) values, ``float64`` SI
units for encoding ``f8`` or raw ``int16`` counts for encoding ``i2`` (scaled by ``acc_lsb_mps2`` and
``gyro_lsb_rads`` from the header).

The reader keeps every intact block: a file cut by a power failure loses only its incomplete last
block (``LogTruncatedWarning``); a corrupt stretch in the middle is skipped, the reader
resynchronises on the next intact block and flags a gap (``LogCorruptWarning``).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import mmap
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firmware_py.exc import (
    LogCorruptWarning,
    LogExistsError,
    LogFormatError,
    LogNotFoundError,
    LogTruncatedWarning,
    LogWriteError,
)
from firmware_py.logs.csvlog import (
    CCLOG_READER_KEYS,
    bad_sample_rows,
    check_new_file,
    check_recording,
    is_cclog_header,
    normalise_side,
    positive_rate,
    time_gaps,
    warn_bad_samples,
    warn_gaps,
)
from firmware_py.logs.recording import Recording, normalise_placement

__all__ = [
    "BLOCK_EVENT",
    "BLOCK_GAP",
    "BLOCK_SAMPLES",
    "BLOCK_SYNC",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_BLOCK_PAYLOAD_BYTES",
    "CclogBlock",
    "CclogWriter",
    "header_from_recording",
    "iter_cclog_blocks",
    "read_cclog",
    "read_cclog_header",
    "write_cclog",
]

#: First 8 bytes of every ``.cclog`` file (PNG-style: high bit, name, CR LF catch text-mode copies).
MAGIC = b"\x89CCLOG\r\n"
#: The format version this software writes and the newest it reads.
FORMAT_VERSION = 1
#: Marker that starts every block; the reader scans for it to resynchronise after corruption.
BLOCK_SYNC = b"\xa5ZCB"
BLOCK_SAMPLES = 1
BLOCK_GAP = 2
BLOCK_EVENT = 3
_KIND = {BLOCK_SAMPLES: "samples", BLOCK_GAP: "gap", BLOCK_EVENT: "event"}

#: A block payload larger than this is corrupt by definition (bounds the memory a bad length can ask for).
MAX_BLOCK_PAYLOAD_BYTES = 1 << 20
#: A header JSON larger than this is corrupt by definition.
MAX_HEADER_BYTES = 1 << 20
#: Largest plausible size of one int16 count (``i2`` encoding): 1 m/s² is a ±3300 g range and
#: 0.1 rad/s a ±190,000 °/s one, far beyond any IMU; a larger value can only be a damaged header.
MAX_LSB = {"acc_lsb_mps2": 1.0, "gyro_lsb_rads": 0.1}
#: The writer closes a SAMPLES block when its payload would exceed this size.
WRITER_BLOCK_PAYLOAD_BYTES = 1 << 16
#: The writer hands buffered blocks to the OS (without fsync) once this many bytes are pending.
WRITER_BUFFER_BYTES = 1 << 18
#: Longest GAP reason accepted by the writer, in UTF-8 bytes.
MAX_GAP_REASON_BYTES = 256

_PRELUDE = struct.Struct("<8sHHI")  # magic, version, flags, header_len
_U32 = struct.Struct("<I")
_BLOCK = struct.Struct("<4sBBHIII")  # sync, type, flags, reserved, payload_len, n_samples, crc32
_GAP = struct.Struct("<dd")
_F64 = struct.Struct("<d")
BLOCK_HEADER_BYTES = _BLOCK.size  # 20

ENCODINGS = ("f8", "i2")
_REQUIRED_KEYS = ("format_version", "encoding", "has_gyro", "sampling_rate_hz")
_HEADER_ORDER = (
    "format_version",
    "encoding",
    "has_gyro",
    "sampling_rate_hz",
    "acc_lsb_mps2",
    "gyro_lsb_rads",
    "chip",
    "accel_range_g",
    "gyro_range_dps",
    "placement",
    "placement_side",
    "start_time_utc",
    "software_version",
    "config",
)


def record_dtype(encoding: str, has_gyro: bool) -> np.dtype:
    """Return the numpy dtype of one sample record.

    Parameters
    ----------
    encoding : str
        ``f8`` (float64 SI values) or ``i2`` (int16 counts).
    has_gyro : bool
        6 values per sample when True, else 3.

    Returns
    -------
    numpy.dtype
        Packed little-endian structured dtype with fields ``t`` and ``v``.
    """
    n_values = 6 if has_gyro else 3
    value_type = "<f8" if encoding == "f8" else "<i2"
    return np.dtype([("t", "<f8"), ("v", value_type, (n_values,))])


def _software_version() -> str:
    """Return the cadence-coach version (``firmware_py.__version__``)."""
    from firmware_py import __version__

    return __version__


def _utc_now_iso() -> str:
    """Return the current UTC time as ISO 8601 with a ``Z`` suffix, millisecond resolution."""
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")
    return now.replace("+00:00", "Z")


def _finite_json(obj: Any) -> Any:
    """Copy a JSON-like object, replacing non-finite floats by None (standard JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite_json(obj.item())
    return obj


def _block_bytes(block_type: int, payload: bytes, n_samples: int = 0) -> bytes:
    """Encode one block: fixed header with CRC32 over header bytes 0..15 and the payload."""
    head = _BLOCK.pack(BLOCK_SYNC, block_type, 0, 0, len(payload), n_samples, 0)[:16]
    crc = zlib.crc32(payload, zlib.crc32(head))
    return head + _U32.pack(crc) + payload


# --------------------------------------------------------------------------------------------------
# writer
# --------------------------------------------------------------------------------------------------


def complete_header(header: dict[str, Any], encoding: str) -> dict[str, Any]:
    """Validate a header given to the writer and fill in the defaults.

    Parameters
    ----------
    header : dict
        At least ``sampling_rate_hz``; for ``i2`` also ``acc_lsb_mps2`` (and ``gyro_lsb_rads`` with a
        gyro).  ``has_gyro`` defaults to True.
    encoding : str
        ``f8`` or ``i2``.

    Returns
    -------
    dict
        The header as it will be stored (JSON-safe: non-finite floats become null).

    Raises
    ------
    ValueError
        When a field is missing or invalid; the message names the key.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be 'f8' or 'i2', not {encoding!r}")
    if not isinstance(header, dict):
        raise ValueError(f"header must be a dict, not {type(header).__name__}")
    out = _finite_json(dict(header))
    for key in CCLOG_READER_KEYS:
        out.pop(key, None)
    if out.get("encoding", encoding) != encoding:
        raise ValueError(
            f"header says encoding {out['encoding']!r} but the writer was asked for {encoding!r}"
        )
    if out.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ValueError(
            f"this software writes format version {FORMAT_VERSION}, not {out['format_version']!r}"
        )
    out["format_version"] = FORMAT_VERSION
    out["encoding"] = encoding
    out.setdefault("has_gyro", True)
    if not isinstance(out["has_gyro"], bool):
        raise ValueError(f"header 'has_gyro' must be True or False, not {out['has_gyro']!r}")
    if positive_rate(out.get("sampling_rate_hz")) is None:
        raise ValueError(
            f"header 'sampling_rate_hz' must be a positive number, not {out.get('sampling_rate_hz')!r}"
        )
    out["sampling_rate_hz"] = float(out["sampling_rate_hz"])
    out["placement"] = normalise_placement(out.get("placement"))
    out["placement_side"] = normalise_side(out.get("placement_side"))
    if encoding == "i2":
        lsb_keys = ["acc_lsb_mps2"] + (["gyro_lsb_rads"] if out["has_gyro"] else [])
        for key in lsb_keys:
            if positive_rate(out.get(key)) is None:
                raise ValueError(
                    f"header {key!r} must be a positive number for encoding 'i2', not {out.get(key)!r}"
                )
            out[key] = float(out[key])
            if out[key] > MAX_LSB[key]:
                raise ValueError(
                    f"header {key!r} is {out[key]:.3g} per count; at most {MAX_LSB[key]:g} is possible"
                )
    else:
        out.pop("acc_lsb_mps2", None)
        out.pop("gyro_lsb_rads", None)
    for key in ("chip", "accel_range_g", "gyro_range_dps"):
        out.setdefault(key, None)
    out.setdefault("config", {})
    out.setdefault("software_version", _software_version())
    out.setdefault("start_time_utc", _utc_now_iso())
    first = [k for k in _HEADER_ORDER if k in out]
    return {**{k: out[k] for k in first}, **{k: v for k, v in out.items() if k not in first}}


class CclogWriter:
    """Append samples, gaps and events to a new ``.cclog`` file.

    The header is written and fsynced when the writer is created.  Samples are buffered in memory
    and coalesced into SAMPLES blocks (at most 64 KiB each); ``flush`` writes every pending block
    and fsyncs, so after a power cut the file holds everything up to the last flush.  Call
    ``flush`` at least once a second while recording.

    Parameters
    ----------
    path : str or os.PathLike
        File to create.  It must not exist: a writer never overwrites a file.
    header : dict
        Header fields (see ``complete_header``): ``sampling_rate_hz`` (required), ``has_gyro``,
        ``chip``, ``accel_range_g``, ``gyro_range_dps``, ``placement``, ``placement_side``,
        ``config``, ``software_version``, ``start_time_utc``, for ``i2`` ``acc_lsb_mps2`` and
        ``gyro_lsb_rads``; any other JSON-serialisable key is stored too.
    encoding : {"f8", "i2"}
        ``f8``: values are float64 in SI units; ``i2``: values are the chip's int16 counts.
    block_s : float, optional
        Seal a SAMPLES block after this many seconds of samples (at the header's rate) even when no
        ``flush`` comes, so that a damaged block costs at most that much; a block is never larger
        than 64 KiB.  Without it, blocks end at each ``flush`` or at 64 KiB.

    Raises
    ------
    LogExistsError
        When ``path`` exists (a ``LogWriteError`` and a ``FileExistsError``).
    LogWriteError
        When the file cannot be created or written.
    ValueError
        When the header is invalid.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any],
        *,
        encoding: str = "f8",
        block_s: float | None = None,
    ) -> None:
        self._path = Path(path)
        self._header = complete_header(header, encoding)
        self._encoding = encoding
        self._has_gyro: bool = self._header["has_gyro"]
        self._n_values = 6 if self._has_gyro else 3
        self._dtype = record_dtype(encoding, self._has_gyro)
        self._block_samples = max(1, WRITER_BLOCK_PAYLOAD_BYTES // self._dtype.itemsize)
        if block_s is not None:
            if not (block_s > 0 and math.isfinite(block_s)):
                raise ValueError(f"block_s must be a positive number of seconds, got {block_s!r}")
            per_block = round(block_s * float(self._header["sampling_rate_hz"]))
            self._block_samples = max(1, min(self._block_samples, per_block))
        try:
            head_json = json.dumps(self._header, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"header is not JSON-serialisable: {exc}") from None
        if len(head_json) > MAX_HEADER_BYTES:
            raise ValueError(f"header is {len(head_json)} bytes of JSON; the limit is {MAX_HEADER_BYTES}")
        prelude = _PRELUDE.pack(MAGIC, FORMAT_VERSION, 0, len(head_json)) + head_json
        self._buf = bytearray(prelude + _U32.pack(zlib.crc32(prelude[8:])))
        self._pending_t: list[np.ndarray] = []
        self._pending_v: list[np.ndarray] = []
        self._pending_n = 0
        self._last_t = -math.inf
        self._n_samples = 0
        self._bytes_written = 0
        self._closed = True
        try:
            self._file = open(self._path, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        except FileExistsError:
            raise LogExistsError(
                f"{self._path}: file exists; a .cclog is never overwritten; "
                "fix: choose another name or delete it"
            ) from None
        except OSError as exc:
            raise LogWriteError(
                f"{self._path}: cannot create: {exc.strerror or exc}; fix: check the folder"
            ) from None
        self._closed = False
        try:
            self.flush(fsync=True)
        except LogWriteError as exc:
            self._abandon()
            raise LogWriteError(
                f"{self._path}: cannot write the log's header: {exc.reason or exc}; no log was kept "
                "(the partial file is removed); fix: free space or check the card"
            ) from exc  # keeps errno on the chain (disk full is told from other failures)
        except BaseException:
            self._abandon()
            raise
        self._fsync_dir()

    def _abandon(self) -> None:
        """Close and remove a log whose header never reached the disk (nothing in it to keep)."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._path.unlink(missing_ok=True)

    # -- properties ---------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The file being written."""
        return self._path

    @property
    def header(self) -> dict[str, Any]:
        """A copy of the header as stored."""
        return json.loads(json.dumps(self._header))

    @property
    def encoding(self) -> str:
        """``f8`` or ``i2``."""
        return self._encoding

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the OS so far (header and complete blocks)."""
        return self._bytes_written

    @property
    def n_samples(self) -> int:
        """Samples appended so far (written or still buffered)."""
        return self._n_samples

    @property
    def closed(self) -> bool:
        """True after ``close``."""
        return self._closed

    # -- appending ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self._path}: the writer is closed")

    def append(self, t_s: Any, values: Any) -> None:
        """Append samples.

        Parameters
        ----------
        t_s : array_like
            Sample times, shape ``(n,)``, s, finite, strictly increasing and later than every sample
            appended before.
        values : array_like
            Shape ``(n, 6)`` (ax, ay, az, gx, gy, gz) or ``(n, 3)`` without gyro: float m/s² and rad/s
            for ``f8``; integer counts in the int16 range for ``i2``.

        Raises
        ------
        ValueError
            On a wrong shape or dtype, counts outside int16, or timestamps that do not increase.
        """
        self._check_open()
        t = np.asarray(t_s, dtype=np.float64)
        v = np.asarray(values)
        if t.ndim != 1:
            raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
        n = t.shape[0]
        if v.shape != (n, self._n_values):
            raise ValueError(f"values must have shape ({n}, {self._n_values}), got {v.shape}")
        if n == 0:
            return
        if self._encoding == "i2":
            if v.dtype.kind not in "iu":
                raise ValueError(f"encoding 'i2' takes integer counts, got dtype {v.dtype}")
            if v.min() < -32768 or v.max() > 32767:
                raise ValueError("encoding 'i2' takes int16 counts; a value lies outside -32768..32767")
            v = v.astype("<i2")
        else:
            if v.dtype.kind not in "iuf":
                raise ValueError(f"encoding 'f8' takes real numbers, got dtype {v.dtype}")
            v = v.astype("<f8")
        if not np.isfinite(t).all():
            raise ValueError(f"t_s[{int(np.flatnonzero(~np.isfinite(t))[0])}] is not finite")
        if t[0] <= self._last_t:
            raise ValueError(
                f"t_s[0]={float(t[0])!r} is not later than the last sample appended ({self._last_t!r})"
            )
        steps = np.flatnonzero(np.diff(t) <= 0)
        if steps.size:
            i = int(steps[0]) + 1
            raise ValueError(
                f"t_s must be strictly increasing; t_s[{i}]={float(t[i])!r} "
                f"<= t_s[{i - 1}]={float(t[i - 1])!r}"
            )
        self._pending_t.append(t.copy())
        self._pending_v.append(v)
        self._pending_n += n
        self._last_t = float(t[-1])
        self._n_samples += n
        if self._pending_n >= self._block_samples:
            self._seal(full_only=True)
        if len(self._buf) >= WRITER_BUFFER_BYTES:
            self._write_buffer()

    def append_gap(self, t_before_s: float, t_after_s: float, reason: str) -> None:
        """Record that samples are missing between two times.

        Parameters
        ----------
        t_before_s, t_after_s : float
            Last good time before and first good time after the gap, s (``t_after_s > t_before_s``).
        reason : str
            Short cause, e.g. ``fifo_overflow`` or ``i2c_unplugged`` (at most 256 UTF-8 bytes).

        Raises
        ------
        ValueError
            On non-finite or unordered times, or a reason that is not a short string.
        """
        self._check_open()
        a, b = float(t_before_s), float(t_after_s)
        if not (math.isfinite(a) and math.isfinite(b) and b > a):
            raise ValueError(f"a gap needs finite times with t_after_s > t_before_s, got {a!r}, {b!r}")
        if not isinstance(reason, str):
            raise ValueError(f"reason must be a string, not {type(reason).__name__}")
        text = reason.encode("utf-8")
        if len(text) > MAX_GAP_REASON_BYTES:
            raise ValueError(f"reason is {len(text)} bytes; keep it under {MAX_GAP_REASON_BYTES}")
        self._seal()
        self._buf += _block_bytes(BLOCK_GAP, _GAP.pack(a, b) + text)

    def append_event(self, t_s: float, obj: Any) -> None:
        """Record a note (a cue given, a flag raised...) at a time.

        Parameters
        ----------
        t_s : float
            When, s (finite).
        obj : Any
            A JSON-serialisable object, usually a dict such as ``{"type": "cue", "text": "shorter steps"}``.

        Raises
        ------
        ValueError
            When ``t_s`` is not finite or ``obj`` is not JSON-serialisable or too large.
        """
        self._check_open()
        t = float(t_s)
        if not math.isfinite(t):
            raise ValueError(f"event time must be finite, got {t!r}")
        try:
            text = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event is not JSON-serialisable: {exc}") from None
        if len(text) + 8 > MAX_BLOCK_PAYLOAD_BYTES:
            raise ValueError(
                f"event is {len(text)} bytes of JSON; the limit is {MAX_BLOCK_PAYLOAD_BYTES - 8}"
            )
        self._seal()
        self._buf += _block_bytes(BLOCK_EVENT, _F64.pack(t) + text)

    def _seal(self, full_only: bool = False) -> None:
        """Encode pending samples into SAMPLES blocks (only full-size ones when ``full_only``)."""
        if not self._pending_n:
            return
        t = np.concatenate(self._pending_t)
        v = np.concatenate(self._pending_v)
        n_full = (t.shape[0] // self._block_samples) * self._block_samples
        stop = n_full if full_only else t.shape[0]
        for i in range(0, stop, self._block_samples):
            j = min(i + self._block_samples, stop)
            rec = np.empty(j - i, dtype=self._dtype)
            rec["t"] = t[i:j]
            rec["v"] = v[i:j]
            self._buf += _block_bytes(BLOCK_SAMPLES, rec.tobytes(), j - i)
        self._pending_t = [t[stop:]] if stop < t.shape[0] else []
        self._pending_v = [v[stop:]] if stop < t.shape[0] else []
        self._pending_n = t.shape[0] - stop

    def _write_buffer(self) -> None:
        """Hand the buffered complete blocks to the OS; keep what could not be written."""
        # A copy, not a memoryview: a failed write may keep its argument alive in the traceback,
        # and a live export would stop the buffer from being trimmed.
        data = bytes(self._buf)
        done = 0
        try:
            while done < len(data):
                done += self._file.write(data[done:]) or 0
        except OSError as exc:
            err = LogWriteError(
                f"{self._path}: write failed after {self._bytes_written + done} bytes: "
                f"{exc.strerror or exc}; the file holds every block written before; "
                "fix: free space or check the card"
            )
            err.reason = str(exc.strerror or exc)
            err.errno = exc.errno
            raise err from None
        finally:
            del self._buf[:done]
            self._bytes_written += done

    def _fsync_dir(self) -> None:
        """Make the new directory entry durable (best effort)."""
        try:
            fd = os.open(self._path.parent if str(self._path.parent) else ".", os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def flush(self, fsync: bool = True) -> None:
        """Write every pending sample, gap and event as complete blocks.

        Parameters
        ----------
        fsync : bool
            Also ask the OS to put the data on the storage (survives a power cut).

        Raises
        ------
        LogWriteError
            When the disk refuses; the unwritten part stays buffered and a later flush retries it.
        """
        self._check_open()
        self._seal()
        self._write_buffer()
        if fsync:
            try:
                os.fsync(self._file.fileno())
            except OSError as exc:
                raise LogWriteError(f"{self._path}: fsync failed: {exc.strerror or exc}") from None

    def close(self) -> None:
        """Flush (with fsync) and close; calling it again does nothing."""
        if self._closed:
            return
        try:
            self.flush(fsync=True)
        finally:
            self._closed = True
            self._file.close()

    def __enter__(self) -> CclogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"CclogWriter({str(self._path)!r}, encoding={self._encoding!r}, {state}, "
            f"{self._n_samples} samples)"
        )


# --------------------------------------------------------------------------------------------------
# reader
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CclogBlock:
    """One decoded block of a ``.cclog`` file, or one damaged stretch the reader skipped.

    Attributes
    ----------
    offset : int
        Byte offset of the block (its sync marker) or of the damaged stretch.
    size : int
        Bytes it spans (block header + payload, or the damaged length).
    kind : str
        ``samples``, ``gap``, ``event``, ``unknown`` (an intact block of a type this software does
        not know: skipped) or ``damaged``.
    type_code : int
        The block-type byte (0 for ``damaged``).
    t_s : numpy.ndarray or None
        ``samples``: sample times, s.
    values : numpy.ndarray or None
        ``samples``: values as stored, shape ``(n, 6)`` or ``(n, 3)``: float64 SI (``f8``) or int16
        counts (``i2``).
    t_before_s, t_after_s : float or None
        ``gap``: the times around the gap.
    reason : str or None
        ``gap``: the cause given by the recorder; ``damaged``: why the stretch was rejected.
    event_t_s : float or None
        ``event``: its time.
    event : Any
        ``event``: the decoded JSON.
    at_end : bool
        ``damaged``: True when no intact block follows (the file was cut).
    """

    offset: int
    size: int
    kind: str
    type_code: int = 0
    t_s: np.ndarray | None = None
    values: np.ndarray | None = None
    t_before_s: float | None = None
    t_after_s: float | None = None
    reason: str | None = None
    event_t_s: float | None = None
    event: Any = None
    at_end: bool = False


def _open_bytes(path: Path) -> tuple[Any, Any]:
    """Map (or read) a file; return ``(buffer, closer)``."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the returned closer
    except FileNotFoundError:
        raise LogNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LogFormatError(f"{path}: is a directory, not a recording") from None
    except OSError as exc:
        raise LogFormatError(f"{path}: cannot read: {exc.strerror or exc}; fix: check the file") from None
    try:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return b"", f.close
        try:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            data = f.read()
            return data, f.close

        def closer() -> None:
            mm.close()
            f.close()

        return mm, closer
    except OSError as exc:
        f.close()
        raise LogFormatError(f"{path}: cannot read: {exc.strerror or exc}; fix: check the file") from None


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _parse_header(buf: Any, name: str) -> tuple[dict[str, Any], int]:
    """Check magic, version and header CRC; return the validated header and the first block offset."""
    size = len(buf)
    expected = f"expected the .cclog magic {_hex(MAGIC)}"
    if size == 0:
        raise LogFormatError(
            f"{name}: byte 0: the file is empty; {expected} (power cut before the first write?)"
        )
    head = bytes(buf[: min(size, 8)])
    if head != MAGIC[: len(head)]:
        hint = "this is not a .cclog file"
        if head[:2] in (b"t,", b"t ") or all(32 <= c < 127 or c in (9, 10, 13) for c in head):
            hint += " (it looks like text: a CSV? then rename it to .csv)"
        raise LogFormatError(f"{name}: byte 0: {expected}, found {_hex(head)} ({head!r}); {hint}")
    if size < _PRELUDE.size:
        raise LogFormatError(
            f"{name}: byte {size}: the file ends inside the header ({size} of at least "
            f"{_PRELUDE.size + 4} bytes); nothing can be recovered"
        )
    _, version, _flags, header_len = _PRELUDE.unpack_from(buf, 0)
    if version > FORMAT_VERSION:
        raise LogFormatError(
            f"{name}: format version {version} is newer than this software reads ({FORMAT_VERSION}); "
            "update cadence-coach"
        )
    if version < 1:
        raise LogFormatError(
            f"{name}: byte 8: format version {version} is not valid (expected 1); the file is corrupt"
        )
    if header_len > MAX_HEADER_BYTES:
        raise LogFormatError(
            f"{name}: byte 12: header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit; "
            "the header is corrupt"
        )
    end = _PRELUDE.size + header_len
    if size < end + 4:
        raise LogFormatError(
            f"{name}: byte {size}: the file ends inside the header ({size} of {end + 4} bytes); "
            "nothing can be recovered"
        )
    (stored_crc,) = _U32.unpack_from(buf, end)
    crc = zlib.crc32(buf[8:end])
    if crc != stored_crc:
        raise LogFormatError(
            f"{name}: byte {end}: header CRC mismatch (stored {stored_crc:#010x}, computed {crc:#010x}); "
            "the header is corrupt"
        )
    raw = bytes(buf[_PRELUDE.size : end])
    try:
        header = json.loads(raw.decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise LogFormatError(
            f"{name}: byte {_PRELUDE.size + exc.pos}: the header is not valid JSON ({exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise LogFormatError(
            f"{name}: byte {_PRELUDE.size}: the header cannot be decoded ({str(exc)[:80]})"
        ) from None
    return _check_header(header, name, version), end + 4


def _check_header(header: Any, name: str, version: int) -> dict[str, Any]:
    """Validate the fields the reader relies on (errors name the header's byte offset, 16)."""
    where = f"{name}: byte 16 (header)"
    if not isinstance(header, dict):
        raise LogFormatError(f"{where}: the header must be a JSON object, not {type(header).__name__}")
    for key in _REQUIRED_KEYS:
        if key not in header:
            raise LogFormatError(
                f"{where}: the header lacks {key!r}; the file is corrupt or not from cadence-coach"
            )
    if type(header["format_version"]) is not int or header["format_version"] != version:
        raise LogFormatError(
            f"{where}: the header says format_version {str(header['format_version'])[:20]!r} but the "
            f"file says {version}; the file is corrupt"
        )
    enc = header["encoding"]
    if not isinstance(enc, str) or enc not in ENCODINGS:
        raise LogFormatError(
            f"{where}: the header encoding {str(enc)[:20]!r} is unknown; expected 'f8' or 'i2'"
        )
    if not isinstance(header["has_gyro"], bool):
        raise LogFormatError(
            f"{where}: the header 'has_gyro' must be true or false, not {str(header['has_gyro'])[:20]!r}"
        )
    keys = ["sampling_rate_hz"]
    if enc == "i2":
        keys += ["acc_lsb_mps2"] + (["gyro_lsb_rads"] if header["has_gyro"] else [])
    for key in keys:
        if positive_rate(header.get(key)) is None:
            raise LogFormatError(
                f"{where}: the header {key!r} must be a positive number, not {str(header.get(key))[:20]!r}"
            )
        if key in MAX_LSB and float(header[key]) > MAX_LSB[key]:
            raise LogFormatError(
                f"{where}: the header {key!r} is {float(header[key]):.3g} per count; no IMU has so coarse "
                f"a step (at most {MAX_LSB[key]:g}): the header is damaged"
            )
    try:
        normalise_placement(header.get("placement"))
        normalise_side(header.get("placement_side"))
    except ValueError as exc:
        raise LogFormatError(f"{where}: the header placement is invalid: {exc}") from None
    return header


def _try_block(buf: Any, pos: int, size: int, dtype: np.dtype, copy: bool = True) -> CclogBlock | str:
    """Decode the block at ``pos``; return it, or a string saying why it is not an intact block.

    With ``copy=False`` a samples block's ``t_s`` and ``values`` are read-only views of the block's
    payload (as stored: ``values`` int16 counts for ``i2``), for a reader that copies them once.
    """
    if size - pos < BLOCK_HEADER_BYTES:
        return f"{size - pos} bytes left, too few for a block header"
    head = bytes(buf[pos : pos + BLOCK_HEADER_BYTES])
    sync, btype, _flags, _reserved, length, n, stored_crc = _BLOCK.unpack(head)
    if sync != BLOCK_SYNC:
        return f"no block sync marker (found {_hex(sync)})"
    if length > MAX_BLOCK_PAYLOAD_BYTES:
        return f"block length {length} exceeds the {MAX_BLOCK_PAYLOAD_BYTES}-byte limit"
    end = pos + BLOCK_HEADER_BYTES + length
    if end > size:
        return f"block of {length} payload bytes runs past the end of the file"
    payload = bytes(buf[pos + BLOCK_HEADER_BYTES : end])
    crc = zlib.crc32(payload, zlib.crc32(head[:16]))
    if crc != stored_crc:
        return f"block CRC mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"
    total = BLOCK_HEADER_BYTES + length
    if btype == BLOCK_SAMPLES:
        if length != n * dtype.itemsize:
            return f"SAMPLES block of {length} bytes does not hold {n} records of {dtype.itemsize} bytes"
        rec = np.frombuffer(payload, dtype=dtype)
        if not copy:
            return CclogBlock(pos, total, "samples", btype, t_s=rec["t"], values=rec["v"])
        return CclogBlock(
            pos, total, "samples", btype, t_s=rec["t"].astype(np.float64), values=rec["v"].copy()
        )
    if btype == BLOCK_GAP:
        if length < _GAP.size:
            return f"GAP block of {length} bytes is too short"
        a, b = _GAP.unpack_from(payload, 0)
        try:
            reason = payload[_GAP.size :].decode("utf-8")
        except UnicodeDecodeError:
            return "GAP block reason is not UTF-8"
        return CclogBlock(pos, total, "gap", btype, t_before_s=a, t_after_s=b, reason=reason)
    if btype == BLOCK_EVENT:
        if length < _F64.size:
            return f"EVENT block of {length} bytes is too short"
        (t,) = _F64.unpack_from(payload, 0)
        try:
            obj = json.loads(payload[_F64.size :].decode("utf-8"))
        except (ValueError, RecursionError):
            return "EVENT block does not hold valid JSON"
        return CclogBlock(pos, total, "event", btype, event_t_s=t, event=obj)
    return CclogBlock(pos, total, "unknown", btype)


def _scan(buf: Any, start: int, header: dict[str, Any], copy: bool = True) -> Iterator[CclogBlock]:
    """Yield every intact block from ``start`` on, and one ``damaged`` item per skipped stretch.

    ``copy``: as for :func:`_try_block`.
    """
    size = len(buf)
    dtype = record_dtype(header["encoding"], header["has_gyro"])
    pos = start
    while pos < size:
        got = _try_block(buf, pos, size, dtype, copy)
        if isinstance(got, CclogBlock):
            yield got
            pos += got.size
            continue
        # Damaged: look for the next intact block after the sync markers that follow.
        nxt = pos + 1
        found: CclogBlock | None = None
        while True:
            nxt = buf.find(BLOCK_SYNC, nxt)
            if nxt < 0:
                break
            cand = _try_block(buf, nxt, size, dtype, copy)
            if isinstance(cand, CclogBlock):
                found = cand
                break
            nxt += 1
        if found is None:
            yield CclogBlock(pos, size - pos, "damaged", reason=got, at_end=True)
            return
        yield CclogBlock(pos, found.offset - pos, "damaged", reason=got)
        yield found
        pos = found.offset + found.size


def _sample_arrays(header: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Allocate the time, accelerometer and (when the log has one) gyroscope arrays of ``n`` samples."""
    gyro = np.empty((n, 3)) if header["has_gyro"] else None
    return np.empty(n), np.empty((n, 3)), gyro


def _values_into(header: dict[str, Any], v: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None) -> None:
    """Write records' values ``v`` (last axis: ax, ay, az[, gx, gy, gz]) into ``acc``, ``gyro`` in SI units.

    ``i2`` logs store counts: each becomes the float64 count times its LSB; ``f4`` logs store SI
    values, copied as they are.
    """
    if header["encoding"] == "i2":
        np.multiply(v[..., :3], float(header["acc_lsb_mps2"]), out=acc, dtype=np.float64)
        if gyro is not None:
            np.multiply(v[..., 3:6], float(header["gyro_lsb_rads"]), out=gyro, dtype=np.float64)
    else:
        acc[...] = v[..., :3]
        if gyro is not None:
            gyro[...] = v[..., 3:6]


def _read_intact(
    buf: Any, start: int, header: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[CclogBlock]] | None:
    """Read a file whose blocks are all intact and whose sample times all increase, in bulk.

    The usual file: every block from ``start`` to the end passes :func:`_try_block`'s checks (sync
    marker, length, CRC, a SAMPLES payload of ``n`` whole records) and the sample times, block
    after block, are finite and strictly increasing. :func:`read_cclog`'s block-by-block loop
    would then keep every samples block whole; this builds the same arrays with a few numpy calls
    per run of equal, adjacent samples blocks (a file written at a steady rate is one or two runs),
    read straight from the file's buffer, and returns the other blocks (gap, event, unknown),
    decoded by :func:`_try_block`, in file order. Anything else (a damaged or cut block, times
    that do not increase) returns None, and the reader takes its block-by-block path, which says
    what is wrong.

    Returns
    -------
    tuple or None
        ``(t_s, acc_mps2, gyro_rads, others)`` as :func:`read_cclog` builds them, or None.
    """
    size = len(buf)
    has_gyro: bool = header["has_gyro"]
    dtype = record_dtype(header["encoding"], has_gyro)
    itemsize = dtype.itemsize
    view = memoryview(buf)
    unpack = _BLOCK.unpack_from
    crc32 = zlib.crc32
    runs: list[list[int]] = []  # [payload offset of the first block, records per block, blocks]
    others: list[CclogBlock] = []
    try:
        pos = start
        last = [-1, 0, 0]
        while pos < size:
            if size - pos < BLOCK_HEADER_BYTES:
                return None
            sync, btype, _flags, _reserved, length, n, stored_crc = unpack(buf, pos)
            end = pos + BLOCK_HEADER_BYTES + length
            if sync != BLOCK_SYNC or length > MAX_BLOCK_PAYLOAD_BYTES or end > size:
                return None
            if btype == BLOCK_SAMPLES:
                if length != n * itemsize:
                    return None
                if crc32(view[pos + BLOCK_HEADER_BYTES : end], crc32(view[pos : pos + 16])) != stored_crc:
                    return None
                if n:
                    first, per, count = last
                    if n == per and pos == first + count * (BLOCK_HEADER_BYTES + length) - BLOCK_HEADER_BYTES:
                        last[2] += 1
                    else:
                        last = [pos + BLOCK_HEADER_BYTES, n, 1]
                        runs.append(last)
            else:
                got = _try_block(buf, pos, size, dtype)
                if not isinstance(got, CclogBlock):
                    return None
                others.append(got)
            pos = end
    finally:
        view.release()
    t_s, acc, gyro = _sample_arrays(header, sum(per * count for _, per, count in runs))
    i = 0
    for first, per, count in runs:
        j = i + per * count
        # the run's records as a (blocks, records) array over the file's buffer
        rec = np.ndarray(
            (count, per),
            dtype=dtype,
            buffer=buf,
            offset=first,
            strides=(BLOCK_HEADER_BYTES + per * itemsize, itemsize),
        )
        t_s[i:j].reshape(count, per)[...] = rec["t"]
        _values_into(
            header,
            rec["v"],
            acc[i:j].reshape(count, per, 3),
            None if gyro is None else gyro[i:j].reshape(count, per, 3),
        )
        del rec  # a view of the file's buffer: the caller closes it
        i = j
    with np.errstate(all="ignore"):
        if not (np.isfinite(t_s).all() and (np.diff(t_s) > 0).all()):
            return None
    return t_s, acc, gyro, others


def read_cclog_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the header of a ``.cclog`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    dict
        The header JSON object.

    Raises
    ------
    LogFormatError
        Missing or empty file, wrong magic, unknown version, corrupt header.
    """
    p = Path(path)
    buf, closer = _open_bytes(p)
    try:
        return _parse_header(buf, str(path))[0]
    finally:
        closer()


def iter_cclog_blocks(path: str | os.PathLike[str]) -> Iterator[CclogBlock]:
    """Yield the blocks of a ``.cclog`` file in file order, with their byte offsets.

    Damaged stretches are yielded as ``kind == "damaged"`` items (``at_end`` tells a cut tail from a
    corrupt stretch followed by intact blocks); no warning is emitted here.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Yields
    ------
    CclogBlock
        One per block or damaged stretch.

    Raises
    ------
    LogFormatError
        When the header cannot be read (see ``read_cclog_header``).
    """
    p = Path(path)
    buf, closer = _open_bytes(p)
    try:
        header, start = _parse_header(buf, str(path))
        yield from _scan(buf, start, header)
    finally:
        closer()


def read_cclog(path: str | os.PathLike[str]) -> Recording:
    """Read a ``.cclog`` file into a ``Recording`` (i2 counts converted to SI units).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Recording
        ``meta`` is the header plus the keys ``events`` (``[{"t_s", "event"}]``), ``gap_blocks``
        (``[{"t_before_s", "t_after_s", "reason"}]``) and, when something was skipped, ``recovery``.
        ``gaps`` holds the GAP blocks, the stretches lost to corruption, and any other step in time
        longer than 3 median sample intervals.

    Raises
    ------
    LogFormatError
        Missing or empty file, wrong magic, version newer than this software, corrupt header.

    Warns
    -----
    LogTruncatedWarning
        The file ends in an incomplete or corrupt block (the bytes cut and their offset are named).
    LogCorruptWarning
        A corrupt stretch was skipped in the middle; a gap is flagged.
    DataGapWarning
        For each gap.
    BadSampleWarning
        Once, when values are NaN or infinite.
    """
    p = Path(path)
    name = str(path)
    buf, closer = _open_bytes(p)
    try:
        header, start = _parse_header(buf, name)
        ts: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        gap_list: list[tuple[float, float, str]] = []
        gap_blocks: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        corrupt: list[list[Any]] = []
        recovery: dict[str, Any] = {}
        n_unknown = 0
        last_t = -math.inf
        lost_since: int | None = None  # byte offset of the first damage since the last good samples
        intact = _read_intact(buf, start, header)
        for blk in _scan(buf, start, header, copy=False) if intact is None else intact[3]:
            if blk.kind == "samples":
                assert blk.t_s is not None
                assert blk.values is not None
                t = blk.t_s
                if t.size == 0:
                    continue
                with np.errstate(all="ignore"):
                    ok = bool(np.isfinite(t).all() and (np.diff(t) > 0).all() and t[0] > last_t)
                if not ok:
                    corrupt.append([blk.offset, blk.size, "sample times not increasing"])
                    warnings.warn(
                        f"{name}: block at byte {blk.offset} ({blk.size} bytes) holds sample times that "
                        f"do not increase after t={last_t:.3f} s; skipped",
                        LogCorruptWarning,
                        stacklevel=2,
                    )
                    continue
                if lost_since is not None and ts:
                    gap_list.append((last_t, float(t[0]), f"corrupt data from byte {lost_since}"))
                lost_since = None
                ts.append(t)
                vs.append(blk.values)
                last_t = float(t[-1])
            elif blk.kind == "gap":
                a, b = blk.t_before_s, blk.t_after_s
                assert a is not None
                assert b is not None
                if not (math.isfinite(a) and math.isfinite(b) and b > a):
                    corrupt.append([blk.offset, blk.size, "GAP block with invalid times"])
                    continue
                gap_blocks.append({"t_before_s": a, "t_after_s": b, "reason": blk.reason})
                gap_list.append((a, b, f"GAP block at byte {blk.offset}, reason {blk.reason!r:.60}"))
            elif blk.kind == "event":
                events.append({"t_s": blk.event_t_s, "event": blk.event})
            elif blk.kind == "unknown":
                n_unknown += 1
            elif blk.at_end:
                recovery["truncated_at_byte"] = blk.offset
                recovery["bytes_cut"] = blk.size
                n_kept = sum(x.shape[0] for x in ts)
                warnings.warn(
                    f"{name}: {blk.size} bytes cut at byte offset {blk.offset} ({blk.reason}); "
                    f"the {n_kept} samples of the intact blocks before it are kept",
                    LogTruncatedWarning,
                    stacklevel=2,
                )
            else:
                corrupt.append([blk.offset, blk.size, blk.reason])
                warnings.warn(
                    f"{name}: {blk.size} corrupt bytes at byte offset {blk.offset} ({blk.reason}) skipped; "
                    f"resynchronised at byte {blk.offset + blk.size}; a gap is flagged",
                    LogCorruptWarning,
                    stacklevel=2,
                )
                lost_since = blk.offset if lost_since is None else lost_since
    finally:
        closer()

    if intact is not None:  # every block intact: the arrays are built already
        t_s, acc, gyro = intact[:3]
    else:
        # each block's views of its payload are copied once, straight into the output arrays
        t_s, acc, gyro = _sample_arrays(header, sum(x.shape[0] for x in ts))
        i = 0
        for t, v in zip(ts, vs, strict=True):
            j = i + t.shape[0]
            t_s[i:j] = t
            _values_into(header, v, acc[i:j], None if gyro is None else gyro[i:j])
            i = j

    bad = bad_sample_rows(acc, gyro)
    if bad.size:
        warn_bad_samples(name, int(bad.size), f"t={t_s[int(bad[0])]:.3f} s", stacklevel=2)
    for i in time_gaps(t_s):
        a, b = float(t_s[i]), float(t_s[i + 1])
        if not any(ga < b and gb > a for ga, gb, _ in gap_list):
            gap_list.append((a, b, "step in the sample times"))
    gap_list.sort(key=lambda g: g[0])
    if gap_list:
        warn_gaps(name, gap_list, stacklevel=2)

    if corrupt:
        recovery["corrupt_regions"] = corrupt
    if n_unknown:
        recovery["unknown_blocks_skipped"] = n_unknown
    meta = dict(header)
    meta["events"] = events
    meta["gap_blocks"] = gap_blocks
    if recovery:
        meta["recovery"] = recovery
    return Recording(
        path=name,
        t_s=t_s,
        acc_mps2=acc,
        gyro_rads=gyro,
        sampling_rate_hz=float(header["sampling_rate_hz"]),
        placement=normalise_placement(header.get("placement")),
        placement_side=normalise_side(header.get("placement_side")),
        meta=meta,
        gaps=[(a, b) for a, b, _ in gap_list],
    )


# --------------------------------------------------------------------------------------------------
# Recording -> .cclog
# --------------------------------------------------------------------------------------------------


def header_from_recording(rec: Recording) -> dict[str, Any]:
    """Build the ``f8`` header for writing a recording as ``.cclog``.

    A recording read from a ``.cclog`` keeps its header (chip, ranges, config, start time...).  One
    read from a CSV whose sidecar came from a ``.cclog`` gets that header back (``cclog_header``);
    any other sidecar is stored whole under ``csv_sidecar``, with ``chip`` taken from its ``sensor``.
    ``sampling_rate_hz``, ``placement``, ``placement_side`` and ``has_gyro`` always come from the
    recording.

    Parameters
    ----------
    rec : Recording
        The recording.

    Returns
    -------
    dict
        A header for ``CclogWriter(..., encoding="f8")``.
    """
    meta = rec.meta or {}
    if is_cclog_header(meta):
        base = {k: v for k, v in meta.items() if k not in CCLOG_READER_KEYS}
    elif is_cclog_header(meta.get("cclog_header")):
        base = {k: v for k, v in meta["cclog_header"].items() if k not in CCLOG_READER_KEYS}
        base["csv_sidecar"] = {k: v for k, v in meta.items() if k != "cclog_header"}
    else:
        sensor = meta.get("sensor")
        base = {"chip": sensor if isinstance(sensor, str) else None, "start_time_utc": None}
        if meta:
            base["csv_sidecar"] = dict(meta)
    for key in ("encoding", "format_version", "acc_lsb_mps2", "gyro_lsb_rads"):
        base.pop(key, None)
    base.update(
        sampling_rate_hz=float(rec.sampling_rate_hz),
        placement=rec.placement,
        placement_side=rec.placement_side,
        has_gyro=rec.has_gyro,
    )
    return base


def _markers(rec: Recording) -> list[tuple[float, int, Any]]:
    """Return the GAP and EVENT blocks to write, as ``(time, order, item)``."""
    meta = rec.meta or {}
    src = meta if is_cclog_header(meta) else meta.get("cclog_header")
    src = src if isinstance(src, dict) else {}
    reasons: dict[tuple[float, float], str] = {}
    for g in src.get("gap_blocks") or []:
        if isinstance(g, dict) and isinstance(g.get("reason"), str):
            try:
                reasons[(float(g["t_before_s"]), float(g["t_after_s"]))] = g["reason"]
            except (KeyError, TypeError, ValueError):
                continue
    out: list[tuple[float, int, Any]] = []
    for a, b in rec.gaps:
        if math.isfinite(a) and math.isfinite(b) and b > a:
            reason = reasons.get((a, b), "time_gap").encode("utf-8")[:MAX_GAP_REASON_BYTES]
            out.append((a, 0, ("gap", a, b, reason.decode("utf-8", errors="ignore"))))
    for e in src.get("events") or []:
        if isinstance(e, dict) and isinstance(e.get("t_s"), int | float) and math.isfinite(e["t_s"]):
            out.append((float(e["t_s"]), 1, ("event", float(e["t_s"]), e.get("event"))))
    out.sort(key=lambda m: (m[0], m[1]))
    return out


def write_cclog(rec: Recording, path: str | os.PathLike[str]) -> None:
    """Write a recording as a new ``.cclog`` file (encoding ``f8``: lossless for any float).

    Gaps become GAP blocks (with their original reason when the recording came from a ``.cclog``)
    and the events of a ``.cclog`` recording become EVENT blocks again, each placed after the last
    sample at or before its time.

    Parameters
    ----------
    rec : Recording
        The recording.
    path : str or os.PathLike
        File to create (must not exist).

    Raises
    ------
    LogExistsError
        When ``path`` exists.
    LogWriteError
        When the disk refuses (the partial file is removed).
    ValueError
        When the recording is inconsistent.
    """
    p = Path(path)
    check_recording(rec)
    check_new_file(p)
    values = np.asarray(rec.acc_mps2, dtype=np.float64)
    if rec.gyro_rads is not None:
        values = np.hstack([values, np.asarray(rec.gyro_rads, dtype=np.float64)])
    t = np.asarray(rec.t_s, dtype=np.float64)
    # one-second blocks, as the device's flushes make them: a damaged block loses 1 s, not 64 KiB
    writer = CclogWriter(p, header_from_recording(rec), encoding="f8", block_s=1.0)
    try:
        with writer:
            done = 0
            for when, _, item in _markers(rec):
                upto = int(np.searchsorted(t, when, side="right"))
                if upto > done:
                    writer.append(t[done:upto], values[done:upto])
                    done = upto
                if item[0] == "gap":
                    writer.append_gap(item[1], item[2], item[3])
                else:
                    writer.append_event(item[1], item[2])
            if done < t.shape[0]:
                writer.append(t[done:], values[done:])
    except BaseException:
        p.unlink(missing_ok=True)
        raise
