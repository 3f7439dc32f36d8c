"""The command line as a user meets it: contract, folders, bad input, demo."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from firmware_py.cli import main
from firmware_py.config import load_config, make_pipeline
from firmware_py.logs import read_log
from firmware_py.replay import SCHEMA, replay_recording, result_from_pipeline, total_distance_m
from tests.conftest import FIXTURES

FOOT = FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv"
WAIST = FIXTURES / "harlab_treadmill_jog" / "S028_jog.csv"


def _one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def test_replay_writes_the_versioned_contract(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["replay", str(FOOT), "--json", str(out), "--csv", str(tmp_path / "r.csv")]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == SCHEMA == "cadence-coach.replay/1"
    assert doc["placement"] == "foot"
    assert doc["steps_feet"] == "one"
    steps = doc["steps"]
    assert len(steps) > 20
    assert [s["t"] for s in steps] == sorted(s["t"] for s in steps)
    assert {s["side"] for s in steps} == {"R"}
    assert set(steps[0]) >= {"t", "side", "cadence_spm", "gait", "stride_length_m"}
    assert all(s["gait"] in ("walk", "run") for s in steps)
    cad = [s["cadence_spm"] for s in steps if s["cadence_spm"] is not None]
    assert 140 < np.median(cad) < 190  # a run, counting both feet
    assert doc["summary"]["n_steps"] == len(steps)
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert len(rows) == len(steps) + 1
    assert "steps" in capsys.readouterr().out


@pytest.mark.parametrize(("which", "length_field"), [("foot", "stride_length_m"), ("waist", "step_length_m")])
def test_each_step_carries_the_distance_covered_so_far(tmp_path, which, length_field):
    src = FOOT if which == "foot" else WAIST
    out = tmp_path / "d.json"
    assert main(["replay", str(src), "--json", str(out), "--csv", str(tmp_path / "d.csv")]) == 0
    doc = json.loads(out.read_text())
    steps = doc["steps"]
    lengths = np.array([s[length_field] or 0.0 for s in steps])
    assert sum(1 for s in steps if s[length_field]) > 10
    # each stride once: running total of the per-contact lengths (rounded as the JSON is), plus
    # the strides whose contact the step detector missed, from their own contact time on
    missed = replay_recording(read_log(src)).missed_strides
    t = np.array([s["t"] for s in steps])
    extra = np.array([sum(d for tm, d in missed if tm <= ti) for ti in t])
    np.testing.assert_allclose([s["distance_m"] for s in steps], np.cumsum(lengths) + extra, atol=0.006)
    tail = sum(d for tm, d in missed if tm > t[-1])
    assert doc["summary"]["distance_m"] == pytest.approx(steps[-1]["distance_m"] + tail, abs=0.006)
    header, *rows = (tmp_path / "d.csv").read_text().splitlines()
    col = header.split(",").index("distance_m")
    assert [float(r.split(",")[col]) for r in rows] == [s["distance_m"] for s in steps]


def test_strides_with_a_missed_contact_still_count_in_the_distance():
    """A pyshoe walk where the step detector misses contacts: the stride estimator still walked them."""
    rec = read_log(FIXTURES / "pyshoe_vicon" / "2017-11-22-11-30-14.csv")
    res = replay_recording(rec)
    truth = rec.meta["ground_truth"]["distance_m"]
    lengths = [e.stride_length_m for e in res.events if e.stride_length_m is not None]
    # the truth runs from the first contact to the last (as the reference scorer, leave out the
    # stride that ends at the first contact: it starts from standing, before the truth does)
    steps_only = sum(lengths[1:])
    assert len(res.missed_strides) >= 1
    assert all(0.3 <= d < 3.0 for _t, d in res.missed_strides)
    assert abs(total_distance_m(res) - lengths[0] - truth) < abs(steps_only - truth)


def test_waist_lists_both_feet_without_side(tmp_path):
    out = tmp_path / "w.json"
    assert main(["replay", str(WAIST), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["steps_feet"] == "both"
    assert {s["side"] for s in doc["steps"]} == {None}


def test_folder_replay_mirrors_layout_and_skips_non_recordings(tmp_path):
    src = tmp_path / "data"
    for rec in (FOOT, WAIST):
        (src / rec.parent.name).mkdir(parents=True)
        shutil.copy(rec, src / rec.parent.name / rec.name)
        shutil.copy(rec.with_suffix(".json"), src / rec.parent.name / rec.with_suffix(".json").name)
    (src / "index.csv").write_text("dataset,recording_id\npyshoe_vicon,x\n")
    out = tmp_path / "out"
    assert main(["replay", str(src), "--json", str(out), "--jobs", "2", "--quiet"]) == 0
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert made == ["harlab_treadmill_jog/S028_jog.json", "pyshoe_vicon/2017-11-27-11-24-07.json"]


def test_replay_equals_streaming_in_live_sized_blocks():
    """The live loop feeds 50 ms blocks; replay feeds the whole file: same steps, strides, cues."""
    rec = read_log(FOOT)
    whole = replay_recording(rec)
    pipe = make_pipeline(
        load_config(),
        sampling_rate_hz=rec.sampling_rate_hz,
        placement="foot",
        has_gyro=True,
        placement_side="right",
    )
    block = int(0.05 * rec.sampling_rate_hz)
    updates = [
        pipe.process(rec.t_s[i : i + block], rec.acc_mps2[i : i + block], rec.gyro_rads[i : i + block])
        for i in range(0, rec.n_samples, block)
    ]
    updates.append(pipe.finish())
    live = result_from_pipeline(
        pipe,
        updates,
        source="live",
        sampling_rate_hz=rec.sampling_rate_hz,
        placement_side="right",
        duration_s=0.0,
    )
    assert live.events == whole.events
    assert any(e.stride_length_m is not None for e in live.events)
    assert live.cues == whole.cues


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("t,ax,ay\n0,1,2\n", "missing"),
        ("", "empty"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n0.1,1,x,3,,,\n", ":3:"),
        ("t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n-1,1,2,3,,,\n", "earlier"),
    ],
)
def test_bad_csv_is_one_line_naming_the_file(tmp_path, capsys, content, expected):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    err = _one_line_error(capsys, ["replay", str(bad), "--placement", "foot"])
    assert "bad.csv" in err
    assert expected in err


def test_missing_file_wrong_extension_and_bad_placement(tmp_path, capsys):
    assert "no such" in _one_line_error(capsys, ["replay", str(tmp_path / "nope.csv")])
    other = tmp_path / "run.txt"
    other.write_text("hello")
    assert ".txt" in _one_line_error(capsys, ["replay", str(other)])
    assert "wrist" in _one_line_error(capsys, ["replay", str(WAIST), "--placement", "wrist"])


@pytest.mark.parametrize("name", ["runs", "runs/", "run.txt"])
def test_a_path_that_does_not_exist_is_named_missing_not_a_wrong_format(tmp_path, capsys, name):
    # `replay runs/` with a typo in the folder name used to say "no extension is not a log format"
    err = _one_line_error(capsys, ["replay", str(tmp_path / name)])
    assert "no such file or folder" in err
    assert "not a log format" not in err


def test_truncated_native_log_replays_what_was_recorded(tmp_path, capsys):
    log = tmp_path / "run.cclog"
    assert main(["convert", str(WAIST), str(log)]) == 0
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - 777])  # power cut in the last block
    out = tmp_path / "t.json"
    assert main(["replay", str(log), "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err
    assert "Traceback" not in err
    full = replay_recording(read_log(WAIST)).events
    cut = json.loads(out.read_text())["steps"]
    with pytest.warns(UserWarning, match="cut at byte offset"):
        kept_until_s = float(read_log(log).t_s[-1])  # the intact blocks end here
    assert kept_until_s < float(read_log(WAIST).t_s[-1]) - 0.5  # the cut block (1 s of samples) is gone
    # exactly the steps that the full replay had decided by then, and no others
    decided = [e for e in full if e.emitted_at_s <= kept_until_s]
    assert len(cut) == len(decided) > 0.5 * len(full)
    assert [s["t"] for s in cut] == pytest.approx([e.t_s for e in decided], abs=1e-6)


def test_convert_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "a.cclog"
    assert main(["convert", str(WAIST), str(out)]) == 0
    err = _one_line_error(capsys, ["convert", str(WAIST), str(out)])
    assert "a.cclog" in err


def test_demo_writes_a_report(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "rep")]) == 0
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "demo_waist_run.csv" in report
    assert "demo_foot_run.csv" in report
    for stem in ("demo_waist_run", "demo_foot_run"):
        doc = json.loads((tmp_path / "rep" / f"{stem}.json").read_text())
        assert doc["summary"]["n_steps"] > 20
        # the report names every file it wrote, and the truth's sidecar by its own path, not by
        # the name of the replay JSON beside the report
        for written in (f"`{stem}.json`", f"`{stem}.csv`", f"`{stem}-cues.wav`", f"({stem}.png)"):
            assert written in report
        assert f"its sidecar, `firmware_py/data/{stem}.json`" in report


def test_every_subcommand_help_says_what_it_does():
    # `cadence-coach run --help` used to show the options only, without a word on what run does
    from firmware_py.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices
    for name, parser in sub.choices.items():
        assert len(parser.description or "") > 60, name


def test_precompile(capsys):
    assert main(["precompile"]) == 0
    out = capsys.readouterr().out
    assert "kernel" in out
    # the shank pipeline's line is the terrain kernel's, the only kernel that mode adds (it read
    # "_detect_block ... (memory)" while the seconds were the terrain kernel's compilation)
    shank = [line.split() for line in out.splitlines() if "pipeline: shank" in line]
    assert len(shank) == 1
    assert shank[0][1] == "_terrain_block"


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        OSError(
            "Could not find/load shared object file 'libllvmlite.so' from resource location. This could mean"
        ),
    ],
)
def test_running_out_of_memory_is_one_line_not_a_traceback(monkeypatch, capsys, exc):
    import firmware_py.cli as cli

    def boom(_args):
        raise exc

    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(boom))
    assert main(["precompile"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("cadence-coach: out of memory")
    assert "MemoryMax" in err[0]


def test_other_os_errors_are_not_mistaken_for_memory(monkeypatch):
    import firmware_py.cli as cli

    def boom(_args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(boom))
    with pytest.raises(OSError, match="Input/output"):
        main(["precompile"])


class _Fixed:
    """A parser stand-in whose parsed arguments run ``func``."""

    def __init__(self, func):
        self._func = func

    def parse_args(self, _argv):
        import argparse

        return argparse.Namespace(func=self._func)


# ---- session-5 review: defects a user met, each test failed before its fix -----------------------


@pytest.mark.parametrize(
    "option",
    [
        ["--side", "middle"],
        ["--rate", "5"],
        ["--rate", "40"],  # below what the drivers can ask of any chip (50 Hz)
        ["--rate", "2000"],
        ["--duration", "-3"],
        ["--chip", "mpu6051"],
        ["--address", "zz"],
        ["--address", "0x200"],
    ],
)
def test_run_rejects_out_of_range_options(capsys, option):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--bus", f"fake:{FOOT}", "--fast", "--no-record", *option])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert option[0] in err
    assert "Traceback" not in err
    assert "<lambda>" not in err


def test_run_without_a_pi_names_the_missing_bus_and_the_fake_one(capsys):
    # a laptop has no /dev/i2c-N: the one line says how to enable I2C on a Pi and how to simulate
    # the sensor elsewhere, without the "[Errno 2]" of the OSError underneath
    err = _one_line_error(capsys, ["run", "--bus", "smbus:987", "--no-record", "--pins", "none"])
    assert "/dev/i2c-987 does not exist" in err
    assert "--bus fake:RECORDING.csv" in err
    assert "Errno" not in err


def test_run_chip_names_are_the_config_chips():
    from firmware_py.cli import CHIP_NAMES
    from firmware_py.config import CHIPS

    assert CHIP_NAMES == CHIPS


def test_run_takes_bus_and_chip_from_the_config(tmp_path, capsys):
    cfg = tmp_path / "device.toml"
    cfg.write_text(f'[device]\nbus = "fake:{FOOT}"\nchip = "icm42688"\n')
    out = tmp_path / "live.json"
    assert main(["run", "--config", str(cfg), "--fast", "--no-record", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert "icm42688" in doc["source"]
    assert len(doc["steps"]) > 10


@pytest.mark.parametrize("option", ["--json", "--csv", "--plot", "--cues-wav"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, capsys, option):
    blocker = tmp_path / "afile"
    blocker.write_text("in the way")
    target = blocker / "out.x"  # a folder path through a file
    if option == "--plot":
        target = target.with_suffix(".png")
    err = _one_line_error(capsys, ["replay", str(FOOT), option, str(target)])
    assert str(target) in err
    assert "cannot write" in err


def test_a_full_disk_while_writing_the_csv_is_one_line(tmp_path, capsys):
    full = "/dev/full"
    if not os.path.exists(full):
        pytest.skip("no /dev/full here")
    err = _one_line_error(capsys, ["replay", str(FOOT), "--csv", full])
    assert "/dev/full" in err
    assert "No space left" in err


@pytest.mark.parametrize("name", ["a_folder", "plot.xyz"])
def test_a_plot_to_a_folder_or_an_unknown_format_is_one_line(tmp_path, capsys, name):
    pytest.importorskip("matplotlib")
    target = tmp_path / name
    if name == "a_folder":
        target.mkdir()
    err = _one_line_error(capsys, ["replay", str(FOOT), "--plot", str(target)])
    assert str(target) in err
    assert not (tmp_path / f"{name}.png").exists()


def test_cues_wav_creates_its_folder_like_the_other_outputs(tmp_path):
    wav = tmp_path / "new" / "deeper" / "cues.wav"
    assert (
        main(["replay", str(FOOT), "--cues-wav", str(wav), "--json", str(tmp_path / "new2" / "r.json")]) == 0
    )
    assert wav.read_bytes()[:4] == b"RIFF"


def test_json_to_a_pipe_is_written_into_it_not_replacing_it(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader():
        with open(fifo, "rb") as fh:  # blocks until the replay opens the pipe
            got.append(fh.read())

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    assert main(["replay", str(FOOT), "--json", str(fifo)]) == 0
    th.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the pipe was replaced by a regular file"
    assert got
    assert json.loads(got[0])["schema"] == SCHEMA


def _folder_of(tmp_path, *recordings):
    src = tmp_path / "data"
    for rec in recordings:
        (src / rec.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(rec, src / rec.parent.name / rec.name)
        shutil.copy(rec.with_suffix(".json"), src / rec.parent.name / rec.with_suffix(".json").name)
    return src


def test_folder_replay_coaches_with_the_given_config(tmp_path):
    src = _folder_of(tmp_path, WAIST)
    cfg = tmp_path / "me.toml"
    cfg.write_text('[coach]\nbaseline = "runner"\n[runner]\nbaseline_cadence_spm = 240\n')
    out = tmp_path / "out"
    assert main(["replay", str(src), "--json", str(out), "--config", str(cfg), "--quiet", "--jobs", "1"]) == 0
    steps = json.loads((out / WAIST.parent.name / f"{WAIST.stem}.json").read_text())["steps"]
    # smooth ground: the target is the runner's fixed baseline (factor 1, not clamped)
    assert {s["target_cadence_spm"] for s in steps if s["target_cadence_spm"] is not None} == {240.0}


def test_folder_replay_with_a_bad_recording_fails_and_names_it_once(tmp_path, capsys):
    src = _folder_of(tmp_path, WAIST)
    bad = src / "mine" / "bad.csv"
    bad.parent.mkdir()
    bad.write_text("t,ax,ay,az,gx,gy,gz\n0,1,2,3,,,\n-1,1,2,3,,,\n")
    out = tmp_path / "out"
    assert main(["replay", str(src), "--json", str(out), "--quiet", "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    bad_lines = [line for line in err.splitlines() if "bad.csv" in line]
    assert len(bad_lines) == 1
    assert bad_lines[0].count("bad.csv") == 1, bad_lines[0]
    assert (out / WAIST.parent.name / f"{WAIST.stem}.json").exists()  # the good one is still replayed


@pytest.mark.parametrize("content", [None, "dataset,recording_id\nx,y\n"])
def test_folder_without_recordings_is_an_error(tmp_path, capsys, content):
    folder = tmp_path / "nothing"
    folder.mkdir()
    if content is not None:
        (folder / "index.csv").write_text(content)
    err = _one_line_error(capsys, ["replay", str(folder)])
    assert "nothing" in err
    assert "no recordings" in err


def test_folder_replay_shows_the_warnings_of_each_recording(tmp_path, capsys):
    lines = WAIST.read_text().splitlines()
    head = lines[0].split(",")
    ti = head.index("t")
    shifted = []
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        if i >= 2000:
            cells[ti] = f"{float(cells[ti]) + 5.0:.6f}"  # a 5 s gap
        shifted.append(",".join(cells))
    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    (folder / "gappy.csv").write_text("\n".join([lines[0], *shifted]) + "\n")
    out = tmp_path / "out"
    argv = ["replay", str(tmp_path / "runs"), "--json", str(out), "--placement", "lower_back"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    warned = [line for line in err.splitlines() if "warning" in line and "gappy.csv" in line]
    assert warned, err
    assert "gap" in warned[0]
    # --quiet (also what benchmarks.accuracy --quiet asks for) keeps stderr for errors only
    assert main([*argv, "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_replay_refuses_to_overwrite_the_recording_or_its_sidecar(tmp_path, capsys):
    src = _folder_of(tmp_path, FOOT)
    rec = src / FOOT.parent.name / FOOT.name
    side = rec.with_suffix(".json")
    before = (rec.read_bytes(), side.read_bytes())
    for option, target in (("--csv", rec), ("--json", side), ("--plot", rec), ("--cues-wav", side)):
        err = _one_line_error(capsys, ["replay", str(rec), option, str(target)])
        assert option in err
        assert str(target) in err
    # a folder replay whose JSON folder is the input folder would write over every sidecar
    err = _one_line_error(capsys, ["replay", str(src), "--json", str(src), "--quiet"])
    assert "sidecar" in err
    assert (rec.read_bytes(), side.read_bytes()) == before


def test_a_replay_json_without_sidecar_may_sit_beside_the_recording(tmp_path):
    rec = tmp_path / "run.csv"
    shutil.copy(FOOT, rec)
    assert main(["replay", str(rec), "--placement", "foot", "--json", str(tmp_path / "run.json")]) == 0


def test_csv_carries_every_per_step_field_of_the_json(tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["replay", str(FOOT), "--json", str(out_json), "--csv", str(out_csv)]) == 0
    json_fields = set(json.loads(out_json.read_text())["steps"][0])
    header = out_csv.read_text().splitlines()[0].split(",")
    renamed = {"t_s": "t", "emitted_at_s": "emitted_at"}
    assert {renamed.get(h, h) for h in header} == json_fields


def test_replay_summary_line_rounds_the_cadence(capsys):
    import re

    assert main(["replay", str(FOOT)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"cadence median \d+\.\d spm", out), out


def test_calibrate_on_a_foot_says_why_nothing_is_written(tmp_path, capsys):
    profile = tmp_path / "runner.toml"
    assert main(["calibrate", str(FOOT), "--distance-m", "50", "--profile", str(profile)]) == 0
    out = capsys.readouterr().out
    assert "nothing written" in out
    assert "foot" in out.split("nothing written")[1]
    assert not profile.exists()


def test_demo_into_a_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("in the way")
    for out in (blocker, blocker / "rep"):
        err = _one_line_error(capsys, ["demo", "--out", str(out)])
        assert str(out) in err
        assert "--out" in err


def test_a_recording_in_milliseconds_is_one_line_naming_the_file(tmp_path, capsys):
    lines = FOOT.read_text().splitlines()
    ti = lines[0].split(",").index("t")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        cells[ti] = f"{float(cells[ti]) * 1000.0:.3f}"
        rows.append(",".join(cells))
    ms = tmp_path / "in_ms.csv"
    ms.write_text("\n".join([lines[0], *rows]) + "\n")
    for argv in (
        ["replay", str(ms), "--placement", "foot"],
        [
            "calibrate",
            str(ms),
            "--distance-m",
            "50",
            "--placement",
            "foot",
            "--profile",
            str(tmp_path / "r.toml"),
        ],
    ):
        err = _one_line_error(capsys, argv)
        assert "in_ms.csv" in err
        assert "milliseconds" in err


def test_readme_json_example_has_the_fields_of_the_contract(tmp_path):
    import re

    readme = (FIXTURES.parent.parent / "README.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", readme, re.S).group(1))
    out = tmp_path / "r.json"
    assert main(["replay", str(WAIST), "--json", str(out), "--config", str(_runner_example())]) == 0
    doc = json.loads(out.read_text())
    assert doc["cues"], "the example profile cues this recording"
    assert set(example) == set(doc)
    assert set(example["steps"][0]) == set(doc["steps"][0])
    assert set(example["cues"][0]) == set(doc["cues"][0])
    assert set(example["summary"]) == set(doc["summary"])


def _runner_example():
    return FIXTURES.parent.parent / "config" / "runner.example.toml"


def test_every_device_cue_in_the_readme_is_emitted_or_marked_not_yet():
    import re

    repo = FIXTURES.parent.parent
    readme = (repo / "README.md").read_text()
    sources = "\n".join(p.read_text() for p in sorted((repo / "firmware_py").rglob("*.py")))
    for kind in ("ready", "sensor_lost", "recording_stopped", "battery_low"):
        row = re.search(rf"^\| `{kind}` \|.*$", readme, re.M).group(0)
        # handed to the loop's _device(...) directly, or as an event of that kind (BatteryEvent)
        emitted = re.search(rf'(?:_device|Event)\(\s*"{kind}"', sources) is not None
        assert emitted or "not emitted yet" in row, f"{kind}: the README promises a cue nothing emits"


def test_a_misspelt_placement_is_refused_once_for_a_whole_folder(tmp_path, capsys):
    src = _folder_of(tmp_path, FOOT, WAIST)
    err = _one_line_error(capsys, ["replay", str(src), "--placement", "feet", "--quiet"])
    assert "--placement" in err
    assert "feet" in err


def test_placement_aliases_of_the_sidecars_work_on_the_command_line(tmp_path):
    out = tmp_path / "r.json"
    assert main(["replay", str(FOOT), "--placement", "shoe", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["placement"] == "foot"


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_replay_jobs_must_be_positive(tmp_path, capsys, jobs):
    src = _folder_of(tmp_path, FOOT, WAIST)
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(src), "--jobs", jobs, "--quiet"])
    assert exc.value.code == 2
    assert "--jobs" in capsys.readouterr().err


def test_a_fake_run_refuses_to_write_its_json_over_the_recordings_sidecar(tmp_path, capsys):
    src = _folder_of(tmp_path, FOOT)
    rec = src / FOOT.parent.name / FOOT.name
    side = rec.with_suffix(".json")
    before = side.read_bytes()
    argv = ["run", "--bus", f"fake:{rec}", "--fast", "--no-record", "--json", str(side)]
    err = _one_line_error(capsys, argv)
    assert "--json" in err
    assert "sidecar" in err
    assert side.read_bytes() == before


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand a file to another group"
)
def test_calibrate_keeps_the_profile_owner_and_group(tmp_path):
    from firmware_py.calibrate import write_profile_table

    profile = tmp_path / "config.toml"
    profile.write_text('[device]\nplacement = "lower_back"\n')
    os.chown(profile, 0, 1)  # like /etc/cadence-coach/config.toml: root, the service's group
    profile.chmod(0o640)
    write_profile_table(profile, "stride", {"scale_walk": 1.05, "scale_run": 1.0})
    st = profile.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 1, 0o640)
    assert "scale_walk = 1.05" in profile.read_text()


@pytest.mark.parametrize("present", [True, False])
def test_plain_precompile_rebuilds_a_stale_aot_module_but_builds_none_that_was_never_asked_for(
    monkeypatch, tmp_path, capsys, present
):
    # After a software update the unit's ExecStartPre (plain `precompile`) finds the module built
    # for the old kernels: it must rebuild it, or the device runs on the JIT from then on. Without
    # a module (the set-up chose the JIT) it only warms the JIT cache.
    from dsp import warmup

    module = tmp_path / "cadence_coach_aot.so"
    if present:
        module.write_bytes(b"built from other kernel sources")
    built = []
    monkeypatch.setattr(warmup, "aot_module_path", lambda: module)
    monkeypatch.setattr(warmup, "aot_allowed", lambda: True)
    monkeypatch.setattr(warmup, "kernel_backend", lambda: "jit")
    monkeypatch.setattr(warmup, "build_aot", lambda: built.append(True) or True)
    monkeypatch.setattr(warmup, "warm_up", lambda: 7)
    assert main(["precompile"]) == 0
    out = capsys.readouterr().out
    assert built == ([True] if present else [])
    assert ("is stale" in out) is present
    assert ("compiled or loaded 7 kernel variants" in out) is not present


def test_calibrate_refuses_a_profile_name_that_is_not_a_toml_file(tmp_path, monkeypatch, capsys):
    # `replay --profile gentle` names a coaching profile; `calibrate --profile gentle` wrote a new
    # file called "gentle" in the current folder
    monkeypatch.chdir(tmp_path)
    err = _one_line_error(capsys, ["calibrate", str(WAIST), "--distance-m", "170", "--profile", "gentle"])
    assert "--profile gentle" in err
    assert ".toml" in err
    assert not (tmp_path / "gentle").exists()


@pytest.mark.parametrize(
    "chip", ["mpu6050", "mpu6500", "mpu9250", "lsm6ds3", "lsm6dsl", "lsm6dso", "lsm6dsox", "icm42688"]
)
def test_every_chip_the_config_accepts_runs_on_the_fake_bus(tmp_path, capsys, chip):
    from firmware_py.config import CHIPS

    assert chip in CHIPS
    out = tmp_path / "live.json"
    argv = ["run", "--bus", f"fake:{FOOT}", "--chip", chip, "--fast", "--no-record", "--duration", "20"]
    assert main([*argv, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["steps"]) > 5
    # the summary counts the cues the JSON lists; the device's own (ready) are named apart
    line = capsys.readouterr().out.strip().splitlines()[-1]
    n_cues = len(doc["cues"])
    assert line.startswith(f"{len(doc['steps'])} steps, {n_cues} cue{'' if n_cues == 1 else 's'}")
    assert "device cue: ready" in line


def test_the_chips_list_of_the_config_is_what_the_fake_bus_can_simulate():
    from firmware_py.config import CHIPS
    from firmware_py.imu.fake import FAKE_IMUS

    assert set(CHIPS) == set(FAKE_IMUS)


def test_the_device_rate_range_is_the_drivers():
    from firmware_py.config import load_config
    from firmware_py.exc import ConfigError
    from firmware_py.imu.base import MIN_SAMPLING_RATE_HZ

    assert MIN_SAMPLING_RATE_HZ == 50.0
    with pytest.raises(ConfigError, match="sampling_rate_hz"):
        load_config(overrides={"device.sampling_rate_hz": 40.0})


def test_readme_json_example_is_the_demo_waist_run_and_adds_up(tmp_path):
    # the example's numbers were made up and did not agree with each other (mean speed 2.07 m/s
    # for 51.5 m in 40.1 s; 240 contacts of both feet in 40 s at 160 spm): it is now an excerpt of
    # the demo's waist run, checked here against a replay and against its own arithmetic
    import re

    readme = (FIXTURES.parent.parent / "README.md").read_text()
    example = json.loads(re.search(r"```json\n(.*?)```", readme, re.S).group(1))
    s = example["summary"]
    assert s["mean_speed_mps"] == pytest.approx(s["distance_m"] / s["moving_time_s"], abs=6e-4)
    assert s["time_walking_s"] + s["time_running_s"] == pytest.approx(s["moving_time_s"], abs=2e-3)
    assert sum(v["time_s"] for v in s["terrain"].values()) == pytest.approx(s["moving_time_s"], abs=2e-3)
    assert sum(v["time_s"] for v in s["grade"].values()) == pytest.approx(s["moving_time_s"], abs=2e-3)
    feet = 2 if example["steps_feet"] == "one" else 1
    assert s["n_contacts_both_feet"] == feet * s["n_steps"]
    step = example["steps"][0]
    assert step["emitted_at"] - step["t"] <= s["latency_s_max"] + 1e-9
    assert step["distance_m"] <= s["distance_m"]
    # the waist demo, as ./run.sh replays it
    demo = FIXTURES.parent.parent / "firmware_py" / "data" / "demo_waist_run.csv"
    out = tmp_path / "r.json"
    assert main(["replay", str(demo), "--json", str(out), "--config", str(_runner_example())]) == 0
    doc = json.loads(out.read_text())
    assert example["summary"] == doc["summary"]
    assert example["cues"][0] == doc["cues"][0]
    assert step == next(x for x in doc["steps"] if x["t"] == step["t"])
    for key in ("placement", "placement_side", "sample_rate_hz", "has_gyro", "steps_feet"):
        assert example[key] == doc[key], key


def test_convert_help_says_formats_come_from_the_extensions(capsys):
    # `convert --help` listed "input" and "output" with no word on what they may be
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "from its extension (.csv or .cclog)" in text
    assert "a .csv (t,ax,ay,az,gx,gy,gz) or a .cclog device log" in text
    assert "not the input itself" in text


def test_folder_replay_into_an_existing_file_is_one_line_up_front(tmp_path, capsys):
    # it was one error per recording ("afile/ds/RUN.json: ... Not a directory"), each replayed first
    src = _folder_of(tmp_path, WAIST, FOOT)
    taken = tmp_path / "out.json"
    taken.write_text("{}")
    err = _one_line_error(capsys, ["replay", str(src), "--json", str(taken), "--quiet"])
    assert "--json" in err
    assert "names a folder" in err
    assert taken.read_text() == "{}"


def test_calibrate_into_a_profile_that_cannot_be_written_says_how_to_fix_it(tmp_path, capsys):
    # a missing folder was answered "check the permissions"
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n")
    err = _one_line_error(
        capsys, ["calibrate", str(WAIST), "--distance-m", "170", "--profile", str(blocker / "runner.toml")]
    )
    assert "runner.toml" in err
    assert "check the permissions" not in err
    assert "fix: give --profile a .toml file in a folder you can write" in err


def test_readme_documents_the_csv_columns_as_written(tmp_path):
    # the README said nothing of the per-step CSV's columns, units or empty cells
    import csv
    import re

    readme = (FIXTURES.parent.parent / "README.md").read_text()
    section = readme.split("### The per-step CSV (`--csv`)")[1].split("\n## ")[0]
    documented = re.search(r"```\n(.*?)\n```", section, re.S).group(1).split(",")
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    assert main(["replay", str(WAIST), "--csv", str(out_csv), "--json", str(out_json)]) == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == documented
    steps = json.loads(out_json.read_text())["steps"]
    assert len(rows) == len(steps)
    for row, step in zip(rows, steps, strict=True):
        for name in documented:
            key = {"t_s": "t", "emitted_at_s": "emitted_at"}.get(name, name)
            value = step[key]
            if value is None:
                assert row[name] == "", name
            elif isinstance(value, bool):
                assert row[name] == ("1" if value else "0"), name
            elif isinstance(value, float):
                assert float(row[name]) == pytest.approx(value, abs=6e-4), name
            else:
                assert row[name] == str(value), name


def test_a_replay_with_the_calibrated_profile_reads_the_course_length(tmp_path, capsys):
    # calibrate estimated with [runner] height_m while replay used the sidecar's subject height:
    # calibrated on 170 m, the waist demo then replayed 173 m (+1.8 %)
    demo = FIXTURES.parent.parent / "firmware_py" / "data" / "demo_waist_run.csv"
    assert json.loads(demo.with_suffix(".json").read_text())["subject"]["height_m"]
    profile, out = tmp_path / "runner.toml", tmp_path / "r.json"
    assert main(["calibrate", str(demo), "--distance-m", "170", "--profile", str(profile)]) == 0
    assert main(["replay", str(demo), "--config", str(profile), "--json", str(out)]) == 0
    distance_m = json.loads(out.read_text())["summary"]["distance_m"]
    # calibrate sums what the replay sums (a bout's first step included, as the estimator gives
    # it): only the factor's rounding to 4 decimals is left (the replay left out that first step
    # while calibrate counted it as a median step: 168.76 m, -0.7 %)
    assert distance_m == pytest.approx(170.0, rel=2e-4)


def test_replay_help_names_what_plot_and_cues_wav_hold(capsys):
    # --plot said "signal, steps and cadence to this PNG" (it also draws stride, targets, distance
    # and cues, in any matplotlib format); --cues-wav said "buzzer" (the motor is rendered too)
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "cadence and stride against their targets, distance and cues to this image (.png, .svg, .pdf" in text
    )
    assert "buzzer and vibration motor ([pins])" in text


def test_folder_replay_refuses_two_recordings_with_one_output_name(tmp_path, capsys):
    # RUN.csv beside its conversion RUN.cclog: both were replayed into out/<dataset>/RUN.json, the
    # second silently overwriting the first ("replayed 2 of 2", one file written)
    src = _folder_of(tmp_path, FOOT)
    csv_path = next((src / FOOT.parent.name).glob("*.csv"))
    assert main(["convert", str(csv_path), str(csv_path.with_suffix(".cclog"))]) == 0
    capsys.readouterr()
    out = tmp_path / "out"
    err = _one_line_error(capsys, ["replay", str(src), "--json", str(out), "--quiet"])
    assert csv_path.name in err
    assert csv_path.with_suffix(".cclog").name in err
    assert "fix: rename one" in err
    assert not out.exists()


def test_folder_replay_names_the_cclog_files_it_skips(tmp_path, capsys):
    # an empty .cclog (power cut before its first write) or one without the magic was skipped
    # without a word: "replayed 1 of 1" while the folder held two device logs
    src = _folder_of(tmp_path, WAIST)
    (src / WAIST.parent.name / "cut.cclog").write_bytes(b"")
    (src / WAIST.parent.name / "index.csv").write_text("dataset,recording_id\nx,y\n")
    assert main(["replay", str(src), "--json", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "replayed 1 of 1" in captured.out
    warning = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(warning) == 1
    assert "cut.cclog" in warning[0]
    assert "index.csv" not in captured.err
    assert main(["replay", str(src), "--json", str(tmp_path / "out"), "--quiet"]) == 0
    assert "skipped" not in capsys.readouterr().err  # --quiet: no warnings for a folder


def test_counts_name_their_noun_in_the_singular_for_one():
    from firmware_py.replay import counted

    assert [counted(n, "cue") for n in (0, 1, 2)] == ["0 cues", "1 cue", "2 cues"]
