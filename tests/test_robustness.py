"""The robustness benchmark's perturbations, and its command on the fixtures (no timings)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks import robustness as R
from dsp import Pipeline, PlacementWarning
from firmware_py.logs.recording import Recording

FIXTURES = Path(__file__).parent / "fixtures"


def _recording(n: int = 1000, fs: float = 200.0, gyro: bool = True) -> Recording:
    rng = np.random.default_rng(0)
    t = np.arange(n) / fs
    acc = rng.normal(0.0, 1.0, (n, 3)) + np.array([0.0, 0.0, 9.81])
    g = rng.normal(0.0, 1.0, (n, 3)) if gyro else None
    return Recording(path="", t_s=t, acc_mps2=acc, gyro_rads=g, sampling_rate_hz=fs, placement="foot")


@pytest.mark.parametrize("pert", [p for p in R.default_perturbations() if p.kind == "rotation"])
def test_rotations_are_proper(pert):
    r = R.rotation_matrix(pert.value)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)  # a reflection (det -1) is no mounting


def test_rotation_moves_acc_and_gyro_together_and_keeps_norms():
    rec = _recording()
    out = R.perturb(rec, R.Perturbation("r", "rotation", 7.0), seed=0)
    r = R.rotation_matrix(7.0)
    np.testing.assert_allclose(out.acc_mps2, rec.acc_mps2 @ r.T)
    np.testing.assert_allclose(out.gyro_rads, rec.gyro_rads @ r.T)
    np.testing.assert_allclose(np.linalg.norm(out.acc_mps2, axis=1), np.linalg.norm(rec.acc_mps2, axis=1))
    assert not np.allclose(out.acc_mps2, rec.acc_mps2)


@pytest.mark.parametrize("target", [50.0, 100.0, 400.0])
def test_resampling_sets_rate_times_and_keeps_gravity(target):
    rec = _recording(n=2000, fs=204.8)
    out = R.perturb(rec, R.Perturbation("rate", "rate", target), seed=0)
    assert out.sampling_rate_hz == pytest.approx(target, rel=0.01)
    assert out.acc_mps2.shape[0] == pytest.approx(2000 * out.sampling_rate_hz / 204.8, abs=2)
    np.testing.assert_allclose(np.diff(out.t_s), 1.0 / out.sampling_rate_hz)
    assert out.t_s[-1] == pytest.approx(rec.t_s[-1], abs=2.0 / target)
    # padtype="line": no edge transient, gravity survives at both ends
    assert abs(out.acc_mps2[0, 2] - 9.81) < 3.0
    assert abs(out.acc_mps2[-1, 2] - 9.81) < 3.0
    assert out.meta["sample_rate_hz"] == out.sampling_rate_hz


def test_resampling_keeps_the_recordings_own_time_base():
    # dropped samples (a 0.2 s hole) and a clock 1 % off the nominal rate: the resampled samples
    # take their times from the original timestamps, so the truth (seconds) still lines up
    rec = _recording(n=2000, fs=100.0)
    t = np.arange(2000) * 0.0101
    t[1000:] += 0.2
    rec = Recording(path="", t_s=t, acc_mps2=rec.acc_mps2, gyro_rads=rec.gyro_rads, sampling_rate_hz=100.0)
    out = R.perturb(rec, R.Perturbation("rate", "rate", 50.0), seed=0)
    assert out.t_s[-1] == pytest.approx(t[-1], abs=0.03)
    k = int(np.searchsorted(out.t_s, t[1000]))
    assert out.t_s[k] - out.t_s[k - 1] > 0.1  # the hole is where it was
    assert np.all(np.diff(out.t_s) > 0)


def test_rate_perturbation_skips_a_recordings_own_rate():
    truth = R.Truth("d", "r", {"placement": "foot", "sample_rate_hz": 100.2})
    assert not R.Perturbation("rate 100 Hz", "rate", 100.0).applies(truth)
    assert R.Perturbation("rate 50 Hz", "rate", 50.0).applies(truth)
    assert not R.Perturbation("clip", "clip", 4.0, ("foot",)).applies(
        R.Truth("d", "r", {"placement": "shank"})
    )


def test_clip_noise_bias_and_no_gyro():
    rec = _recording()
    rec.acc_mps2[10] = [80.0, -80.0, 0.0]
    clipped = R.perturb(rec, R.Perturbation("c", "clip", 4.0), seed=0)
    assert np.abs(clipped.acc_mps2).max() == pytest.approx(4.0 * R.G_MPS2)
    assert clipped.meta["accel_range_g"] == 4.0
    noisy = R.perturb(rec, R.Perturbation("n", "noise", 10.0), seed=0)
    sigma = 10.0 * R.ACC_NOISE_G_PER_RTHZ * R.G_MPS2 * math.sqrt(100.0)
    assert np.std(noisy.acc_mps2 - rec.acc_mps2) == pytest.approx(sigma, rel=0.1)
    biased = R.perturb(rec, R.Perturbation("b", "gyro_bias", 5.0), seed=0)
    np.testing.assert_allclose(np.abs(biased.gyro_rads - rec.gyro_rads), math.radians(5.0))
    bare = R.perturb(rec, R.Perturbation("g", "no_gyro"), seed=0)
    assert bare.gyro_rads is None
    assert bare.meta["has_gyro"] is False
    assert rec.gyro_rads is not None  # the input is not modified


def test_clock_error_stretches_samples_and_truth_alike():
    rec = _recording()
    pert = R.Perturbation("clock", "clock", 0.02)
    out = R.perturb(rec, pert, seed=0)
    assert out.sampling_rate_hz == pytest.approx(200.0 / 1.02)
    np.testing.assert_allclose(np.diff(out.t_s), 1.02 / 200.0)
    meta = {
        "duration_s": 5.0,
        "ground_truth": {
            "steps_t": [1.0, 2.0],
            "gt_intervals": [[0.5, 4.0]],
            "strides": {"t_start": [1.0], "t_end": [2.0], "length_m": [1.4]},
        },
    }
    moved = R.perturb_truth(meta, pert, t0=0.0)
    assert moved["ground_truth"]["steps_t"] == pytest.approx([1.02, 2.04])
    assert moved["ground_truth"]["gt_intervals"][0] == pytest.approx([0.51, 4.08])
    assert moved["ground_truth"]["strides"]["t_end"] == pytest.approx([2.04])
    assert moved["ground_truth"]["strides"]["length_m"] == [1.4]
    assert meta["ground_truth"]["steps_t"] == [1.0, 2.0]  # a copy
    assert R.perturb_truth(meta, R.Perturbation("r", "rotation", 1.0), t0=0.0) is meta


def test_foot_without_gyro_warns_clearly():
    with pytest.warns(PlacementWarning, match="foot sensor without a gyroscope.*no stride length"):
        Pipeline(sampling_rate_hz=100.0, placement="foot", has_gyro=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlacementWarning)
        Pipeline(sampling_rate_hz=100.0, placement="foot", has_gyro=True)
        Pipeline(sampling_rate_hz=100.0, placement="lower_back", has_gyro=False)
        Pipeline(sampling_rate_hz=100.0, placement="shank", has_gyro=False)


def test_command_on_fixtures(tmp_path, capsys):
    out_json = tmp_path / "rob.json"
    argv = [str(FIXTURES), "--max-per-group", "1", "--jobs", "1", "--quiet"]
    argv += ["--only", "seed 1", "upside", "rate 100"]
    argv += ["--out", str(tmp_path / "out"), "--json", str(out_json)]
    assert R.main(argv) == 0
    text = capsys.readouterr().out
    assert "| baseline | pyshoe_vicon / foot / run |" in text
    assert "| rotation seed 1 | gaitmap_example / foot / walk |" in text
    data = json.loads(out_json.read_text())
    names = [p["name"] for p in data["perturbations"]]
    assert names == ["baseline", "rotation seed 1", "upside down", "rate 100 Hz"]
    by_name = {p["name"]: {tuple(g["group"].values()): g for g in p["groups"]} for p in data["perturbations"]}
    base = by_name["baseline"]
    assert len(base) == 7  # every fixture group, one recording each
    for name in ("rotation seed 1", "upside down"):  # any mounting gives the same steps
        for key, g in by_name[name].items():
            assert g["tp"] == base[key]["tp"], (name, key)
            assert g["fp"] == base[key]["fp"], (name, key)
    assert all(g["f1"] > 0.8 for g in by_name["rate 100 Hz"].values())


def test_command_errors(tmp_path, capsys):
    assert R.main([str(tmp_path / "nope"), "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert R.main([str(tmp_path), "--quiet"]) == 2
    assert "no recordings with step truth" in capsys.readouterr().err


def test_command_refuses_bad_options_before_any_replay(tmp_path, capsys):
    out = tmp_path / "out"
    # a perturbation name that matches nothing (it used to run the baseline alone and exit 0)
    assert R.main([str(FIXTURES), "--quiet", "--out", str(out), "--only", "rotaton"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--only rotaton" in err
    assert "rotation seed 1" in err
    # a --json that cannot be written fails before the replays, not after them with a traceback
    blocker = tmp_path / "a_file"
    blocker.write_text("x\n")
    assert R.main([str(FIXTURES), "--quiet", "--out", str(out), "--json", str(blocker / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--json" in err
    assert not out.exists()
    # a resampling target must be a rate
    for bad in ("-5", "0", "nan"):
        with pytest.raises(SystemExit) as exc:
            R.main([str(FIXTURES), "--quiet", "--out", str(out), "--rates", bad])
        assert exc.value.code == 2
        assert "--rates" in capsys.readouterr().err
    assert not out.exists()
