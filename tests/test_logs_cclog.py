"""Tests of the native .cclog writer and reader (firmware_py.logs.cclog)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from firmware_py.exc import (
    BadSampleWarning,
    CadenceWarning,
    DataGapWarning,
    LogCorruptWarning,
    LogExistsError,
    LogFormatError,
    LogNotFoundError,
    LogTruncatedWarning,
    LogWriteError,
)
from firmware_py.logs.cclog import (
    MAX_BLOCK_PAYLOAD_BYTES,
    CclogWriter,
    iter_cclog_blocks,
    read_cclog,
    read_cclog_header,
)

ACC_LSB = 9.80665 / 2048.0  # ±16 g
GYRO_LSB = math.radians(2000.0 / 32768.0)  # ±2000 dps
HEADER = {
    "chip": "LSM6DSOX",
    "accel_range_g": 16,
    "gyro_range_dps": 2000,
    "sampling_rate_hz": 208.0,
    "placement": "waist",
    "placement_side": "left",
    "config": {"cue_band_spm": [170, 180], "terrain": "auto"},
    "software_version": "0.1.0",
    "start_time_utc": "2025-06-01T07:30:00.000Z",
}


def i2_header(has_gyro: bool = True) -> dict:
    return {**HEADER, "has_gyro": has_gyro, "acc_lsb_mps2": ACC_LSB, "gyro_lsb_rads": GYRO_LSB}


def chunks(n_total: int, n_values: int, *, counts: bool = False, seed: int = 0, chunk: int = 7):
    """Split a synthetic signal into appends of ``chunk`` samples."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_total) / 208.0 + 10.0
    if counts:
        v = rng.integers(-32768, 32768, (n_total, n_values), dtype=np.int16)
    else:
        v = rng.normal(0, 9.81, (n_total, n_values))
        v[0, 0] = -0.0
        v[1, : min(3, n_values)] = [5e-324, 1.7976931348623157e308, -1e-300]
    return [(t[i : i + chunk], v[i : i + chunk]) for i in range(0, n_total, chunk)], t, v


def write_log(path: Path, parts, header=None, encoding="f8", flush_every=1) -> None:
    with CclogWriter(path, header or {**HEADER}, encoding=encoding) as w:
        for k, (t, v) in enumerate(parts):
            w.append(t, v)
            if (k + 1) % flush_every == 0:
                w.flush(fsync=False)


def read_quiet(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CadenceWarning)
        return read_cclog(path)


def read_recorded(path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rec = read_cclog(path)
    return rec, record


def bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def plain_python_read(path: Path):
    """Read a .cclog with nothing but struct/zlib/json, following docs/cclog-format.md."""
    data = path.read_bytes()
    assert data[:8] == b"\x89CCLOG\r\n"
    version, _flags, header_len = struct.unpack_from("<HHI", data, 8)
    assert version == 1
    header = json.loads(data[16 : 16 + header_len])
    assert zlib.crc32(data[8 : 16 + header_len]) == struct.unpack_from("<I", data, 16 + header_len)[0]
    n_values = 6 if header["has_gyro"] else 3
    record = "<d" + ("d" if header["encoding"] == "f8" else "h") * n_values
    samples, gaps, events = [], [], []
    pos = 20 + header_len
    while pos < len(data):
        sync, btype, _f, _r, length, n, crc = struct.unpack_from("<4sBBHIII", data, pos)
        assert sync == b"\xa5ZCB"
        payload = data[pos + 20 : pos + 20 + length]
        assert zlib.crc32(data[pos : pos + 16] + payload) == crc
        if btype == 1:
            rows = list(struct.iter_unpack(record, payload))
            assert len(rows) == n
            samples += rows
        elif btype == 2:
            a, b = struct.unpack_from("<dd", payload)
            gaps.append((a, b, payload[16:].decode()))
        elif btype == 3:
            events.append((struct.unpack_from("<d", payload)[0], json.loads(payload[8:])))
        pos += 20 + length
    return header, samples, gaps, events


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("has_gyro", [True, False])
def test_f8_round_trip_is_bit_exact(tmp_path, has_gyro):
    parts, t, v = chunks(500, 6 if has_gyro else 3)
    path = tmp_path / "run.cclog"
    write_log(path, parts, header={**HEADER, "has_gyro": has_gyro}, flush_every=10)
    rec = read_cclog(path)
    assert np.array_equal(bits(rec.t_s), bits(t))
    assert np.array_equal(bits(rec.acc_mps2), bits(v[:, :3]))
    if has_gyro:
        assert np.array_equal(bits(rec.gyro_rads), bits(v[:, 3:]))
    else:
        assert rec.gyro_rads is None
    assert rec.sampling_rate_hz == 208.0
    assert rec.placement == "lower_back"
    assert rec.placement_side == "left"
    assert rec.gaps == []
    for key, value in HEADER.items():
        if key != "placement":
            assert rec.meta[key] == value
    assert rec.meta["format_version"] == 1
    assert rec.meta["encoding"] == "f8"
    assert rec.meta["has_gyro"] is has_gyro
    assert rec.meta["events"] == []
    assert "recovery" not in rec.meta


@pytest.mark.parametrize("has_gyro", [True, False])
def test_i2_counts_are_converted_to_si(tmp_path, has_gyro):
    parts, t, counts = chunks(300, 6 if has_gyro else 3, counts=True)
    path = tmp_path / "raw.cclog"
    write_log(path, parts, header=i2_header(has_gyro), encoding="i2")
    rec = read_cclog(path)
    assert np.array_equal(bits(rec.t_s), bits(t))
    assert np.array_equal(rec.acc_mps2, counts[:, :3].astype(np.float64) * ACC_LSB)
    if has_gyro:
        assert np.array_equal(rec.gyro_rads, counts[:, 3:].astype(np.float64) * GYRO_LSB)
    else:
        assert rec.gyro_rads is None
    assert rec.meta["acc_lsb_mps2"] == ACC_LSB
    # 8 bytes of time + 2 bytes per count: a compact raw log.
    assert path.stat().st_size < 300 * (8 + 2 * (6 if has_gyro else 3)) + 2000


def test_plain_python_reader_from_the_docs_agrees(tmp_path):
    parts, t, counts = chunks(100, 6, counts=True)
    path = tmp_path / "doc.cclog"
    with CclogWriter(path, i2_header(), encoding="i2") as w:
        w.append(*parts[0])
        w.append_gap(float(parts[0][0][-1]), float(parts[1][0][0]), "fifo_overflow")
        w.append_event(float(parts[1][0][0]), {"type": "cue", "text": "shorter steps"})
        for p in parts[1:]:
            w.append(*p)
    header, samples, gaps, events = plain_python_read(path)
    assert header["encoding"] == "i2"
    assert [s[0] for s in samples] == t.tolist()
    assert [list(s[1:]) for s in samples] == counts.tolist()
    assert gaps == [(t[6], t[7], "fifo_overflow")]
    assert events == [(t[7], {"type": "cue", "text": "shorter steps"})]


def test_plain_python_example_in_the_docs_runs(tmp_path):
    doc = Path(__file__).resolve().parents[1] / "docs" / "cclog-format.md"
    blocks = [b.split("```", 1)[0] for b in doc.read_text().split("```python\n")[1:]]
    (code,) = [b for b in blocks if "def read_cclog_plain" in b]
    namespace: dict = {}
    exec(code, namespace)
    parts, t, v = chunks(50, 3)
    path = tmp_path / "doc.cclog"
    with CclogWriter(path, {**HEADER, "has_gyro": False}) as w:
        w.append(*parts[0])
        w.append_gap(float(t[6]), float(t[7]), "i2c_unplugged")
        for p in parts[1:]:
            w.append(*p)
    header, samples, gaps, events = namespace["read_cclog_plain"](path)
    assert header == read_cclog_header(path)
    assert np.array_equal(np.array(samples), np.column_stack([t, v]))
    assert gaps == [(t[6], t[7], "i2c_unplugged")]
    assert events == []


def test_header_defaults(tmp_path):
    path = tmp_path / "d.cclog"
    with CclogWriter(path, {"sampling_rate_hz": 100}) as w:
        w.append([0.0, 0.01], np.zeros((2, 6)))
    header = read_cclog_header(path)
    for key in ("format_version", "chip", "accel_range_g", "gyro_range_dps", "sampling_rate_hz", "placement"):
        assert key in header
    for key in ("placement_side", "config", "software_version", "start_time_utc", "encoding", "has_gyro"):
        assert key in header
    assert header["has_gyro"] is True
    assert header["config"] == {}
    when = dt.datetime.fromisoformat(header["start_time_utc"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60


def test_gaps_and_events_round_trip(tmp_path):
    parts, t, _ = chunks(70, 6)
    path = tmp_path / "ge.cclog"
    with CclogWriter(path, {**HEADER}) as w:
        w.append(*parts[0])
        w.append_gap(float(t[6]), float(t[6]) + 2.0, "i2c_unplugged")
        w.append_event(float(t[6]) + 2.0, {"type": "flag", "what": "sensor back"})
        for p in parts[1:]:
            w.append(p[0] + 2.0, p[1])
    with pytest.warns(DataGapWarning) as record:
        rec = read_cclog(path)
    assert rec.n_samples == 70
    assert rec.gaps == [(float(t[6]), float(t[6]) + 2.0)]
    assert "i2c_unplugged" in str(record[0].message)
    assert rec.meta["gap_blocks"] == [
        {"t_before_s": t[6], "t_after_s": t[6] + 2.0, "reason": "i2c_unplugged"}
    ]
    assert rec.meta["events"] == [{"t_s": t[6] + 2.0, "event": {"type": "flag", "what": "sensor back"}}]


def test_step_in_time_without_gap_block_is_flagged(tmp_path):
    parts, t, _ = chunks(70, 6)
    path = tmp_path / "jump.cclog"
    write_log(path, [parts[0], *[(p[0] + 5.0, p[1]) for p in parts[1:]]])
    with pytest.warns(DataGapWarning):
        rec = read_cclog(path)
    assert rec.gaps == [(float(t[6]), float(t[7]) + 5.0)]


def test_nan_values_are_kept_and_warned(tmp_path):
    t = np.arange(10) / 100.0
    v = np.ones((10, 6))
    v[3, 4] = np.nan
    path = tmp_path / "nan.cclog"
    write_log(path, [(t, v)])
    with pytest.warns(BadSampleWarning, match="1 sample"):
        rec = read_cclog(path)
    assert np.isnan(rec.gyro_rads[3, 1])


# ------------------------------------------------------------------------------------------ writer


def test_writer_never_overwrites(tmp_path):
    path = tmp_path / "keep.cclog"
    path.write_bytes(b"precious")
    with pytest.raises(LogExistsError, match=r"keep\.cclog: file exists") as info:
        CclogWriter(path, {**HEADER})
    assert isinstance(info.value, LogWriteError)
    assert isinstance(info.value, FileExistsError)
    assert path.read_bytes() == b"precious"


def test_writer_cannot_create_in_missing_folder(tmp_path):
    with pytest.raises(LogWriteError, match="cannot create"):
        CclogWriter(tmp_path / "no" / "such" / "dir.cclog", {**HEADER})


def test_buffering_flush_and_bytes_written(tmp_path):
    path = tmp_path / "buf.cclog"
    w = CclogWriter(path, {**HEADER})
    header_size = path.stat().st_size
    assert w.bytes_written == header_size > 0
    w.append(np.arange(10) / 208.0, np.zeros((10, 6)))
    assert path.stat().st_size == header_size  # still buffered
    w.flush(fsync=False)
    assert w.bytes_written == path.stat().st_size == header_size + 20 + 10 * 56
    # A reader sees the flushed samples while the recorder keeps going.
    assert read_cclog(path).n_samples == 10
    w.append(np.arange(10, 15) / 208.0, np.zeros((5, 6)))
    w.close()
    w.close()  # idempotent
    assert w.closed
    assert read_cclog(path).n_samples == 15
    assert w.bytes_written == path.stat().st_size
    with pytest.raises(ValueError, match="closed"):
        w.append([1.0], np.zeros((1, 6)))


def test_appends_are_coalesced_into_bounded_blocks(tmp_path):
    path = tmp_path / "co.cclog"
    parts, _, _ = chunks(5000, 6, chunk=5)
    write_log(path, parts, flush_every=10**9)
    blocks = list(iter_cclog_blocks(path))
    assert all(b.kind == "samples" for b in blocks)
    assert sum(b.t_s.size for b in blocks) == 5000
    assert len(blocks) < 10
    assert max(b.size for b in blocks) <= 20 + 65536


@pytest.mark.parametrize(
    ("t", "values", "encoding", "fragment"),
    [
        ([0.0, 1.0], np.zeros((2, 3)), "f8", r"shape \(2, 6\)"),
        ([[0.0, 1.0]], np.zeros((2, 6)), "f8", "1-D"),
        ([0.0, 0.0], np.zeros((2, 6)), "f8", "strictly increasing"),
        ([0.0, np.nan], np.zeros((2, 6)), "f8", "not finite"),
        ([0.0, 1.0], np.zeros((2, 6)), "i2", "integer counts"),
        ([0.0, 1.0], np.full((2, 6), 40000), "i2", "int16"),
        ([0.0, 1.0], np.array([["a"] * 6] * 2), "f8", "real numbers"),
    ],
)
def test_append_rejects_bad_input(tmp_path, t, values, encoding, fragment):
    header = i2_header() if encoding == "i2" else {**HEADER}
    with (
        CclogWriter(tmp_path / "x.cclog", header, encoding=encoding) as w,
        pytest.raises(ValueError, match=fragment),
    ):
        w.append(t, values)


def test_append_rejects_time_going_back_across_appends(tmp_path):
    with CclogWriter(tmp_path / "x.cclog", {**HEADER}) as w:
        w.append([1.0, 2.0], np.zeros((2, 6)))
        with pytest.raises(ValueError, match="not later than the last sample"):
            w.append([2.0], np.zeros((1, 6)))


@pytest.mark.parametrize(
    ("header", "encoding", "fragment"),
    [
        ({"chip": "x"}, "f8", "sampling_rate_hz"),
        ({"sampling_rate_hz": -1}, "f8", "sampling_rate_hz"),
        ({"sampling_rate_hz": 100}, "i2", "acc_lsb_mps2"),
        ({"sampling_rate_hz": 100, "acc_lsb_mps2": 0.01}, "i2", "gyro_lsb_rads"),
        ({"sampling_rate_hz": 100, "placement": "wrist"}, "f8", "unknown placement"),
        ({"sampling_rate_hz": 100, "has_gyro": "yes"}, "f8", "has_gyro"),
        ({"sampling_rate_hz": 100, "encoding": "i2"}, "f8", "encoding"),
        ({"sampling_rate_hz": 100, "blob": object()}, "f8", "JSON"),
        ({"sampling_rate_hz": 100}, "f4", "encoding"),
    ],
)
def test_writer_rejects_bad_header(tmp_path, header, encoding, fragment):
    path = tmp_path / "h.cclog"
    with pytest.raises(ValueError, match=fragment):
        CclogWriter(path, header, encoding=encoding)
    assert not path.exists()


def test_gap_and_event_validation(tmp_path):
    with CclogWriter(tmp_path / "x.cclog", {**HEADER}) as w:
        with pytest.raises(ValueError, match="t_after_s > t_before_s"):
            w.append_gap(2.0, 1.0, "fifo_overflow")
        with pytest.raises(ValueError, match="bytes"):
            w.append_gap(1.0, 2.0, "x" * 1000)
        with pytest.raises(ValueError, match="JSON"):
            w.append_event(1.0, {"bad": object()})
        with pytest.raises(ValueError, match="finite"):
            w.append_event(math.nan, {})


# ------------------------------------------------------------------------------------------ recovery


def block_layout(path: Path):
    blocks = list(iter_cclog_blocks(path))
    assert all(b.kind != "damaged" for b in blocks)
    return blocks


@pytest.mark.parametrize("encoding", ["f8", "i2"])
def test_truncation_at_every_byte_of_the_last_two_blocks(tmp_path, encoding):
    counts = encoding == "i2"
    parts, t, _ = chunks(30, 6, counts=counts, chunk=5)
    path = tmp_path / "full.cclog"
    write_log(path, parts, header=i2_header() if counts else {**HEADER}, encoding=encoding)
    data = path.read_bytes()
    blocks = block_layout(path)
    assert len(blocks) == 6
    first_cut = blocks[-2].offset
    cut_path = tmp_path / "cut.cclog"
    for cut in range(first_cut, len(data) + 1):
        cut_path.write_bytes(data[:cut])
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            rec = read_cclog(cut_path)
        intact = [b for b in blocks if b.offset + b.size <= cut]
        n_expected = sum(b.t_s.size for b in intact)
        assert rec.n_samples == n_expected, cut
        assert np.array_equal(rec.t_s, t[:n_expected])
        truncated = [w for w in record if issubclass(w.category, LogTruncatedWarning)]
        at_boundary = cut in (first_cut, blocks[-1].offset, len(data))
        assert [w.category for w in record] == ([] if at_boundary else [LogTruncatedWarning]), cut
        if not at_boundary:
            boundary = intact[-1].offset + intact[-1].size
            assert f"{cut - boundary} bytes cut at byte offset {boundary}" in str(truncated[0].message)
            assert rec.meta["recovery"]["truncated_at_byte"] == boundary


def test_garbage_last_block_is_dropped(tmp_path):
    parts, t, _ = chunks(30, 6, chunk=10)
    path = tmp_path / "g.cclog"
    write_log(path, parts)
    blocks = block_layout(path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    data[blocks[-1].offset :] = rng.integers(0, 256, len(data) - blocks[-1].offset, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    with pytest.warns(LogTruncatedWarning, match=f"bytes cut at byte offset {blocks[-1].offset}"):
        rec = read_cclog(path)
    assert np.array_equal(rec.t_s, t[:20])


@pytest.mark.parametrize("where", ["payload", "crc", "length", "sync", "type"])
def test_corrupt_middle_block_is_skipped_and_reader_resynchronises(tmp_path, where):
    parts, t, v = chunks(50, 6, chunk=10)
    path = tmp_path / "mid.cclog"
    write_log(path, parts)
    blocks = block_layout(path)
    bad = blocks[2]
    data = bytearray(path.read_bytes())
    offset = {
        "payload": bad.offset + 20 + 100,
        "crc": bad.offset + 16,
        "sync": bad.offset,
        "type": bad.offset + 4,
    }
    if where == "length":
        data[bad.offset + 8 : bad.offset + 12] = struct.pack("<I", 0xFFFFFFFF)
    else:
        data[offset[where]] ^= 0x55
    path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        rec = read_cclog(path)
    corrupt = [w for w in record if w.category is LogCorruptWarning]
    assert len(corrupt) == 1
    assert f"{bad.size} corrupt bytes at byte offset {bad.offset}" in str(corrupt[0].message)
    assert not any(w.category is LogTruncatedWarning for w in record)
    keep = np.r_[0:20, 30:50]
    assert np.array_equal(rec.t_s, t[keep])
    assert np.array_equal(rec.acc_mps2, v[keep, :3])
    assert rec.gaps == [(float(t[19]), float(t[30]))]
    assert rec.meta["recovery"]["corrupt_regions"][0][:2] == [bad.offset, bad.size]


def test_every_single_byte_flip_is_survived(tmp_path):
    parts, t, _ = chunks(24, 6, chunk=6)
    path = tmp_path / "flip.cclog"
    write_log(path, parts)
    data = path.read_bytes()
    blocks = block_layout(path)
    first_block = blocks[0].offset
    flip_path = tmp_path / "flipped.cclog"
    for pos in range(len(data)):
        mutated = bytearray(data)
        mutated[pos] ^= 0xFF
        flip_path.write_bytes(bytes(mutated))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CadenceWarning)
            if pos < first_block:
                with pytest.raises(LogFormatError):
                    read_cclog(flip_path)
                continue
            rec = read_cclog(flip_path)
        # Exactly the damaged block (6 samples) is lost, everything else is kept bit for bit.
        assert rec.n_samples == 18, pos
        assert np.isin(rec.t_s, t).all()


def test_huge_length_field_does_not_allocate(tmp_path):
    parts, _, _ = chunks(40, 6, chunk=10)
    path = tmp_path / "huge.cclog"
    write_log(path, parts)
    blocks = block_layout(path)
    for length, block in [(0xFFFFFFFF, blocks[1]), (MAX_BLOCK_PAYLOAD_BYTES - 20, blocks[-1])]:
        data = bytearray(path.read_bytes())
        data[block.offset + 8 : block.offset + 12] = struct.pack("<I", length)
        bad_path = tmp_path / f"huge_{length}.cclog"
        bad_path.write_bytes(bytes(data))
        tracemalloc.start()
        try:
            rec = read_quiet(bad_path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 256 * 1024, peak
        assert rec.n_samples == 30


def test_unknown_block_type_is_skipped(tmp_path):
    parts, t, _ = chunks(20, 6, chunk=10)
    path = tmp_path / "u.cclog"
    write_log(path, parts)
    data = path.read_bytes()
    blocks = block_layout(path)
    payload = b"from the future"
    head = struct.pack("<4sBBHII", b"\xa5ZCB", 42, 0, 0, len(payload), 0)
    extra = head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload
    cut = blocks[1].offset
    path.write_bytes(data[:cut] + extra + data[cut:])
    rec, record = read_recorded(path)
    assert record == []
    assert np.array_equal(rec.t_s, t)
    assert rec.meta["recovery"]["unknown_blocks_skipped"] == 1
    assert [b.kind for b in iter_cclog_blocks(path)] == ["samples", "unknown", "samples"]


def test_duplicated_block_is_skipped(tmp_path):
    parts, t, _ = chunks(30, 6, chunk=10)
    path = tmp_path / "dup.cclog"
    write_log(path, parts)
    blocks = block_layout(path)
    data = path.read_bytes()
    b = blocks[1]
    path.write_bytes(
        data[: b.offset + b.size] + data[b.offset : b.offset + b.size] + data[b.offset + b.size :]
    )
    rec, record = read_recorded(path)
    assert [w.category for w in record] == [LogCorruptWarning]
    assert f"block at byte {b.offset + b.size} ({b.size} bytes) holds sample times that do not" in str(
        record[0].message
    )
    assert np.array_equal(rec.t_s, t)
    assert rec.gaps == []


def test_iter_blocks_offsets_tile_the_file(tmp_path):
    parts, _, _ = chunks(40, 3, chunk=10)
    path = tmp_path / "it.cclog"
    with CclogWriter(path, {**HEADER, "has_gyro": False}) as w:
        for k, p in enumerate(parts):
            w.append(*p)
            w.append_event(float(p[0][-1]), {"k": k})
    blocks = list(iter_cclog_blocks(path))
    assert [b.kind for b in blocks] == ["samples", "event"] * 4
    for a, b in itertools.pairwise(blocks):
        assert a.offset + a.size == b.offset
    assert blocks[-1].offset + blocks[-1].size == path.stat().st_size
    assert blocks[0].values.shape == (10, 3)


# ------------------------------------------------------------------------------------------ bad files


def valid_file(tmp_path: Path) -> bytes:
    path = tmp_path / "valid.cclog"
    write_log(path, chunks(10, 6)[0])
    return path.read_bytes()


def test_empty_file(tmp_path):
    path = tmp_path / "empty.cclog"
    path.write_bytes(b"")
    with pytest.raises(LogFormatError) as info:
        read_cclog(path)
    msg = str(info.value)
    assert msg.startswith(
        f"{path}: byte 0: the file is empty; expected the .cclog magic 89 43 43 4c 4f 47 0d 0a"
    )


def test_csv_renamed_to_cclog(tmp_path):
    path = tmp_path / "renamed.cclog"
    path.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n")
    with pytest.raises(LogFormatError) as info:
        read_cclog(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: byte 0: expected the .cclog magic")
    assert "found 74 2c 61 78 2c 61 79 2c" in msg
    assert "CSV" in msg
    assert "\n" not in msg


def test_unknown_version(tmp_path):
    data = bytearray(valid_file(tmp_path))
    data[8:10] = struct.pack("<H", 7)
    path = tmp_path / "future.cclog"
    path.write_bytes(bytes(data))
    with pytest.raises(LogFormatError) as info:
        read_cclog(path)
    assert str(info.value) == (
        f"{path}: format version 7 is newer than this software reads (1); update cadence-coach"
    )


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d[:5], "byte 5: the file ends inside the header"),
        (
            lambda d: b"GARBAGE!" + d[8:],
            "byte 0: expected the .cclog magic 89 43 43 4c 4f 47 0d 0a, found 47 41",
        ),
        (lambda d: d[:8], "byte 8: the file ends inside the header"),
        (lambda d: d[:40], "byte 40: the file ends inside the header"),
        (lambda d: d[:8] + b"\x00\x00" + d[10:], "byte 8: format version 0 is not valid"),
        (
            lambda d: d[:12] + struct.pack("<I", 0xFFFFFFF0) + d[16:],
            "byte 12: header length 4294967280 exceeds",
        ),
        (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "header CRC mismatch"),
    ],
)
def test_broken_header(tmp_path, mutate, fragment):
    path = tmp_path / "bad.cclog"
    path.write_bytes(mutate(valid_file(tmp_path)))
    with pytest.raises(LogFormatError) as info:
        read_cclog(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (b"[1, 2]", "must be a JSON object"),
        (b"{not json", "byte 17: the header is not valid JSON"),
        (b'{"format_version": 1, "encoding": "f8", "has_gyro": true}', "lacks 'sampling_rate_hz'"),
        (
            b'{"format_version": 1, "encoding": "f4", "has_gyro": true, "sampling_rate_hz": 1}',
            "encoding 'f4'",
        ),
        (
            b'{"format_version": 2, "encoding": "f8", "has_gyro": true, "sampling_rate_hz": 1}',
            "format_version",
        ),
        (
            b'{"format_version": 1, "encoding": "i2", "has_gyro": false, "sampling_rate_hz": 1}',
            "acc_lsb_mps2",
        ),
        (b'{"format_version": 1, "encoding": "f8", "has_gyro": 1, "sampling_rate_hz": 1}', "has_gyro"),
        (b'{"format_version": 1, "encoding": "f8", "has_gyro": true, "sampling_rate_hz": 1e999}', "positive"),
        (b"[" * 100000 + b"]" * 100000, "cannot be decoded"),
    ],
    ids=["list", "not_json", "no_rate", "encoding", "version", "no_lsb", "gyro_flag", "inf_rate", "deep"],
)
def test_invalid_header_json(tmp_path, header, fragment):
    body = struct.pack("<HHI", 1, 0, len(header)) + header
    path = tmp_path / "hj.cclog"
    path.write_bytes(b"\x89CCLOG\r\n" + body + struct.pack("<I", zlib.crc32(body)))
    with pytest.raises(LogFormatError) as info:
        read_cclog(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(LogNotFoundError, match="no such file"):
        read_cclog(tmp_path / "gone.cclog")


def test_header_only_file_is_an_empty_recording(tmp_path):
    path = tmp_path / "h.cclog"
    CclogWriter(path, {**HEADER}).close()
    rec, record = read_recorded(path)
    assert record == []
    assert rec.n_samples == 0
    assert rec.acc_mps2.shape == (0, 3)
    assert rec.gyro_rads.shape == (0, 3)


def test_convert_writes_one_second_blocks_so_a_flipped_byte_costs_at_most_a_second(tmp_path):
    # write_cclog (convert) used 64 KiB blocks: 1170 float samples, 5.8 s at 200 Hz lost to one bad byte.
    from firmware_py.logs.cclog import write_cclog
    from firmware_py.logs.recording import Recording

    rate = 200.0
    n = 6000
    rng = np.random.default_rng(3)
    rec = Recording(
        path="",
        t_s=np.arange(n) / rate,
        acc_mps2=rng.normal(0, 5, (n, 3)),
        gyro_rads=rng.normal(0, 2, (n, 3)),
        sampling_rate_hz=rate,
        placement="foot",
    )
    path = tmp_path / "conv.cclog"
    write_cclog(rec, path)
    blocks = [b for b in iter_cclog_blocks(path) if b.kind == "samples"]
    assert [b.t_s.shape[0] for b in blocks] == [200] * 30
    raw = bytearray(path.read_bytes())
    mid = blocks[15]
    raw[mid.offset + mid.size // 2] ^= 0xFF
    bad = tmp_path / "bad.cclog"
    bad.write_bytes(bytes(raw))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        got = read_cclog(bad)
    assert any(issubclass(w.category, LogCorruptWarning) for w in seen)
    assert any("gap of 1.01 s at t=14.99 s" in str(w.message) for w in seen)
    assert got.n_samples == n - 200
    kept = np.concatenate([rec.t_s[: 15 * 200], rec.t_s[16 * 200 :]])
    assert (got.t_s == kept).all()


def test_writer_block_s_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="block_s must be a positive number of seconds"):
        CclogWriter(tmp_path / "x.cclog", {"sampling_rate_hz": 100.0}, block_s=0.0)
