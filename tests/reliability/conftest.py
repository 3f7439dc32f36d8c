"""Fixtures shared by the reliability tests (the campaigns themselves live in ``campaigns.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import campaigns as C


@pytest.fixture(scope="session")
def rel_workdir(tmp_path_factory) -> Path:
    """A scratch folder for the whole session."""
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session")
def i2c_outcomes(rel_workdir):
    """Run each I2C scenario once on the LSM6DSOX fake (several tests look at the same runs)."""
    cache: dict[C.I2CScenario, C.I2COutcome] = {}

    def get(sc: C.I2CScenario) -> C.I2COutcome:
        if sc not in cache:
            cache[sc] = C.i2c_trial(rel_workdir / "i2c", "lsm6dsox", sc, seed=1)
        return cache[sc]

    return get


@pytest.fixture(scope="session")
def recordings():
    """The clean recordings the bad-sample tests damage, with their clean contact times."""
    from dsp import detect_steps

    out = {}
    for name, rec, placement in C.bad_recordings():
        clean = detect_steps(
            rec.t_s, rec.acc_mps2, rec.gyro_rads, sampling_rate_hz=rec.sampling_rate_hz, placement=placement
        ).t_s
        out[name] = (rec, placement, clean)
    return out
