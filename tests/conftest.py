"""Shared fixtures: recorded sensor data, a seeded RNG, the shared datasets folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# The default run (./test.sh, CI) draws the property tests' inputs from a fixed seed, so that a run
# can be repeated; HYPOTHESIS_PROFILE=explore searches new inputs each time (fuzzing sessions).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED_DATASETS = REPO.parent / "shared" / "datasets"

# The suite tests the numba JIT path (an AOT kernel module built into dsp/__pycache__ by
# `cadence-coach precompile --aot` would otherwise replace it); tests/test_aot.py builds and tests
# the AOT module explicitly. Set CADENCE_AOT=1 to run the whole suite on a built module.
os.environ.setdefault("CADENCE_AOT", "0")


def load_fixture(rel: str):
    """Read ``tests/fixtures/<rel>`` (a .csv with its sidecar) as a Recording."""
    from firmware_py.logs import read_log

    return read_log(FIXTURES / rel)


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session")
def waist_run():
    return load_fixture("harlab_treadmill_jog/S028_jog.csv")


@pytest.fixture(scope="session")
def foot_run():
    return load_fixture("pyshoe_vicon/2017-11-27-11-24-07.csv")


@pytest.fixture(scope="session")
def foot_walk():
    return load_fixture("pyshoe_vicon/2017-11-22-11-30-14.csv")


@pytest.fixture(scope="session")
def back_walk():
    return load_fixture("mobgap_example/HA-001_Test11_Trial1.csv")
