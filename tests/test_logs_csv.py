"""Tests of the CSV recording reader/writer (firmware_py.logs.csvlog)."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from firmware_py.exc import (
    BadSampleWarning,
    DataGapWarning,
    LogExistsError,
    LogFormatError,
    LogNotFoundError,
    LogTruncatedWarning,
)
from firmware_py.logs import csvlog
from firmware_py.logs.csvlog import format_csv, read_csv, sidecar_path, write_csv
from firmware_py.logs.recording import Recording

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def make_rec(n: int = 500, *, gyro: bool = True, rate_hz: float = 200.0, seed: int = 0, **kw) -> Recording:
    """A synthetic recording with awkward floats (full precision, tiny, huge, negative zero)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate_hz + rng.uniform(0, 1e-4, n)
    acc = rng.normal(0, 9.81, (n, 3))
    acc[0] = [-0.0, 1e-300, 1.7976931348623157e308]
    acc[1] = [5e-324, -2.5, 0.1]
    gy = rng.normal(0, 3.0, (n, 3)) if gyro else None
    return Recording(path="", t_s=t, acc_mps2=acc, gyro_rads=gy, sampling_rate_hz=rate_hz, **kw)


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def read_quiet(path: Path) -> Recording:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_csv(path)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("gyro", [True, False])
def test_write_read_round_trip_is_bit_exact(tmp_path, gyro):
    rec = make_rec(gyro=gyro, placement="foot", placement_side="left")
    path = tmp_path / "rec.csv"
    write_csv(rec, path)
    back = read_csv(path)
    assert np.array_equal(bits(back.t_s), bits(rec.t_s))
    assert np.array_equal(bits(back.acc_mps2), bits(rec.acc_mps2))
    if gyro:
        assert np.array_equal(bits(back.gyro_rads), bits(rec.gyro_rads))
    else:
        assert back.gyro_rads is None
    assert back.placement == "foot"
    assert back.placement_side == "left"
    assert back.sampling_rate_hz == 200.0
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["has_gyro"] is gyro
    assert sidecar["sample_rate_hz"] == 200.0


def test_written_csv_layout(tmp_path):
    rec = Recording("", np.array([0.0, 0.005]), np.array([[1.0, -0.0, 0.1], [2.5, 1e-5, 3.0]]), None, 200.0)
    text = format_csv(rec)
    assert text == "t,ax,ay,az,gx,gy,gz\n0.0,1.0,-0.0,0.1,,,\n0.005,2.5,1e-05,3.0,,,\n"
    rec.gyro_rads = np.array([[0.25, 0.5, 1.0], [2.0, 4.0, 8.0]])
    assert format_csv(rec).splitlines()[2] == "0.005,2.5,1e-05,3.0,2.0,4.0,8.0"


def test_nan_values_round_trip_and_warn_once(tmp_path):
    rec = make_rec(50)
    rec.acc_mps2[10, 1] = np.nan
    rec.gyro_rads[20, 2] = np.inf
    path = tmp_path / "nan.csv"
    write_csv(rec, path)
    with pytest.warns(BadSampleWarning) as record:
        back = read_csv(path)
    msgs = [str(w.message) for w in record if issubclass(w.category, BadSampleWarning)]
    assert len(msgs) == 1
    assert "2 sample(s)" in msgs[0]
    assert "line 12" in msgs[0]  # row 10 is on line 12 (header is line 1)
    assert np.isnan(back.acc_mps2[10, 1])
    assert np.isinf(back.gyro_rads[20, 2])


def test_writer_refuses_to_overwrite(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text("precious")
    with pytest.raises(LogExistsError, match=r"rec\.csv: file exists"):
        write_csv(make_rec(10), path)
    assert path.read_text() == "precious"
    assert not sidecar_path(path).exists()


def test_writer_refuses_when_only_the_sidecar_exists(tmp_path):
    path = tmp_path / "rec.csv"
    sidecar_path(path).write_text("{}")
    with pytest.raises(LogExistsError, match=r"rec\.json"):
        write_csv(make_rec(10), path)
    assert not path.exists()


def test_writer_rejects_empty_recording(tmp_path):
    rec = Recording("", np.zeros(0), np.zeros((0, 3)), None, 100.0)
    with pytest.raises(ValueError, match="no samples"):
        write_csv(rec, tmp_path / "empty.csv")
    assert not (tmp_path / "empty.csv").exists()


def test_writer_rejects_unsorted_recording(tmp_path):
    rec = make_rec(10)
    rec.t_s[5] = rec.t_s[4]
    with pytest.raises(ValueError, match="strictly increasing"):
        write_csv(rec, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


# ------------------------------------------------------------------------------------------ flexible input


def test_columns_in_any_order_and_extra_columns_ignored(tmp_path):
    text = "label,gz,t,az,extra,ay,ax,gy,gx\nwalk,6,0.0,3,x,2,1,5,4\nrun,16,0.01,13,y,12,11,15,14\n"
    rec = read_quiet(write_text(tmp_path / "odd.csv", text))
    assert rec.t_s.tolist() == [0.0, 0.01]
    assert rec.acc_mps2.tolist() == [[1, 2, 3], [11, 12, 13]]
    assert rec.gyro_rads.tolist() == [[4, 5, 6], [14, 15, 16]]


def test_empty_gyro_columns_mean_no_gyro_and_rate_from_median_dt(tmp_path):
    rows = [f"{i * 0.01:.2f},1,2,3,,," for i in range(100)]
    rec = read_quiet(write_text(tmp_path / "ng.csv", "t,ax,ay,az,gx,gy,gz\n" + "\n".join(rows) + "\n"))
    assert rec.gyro_rads is None
    assert rec.sampling_rate_hz == pytest.approx(100.0)
    assert rec.meta == {}


def test_absent_gyro_columns_mean_no_gyro(tmp_path):
    rec = read_quiet(write_text(tmp_path / "acc.csv", "t,ax,ay,az\n0,1,2,3\n0.5,1,2,3\n1.0,1,2,3\n"))
    assert rec.gyro_rads is None
    assert rec.sampling_rate_hz == 2.0


def test_crlf_bom_quotes_and_trailing_blank_lines(tmp_path):
    raw = '\ufeff"t","ax","ay","az","gx","gy","gz"\r\n0,1,2,3,4,5,6\r\n0.1,1,2,3,4,5,6\r\n\r\n\r\n'
    rec = read_quiet(write_text(tmp_path / "win.csv", raw))
    assert rec.t_s.tolist() == [0.0, 0.1]
    assert rec.gyro_rads.tolist() == [[4, 5, 6], [4, 5, 6]]


def test_blank_line_inside_is_skipped_and_line_numbers_stay_right(tmp_path):
    text = "t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n\n0.1,1,2,3,,,\n0.05,1,2,3,,,\n"
    with pytest.raises(LogFormatError, match=r"blank\.csv:5: t=0\.05 s is earlier than t=0\.1 s on line 4"):
        read_csv(write_text(tmp_path / "blank.csv", text))


def test_repeated_timestamps_are_spread_and_every_sample_kept(tmp_path):
    from firmware_py.exc import TimestampRepairWarning

    text = HEAD + "0,1,2,3,,,\n0.1,4,5,6,,,\n0.1,7,8,9,,,\n0.1,1,1,1,,,\n0.4,2,2,2,,,\n0.4,3,3,3,,,\n"
    with pytest.warns(TimestampRepairWarning, match=r"rep\.csv:4: 3 timestamps repeat the one before"):
        rec = read_csv(write_text(tmp_path / "rep.csv", text))
    # run 0.1 x3 spreads to 0.1, 0.2, 0.3 (next distinct is 0.4); the final run 0.4 x2 has no next
    # time, so it is spaced by the median step between distinct times (0.1 and 0.3 -> 0.2): 0.4, 0.6
    np.testing.assert_allclose(rec.t_s, [0.0, 0.1, 0.2, 0.3, 0.4, 0.6], rtol=0, atol=1e-12)
    assert rec.acc_mps2[:, 0].tolist() == [1, 4, 7, 1, 2, 3]
    assert rec.meta["timestamp_repairs"] == 3


def test_sidecar_fields_are_used_and_normalised(tmp_path):
    path = write_text(tmp_path / "r.csv", "t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n0.01,1,2,3,,,\n0.02,1,2,3,,,\n")
    sidecar = {
        "placement": "Waist",
        "placement_side": "L",
        "sample_rate_hz": 99.5,
        "has_gyro": False,
        "x": [1],
    }
    sidecar_path(path).write_text(json.dumps(sidecar))
    rec = read_csv(path)
    assert rec.placement == "lower_back"
    assert rec.placement_side == "left"
    assert rec.sampling_rate_hz == 99.5
    assert rec.meta == sidecar


def test_fast_path_is_used_for_well_formed_files(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    write_csv(make_rec(2000), path)
    write_csv(make_rec(2000, gyro=False), tmp_path / "big_ng.csv")

    def no_slow(*args, **kwargs):
        raise AssertionError("slow path used")

    monkeypatch.setattr(csvlog, "_parse_slow", no_slow)
    assert read_quiet(path).n_samples == 2000
    assert read_quiet(tmp_path / "big_ng.csv").gyro_rads is None


def test_fast_and_slow_paths_agree(tmp_path):
    rec = make_rec(300)
    path = tmp_path / "a.csv"
    write_csv(rec, path, sidecar=False)
    fast = read_quiet(path)
    # A blank line in the middle sends the reader down the careful line-by-line path.
    lines = path.read_text().split("\n")
    slow_path = write_text(tmp_path / "b.csv", "\n".join([*lines[:100], "", *lines[100:]]))
    slow = read_quiet(slow_path)
    assert np.array_equal(bits(fast.t_s), bits(slow.t_s))
    assert np.array_equal(bits(fast.acc_mps2), bits(slow.acc_mps2))
    assert np.array_equal(bits(fast.gyro_rads), bits(slow.gyro_rads))


def test_120k_rows_load_fast(tmp_path):
    # 10 minutes at 200 Hz in the datasets' number format (4-5 decimals).
    n = 120_000
    rng = np.random.default_rng(1)
    data = np.column_stack([np.arange(n) / 200.0, rng.normal(0, 9.8, (n, 3)), rng.normal(0, 3, (n, 3))])
    path = tmp_path / "ten_min.csv"
    np.savetxt(
        path, data, fmt=["%.4f"] + ["%.5f"] * 6, delimiter=",", header="t,ax,ay,az,gx,gy,gz", comments=""
    )
    best = min(_timed(read_quiet, path) for _ in range(2))
    rec = read_quiet(path)
    assert rec.n_samples == n
    assert rec.sampling_rate_hz == pytest.approx(200.0)
    # Well under 0.3 s on a Pi-class core; the bound leaves room for a busy test machine.
    assert best < 1.0, f"120k-row CSV took {best:.3f} s"


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------------------ gaps


def test_gap_is_kept_warned_and_recorded(tmp_path):
    t = np.arange(3000) * 0.005
    t[2461:] += 1.515  # dt of 1.52 s after t=12.30 s (row 2460, on line 2462)
    rec = Recording("", t, np.tile([0.0, 0.0, 9.81], (3000, 1)), None, 200.0)  # gravity: m/s²
    path = tmp_path / "gap.csv"
    write_csv(rec, path, sidecar=False)
    with pytest.warns(DataGapWarning) as record:
        back = read_csv(path)
    msgs = [str(w.message) for w in record]
    assert msgs == [f"{path}: gap of 1.52 s at t=12.30 s (line 2462); samples on both sides kept"]
    assert back.n_samples == 3000
    assert back.gaps == [(t[2460], t[2461])]


def test_many_gaps_give_a_bounded_number_of_warnings(tmp_path):
    t = np.arange(200) * 0.01
    for k in range(10):
        t[20 * k + 10 :] += 0.5
    path = tmp_path / "gaps.csv"
    write_csv(Recording("", t, np.tile([0.0, 0.0, 9.81], (200, 1)), None, 100.0), path, sidecar=False)
    with pytest.warns(DataGapWarning) as record:
        back = read_csv(path)
    assert len(back.gaps) == 10
    assert len(record) == csvlog.MAX_GAP_WARNINGS + 1
    assert "7 more gaps" in str(record[-1].message)


# ------------------------------------------------------------------------------------------ bad input

HEAD = "t,ax,ay,az,gx,gy,gz\n"
BAD_CASES = {
    "empty": ("", None, "file is empty"),
    "whitespace_only": ("\n \n", None, "file is empty"),
    "header_only": (HEAD, 1, "header but no data rows"),
    "missing_columns": (
        "t,x,ay,gx,gy,gz\n0,1,2,3,4,5\n",
        1,
        "missing column(s) ax, az; found: 't', 'x', 'ay'",
    ),
    "partial_gyro_columns": ("t,ax,ay,az,gx\n0,1,2,3,4\n", 1, "missing column(s) gy, gz"),
    # a spreadsheet's export: one column named "t;ax;..." (the message used to show it, not say why)
    "semicolons": (
        "t;ax;ay;az;gx;gy;gz\n0;1;2;3;;;\n",
        1,
        "(separated by ';': the separator must be a comma)",
    ),
    "tabs": ("t\tax\tay\taz\n0\t1\t2\t3\n", 1, "(separated by '\\t': the separator must be a comma)"),
    "duplicate_column": ("t,ax,ay,az,ax\n0,1,2,3,4\n", 1, "column 'ax' appears 2 times"),
    "non_numeric": (
        HEAD + "0,1,2,3,,,\n0.1,1,abc,3,,,\n",
        3,
        "column 'ay' (column 3) holds 'abc', which is not a number",
    ),
    "empty_acc_cell": (HEAD + "0,1,2,3,,,\n0.1,1,2,,,,\n", 3, "column 'az' (column 4) is empty"),
    "too_few_cells": (HEAD + "0,1,2,3,,,\n0.1,1,2,3\n", 3, "4 cells but the header has 7"),
    "nan_t": (HEAD + "0,1,2,3,,,\nnan,1,2,3,,,\n", 3, "t is nan; every timestamp must be a finite number"),
    "inf_t": (HEAD + "0,1,2,3,,,\ninf,1,2,3,,,\n", 3, "t is inf"),
    "unsorted": (
        HEAD + "0,1,2,3,,,\n0.2,1,2,3,,,\n0.1,1,2,3,,,\n",
        4,
        "earlier than t=0.2 s on line 3; timestamps must increase; fix: sort",
    ),
    "gyro_filled_then_empty": (
        HEAD + "0,1,2,3,4,5,6\n0.1,1,2,3,4,5,6\n0.2,1,2,3,,,\n",
        4,
        "gyro cells are empty here but filled on the lines before",
    ),
    "gyro_empty_then_filled": (
        HEAD + "0,1,2,3,,,\n0.1,1,2,3,4,5,6\n",
        3,
        "gyro cells are filled here but empty",
    ),
    "gyro_row_half_filled": (
        HEAD + "0,1,2,3,4,5,6\n0.1,1,2,3,4,,6\n",
        3,
        "gyro cell(s) gy empty while the others are filled",
    ),
    "gyro_not_a_number": (HEAD + "0,1,2,3,4,5,6\n0.1,1,2,3,4,x,6\n", 3, "column 'gy' (column 6) holds 'x'"),
    "python_only_number": (HEAD + "0,1,2,3,,,\n0.1,1_0,2,3,,,\n", 3, "holds '1_0', which is not a number"),
    "single_sample_no_rate": (HEAD + "0,1,2,3,,,\n", None, "a single sample and no sample_rate_hz"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_csv_gives_one_line_error_naming_file_and_line(tmp_path, case):
    text, line, fragment = BAD_CASES[case]
    path = write_text(tmp_path / f"{case}.csv", text)
    with pytest.raises(LogFormatError) as info:
        read_quiet(path)
    msg = str(info.value)
    assert "\n" not in msg
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert msg.startswith(prefix), msg
    assert fragment in msg, msg


@pytest.mark.parametrize("gyro", [True, False])
def test_a_last_row_cut_short_is_left_out_with_a_warning(tmp_path, gyro, monkeypatch):
    # A power loss while a CSV is written leaves a last line without its line end. The README
    # promises that a log cut short keeps every whole row, with a warning; it was a hard error.
    rec = make_rec(3000, gyro=gyro)
    full = tmp_path / "full.csv"
    write_csv(rec, full)
    raw = full.read_bytes()
    last_start = raw.rstrip(b"\n").rfind(b"\n") + 1
    last_commas = [i for i in range(last_start, len(raw)) if raw[i : i + 1] == b","]
    slow_calls = []
    real_slow = csvlog._parse_slow
    monkeypatch.setattr(csvlog, "_parse_slow", lambda *a, **k: slow_calls.append(1) or real_slow(*a, **k))
    # cut just after each comma of the last row: never a whole row (too few cells or empty cells)
    for cut in [last_start + 1, *[c + 1 for c in last_commas]]:
        if not gyro and cut > last_commas[2] + 1:
            continue  # "t,ax,ay,az,,," cut inside the empty gyro cells: the row is whole
        path = tmp_path / f"cut{cut}.csv"
        path.write_bytes(raw[:cut])
        with pytest.warns(LogTruncatedWarning, match=rf"^{path}:3001: the last line is cut short"):
            got = read_csv(path)
        assert got.n_samples == 2999
        assert (bits(got.t_s) == bits(rec.t_s[:2999])).all()
        assert (bits(got.acc_mps2) == bits(rec.acc_mps2[:2999])).all()
        if gyro:
            assert (bits(got.gyro_rads) == bits(rec.gyro_rads[:2999])).all()
    assert not slow_calls  # the rows before the cut still take the fast path


def test_a_short_last_row_with_its_line_end_is_still_an_error(tmp_path):
    # A row the writer ended itself was not cut by a power loss: it is reported, not dropped.
    path = write_text(tmp_path / "short.csv", HEAD + "0,1,2,3,,,\n0.1,1,2,3\n")
    with pytest.raises(LogFormatError, match="4 cells but the header has 7"):
        read_quiet(path)


def test_bad_row_deep_in_a_big_file_is_located(tmp_path):
    rec = make_rec(5000)
    path = tmp_path / "big.csv"
    write_csv(rec, path, sidecar=False)
    lines = path.read_text().split("\n")
    lines[4001] = lines[4001].replace(",", ",oops", 1)
    write_text(path, "\n".join(lines))
    with pytest.raises(LogFormatError, match=r"big\.csv:4002: column 'ax' \(column 2\) holds 'oops"):
        read_csv(path)


def test_non_utf8_byte_is_located(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n0.1,1,\xe92,3,,,\n")
    with pytest.raises(LogFormatError, match=r"latin\.csv:3: byte 0xe9 at column 7 is not UTF-8"):
        read_csv(path)


def test_cclog_renamed_to_csv_is_recognised(tmp_path):
    path = tmp_path / "renamed.csv"
    path.write_bytes(b"\x89CCLOG\r\n\x01\x00\x00\x00" + bytes(40))
    with pytest.raises(LogFormatError, match=r"renamed\.csv:1: this is a binary \.cclog log"):
        read_csv(path)


def test_missing_file(tmp_path):
    with pytest.raises(LogNotFoundError, match=r"nope\.csv: no such file") as info:
        read_csv(tmp_path / "nope.csv")
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, LogFormatError)


# ------------------------------------------------------------------------------------------ sidecar errors

GOOD = HEAD + "0,1,2,3,,,\n0.01,1,2,3,,,\n0.02,1,2,3,,,\n"


def test_malformed_sidecar_names_file_and_position(tmp_path):
    path = write_text(tmp_path / "r.csv", GOOD)
    sidecar_path(path).write_text('{\n "placement": "foot",\n "sample_rate_hz": 100,,\n}\n')
    with pytest.raises(LogFormatError) as info:
        read_csv(path)
    msg = str(info.value)
    assert msg.startswith(f"{sidecar_path(path)}:3: sidecar is not valid JSON")
    assert "line 3 column 24 (char 47)" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("sidecar", "fragment"),
    [
        ('["not", "an", "object"]', "must hold a JSON object"),
        ('{"placement": "wrist"}', "'placement': unknown placement 'wrist'"),
        ('{"sample_rate_hz": -5}', "'sample_rate_hz' must be a positive number"),
        ('{"sample_rate_hz": "fast"}', "'sample_rate_hz' must be a positive number"),
        ('{"has_gyro": "yes"}', "'has_gyro' must be true or false"),
        ('{"has_gyro": true}', "says has_gyro true but the gyro cells"),
        ('{"placement_side": 3}', "placement_side must be a string"),
        ("[" * 5000 + "]" * 5000, "cannot be read as JSON"),
    ],
)
def test_invalid_sidecar_values(tmp_path, sidecar, fragment):
    path = write_text(tmp_path / "r.csv", GOOD)
    sidecar_path(path).write_text(sidecar)
    with pytest.raises(LogFormatError) as info:
        read_csv(path)
    assert str(info.value).startswith(str(sidecar_path(path)))
    assert fragment in str(info.value)


def test_sidecar_says_no_gyro_but_csv_has_gyro(tmp_path):
    path = write_text(tmp_path / "r.csv", HEAD + "0,1,2,3,4,5,6\n0.01,1,2,3,4,5,6\n")
    sidecar_path(path).write_text('{"has_gyro": false}')
    with pytest.raises(LogFormatError, match=r"says has_gyro false but .* holds gyro values"):
        read_csv(path)


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.parametrize(
    ("rel", "has_gyro", "placement"),
    [
        ("pyshoe_vicon/2017-11-27-11-24-07.csv", True, "foot"),
        ("harlab_treadmill_jog/S002_jog.csv", False, "lower_back"),
        ("mobgap_example/HA-001_Test5_Trial1.csv", True, "lower_back"),
    ],
)
def test_real_recordings(rel, has_gyro, placement):
    path = FIXTURES / rel
    rec = read_quiet(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert rec.n_samples == meta["n_samples"]
    assert rec.has_gyro is has_gyro
    assert rec.placement == placement
    assert rec.sampling_rate_hz == meta["sample_rate_hz"]
    assert np.all(np.diff(rec.t_s) > 0)
    # |a| is about g somewhere (m/s², gravity included).
    assert 8.0 < np.median(np.linalg.norm(rec.acc_mps2, axis=1)) < 14.0


@pytest.mark.datasets
def test_every_shared_dataset_recording_reads():
    index = DATASETS / "index.csv"
    if not index.is_file():
        pytest.skip(f"{DATASETS} not present")
    paths = sorted(p for p in DATASETS.glob("*/*.csv"))
    assert paths
    failures = []
    for path in paths:
        try:
            rec = read_quiet(path)
        except LogFormatError as exc:
            failures.append(str(exc))
            continue
        meta = json.loads(path.with_suffix(".json").read_text())
        assert rec.n_samples == meta["n_samples"], path
        assert rec.has_gyro is meta["has_gyro"], path
        assert np.all(np.diff(rec.t_s) > 0), path
    # Every real recording loads: a few repeat timestamps (rounded sensor clocks) and are repaired.
    assert failures == []


@pytest.mark.parametrize("with_gyro", [False, True])
def test_bad_sample_rows_agrees_with_a_row_by_row_check(with_gyro):
    # finite values whose sum overflows are not bad samples; NaN and +-inf anywhere are
    rng = np.random.default_rng(3)
    acc = rng.normal(0.0, 9.81, (50, 3))
    gyro = rng.normal(0.0, 1.0, (50, 3)) if with_gyro else None
    assert csvlog.bad_sample_rows(acc, gyro).size == 0
    acc[[4, 5, 6]] = 1.7e308
    assert csvlog.bad_sample_rows(acc, gyro).size == 0
    acc[7, 2] = np.nan
    acc[20, 0] = -np.inf
    expected = [7, 20]
    if gyro is not None:
        gyro[3, 1] = np.inf
        gyro[20, 2] = np.nan
        expected = [3, 7, 20]
    bad = csvlog.bad_sample_rows(acc, gyro)
    assert bad.tolist() == expected
    assert bad.dtype == np.intp
    assert csvlog.bad_sample_rows(np.zeros((0, 3)), None).tolist() == []


@pytest.mark.parametrize(
    ("acc_scale", "gyro_scale", "says"),
    [(1 / 9.80665, 1.0, "m/s²"), (1.0, 180 / np.pi, "rad/s"), (1000 / 9.80665, 1.0, "m/s²")],
    ids=["acc in g", "gyro in deg/s", "acc in milli-g"],
)
def test_samples_in_g_or_degrees_are_kept_with_a_warning(tmp_path, acc_scale, gyro_scale, says):
    from firmware_py.exc import UnitsWarning

    rec = read_csv(FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv")
    odd = Recording("", rec.t_s, rec.acc_mps2 * acc_scale, rec.gyro_rads * gyro_scale, rec.sampling_rate_hz)
    path = tmp_path / "odd.csv"
    write_csv(odd, path, sidecar=False)
    with pytest.warns(UnitsWarning) as record:
        back = read_csv(path)
    assert back.n_samples == rec.n_samples
    msgs = [str(w.message) for w in record if issubclass(w.category, UnitsWarning)]
    assert len(msgs) == 1
    assert str(path) in msgs[0]
    assert says in msgs[0]


def test_real_recordings_in_si_units_give_no_units_warning():
    from firmware_py.exc import UnitsWarning
    from firmware_py.logs import is_recording_file

    paths = [p for p in sorted(FIXTURES.glob("*/*.csv")) if is_recording_file(p)]
    paths += [p for p in sorted(DATASETS.glob("*/*.csv")) if is_recording_file(p)]
    assert paths
    for csv_path in paths:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_csv(csv_path)
        assert not [w for w in caught if issubclass(w.category, UnitsWarning)], csv_path
