"""`python -m benchmarks.voisard_distance`: the U-turn split, the legs of an out-and-back path, the path."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from benchmarks.voisard_distance import TURN_ZONE_M, budget, foot_path, leg_geometry, main, split_by_interval
from firmware_py.logs import read_log
from firmware_py.replay import replay_recording
from tests.conftest import FIXTURES


def out_and_back(leg_m: float, radius_m: float, stride_m: float, angle_rad: float, origin: np.ndarray):
    """Landings of a walk: ``leg_m`` out, a semicircle of ``radius_m`` to the left, ``leg_m`` back.

    The walk starts at the origin and ends beside it (``2·radius_m`` to the left). The legs land at
    ``(k + ½)·stride_m`` from the start line, the same places out and back (so the principal axis
    is the course), the arc every 3° (so the chords follow it, apex included). Rotated by
    ``angle_rad`` and moved to ``origin``.
    """
    n = round(leg_m / stride_m)
    xs = (np.arange(n) + 0.5) * stride_m
    out = np.stack([xs, np.zeros(n)], axis=1)
    phi = np.linspace(-math.pi / 2, math.pi / 2, 61)
    arc = np.stack([leg_m + radius_m * np.cos(phi), radius_m + radius_m * np.sin(phi)], axis=1)
    back = np.stack([xs[::-1], np.full(n, 2 * radius_m)], axis=1)
    rot = np.array([[math.cos(angle_rad), -math.sin(angle_rad)], [math.sin(angle_rad), math.cos(angle_rad)]])
    land = np.vstack([out, arc, back]) @ rot.T + origin
    end = np.array([0.0, 2 * radius_m]) @ rot.T + origin
    return origin.copy(), land, end


@pytest.mark.parametrize("radius_m", [0.1, 0.25, 0.5])
def test_legs_and_turn_of_a_synthetic_out_and_back(radius_m):
    # 10 m out, a semicircle of radius r, 10 m back, in any heading: the legs reach the apex
    # (10 + r along the course), the legs are 2r apart, and the path's excess over the two legs is
    # the semicircle minus its along-course width, (pi - 2) r (its chords: within 0.1 %)
    start, land, end = out_and_back(10.0, radius_m, 0.625, 2.0, np.array([3.0, -4.0]))
    geo = leg_geometry(start, land, end)
    assert geo["a1_m"] == pytest.approx(10.0 + radius_m, abs=1e-9)
    assert geo["a2_m"] == pytest.approx(10.0 + radius_m, abs=1e-9)
    assert geo["sep_m"] == pytest.approx(
        2.0 * radius_m, abs=1e-9
    )  # a left turn: + (the return leg to the left)
    assert geo["excess_m"] == pytest.approx((math.pi - 2.0) * radius_m, rel=1e-3)
    assert geo["path_m"] == pytest.approx(20.0 + math.pi * radius_m, rel=1e-4)
    assert geo["closure_m"] == pytest.approx(2.0 * radius_m, abs=1e-9)
    assert geo["closure_along_m"] == pytest.approx(0.0, abs=1e-9)
    # a right turn (mirror image) only flips the separation's sign
    mirror = np.array([1.0, -1.0])
    geo_r = leg_geometry(start * mirror, land * mirror, end * mirror)
    assert geo_r["sep_m"] == pytest.approx(-2.0 * radius_m, abs=1e-9)
    assert geo_r["a1_m"] == pytest.approx(geo["a1_m"], abs=1e-9)


def test_legs_of_a_walk_that_stops_short_and_a_leg_inside_the_turn_zone():
    # stopping short of the start line shortens the return leg only; the closure is then along the
    # course too (the course axis tilts a little: the return leg has one landing less)
    start, land, _ = out_and_back(10.0, 0.3, 0.5, 0.0, np.zeros(2))
    end = land[-2]  # the walk ends one 0.5 m stride early, 0.75 m from the start line
    geo = leg_geometry(start, land[:-1], end)
    assert geo["a1_m"] == pytest.approx(10.3, abs=5e-3)
    assert geo["a2_m"] == pytest.approx(9.55, abs=5e-3)
    assert geo["closure_along_m"] == pytest.approx(0.75, abs=5e-3)
    # no landing of the return leg farther than TURN_ZONE_M from the turn: no separation
    short_back = land[: -round((10.0 - TURN_ZONE_M) / 0.5) - 1]
    assert math.isnan(leg_geometry(start, short_back, short_back[-1])["sep_m"])


def test_split_by_interval_counts_overlaps_as_turn():
    t_end = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    dur = np.full(6, 1.0)
    length = np.array([1.0, 1.1, 1.2, np.nan, 1.4, 1.5])
    # interval (2.5, 4.5): the strides ending at 3 and 4 (NaN: left out) and 5 overlap it; the
    # stride ending at 2 only touches nothing, the one spanning (5, 6) starts after it
    out_m, turn_m, n = split_by_interval(t_end, dur, length, (2.5, 4.5))
    assert (out_m, turn_m, n) == (pytest.approx(1.0 + 1.1 + 1.5), pytest.approx(1.2 + 1.4), 2)
    # a stride that only touches an end is outside
    assert split_by_interval(t_end, dur, length, (2.0, 2.0))[2] == 0
    assert split_by_interval(t_end, dur, length, (6.0, 9.0))[1] == 0.0


def test_budget_sums_to_the_scored_error():
    p = {
        "scored_m": 21.2,
        "path_m": 21.5,
        "excess_m": 0.4,
        "a1_m": 10.5,
        "a2_m": 10.6,
        "scaled_a1_m": 10.3,
        "scaled_a2_m": 10.4,
        "nominal_m": 20.0,
    }
    rows = budget(p)
    assert sum(m for _w, m in rows) == pytest.approx(p["scored_m"] - p["nominal_m"])
    assert [round(m, 9) for _w, m in rows] == [-0.3, 0.4, 0.4, 0.7]


def test_foot_path_chords_are_the_replays_strides():
    # the landing positions read from the estimator's state give exactly the strides it reports
    rec = read_log(FIXTURES / "pyshoe_vicon" / "2017-11-22-11-30-14.csv")
    path = foot_path(rec.t_s, rec.acc_mps2, rec.gyro_rads, rec.sampling_rate_hz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = replay_recording(rec)
    strides = [e.stride_length_m for e in res.events if e.stride_length_m is not None]
    strides += [length for _t, length in res.missed_strides]
    chords = path.stride_lengths_m
    assert len(strides) >= 10
    assert len(chords) >= len(strides)
    for s in strides:
        assert np.min(np.abs(chords - s)) < 1e-9
    assert np.all(np.diff(path.t_land_s) > 0.0)


def test_command_without_voisard(tmp_path, capsys):
    # the fixtures hold no voisard recording (AGPL): the command says so and succeeds
    assert main([str(FIXTURES)]) == 0
    assert "No voisard_ipol foot recording" in capsys.readouterr().out
    assert main([str(tmp_path / "missing")]) == 2
