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
        Not a number, or outside 40–1000 Hz.
    """
    try:
        fs = float(sampling_rate_hz)
    except (TypeError, ValueError):
        raise ValidationError(
            f"sampling_rate_hz={sampling_rate_hz!r} is not a number; pass the rate in Hz as a float"
        ) from None
    if not (MIN_RATE_HZ <= fs <= MAX_RATE_HZ):
        raise ValidationError(
            f"sampling_rate_hz={fs:g} is outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz; "
            "resample the recording or fix the rate in its sidecar/header"
        )
    return fs


def validate_flag(name: str, value: object) -> bool:
    """Return a yes/no argument as a bool, or raise naming it (``"no"`` is not False).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        ``True``/``False`` (numpy's bools and the integers 0 and 1 too).

    Returns
    -------
    bool
        The flag.

    Raises
    ------
    ValidationError
        For anything else: ``bool()`` of a string such as ``"no"`` or ``"false"`` is True.
    """
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise ValidationError(f"{name}={value!r} is not True or False; pass a bool")


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


def as_float64(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 array, or raise naming the argument.

    Integer, boolean and float32 arrays (and nested lists of numbers) are converted; strings,
    objects and complex numbers are refused rather than silently mangled.

    Parameters
    ----------
    x : array_like
        The argument.
    name : str
        Its name, for the message.

    Returns
    -------
    numpy.ndarray
        The values as float64 (``x`` itself when it already is one, contiguous).

    Raises
    ------
    ValidationError
        When ``x`` does not hold real numbers.
    """
    if type(x) is np.ndarray and x.dtype.kind in "fiub":  # the usual case: no extra work
        return np.ascontiguousarray(x, dtype=np.float64)
    try:
        a = np.asarray(x)
        if a.dtype.kind not in "fiub":
            raise TypeError
        return np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        dtype = getattr(x, "dtype", None)
        what = f"dtype {dtype}" if dtype is not None else type(x).__name__
        raise ValidationError(
            f"{name} must hold real numbers (got {what}); pass a float array (numpy.float64)"
        ) from None


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
        When an array does not hold real numbers, a time is NaN or infinite, the shapes do not
        match, or a gyroscope is expected and missing.
    """
    t = as_float64(t_s, "t_s")
    acc = as_float64(acc_mps2, "acc_mps2")
    n = t.shape[0] if t.ndim else 0
    if t.ndim != 1 or acc.shape != (n, 3):
        raise ValidationError(
            f"block shapes t_s{t.shape} and acc_mps2{acc.shape} do not match; expected (n,) and (n, 3)"
        )
    # one cheap test per block (a sum: plain Python for the few samples of a live block, as in
    # finite_and_increasing); bad samples are repaired by the kernels, bad times cannot be
    total = sum(t.tolist()) if n <= 32 else t.sum()
    if not math.isfinite(total) and not (finite := np.isfinite(t)).all():
        bad = int(np.argmin(finite))
        raise ValidationError(
            f"t_s[{bad}] is {t[bad]}: sample times must be finite; drop those samples "
            "(the detector bridges the gap)"
        )
    if not has_gyro:
        return t, acc, None
    if gyro_rads is None:
        raise ValidationError(f"this {what} was built with has_gyro=True; pass gyro_rads")
    gyro = as_float64(gyro_rads, "gyro_rads")
    if gyro.shape != (n, 3):
        raise ValidationError(f"gyro_rads has shape {gyro.shape}; expected ({n}, 3)")
    return t, acc, gyro
