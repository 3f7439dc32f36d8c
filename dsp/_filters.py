"""Second-order filter sections designed without scipy (the live loop stays light)."""

from __future__ import annotations

import math

import numpy as np


def butter2_lowpass(cutoff_hz: float, sampling_rate_hz: float) -> np.ndarray:
    """Coefficients of a 2nd-order Butterworth low-pass (bilinear transform, prewarped).

    Parameters
    ----------
    cutoff_hz : float
        -3 dB frequency, Hz. Clamped to 0.45 × the sampling rate.
    sampling_rate_hz : float
        Sampling rate, Hz.

    Returns
    -------
    numpy.ndarray
        ``[b0, b1, b2, a1, a2]`` for ``y = b0 x + b1 x1 + b2 x2 - a1 y1 - a2 y2``.
    """
    fc = min(float(cutoff_hz), 0.45 * float(sampling_rate_hz))
    k = math.tan(math.pi * fc / sampling_rate_hz)
    q = 1.0 / math.sqrt(2.0)
    norm = 1.0 / (1.0 + k / q + k * k)
    b0 = k * k * norm
    return np.array([b0, 2.0 * b0, b0, 2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm])
