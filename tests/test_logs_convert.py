"""Tests of read_log / write_log / is_recording_file and of CSV <-> .cclog conversion."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from firmware_py.exc import CadenceWarning, LogExistsError, LogFormatError, LogNotFoundError, LogWriteError
from firmware_py.logs import (
    CclogWriter,
    is_recording_file,
    log_format,
    read_cclog_header,
    read_log,
    sidecar_path,
    write_log,
)
from firmware_py.logs.convert import convert, main
from firmware_py.logs.recording import Recording

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def make_rec(n: int = 400, *, gyro: bool = True, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.004, 0.006, n))
    acc = rng.normal(0, 9.81, (n, 3))
    acc[0] = [-0.0, 5e-324, 1.7976931348623157e308]
    acc[5, 1] = np.nan
    gy = rng.normal(0, 3.0, (n, 3)) if gyro else None
    return Recording("", t, acc, gy, 200.0, placement="shank", placement_side="right")


def quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CadenceWarning)
        return fn(*args)


def same_samples(a: Recording, b: Recording) -> bool:
    def bits(x):
        return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)

    ok = np.array_equal(bits(a.t_s), bits(b.t_s)) and np.array_equal(bits(a.acc_mps2), bits(b.acc_mps2))
    if a.gyro_rads is None or b.gyro_rads is None:
        return ok and a.gyro_rads is None and b.gyro_rads is None
    return ok and np.array_equal(bits(a.gyro_rads), bits(b.gyro_rads))


def csv_with_sidecar(tmp_path: Path, gyro: bool = True) -> Path:
    path = tmp_path / "src.csv"
    rec = make_rec(gyro=gyro)
    rec.meta = {"sensor": "MPU-9250 on the shin", "ground_truth": {"steps_t": [0.5, 1.0]}, "activity": "run"}
    quiet(write_log, rec, path)
    return path


# ------------------------------------------------------------------------------------------ conversion


@pytest.mark.parametrize("gyro", [True, False])
def test_csv_to_cclog_to_csv_is_lossless(tmp_path, gyro):
    src = csv_with_sidecar(tmp_path, gyro)
    original = quiet(read_log, src)
    quiet(convert, src, tmp_path / "mid.cclog")
    back = quiet(convert, tmp_path / "mid.cclog", tmp_path / "out.csv")
    final = quiet(read_log, tmp_path / "out.csv")
    assert same_samples(original, back)
    assert same_samples(original, final)
    assert (final.placement, final.placement_side, final.sampling_rate_hz) == ("shank", "right", 200.0)
    assert final.gaps == original.gaps


def test_sidecar_metadata_goes_into_the_cclog_header_and_back(tmp_path):
    src = csv_with_sidecar(tmp_path)
    quiet(convert, src, tmp_path / "mid.cclog")
    header = read_cclog_header(tmp_path / "mid.cclog")
    assert header["placement"] == "shank"
    assert header["placement_side"] == "right"
    assert header["sampling_rate_hz"] == 200.0
    assert header["has_gyro"] is True
    assert header["encoding"] == "f8"
    assert header["chip"] == "MPU-9250 on the shin"
    assert header["csv_sidecar"]["ground_truth"] == {"steps_t": [0.5, 1.0]}

    quiet(convert, tmp_path / "mid.cclog", tmp_path / "out.csv")
    sidecar = json.loads(sidecar_path(tmp_path / "out.csv").read_text())
    assert sidecar["placement"] == "shank"
    assert sidecar["placement_side"] == "right"
    assert sidecar["sample_rate_hz"] == 200.0
    assert sidecar["has_gyro"] is True
    assert sidecar["cclog_header"]["chip"] == "MPU-9250 on the shin"
    assert "csv_sidecar" not in sidecar["cclog_header"]
    # The original sidecar (ground truth included) survives the trip.
    assert sidecar["ground_truth"] == {"steps_t": [0.5, 1.0]}
    assert sidecar["activity"] == "run"


def test_repeated_round_trips_do_not_nest_metadata(tmp_path):
    src = csv_with_sidecar(tmp_path)
    quiet(convert, src, tmp_path / "a.cclog")
    quiet(convert, tmp_path / "a.cclog", tmp_path / "b.csv")
    quiet(convert, tmp_path / "b.csv", tmp_path / "c.cclog")
    quiet(convert, tmp_path / "c.cclog", tmp_path / "d.csv")
    b = json.loads(sidecar_path(tmp_path / "b.csv").read_text())
    d = json.loads(sidecar_path(tmp_path / "d.csv").read_text())
    assert b == d
    assert same_samples(quiet(read_log, tmp_path / "b.csv"), quiet(read_log, tmp_path / "d.csv"))


def test_raw_i2_log_with_gaps_and_events_survives_csv_and_back(tmp_path):
    acc_lsb, gyro_lsb = 9.80665 / 4096, math.radians(500 / 32768)
    header = {
        "sampling_rate_hz": 104.0,
        "acc_lsb_mps2": acc_lsb,
        "gyro_lsb_rads": gyro_lsb,
        "chip": "LSM6DSOX",
    }
    rng = np.random.default_rng(5)
    counts = rng.integers(-32768, 32768, (60, 6), dtype=np.int16)
    t = np.arange(60) / 104.0
    t[30:] += 1.0
    raw_path = tmp_path / "raw.cclog"
    with CclogWriter(raw_path, header, encoding="i2") as w:
        w.append(t[:30], counts[:30])
        w.append_gap(float(t[29]), float(t[30]), "fifo_overflow")
        w.append_event(float(t[40]), {"type": "cue", "text": "shorter steps"})
        w.append(t[30:], counts[30:])
    raw = quiet(read_log, raw_path)
    quiet(convert, raw_path, tmp_path / "raw.csv")
    quiet(convert, tmp_path / "raw.csv", tmp_path / "again.cclog")
    again = quiet(read_log, tmp_path / "again.cclog")
    assert same_samples(raw, again)
    assert np.array_equal(again.acc_mps2, counts[:, :3] * acc_lsb)
    assert again.gaps == [(t[29], t[30])]
    assert again.meta["gap_blocks"][0]["reason"] == "fifo_overflow"
    assert again.meta["events"] == [{"t_s": t[40], "event": {"type": "cue", "text": "shorter steps"}}]
    assert again.meta["chip"] == "LSM6DSOX"
    assert again.meta["encoding"] == "f8"
    assert "acc_lsb_mps2" not in again.meta


def test_convert_refuses_to_overwrite(tmp_path):
    src = csv_with_sidecar(tmp_path)
    out = tmp_path / "out.cclog"
    out.write_bytes(b"keep me")
    with pytest.raises(LogExistsError, match=r"out\.cclog: file exists.*choose another name or delete it"):
        convert(src, out)
    assert out.read_bytes() == b"keep me"
    # Also when only the sidecar of a CSV output is in the way.
    quiet(convert, src, tmp_path / "fresh.cclog")
    (tmp_path / "taken.json").write_text("{}")
    with pytest.raises(LogExistsError, match=r"taken\.json"):
        convert(tmp_path / "fresh.cclog", tmp_path / "taken.csv")
    assert not (tmp_path / "taken.csv").exists()


def test_convert_checks_the_output_before_reading_the_input(tmp_path):
    (tmp_path / "out.csv").write_text("x")
    with pytest.raises(LogExistsError):
        convert(tmp_path / "missing.cclog", tmp_path / "out.csv")


def test_convert_to_itself_is_refused(tmp_path):
    src = csv_with_sidecar(tmp_path)
    with pytest.raises(LogWriteError, match="same file"):
        convert(src, src)


def test_convert_command_line(tmp_path, capsys):
    src = csv_with_sidecar(tmp_path)
    assert quiet(main, [str(src), str(tmp_path / "cli.cclog")]) == 0
    assert "400 samples" in capsys.readouterr().out
    assert main([str(src), str(tmp_path / "cli.cclog")]) == 1
    assert "file exists" in capsys.readouterr().err
    assert main([str(src)]) == 2


# ------------------------------------------------------------------------------------------ dispatch


@pytest.mark.parametrize(
    ("name", "fmt"), [("a.csv", "csv"), ("a.CSV", "csv"), ("b.cclog", "cclog"), ("b.CcLog", "cclog")]
)
def test_format_from_extension_is_case_insensitive(tmp_path, name, fmt):
    assert log_format(name) == fmt
    rec = make_rec(50)
    quiet(write_log, rec, tmp_path / name)
    assert same_samples(rec, quiet(read_log, tmp_path / name))


@pytest.mark.parametrize("name", ["rec.txt", "rec.json", "rec", "rec.csv.gz"])
def test_unknown_extension(tmp_path, name):
    with pytest.raises(LogFormatError) as info:
        read_log(tmp_path / name)
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / name))
    assert ".csv, .cclog" in msg
    assert (Path(name).suffix or "no extension") in msg
    with pytest.raises(LogFormatError, match=r"allowed: \.csv, \.cclog"):
        write_log(make_rec(10), tmp_path / name)


@pytest.mark.parametrize("name", ["gone.csv", "gone.cclog"])
def test_missing_file(tmp_path, name):
    with pytest.raises(LogNotFoundError, match=f"{name}: no such file") as info:
        read_log(tmp_path / name)
    assert isinstance(info.value, FileNotFoundError)


def test_is_recording_file(tmp_path):
    rec_csv = csv_with_sidecar(tmp_path)
    quiet(convert, rec_csv, tmp_path / "rec.cclog")
    (tmp_path / "index.csv").write_text("dataset,recording_id,csv,placement\nx,y,z,foot\n")
    (tmp_path / "fake.cclog").write_text("t,ax,ay,az\n0,1,2,3\n")
    (tmp_path / "notes.txt").write_text("t,ax,ay,az\n")
    (tmp_path / "upper.CSV").write_text("T,AX,AY,AZ,GX,GY,GZ\n0,1,2,3,,,\n")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "folder.csv").mkdir()
    assert is_recording_file(rec_csv)
    assert is_recording_file(tmp_path / "rec.cclog")
    assert is_recording_file(str(tmp_path / "upper.CSV"))
    for name in ["index.csv", "fake.cclog", "notes.txt", "src.json", "binary.csv", "folder.csv", "none.csv"]:
        assert not is_recording_file(tmp_path / name), name


@pytest.mark.datasets
def test_real_datasets_index_is_not_a_recording():
    index = DATASETS / "index.csv"
    if not index.is_file():
        pytest.skip("datasets not present")
    assert not is_recording_file(index)
    recordings = [p for p in DATASETS.glob("*/*") if is_recording_file(p)]
    assert len(recordings) == len(list(DATASETS.glob("*/*.csv")))


@pytest.mark.parametrize("rel", ["pyshoe_vicon/2017-11-27-11-24-07", "harlab_treadmill_jog/S002_jog"])
def test_real_recording_round_trip(tmp_path, rel):
    src = FIXTURES / f"{rel}.csv"
    local = tmp_path / "real.csv"
    shutil.copy(src, local)
    shutil.copy(src.with_suffix(".json"), local.with_suffix(".json"))
    original = quiet(read_log, local)
    quiet(convert, local, tmp_path / "real.cclog")
    quiet(convert, tmp_path / "real.cclog", tmp_path / "back.csv")
    back = quiet(read_log, tmp_path / "back.csv")
    assert same_samples(original, back)
    assert back.meta["ground_truth"] == original.meta["ground_truth"]
    assert back.placement == original.placement
