"""The command line as a user meets it: contract, folders, bad input, demo."""

from __future__ import annotations

import json
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
    assert kept_until_s < 0.9 * full[-1].t_s
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


def test_precompile(capsys):
    assert main(["precompile"]) == 0
    assert "kernel" in capsys.readouterr().out


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
