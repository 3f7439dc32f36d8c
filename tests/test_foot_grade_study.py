"""`python -m benchmarks.foot_grade`: stride sequences, synthetic ramps, the report."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.foot_grade import RAMP_START_M, evaluate, format_report, main, ramp, sequence
from tests.conftest import FIXTURES


def test_ramp_on_noiseless_strides_is_found_when_the_window_reaches_the_threshold():
    # 2 m strides, no noise: the 20 m window (10 strides) reads 10 % × the share of it on the ramp,
    # which reaches the 6 % threshold 12 m into the ramp; the margin (3 × 5 cm × √10 / 20 m = 2.4 %)
    # is below it, so it does not delay the climb
    n = 150
    t, length, dz = 0.7 * np.arange(1, n + 1), np.full(n, 2.0), np.zeros(n)
    got = ramp(t, length, dz, 10.0)
    assert got["found_m"] == pytest.approx(12.0)
    assert got["share_right"] == 1.0
    assert got["median_error_pts"] == pytest.approx(0.0, abs=0.06)  # the run is √(d² − h²)
    assert got["flat_graded"] == 0.0
    descent = ramp(t, length, dz, -10.0)
    assert descent["found_m"] == pytest.approx(12.0)
    # a ramp under the threshold is never a climb
    assert math.isnan(ramp(t, length, dz, 4.0)["found_m"])


def test_sequence_repeats_the_recordings_to_the_distance():
    a = np.array([[1.0, 1.0, 0.01], [2.0, 1.2, 0.02], [3.0, 1.1, -0.01]])
    b = np.array([[10.0, 2.0, 0.0], [10.5, 2.0, 0.0], [11.0, 2.0, 0.0], [11.5, 2.0, 0.0]])
    t, length, dz = sequence([a, b], 30.0)
    assert length.sum() >= 30.0
    assert length[:-1].sum() < 30.0
    np.testing.assert_array_equal(length[:7], [1.0, 1.2, 1.1, 2.0, 2.0, 2.0, 2.0])
    np.testing.assert_array_equal(dz[:3], a[:, 2])
    assert np.all(np.diff(t) > 0.0)
    assert sequence([a[:2]], 10.0)[0].size == 0  # too short a recording is left out
    assert RAMP_START_M < 300.0


def test_report_on_the_fixtures(tmp_path, capsys):
    report = evaluate(FIXTURES)
    assert "pyshoe_vicon / run" in report
    assert "demo_foot_run" in report
    demo = report["demo_foot_run"]
    assert demo["strides"] >= 30
    assert abs(demo["grade_pct"]) < 2.0  # a flat room (it read +5.8 % in session 6)
    assert demo["graded_share"] == 0.0
    assert demo["ramps"]["+8"]["share_right"] == 1.0
    text = format_report(report)
    assert "| demo_foot_run |" in text
    assert "flat graded %" in text
    out = tmp_path / "r.json"
    assert main([str(FIXTURES), "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())) == set(report)
    assert "Synthetic ramps" in capsys.readouterr().out
    assert main([str(tmp_path / "missing")]) == 2
