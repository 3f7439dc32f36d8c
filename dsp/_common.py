"""Small helpers shared by the typed wrappers of ``dsp`` (never by the numba kernels).

Kernels stay self-contained per file on purpose: numba's on-disk cache only notices changes in
the file that defines a kernel, so a helper shared between kernel files could leave stale
compiled code behind after an edit.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import TypeVar

import numpy as np

from dsp.exc import ValidationError

#: Sampling rates the detectors are built and tested for, Hz.
MIN_RATE_HZ = 40.0
MAX_RATE_HZ = 1000.0

R = TypeVar("R")


def validate_rate(sampling_rate_hz: float) -> float:
    """Return the sampling rate as a float, or raise naming the allowed range and the fix.

    Parameters
    ----------
    sampling_rate_hz : float
        Sampling rate, Hz.

    Returns
    -------
    float
        The rate.

    Raises
    ------
    ValidationError
        Outside 40–1000 Hz.
    """
    fs = float(sampling_rate_hz)
    if not (MIN_RATE_HZ <= fs <= MAX_RATE_HZ):
        raise ValidationError(
            f"sampling_rate_hz={fs:g} is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz; "
            "resample the recording or fix the rate in its sidecar/header"
        )
    return fs


def concatenate_results(cls: type[R], parts: list[R]) -> R:
    """Join per-block results (dataclasses of parallel arrays) in time order.

    Parameters
    ----------
    cls : type
        The result dataclass; every field is a numpy array with one row per event.
    parts : list
        Results of consecutive blocks.

    Returns
    -------
    object
        One result holding every row (an empty one when ``parts`` is empty).
    """
    if not parts:
        return cls()
    return cls(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)}
    )


def finite_and_increasing(x: np.ndarray) -> bool:
    """Return True when every value of the 1-D array ``x`` is finite and each exceeds the previous.

    A block rarely holds more than one or two contacts: for a few values, plain Python is several
    times faster than the numpy calls (``isfinite``, ``diff``, ``all``, ``any``) it replaces.
    """
    if x.shape[0] <= 8:
        v = x.tolist()
        return all(map(math.isfinite, v)) and all(a < b for a, b in itertools.pairwise(v))
    return bool(np.all(np.isfinite(x)) and not np.any(np.diff(x) <= 0.0))


def check_block(
    t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None, has_gyro: bool, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return one block of samples as contiguous float64 arrays, or raise naming the mismatch.

    Parameters
    ----------
    t_s, acc_mps2, gyro_rads : numpy.ndarray
        Times (n,), accelerations (n, 3) and angular rates (n, 3) of the block; ``gyro_rads`` is
        not read when ``has_gyro`` is False.
    has_gyro : bool
        Whether the streaming object was built for a gyroscope.
    what : str
        The object's name for the messages ("detector", "classifier").

    Returns
    -------
    tuple of numpy.ndarray
        ``(t, acc, gyro)``; ``gyro`` is None without a gyroscope.

    Raises
    ------
    ValidationError
        When the shapes do not match, or a gyroscope is expected and missing.
    """
    t = np.ascontiguousarray(t_s, dtype=np.float64)
    acc = np.ascontiguousarray(acc_mps2, dtype=np.float64)
    n = t.shape[0]
    if t.ndim != 1 or acc.shape != (n, 3):
        raise ValidationError(
            f"block shapes t_s{t.shape} and acc_mps2{acc.shape} do not match; expected (n,) and (n, 3)"
        )
    if not has_gyro:
        return t, acc, None
    if gyro_rads is None:
        raise ValidationError(f"this {what} was built with has_gyro=True; pass gyro_rads")
    gyro = np.ascontiguousarray(gyro_rads, dtype=np.float64)
    if gyro.shape != (n, 3):
        raise ValidationError(f"gyro_rads has shape {gyro.shape}; expected ({n}, 3)")
    return t, acc, gyro
