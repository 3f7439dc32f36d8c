"""benchmarks.cadence_windows: windows classified, on hand-made truth with numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.cadence_windows import format_table, main, window_rows
from benchmarks.scoring import Truth, parse_prediction


def _truth(times, intervals):
    gt = {
        "steps_t": list(times),
        "steps_side": ["L", "R"] * (len(times) // 2) + ["L"] * (len(times) % 2),
        "steps_feet_code": "both",
        "event_definition": "initial contact",
        "gt_intervals": intervals,
    }
    meta = {
        "dataset": "synth",
        "placement": "lower_back",
        "activity": "walk",
        "duration_s": 40.0,
        "ground_truth": gt,
    }
    return Truth(dataset="synth", recording_id="rec", meta=meta)


def _pred(times, cadence):
    steps = [
        {"t": float(t), "side": None, "cadence_spm": float(c), "gait": "walk", "stride_length_m": None}
        for t, c in zip(times, cadence, strict=True)
    ]
    return parse_prediction({"schema": "cadence-coach.replay/1", "steps": steps, "steps_feet": "both"})


def test_windows_are_classified_by_cause():
    """Steps every 0.5 s over [0, 30] s: three 10 s windows at 120 steps/min.

    The prediction finds every step, with a field of 120, except in the middle window where it
    adds a false step between every two (field 240 there).
    """
    truth_t = np.arange(0.0, 30.01, 0.5)
    extra = np.arange(10.25, 19.8, 0.5)
    pred_t = np.sort(np.concatenate([truth_t, extra]))
    field = np.where((pred_t > 10.0) & (pred_t < 20.0), 240.0, 120.0)
    rows = window_rows(_truth(truth_t, [[0.0, 30.0]]), _pred(pred_t, field))
    assert [(r.t0_s, r.t1_s) for r in rows] == [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]
    np.testing.assert_allclose([r.truth_spm for r in rows], 120.0)
    np.testing.assert_allclose([r.field_spm for r in rows], [120.0, 240.0, 120.0])
    # the detector's estimate on the true contacts: 0.5 s steps are 120 steps/min
    np.testing.assert_allclose([r.contacts_spm for r in rows], 120.0)
    assert [r.cause for r in rows] == ["bout edge", "detection", "bout edge"]
    assert rows[1].false == extra.size
    assert rows[1].missed == 0
    table = format_table(rows, 3.0)
    # errors 0, 120, 0: median 0, p95 0.9 x 120 = 108 (times and field); one window misses, by
    # detection; the true contacts do not
    row = "| synth / lower_back / walk | 3 | 0.0 / 108.0 | 0.0 / 108.0 | 0.0 / 0.0 | 1 | 1 | 0 | 0 | 0 | 0 |"
    assert row in table


def test_a_change_of_pace_inside_a_window_is_named():
    """Window [10, 20] s: steps of 0.5 s, then from 15 s of 0.4 s (cadence 120 then 150: +25 %)."""
    t = list(np.arange(0.0, 15.0, 0.5)) + list(15.0 + np.arange(0.0, 15.01, 0.4))
    t = np.array(t)
    rows = window_rows(_truth(t, [[0.0, 30.0]]), _pred(t, np.full(t.size, 100.0)))  # field off by 20+
    assert rows[1].cause == "pace change"


@pytest.mark.parametrize("listing", [False, True])
def test_the_command_prints_the_table(tmp_path, capsys, listing):
    import json

    truth_t = np.arange(0.0, 20.01, 0.5)
    tr = _truth(truth_t, [[0.0, 20.0]])
    (tmp_path / "truth" / "synth").mkdir(parents=True)
    (tmp_path / "truth" / "synth" / "rec.json").write_text(json.dumps(dict(tr.meta)))
    steps = [{"t": float(x), "side": None, "cadence_spm": 130.0, "gait": "walk"} for x in truth_t]
    (tmp_path / "pred" / "synth").mkdir(parents=True)
    (tmp_path / "pred" / "synth" / "rec.json").write_text(json.dumps({"steps": steps, "steps_feet": "both"}))
    args = [str(tmp_path / "pred"), "--truth", str(tmp_path / "truth")] + (["--list"] if listing else [])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| synth / lower_back / walk | 2 |" in out  # two windows, both 10 spm off
    assert ("field 130.0" in out) == listing


def test_the_command_without_predictions_or_truth_says_so_in_one_line(tmp_path, capsys):
    import json

    tr = _truth(np.arange(0.0, 20.01, 0.5), [[0.0, 20.0]])
    (tmp_path / "truth" / "synth").mkdir(parents=True)
    (tmp_path / "truth" / "synth" / "rec.json").write_text(json.dumps(dict(tr.meta)))
    # no prediction at all (accuracy not run): not a table of every window scored as missed
    assert main([str(tmp_path / "no_pred"), "--truth", str(tmp_path / "truth")]) == 2
    captured = capsys.readouterr()
    assert "| synth" not in captured.out
    err = captured.err.strip()
    assert len(err.splitlines()) == 1
    assert "no predictions" in err
    assert "benchmarks.accuracy" in err
    # a truth folder without sidecars: one line, no traceback
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "no_pred"), "--truth", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "sidecars" in err


def test_default_predictions_are_where_the_accuracy_command_writes_them(tmp_path):
    # the default was a literal /tmp path, while the accuracy command writes to the system's
    # temporary folder (TMPDIR, or another folder on macOS and Windows)
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "from benchmarks import accuracy, cadence_windows as cw; "
        "print(accuracy._parser().parse_args([]).out / 'datasets'); print(cw.DEFAULT_PRED)"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    where_written, default = out.stdout.split()
    assert where_written == str(tmp_path / "cadence-coach-accuracy" / "datasets")
    assert default == where_written
