"""Synthetic shank accelerometer strides (no gyroscope), from the physics of a stride.

A shank sensor reads gravity along the tibia, turned by the shank's tilt: the tibia rotates
slowly over the ankle in stance (from ankle-ahead at the heel strike to knee-ahead at toe-off)
and swings back fast. On top of that, per stride: the loading of late stance and the push-off
(|a| above g), the drop of early swing, the terminal swing's centripetal hump along the tibia,
the fall just before the landing (|a| below g: the end of single support, or the flight of a
run), and the heel strike: a sharp impact mostly along the tibia, then ringing.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

G = 9.80665
#: The strides are drawn at this rate, then resampled (with an anti-aliasing filter, as a sensor's
#: own digital filter does) to the rate asked for, Hz.
DRAW_HZ = 2000.0


def _hann(t: np.ndarray, start: float, width: float) -> np.ndarray:
    """A raised-cosine bump of height 1 from ``start`` over ``width`` seconds."""
    x = (t - start) / width
    return np.where((x >= 0.0) & (x <= 1.0), 0.5 - 0.5 * np.cos(2.0 * np.pi * np.clip(x, 0.0, 1.0)), 0.0)


def shank_strides(
    fs: float,
    stride_s: np.ndarray,
    rng: np.random.Generator,
    *,
    run: bool = False,
    start_s: float = 1.0,
    noise_mps2: float = 0.2,
    impact_mps2: float | None = None,
    push_off_mps2: float | None = None,
    snap_mps2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A shank sensor's accelerometer over the given strides (walking, or running with ``run``).

    Parameters
    ----------
    fs : float
        Sampling rate, Hz.
    stride_s : numpy.ndarray
        Duration of each stride, s.
    rng : numpy.random.Generator
        For the noise and the small per-stride variations.
    run : bool
        Running: a short stance (35 % of the stride against 60 %), a harder landing after a
        flight, a faster swing.
    start_s : float
        Time of the first heel strike, s (the recording starts in the swing before it).
    noise_mps2 : float
        White noise on each axis, m/s².
    impact_mps2, push_off_mps2 : float, optional
        Height of the heel strike's impact and of the push-off's hump (defaults by gait), m/s².
    snap_mps2 : float
        Height of a sharp spike at toe-off, at the end of the push-off's hump, m/s² (some walkers
        show one, as sharp as a soft landing's impact).

    Returns
    -------
    tuple of numpy.ndarray
        Sample times (s), the acceleration (n, 3) in m/s² (gravity along +z when upright) and the
        heel-strike times (s).
    """
    strides = np.asarray(stride_s, dtype=float)
    contacts = start_s + np.concatenate([[0.0], np.cumsum(strides)])
    n = int((contacts[-1] + 0.6) * DRAW_HZ)
    t = np.arange(n) / DRAW_HZ
    stance_frac = 0.35 if run else 0.6
    impact = (90.0 if run else 20.0) if impact_mps2 is None else impact_mps2
    push = (20.0 if run else 8.0) if push_off_mps2 is None else push_off_mps2
    # the tilt: +0.3 rad at the heel strike, -0.7 rad at toe-off, back over the swing
    theta = np.full(n, 0.3)
    axial = np.zeros(n)  # acceleration along the tibia (+z), m/s²
    lateral = np.zeros(n)  # across it (x), m/s²
    for i, t0 in enumerate(contacts):
        period = strides[min(i, strides.size - 1)]
        off = t0 + stance_frac * period
        nxt = t0 + period
        in_stance = (t >= t0) & (t < off)
        theta[in_stance] = 0.3 - 1.0 * (t[in_stance] - t0) / (off - t0)
        in_swing = (t >= off) & (t < nxt)
        theta[in_swing] = -0.7 + 1.0 * (0.5 - 0.5 * np.cos(np.pi * (t[in_swing] - off) / (nxt - off)))
        jitter = rng.uniform(0.85, 1.15)
        # late stance: loading and push-off, |a| above g (running: the whole short stance)
        axial += (push + 2.0) * jitter * _hann(t, off - 0.4 * (off - t0), 0.5 * (off - t0))
        if snap_mps2:
            axial += snap_mps2 * jitter * np.exp(-0.5 * ((t - off + 0.01) / 0.006) ** 2)
        # early swing: the shank tilted back and flexing, |a| well below g
        axial -= (8.0 if run else 5.0) * _hann(t, off, 0.25 * (nxt - off))
        # terminal swing: the shank swings forward as a pendulum, centripetal along the tibia
        axial += (35.0 if run else 10.0) * jitter * _hann(t, nxt - 0.2, 0.14)
        # the fall before the landing (flight when running): |a| below g
        axial -= (8.0 if run else 4.0) * _hann(t, nxt - 0.09, 0.08)
    for t0 in contacts:
        # the heel strike: a sharp impact 20 ms after the contact, mostly along the tibia, then ringing
        k = rng.uniform(0.8, 1.2)
        peak = t0 + 0.02
        spike = impact * k * np.exp(-0.5 * ((t - peak) / 0.006) ** 2)
        after = np.clip(t - peak, 0.0, None)
        ring = np.where(t > peak, np.exp(-after / 0.04) * np.sin(2.0 * np.pi * 30.0 * after), 0.0)
        axial += spike + 0.3 * impact * k * ring
        lateral += 0.4 * spike * rng.choice([-1.0, 1.0]) + 0.2 * impact * k * ring
    acc = np.stack([G * np.sin(theta) + lateral, np.zeros(n), G * np.cos(theta) + axial], axis=1)
    ratio = Fraction(fs / DRAW_HZ).limit_denominator(1000)
    acc = resample_poly(acc, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    acc += rng.normal(0.0, noise_mps2, acc.shape)
    return np.arange(acc.shape[0]) / fs, acc, contacts
