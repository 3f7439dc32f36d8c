"""Synthetic trunk signals of running steps, for the step detector's tests (trunk mode)."""

from __future__ import annotations

import numpy as np

#: Standard gravity, m/s².
G = 9.80665


def spring_mass_av(t: np.ndarray, contacts: np.ndarray, period: float) -> np.ndarray:
    """Vertical trunk acceleration of running steps, the spring-mass model, m/s².

    A half-sine ground reaction during each contact (40 % of the step period) sized so that the
    mean force equals body weight, free fall (-g) in flight; 0 before the first contact.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times, s.
    contacts : numpy.ndarray
        Contact times, s (increasing).
    period : float
        Step period, s (each contact lasts 0.4 of it).

    Returns
    -------
    numpy.ndarray
        ``a_v``, shape of ``t``, m/s² (without gravity).
    """
    tc = 0.4 * period
    amp = np.pi * G * period / (2.0 * tc)
    av = np.full_like(t, -G)
    for c in contacts:
        x = t - c
        inside = (x >= 0) & (x < tc)
        av[inside] += amp * np.sin(np.pi * x[inside] / tc)
    av[t < contacts[0]] = 0.0
    return av
