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
