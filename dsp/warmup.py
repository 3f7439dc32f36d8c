"""Compile (or load from the numba cache) every kernel variant the device uses."""

from __future__ import annotations

import numpy as np

from dsp.steps import StepDetector


def warm_up() -> int:
    """Run each detector mode once on a short synthetic signal.

    Returns
    -------
    int
        Number of detector variants exercised.

    Notes
    -----
    numba compiles one machine-code version per combination of argument types; the
    device uses two (with and without gyroscope), both exercised here so that the first
    real block is processed at full speed.
    """
    fs = 100.0
    t = np.arange(200) / fs
    acc = np.zeros((200, 3))
    acc[:, 2] = 9.80665
    gyro = np.zeros((200, 3))
    variants = [("lower_back", False), ("foot", True), ("foot", False)]
    for placement, has_gyro in variants:
        det = StepDetector(sampling_rate_hz=fs, placement=placement, has_gyro=has_gyro)
        det.update(t, acc, gyro if has_gyro else None)
    return len(variants)
