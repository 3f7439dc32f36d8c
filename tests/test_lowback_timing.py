"""`python -m benchmarks.lowback_timing`: the backward axis, the offsets and the report."""

from __future__ import annotations

import json

import numpy as np
from scipy.signal import lfilter

from benchmarks.lowback_timing import (
    BACKWARD_CUTOFF_HZ,
    TIMINGS,
    _ba,
    backward_acceleration,
    evaluate,
    format_report,
    main,
    offsets,
)
from tests.conftest import FIXTURES


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1.0
    return q


def test_the_backward_axis_is_found_in_any_orientation_and_the_sideways_sway_averages_out(rng):
    """A walk with a known backward acceleration (braking while the vertical hump loads, forward
    while it falls) and a larger sideways sway at the stride frequency, seen by a rotated sensor:
    once the axis has settled, the output is the low-passed true backward acceleration, not its
    negative and not the sway."""
    fs, period = 100.0, 0.55
    t = np.arange(int(40.0 * fs)) / fs
    contacts = 1.0 + period * np.arange(int(38.0 / period))
    vert = np.zeros_like(t)
    back = np.zeros_like(t)
    for c in contacts:
        x = t - c
        vert += 3.0 * np.exp(-0.5 * ((x - 0.08) / 0.05) ** 2) - 1.0 * np.exp(-0.5 * ((x - 0.3) / 0.1) ** 2)
        back += 2.0 * np.exp(-0.5 * ((x - 0.1) / 0.04) ** 2) - 2.0 * np.exp(-0.5 * ((x - 0.0) / 0.03) ** 2)
    sway = 2.5 * np.sin(np.pi * t / period)  # sideways: one period per stride (two steps)
    world = np.column_stack([-back, sway, 9.80665 + vert])  # x forward, y left, z up
    rot = _random_rotation(rng)
    acc = world @ rot.T + rng.normal(0.0, 0.05, (t.size, 3))
    step, est = backward_acceleration(t, acc, contacts, contacts + 0.15, fs)
    bb, ab = _ba(BACKWARD_CUTOFF_HZ, fs)
    expected = lfilter(bb, ab, back)
    late = t > 15.0
    assert np.corrcoef(est[late], expected[late])[0, 1] > 0.95
    assert np.max(np.abs(est[late] - expected[late])) < 0.35 * np.max(np.abs(expected))
    assert np.corrcoef(step[late], vert[late])[0, 1] > 0.8
    # standing still before the first contact: nothing is learnt, the output stays zero
    assert np.all(est[t < 0.9] == 0.0)


def test_offsets_are_signed_to_the_nearest_event_and_far_contacts_are_left_out():
    events = np.array([1.0, 1.5, 2.0])
    times = np.array([0.95, 1.26, 1.74, 2.02, 2.5])
    np.testing.assert_allclose(offsets(times, events), [-0.05, -0.24, 0.24, 0.02])  # 2.5 s: 0.5 s off
    assert offsets(np.zeros(0), events).size == 0
    assert offsets(times, np.zeros(0)).size == 0
    np.testing.assert_allclose(offsets(np.array([1.1]), np.array([1.0])), [0.1])


def test_the_report_on_the_lower_back_fixtures(tmp_path, capsys):
    report = evaluate(FIXTURES)
    groups = report["groups"]
    assert set(groups) == {"mobgap_example/lower_back/walk", "harlab_treadmill_jog/lower_back/run"}
    for per in groups.values():
        assert set(per) == set(TIMINGS)
        n = per["half-climb"]["n_events"]
        assert all(0.0 < v["f1"] <= 1.0 and v["tp"] + v["fn"] == n for v in per.values())
    subjects = report["subjects"]["mobgap_example/lower_back/walk"]
    assert set(subjects) == {"HA-001", "MS-001"}
    assert all(-100.0 < v["median_ms"] < 100.0 for per in subjects.values() for v in per.values())
    text = format_report(report)
    assert "| mobgap_example/lower_back/walk | HA-001 |" in text
    out = tmp_path / "timing.json"
    assert main([str(FIXTURES), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["groups"].keys() == groups.keys()
    assert "F1 forward peak" in capsys.readouterr().out
