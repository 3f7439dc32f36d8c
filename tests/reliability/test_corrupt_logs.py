"""Corrupt logs, counted: what ``tests/test_logs_fuzz.py`` does not already try.

Huge length fields (memory stays bounded, measured with tracemalloc), wrong versions, damaged header
fields, mixed files (pieces of logs and CSVs glued together, read by both readers), and the seeded
campaign of ``benchmarks.reliability`` at a small count. Only ``LogFormatError`` and cadence
warnings may escape, each with a one-line message that names the file and the byte offset (or line).
"""

from __future__ import annotations

import importlib.util
import json
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_py.logs import read_log
from firmware_py.logs.cclog import read_cclog
from firmware_py.logs.csvlog import read_csv
from tests.reliability import campaigns as C

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def originals(rel_workdir):
    return C.corrupt_originals(rel_workdir / "corrupt-orig")


@pytest.fixture(scope="module")
def scratch(rel_workdir):
    d = rel_workdir / "corrupt-hyp"
    d.mkdir(exist_ok=True)
    return d


def _check(reader, path, *, trace_memory=False):
    out = C.read_capturing(reader, path, trace_memory=trace_memory)
    problems, crashed = C.outcome_problems(out, path)
    assert not crashed, problems
    assert not problems, problems
    return out


@FUZZ
@given(
    data=st.data(),
    length=st.sampled_from([(1 << 20) + 1, 1 << 24, 1 << 31, (1 << 32) - 1])
    | st.integers((1 << 20) + 1, (1 << 32) - 1),
    fix_crc=st.booleans(),
)
def test_a_huge_block_length_is_refused_with_bounded_memory(originals, scratch, data, length, fix_crc):
    raw = bytearray(originals[data.draw(st.sampled_from(["i2", "f8_True", "f8_False"]))])
    blocks = C.plain_walk(bytes(raw))[1]
    blk = data.draw(st.sampled_from(blocks))
    struct.pack_into("<I", raw, blk.offset + 8, length)
    if fix_crc:
        C._recrc_block(raw, blk.offset)
    path = scratch / "huge.cclog"
    path.write_bytes(bytes(raw))
    out = _check(read_cclog, path, trace_memory=True)
    assert out.peak_bytes < C.MEMORY_BOUND_BYTES
    # only that block is lost: everything before it is kept
    n_before = sum(b.n for b in blocks if b.end <= blk.offset)
    assert out.rec.n_samples >= n_before


@FUZZ
@given(length=st.integers((1 << 20) + 1, (1 << 32) - 1), which=st.sampled_from(["i2", "f8_True", "f8_False"]))
def test_a_huge_header_length_is_refused_with_bounded_memory(originals, scratch, length, which):
    raw = bytearray(originals[which])
    struct.pack_into("<I", raw, 12, length)
    path = scratch / "huge-header.cclog"
    path.write_bytes(bytes(raw))
    out = _check(read_cclog, path, trace_memory=True)
    assert out.error is not None
    assert "byte 12" in str(out.error)
    assert out.peak_bytes < C.MEMORY_BOUND_BYTES


@FUZZ
@given(version=st.integers(0, 65535).filter(lambda v: v != 1), which=st.sampled_from(["i2", "f8_True"]))
def test_a_wrong_version_is_refused_in_one_line(originals, scratch, version, which):
    raw = bytearray(originals[which])
    struct.pack_into("<H", raw, 8, version)
    hlen = struct.unpack_from("<I", raw, 12)[0]
    struct.pack_into("<I", raw, 16 + hlen, zlib.crc32(bytes(raw[8 : 16 + hlen])))
    path = scratch / "version.cclog"
    path.write_bytes(bytes(raw))
    out = _check(read_cclog, path)
    assert out.error is not None
    msg = str(out.error)
    if version > 1:
        assert f"format version {version} is newer" in msg
        assert "update cadence-coach" in msg
    else:
        assert "byte 8" in msg


PIECES = ["i2", "f8_True", "f8_False", "csv_True", "csv_False"]


@FUZZ
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(PIECES), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=4
    ),
    ext=st.sampled_from([".cclog", ".csv"]),
)
def test_mixed_files_are_read_or_refused_as_documented(originals, scratch, parts, ext):
    """Slices of logs and CSVs glued together in any order, read as either format."""
    blob = b""
    for name, a, b in parts:
        src = originals[name]
        i, j = sorted((int(a * len(src)), int(b * len(src))))
        blob += src[i : j + 1]
    path = scratch / f"mixed{ext}"
    path.write_bytes(blob)
    _check(read_log, path)


@FUZZ
@given(
    key=st.sampled_from(
        ["encoding", "has_gyro", "sampling_rate_hz", "acc_lsb_mps2", "placement", "placement_side"]
    ),
    value=st.one_of(
        st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=5), st.just([])
    ),
)
def test_damaged_header_fields_never_escape_as_other_errors(originals, scratch, key, value):
    raw = originals["i2"]
    hlen = struct.unpack_from("<I", raw, 12)[0]
    header = json.loads(raw[16 : 16 + hlen])
    header[key] = value
    body = json.dumps(header).encode()
    head = struct.pack("<HHI", 1, 0, len(body)) + body
    path = scratch / "fields.cclog"
    path.write_bytes(C.MAGIC + head + struct.pack("<I", zlib.crc32(head)) + raw[20 + hlen :])
    out = C.read_capturing(read_cclog, path)
    problems, crashed = C.outcome_problems(out, path)
    assert not crashed, problems
    assert not [p for p in problems if "no byte offset" not in p], problems


def _with_header_field(raw: bytes, key: str, value) -> bytes:
    hlen = struct.unpack_from("<I", raw, 12)[0]
    header = json.loads(raw[16 : 16 + hlen])
    header[key] = value
    body = json.dumps(header).encode()
    head = struct.pack("<HHI", 1, 0, len(body)) + body
    return C.MAGIC + head + struct.pack("<I", zlib.crc32(head)) + raw[20 + hlen :]


@pytest.mark.parametrize(
    ("key", "value"), [("acc_lsb_mps2", 5.486124068793689e303), ("gyro_lsb_rads", 1e300)]
)
def test_an_absurd_count_size_is_a_damaged_header_not_an_overflow(originals, scratch, key, value):
    """Found by the fuzzer: a huge LSB made the samples overflow to inf with a numpy RuntimeWarning."""
    path = scratch / "lsb.cclog"
    path.write_bytes(_with_header_field(originals["i2"], key, value))
    out = C.read_capturing(read_cclog, path)
    problems, crashed = C.outcome_problems(out, path)
    assert not crashed, problems
    assert not [p for p in problems if "no byte offset" not in p], problems
    assert out.error is not None
    assert key in str(out.error)


def test_the_seeded_corruption_campaign(rel_workdir):
    res = C.corrupt_log_campaign(300, rel_workdir / "corrupt-campaign", seed=5)
    assert res.crashes == 0, res.failures
    assert res.failures == []
    assert res.survived == res.trials


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("encoding", None),
        ("has_gyro", "yes"),
        ("sampling_rate_hz", -1),
        ("format_version", 0),
        ("placement", "ear"),
    ],
)
def test_header_field_errors_name_their_byte_offset(originals, scratch, key, value):
    raw = originals["i2"]
    hlen = struct.unpack_from("<I", raw, 12)[0]
    header = json.loads(raw[16 : 16 + hlen])
    if value is None:
        header.pop(key)
    else:
        header[key] = value
    body = json.dumps(header).encode()
    head = struct.pack("<HHI", 1, 0, len(body)) + body
    path = scratch / "field-offset.cclog"
    path.write_bytes(C.MAGIC + head + struct.pack("<I", zlib.crc32(head)) + raw[20 + hlen :])
    out = C.read_capturing(read_cclog, path)
    assert out.error is not None
    assert C.message_problems(str(out.error), path, need_offset=True) == []


def test_csv_errors_name_the_line(scratch):
    path = scratch / "bad-line.csv"
    path.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n0.01,1,x,3,4,5,6\n")
    out = _check(read_csv, path)
    assert str(out.error).startswith(f"{path}:3:")


@pytest.mark.slow
def test_the_seeded_corruption_campaign_5000(rel_workdir):
    res = C.corrupt_log_campaign(5000, rel_workdir / "corrupt-5000", seed=1)
    assert res.crashes == 0, res.failures
    assert all("no byte offset" in f for f in res.failures), res.failures


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed (opt-in)")
def test_atheris_finds_no_crash(rel_workdir):
    res = C.atheris_campaign(20_000, rel_workdir / "atheris")
    assert res.crashes == 0, res.failures
