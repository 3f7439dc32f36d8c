"""Fuzz the CSV and .cclog readers: whatever the bytes, only LogFormatError (or a warning) may escape.

When a reader does return, the recording must be consistent (finite, strictly increasing times,
matching shapes, a positive rate), and a damaged .cclog may only lose samples, never invent them.
"""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_py.exc import CadenceWarning, LogFormatError
from firmware_py.logs.cclog import BLOCK_SYNC, MAGIC, CclogWriter, read_cclog
from firmware_py.logs.csvlog import read_csv, sidecar_path
from firmware_py.logs.recording import Recording

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def read_strictly(reader, path: Path) -> Recording | None:
    """Run a reader with every non-cadence warning turned into an error; None on LogFormatError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", CadenceWarning)
        try:
            rec = reader(path)
        except LogFormatError as exc:
            msg = str(exc)
            assert "\n" not in msg
            assert msg.startswith(str(path)) or msg.startswith(str(sidecar_path(path)))
            return None
    check_consistent(rec)
    return rec


def check_consistent(rec: Recording) -> None:
    n = rec.n_samples
    assert rec.t_s.shape == (n,)
    assert rec.acc_mps2.shape == (n, 3)
    assert rec.gyro_rads is None or rec.gyro_rads.shape == (n, 3)
    assert np.isfinite(rec.t_s).all()
    assert (np.diff(rec.t_s) > 0).all()
    assert np.isfinite(rec.sampling_rate_hz)
    assert rec.sampling_rate_hz > 0
    for a, b in rec.gaps:
        assert b > a


# ------------------------------------------------------------------------------------------ CSV

HEADERS = [
    "t,ax,ay,az,gx,gy,gz",
    "t,ax,ay,az",
    "gz,t,az,x,ay,ax,gy,gx",
    "t,ax,ay",
    "",
]
CSV_ALPHABET = "0123456789.,-+eEnaNifIy_ \t\r\n\"'x\x00\u00e9"


def valid_csv_bytes(gyro: bool) -> bytes:
    rng = np.random.default_rng(0)
    n = 40
    rec = Recording(
        "", np.arange(n) * 0.01, rng.normal(0, 9.8, (n, 3)), rng.normal(0, 2, (n, 3)) if gyro else None, 100.0
    )
    from firmware_py.logs.csvlog import format_csv

    return format_csv(rec).encode()


VALID_CSV = [valid_csv_bytes(True), valid_csv_bytes(False)]


@st.composite
def mutated(draw, originals: list[bytes], protect: int = 0) -> bytes:
    """A valid file with a few random edits (flip, overwrite, insert, delete, duplicate, truncate).

    Most edits land after the first ``protect`` bytes (the .cclog header), so that the block
    recovery, not only the header check, gets exercised.
    """
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "duplicate", "truncate", "overwrite"]))
        low = protect if protect < len(data) and draw(st.integers(0, 9)) > 0 else 0
        pos = draw(st.integers(low, len(data) - 1))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 60))]
        elif op == "duplicate":
            size = draw(st.integers(1, 200))
            data[pos:pos] = data[pos : pos + size]
        elif op == "truncate":
            del data[pos:]
        else:
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[pos : pos + len(chunk)] = chunk
    return bytes(data)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_csv_reader_random_bytes(fuzz_dir, data):
    path = fuzz_dir / "random.csv"
    path.write_bytes(data)
    read_strictly(read_csv, path)


@FUZZ
@given(header=st.sampled_from(HEADERS), body=st.text(alphabet=CSV_ALPHABET, max_size=600))
def test_csv_reader_random_text(fuzz_dir, header, body):
    path = fuzz_dir / "text.csv"
    path.write_bytes((header + "\n" + body).encode("utf-8"))
    read_strictly(read_csv, path)


ODD_CELLS = ["", " ", "nan", "-inf", "1e999", "1_0", "0x1", "abc", "1e-320", "-0"]
VALUES = st.floats(allow_nan=True, allow_infinity=True).map(repr) | st.floats(-20, 20).map(repr)


@FUZZ
@given(
    steps=st.lists(st.floats(min_value=1e-4, max_value=1e4), min_size=1, max_size=20),
    bad_step=st.none() | st.tuples(st.integers(0, 19), st.floats()),
    odd=st.lists(st.tuples(st.integers(0, 19), st.integers(0, 6), st.sampled_from(ODD_CELLS)), max_size=3),
    empty_gyro=st.booleans(),
    data=st.data(),
)
def test_csv_reader_random_numbers(fuzz_dir, steps, bad_step, odd, empty_gyro, data):
    # Mostly increasing times (cumulative positive steps) and arbitrary floats, plus a few odd cells.
    if bad_step is not None and bad_step[0] < len(steps):
        steps[bad_step[0]] = bad_step[1]
    with np.errstate(all="ignore"):
        t = np.cumsum(np.array(steps))
    width = 3 if empty_gyro else 6
    cells = data.draw(st.lists(VALUES, min_size=width * len(steps), max_size=width * len(steps)))
    rows = [[repr(float(ti)), *cells[width * i : width * i + width]] for i, ti in enumerate(t)]
    if empty_gyro:
        rows = [[*r, "", "", ""] for r in rows]
    for i, j, cell in odd:
        if i < len(rows):
            rows[i][j] = cell
    path = fuzz_dir / "numbers.csv"
    text = "t,ax,ay,az,gx,gy,gz\n" + "".join(",".join(r) + "\n" for r in rows)
    path.write_bytes(text.encode())
    read_strictly(read_csv, path)


@FUZZ
@given(data=mutated(VALID_CSV))
def test_csv_reader_mutated_files(fuzz_dir, data):
    path = fuzz_dir / "mutated.csv"
    path.write_bytes(data)
    read_strictly(read_csv, path)


@FUZZ
@given(
    sidecar=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
            lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {},
            optional={
                "placement": st.one_of(
                    st.none(), st.integers(), st.text(max_size=8), st.sampled_from(["foot", "Shin"])
                ),
                "placement_side": st.one_of(st.none(), st.integers(), st.text(max_size=5)),
                "sample_rate_hz": st.one_of(st.none(), st.floats(), st.integers(), st.text(max_size=3)),
                "has_gyro": st.one_of(st.none(), st.booleans(), st.integers()),
            },
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_csv_reader_random_sidecar(fuzz_dir, sidecar):
    path = fuzz_dir / "side.csv"
    path.write_bytes(VALID_CSV[0])
    sidecar_path(path).write_bytes(sidecar)
    try:
        read_strictly(read_csv, path)
    finally:
        sidecar_path(path).unlink()


# ------------------------------------------------------------------------------------------ .cclog


def valid_cclog(tmp: Path, encoding: str, has_gyro: bool) -> tuple[bytes, Recording]:
    path = tmp / f"valid_{encoding}_{has_gyro}.cclog"
    header = {"sampling_rate_hz": 100.0, "has_gyro": has_gyro, "acc_lsb_mps2": 0.01, "gyro_lsb_rads": 0.001}
    n_values = 6 if has_gyro else 3
    rng = np.random.default_rng(1)
    with CclogWriter(path, header, encoding=encoding) as w:
        for k in range(4):
            t = 0.01 * np.arange(5 * k, 5 * k + 5)
            if encoding == "i2":
                w.append(t, rng.integers(-32768, 32768, (5, n_values), dtype=np.int16))
            else:
                w.append(t, rng.normal(0, 9.8, (5, n_values)))
            w.flush(fsync=False)
            if k == 1:
                w.append_gap(float(t[-1]), float(t[-1]) + 0.01, "fifo_overflow")
                w.append_event(float(t[-1]), {"type": "cue"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CadenceWarning)
        return path.read_bytes(), read_cclog(path)


@pytest.fixture(scope="module")
def cclog_originals(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("orig")
    return [valid_cclog(tmp, enc, gyro) for enc in ("f8", "i2") for gyro in (True, False)]


def is_subset_of(rec: Recording, original: Recording) -> bool:
    """Every returned sample is an original sample (same time, same values)."""
    idx = np.searchsorted(original.t_s, rec.t_s)
    if (idx >= original.n_samples).any() or not np.array_equal(original.t_s[idx], rec.t_s):
        return False
    ok = np.array_equal(original.acc_mps2[idx], rec.acc_mps2, equal_nan=True)
    if original.gyro_rads is not None and rec.gyro_rads is not None:
        ok = ok and np.array_equal(original.gyro_rads[idx], rec.gyro_rads, equal_nan=True)
    return ok


@FUZZ
@given(data=st.data())
def test_cclog_reader_mutated_files(fuzz_dir, cclog_originals, data):
    which = data.draw(st.integers(0, len(cclog_originals) - 1))
    raw, original = cclog_originals[which]
    header_end = 20 + struct.unpack_from("<I", raw, 12)[0]
    mutated_bytes = data.draw(mutated([raw], protect=header_end))
    path = fuzz_dir / "mutated.cclog"
    path.write_bytes(mutated_bytes)
    rec = read_strictly(read_cclog, path)
    if rec is not None and rec.has_gyro == original.has_gyro:
        assert is_subset_of(rec, original)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_cclog_reader_random_bytes(fuzz_dir, data):
    path = fuzz_dir / "random.cclog"
    path.write_bytes(data)
    read_strictly(read_cclog, path)


def prelude(header: dict | bytes, version: int = 1) -> bytes:
    body = header if isinstance(header, bytes) else json.dumps(header).encode()
    head = struct.pack("<HHI", version, 0, len(body)) + body
    return MAGIC + head + struct.pack("<I", zlib.crc32(head))


@st.composite
def crc_valid_block(draw) -> bytes:
    """A block whose CRC is right but whose type, counts and payload are arbitrary."""
    btype = draw(st.sampled_from([1, 1, 1, 2, 3, 0, 4, 255]))
    if btype == 1 and draw(st.booleans()):
        n = draw(st.integers(0, 6))
        payload = np.array(
            draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=7 * n, max_size=7 * n))
        ).tobytes()
    elif btype == 2 and draw(st.booleans()):
        n = 0
        payload = struct.pack("<dd", draw(st.floats()), draw(st.floats())) + draw(st.binary(max_size=10))
    else:
        n = draw(st.integers(0, 2**32 - 1) | st.integers(0, 10))
        payload = draw(st.binary(max_size=120))
    head = struct.pack("<4sBBHII", BLOCK_SYNC, btype, draw(st.integers(0, 255)), 0, len(payload), n)
    return head + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head))) + payload


VALID_HEADERS = st.fixed_dictionaries(
    {
        "format_version": st.just(1),
        "encoding": st.sampled_from(["f8", "i2"]),
        "has_gyro": st.booleans(),
        "sampling_rate_hz": st.floats(min_value=1, max_value=1000),
        "acc_lsb_mps2": st.floats(min_value=1e-6, max_value=1),
        "gyro_lsb_rads": st.floats(min_value=1e-6, max_value=1),
    }
)


@FUZZ
@given(
    header=VALID_HEADERS
    | st.fixed_dictionaries(
        {
            "format_version": st.sampled_from([1, 1, 1, 2, True, 1.0, "1"]),
            "encoding": st.sampled_from(["f8", "f8", "i2", "x", 3]),
            "has_gyro": st.sampled_from([True, True, False, 1, None]),
            "sampling_rate_hz": st.one_of(st.floats(), st.integers(-5, 10**6), st.text(max_size=3)),
        },
        optional={
            "acc_lsb_mps2": st.one_of(st.floats(), st.integers(), st.none()),
            "gyro_lsb_rads": st.one_of(st.floats(), st.integers(), st.none()),
            "placement": st.one_of(st.none(), st.integers(), st.text(max_size=6), st.just("shin")),
            "placement_side": st.one_of(st.none(), st.integers(), st.text(max_size=4)),
        },
    ),
    pieces=st.lists(
        st.one_of(crc_valid_block(), st.binary(max_size=60), st.just(BLOCK_SYNC)),
        max_size=8,
    ),
)
def test_cclog_reader_crc_valid_nonsense(fuzz_dir, header, pieces):
    path = fuzz_dir / "nonsense.cclog"
    path.write_bytes(prelude(header) + b"".join(pieces))
    read_strictly(read_cclog, path)


@FUZZ
@given(header=st.binary(max_size=200), version=st.integers(0, 65535), rest=st.binary(max_size=100))
def test_cclog_reader_random_header_bytes(fuzz_dir, header, version, rest):
    path = fuzz_dir / "header.cclog"
    path.write_bytes(prelude(header, version) + rest)
    read_strictly(read_cclog, path)
