"""`python -m benchmarks.lowback_gyro`: the gyro-aided vertical, the standing bias and the report."""

from __future__ import annotations

import json

import numpy as np
from scipy.spatial.transform import Rotation

from benchmarks.lowback_gyro import (
    REFERENCE,
    detector_tilt_deg,
    evaluate,
    format_report,
    gyro_aided_world,
    main,
    standing_gyro_bias,
    step_signal,
)
from tests.conftest import FIXTURES

G = 9.80665


def _sensor_in_a_turn(rng, fs=100.0):
    """A walk seen by a sensor mounted in a random orientation: 6 s straight, a 2 s turn of 180°
    with a centripetal acceleration of 2.5 m/s² (a tight, sustained turn), 6 s straight; the trunk
    pitches ±5° at the step frequency and the vertical acceleration carries a step hump.

    Returns t, the specific force and the rate in the sensor frame, the true vertical acceleration
    and the true 'up' in the sensor frame."""
    t = np.arange(int(15.0 * fs)) / fs
    in_turn = (t >= 6.0) & (t < 8.0)
    yaw_rate = np.where(in_turn, np.pi / 2.0, 0.0)
    yaw = np.concatenate([[0.0], np.cumsum(yaw_rate[1:] / fs)])
    pitch = np.radians(5.0) * np.sin(2.0 * np.pi * 1.8 * t)
    mount = Rotation.random(random_state=int(rng.integers(2**31)))
    body = Rotation.from_euler("ZY", np.column_stack([yaw, pitch])) * mount  # sensor -> world
    vert = 1.5 * np.sin(2.0 * np.pi * 1.8 * t)
    heading = np.column_stack([np.cos(yaw), np.sin(yaw), np.zeros_like(t)])
    left = np.column_stack([-np.sin(yaw), np.cos(yaw), np.zeros_like(t)])
    world = np.column_stack([np.zeros_like(t), np.zeros_like(t), G + vert])
    world += 2.5 * in_turn[:, None] * left + 0.3 * np.sin(2.0 * np.pi * 1.8 * t)[:, None] * heading
    acc = body.inv().apply(world)
    gyro = np.zeros_like(acc)
    gyro[1:] = (body[:-1].inv() * body[1:]).as_rotvec() * fs  # body rate over each sample's interval
    up = body.inv().apply(np.tile([0.0, 0.0, 1.0], (t.size, 1)))
    return t, acc, gyro, vert, up, in_turn, fs


def test_the_gyro_aided_vertical_stays_true_through_a_turn_that_tilts_the_low_pass(rng):
    """Known answer: in a sustained 2.5 m/s² turn the detector's 0.5 Hz gravity leans by about
    atan(2.5 / 9.8) = 14°, while the gyro-aided vertical (tilt pulled towards the accelerometer over
    4 s) leans only by the share that 2 s of correction allow (at most 1 - exp(-2 / 4) of 14°), and
    its z component is gravity plus the true vertical acceleration."""
    t, acc, gyro, vert, up_true, in_turn, fs = _sensor_in_a_turn(rng)
    world, up = gyro_aided_world(t, acc, gyro, fs, 4.0)
    err_deg = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", up, up_true), -1.0, 1.0)))
    late_turn = in_turn & (t >= 7.0)
    assert np.max(err_deg[t < 6.0]) < 0.5
    assert np.max(err_deg[in_turn]) < 5.0
    assert np.max(np.abs(world[t < 6.0, 2] - (G + vert[t < 6.0]))) < 0.05
    assert np.max(np.abs(world[in_turn, 2] - (G + vert[in_turn]))) < 0.25
    # the detector's low-pass, measured against the true vertical, leans much further in the turn
    tilt_true = detector_tilt_deg(acc, up_true, fs)
    assert np.median(tilt_true[late_turn]) > 10.0
    assert np.median(tilt_true[late_turn]) > 3.0 * np.median(err_deg[late_turn])
    # a wrong rate (no gyroscope at all) leaves the attitude where it started: the check can fail
    _, up_still = gyro_aided_world(t, acc, np.zeros_like(gyro), fs, 4.0)
    err_still = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", up_still, up_true), -1.0, 1.0)))
    assert np.max(err_still[in_turn]) > 5.0


def test_the_standing_bias_is_the_gyros_mean_while_still_and_none_without_a_still_second(rng):
    fs = 100.0
    t = np.arange(600) / fs
    acc = np.tile([0.3, -9.7, 1.2], (t.size, 1)) + rng.normal(0.0, 0.01, (t.size, 3))
    bias = np.array([0.02, -0.015, 0.005])
    gyro = bias + rng.normal(0.0, 0.003, (t.size, 3))
    moving = t >= 1.5
    acc[moving] += 2.0 * np.sin(2.0 * np.pi * 1.8 * t[moving])[:, None]
    gyro[moving] += 0.5 * np.sin(2.0 * np.pi * 0.9 * t[moving])[:, None]
    est = standing_gyro_bias(t, acc, gyro, fs)
    assert est is not None
    np.testing.assert_allclose(est, bias, atol=0.002)
    acc[:] = acc[-1] + 2.0 * np.sin(2.0 * np.pi * 1.8 * t)[:, None]  # walking from the first sample
    assert standing_gyro_bias(t, acc, gyro, fs) is None


def test_the_step_signal_is_the_same_in_any_orientation_and_zero_at_rest(rng):
    fs = 100.0
    t = np.arange(800) / fs
    world = np.column_stack(
        [0.4 * np.sin(2.0 * np.pi * 0.9 * t), np.zeros_like(t), G + 2.0 * np.sin(2.0 * np.pi * 1.8 * t)]
    )
    rot = Rotation.random(random_state=1).as_matrix()
    s0 = step_signal(world, fs)
    np.testing.assert_allclose(step_signal(world @ rot.T, fs), s0, atol=1e-9)
    assert np.max(np.abs(s0[400:])) > 1.0
    still = np.tile([0.0, 0.0, G], (t.size, 1)) @ rot.T
    assert np.max(np.abs(step_signal(still, fs))) < 1e-9


def test_the_report_on_the_lower_back_fixtures_with_a_gyroscope(tmp_path, capsys):
    report = evaluate(FIXTURES)
    groups = report["groups"]
    assert set(groups) == {"mobgap_example/lower_back/walk"}  # harlab has no gyroscope
    per = groups["mobgap_example/lower_back/walk"]
    assert {"accelerometer", REFERENCE, f"{REFERENCE}, horizontal kept"} <= set(per)
    n = per["accelerometer"]["n_events"]
    assert n > 100
    assert all(
        0.5 < v["f1"] <= 1.0 and v["tp"] + v["fn"] == n and v["turn_events"] == 0 for v in per.values()
    )
    assert report["turn_humps"] == {}  # mobgap marks no U-turn
    nb, nr = report["bias_known"]["mobgap_example/lower_back/walk"]
    assert nr == 6
    assert 0 < nb <= nr
    text = format_report(report)
    assert f"| mobgap_example/lower_back/walk | {REFERENCE} |" in text
    out = tmp_path / "gyro.json"
    assert main([str(FIXTURES), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["groups"].keys() == groups.keys()
    assert "U-turn misses" in capsys.readouterr().out
