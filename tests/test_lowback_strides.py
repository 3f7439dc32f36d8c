"""`python -m benchmarks.lowback_strides`: the per-stride breakdown and calibration evaluation run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.lowback_strides import (
    Rec,
    best_scale_errors,
    evaluate,
    format_report,
    heading_change_rad,
    main,
    pair,
    stride_heading_change_deg,
)
from tests.conftest import FIXTURES


def test_heading_change_is_the_yaw_rate_about_gravity_integrated(rng):
    fs = 100.0
    t = np.arange(300) / fs
    up = rng.normal(size=3)
    up /= np.linalg.norm(up)  # the sensor sits any way round
    acc = np.tile(9.81 * up, (t.size, 1))
    side = np.cross(up, [1.0, 0.0, 0.0])
    side /= np.linalg.norm(side)
    gyro = np.outer(np.full(t.size, -0.8), up) + np.outer(np.sin(2 * np.pi * t), side)  # turn + sway
    rec = Rec(FIXTURES, {}, t, acc, gyro, fs)
    assert math.isclose(heading_change_rad(rec, 0.5, 2.5), 1.6, rel_tol=1e-3)
    assert math.isnan(heading_change_rad(Rec(FIXTURES, {}, t, acc, None, fs), 0.5, 2.5))


def test_stride_heading_change_spans_the_two_steps_before_the_nearest_contact(rng):
    fs = 100.0
    t = np.arange(400) / fs
    up = rng.normal(size=3)
    up /= np.linalg.norm(up)
    acc = np.tile(9.81 * up, (t.size, 1))
    gyro = np.outer(np.where(t < 1.505, 0.0, 0.5), up)  # still, then turning at 0.5 rad/s after 1.5 s
    rec = Rec(FIXTURES, {}, t, acc, gyro, fs)
    c = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
    # nearest contact 2.5 s: the stride 1.5-2.5 s turns by 0.5 rad; nearest 1.5 s: 0.5-1.5 s, still
    assert math.isclose(stride_heading_change_deg(rec, c, 2.52), math.degrees(0.5), rel_tol=1e-2)
    assert abs(stride_heading_change_deg(rec, c, 1.48)) < 1e-9
    assert math.isnan(stride_heading_change_deg(rec, c, 0.98))  # only one contact before it
    assert math.isnan(stride_heading_change_deg(rec, c, 3.0))  # none within the tolerance
    assert math.isnan(stride_heading_change_deg(rec, np.zeros(0), 1.0))


def test_pair_takes_the_nearest_contact_within_the_tolerance():
    c = np.array([1.0, 1.6, 2.2])
    v = np.array([10.0, 20.0, 30.0])
    assert pair(c, v, 1.65, 0.1) == 20.0
    assert math.isnan(pair(c, v, 1.9, 0.1))
    assert math.isnan(pair(np.zeros(0), np.zeros(0), 1.0, 0.1))


def test_best_scale_errors_remove_a_pure_scale_and_keep_the_scatter(rng):
    ref = rng.uniform(0.5, 1.6, size=40)
    err = 0.25 * ref  # every stride 25 % long: a scale, which one factor removes
    err[3] = np.nan  # unpaired
    best = best_scale_errors(err, ref)
    assert math.isnan(best[3])
    np.testing.assert_allclose(np.delete(best, 3), 0.0, atol=1e-12)
    # scatter is not a scale: what is left is the least-squares residual, never more than before
    noisy = 1.1 * ref + rng.normal(0.0, 0.05, size=ref.size) - ref
    best = best_scale_errors(noisy, ref)
    est = noisy + ref
    k = np.sum(est * ref) / np.sum(est**2)
    np.testing.assert_allclose(best, k * est - ref)
    assert 0.85 < k < 0.96
    assert np.sum(best**2) < np.sum(noisy**2)
    assert np.all(np.isnan(best_scale_errors(np.full(3, np.nan), ref[:3])))


def test_evaluate_on_the_mobgap_fixtures(tmp_path, capsys):
    report = evaluate(FIXTURES)
    b = report["breakdown"]["mobgap_example"]
    total = b["all"]["n"]
    assert total >= 60
    assert b["true stride < 0.9 m"]["n"] + b["true stride >= 0.9 m"]["n"] == total
    assert b["heading change > 30 deg"]["n"] + b["heading change < 15 deg"]["n"] <= total
    assert 0.0 < b["all"]["mae_m"] < 1.0
    assert math.isclose(b["all"]["sum_abs_m"], b["all"]["mae_m"] * total)
    assert b["all, best scale of the recording"]["n"] == total
    runs = report["calibration"]["mobgap_example"]["runs"]
    assert {r["subject"] for r in runs} == {"HA-001", "MS-001"}
    assert all(r["calibrated_on"] != r["tested_on"] and 0.5 < r["scale_walk"] < 2.0 for r in runs)
    assert report["against_feet"] == {}  # no foot recording of a lower-back trial in the fixtures
    text = format_report(report)
    assert "### mobgap_example: breakdown" in text
    out = tmp_path / "lb.json"
    assert main([str(FIXTURES), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["breakdown"]["mobgap_example"]["all"]["n"] == total
    assert "calibrate on one recording" in capsys.readouterr().out


def test_the_command_on_a_folder_without_sidecars_says_so(tmp_path, capsys):
    # it printed nothing and exited 0 (lowback_timing: a traceback)
    from benchmarks.lowback_timing import main as timing_main

    for run in (main, timing_main):
        assert run([str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1
        assert "no recordings with step truth" in err


def test_the_studies_help_says_what_folder_they_read(capsys):
    # `folder` was listed with no word on what it holds or its default
    from benchmarks.lowback_timing import main as timing_main

    for run in (main, timing_main):
        with pytest.raises(SystemExit):
            run(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "truth folder <dataset>/<recording>.{csv,json}" in text
