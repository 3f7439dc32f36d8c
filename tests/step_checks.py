"""Checks shared by the step detector's tests.

The kernel against the naive reference (``tests/naive.py``), streaming in blocks against the batch
result, and the damage the property tests do to a synthetic recording (dropped samples, a gap,
time going back, NaN samples).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from dsp import StepDetector, Steps, StepSettings, detect_steps
from tests.naive import naive_detect_steps

#: The per-contact columns of :class:`dsp.Steps` that streaming must reproduce exactly.
COLUMNS = ("t_s", "emitted_at_s", "cadence_spm", "is_run")


def same_as_naive(
    t: np.ndarray,
    acc: np.ndarray,
    gyro: np.ndarray | None,
    *,
    sampling_rate_hz: float,
    placement: str,
    settings: StepSettings | None = None,
) -> Steps:
    """Assert that the kernel finds the naive reference's contacts; return the kernel's.

    Times, decision times and gait exactly; cadences to 1e-9 steps/min (NaN where the reference's is).
    """
    kw = {"sampling_rate_hz": sampling_rate_hz, "placement": placement, "settings": settings}
    fast = detect_steps(t, acc, gyro, **kw)
    slow = naive_detect_steps(t, acc, gyro, **kw)
    assert fast.n_steps == len(slow)
    np.testing.assert_array_equal(fast.t_s, [s[0] for s in slow])
    np.testing.assert_array_equal(fast.emitted_at_s, [s[1] for s in slow])
    np.testing.assert_allclose(fast.cadence_spm, [s[2] for s in slow], rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(fast.is_run, [s[3] for s in slow])
    return fast


def streams_as_batch(
    t: np.ndarray,
    acc: np.ndarray,
    gyro: np.ndarray | None,
    cuts: list[int],
    *,
    sampling_rate_hz: float,
    placement: str,
    settings: StepSettings | None = None,
) -> Steps:
    """Assert that a detector fed the blocks between ``cuts`` finds the batch's contacts; return those.

    ``cuts`` are increasing sample indices inside the recording (a block from each to the next).
    """
    kw = {"sampling_rate_hz": sampling_rate_hz, "placement": placement, "settings": settings}
    batch = detect_steps(t, acc, gyro, **kw)
    det = StepDetector(has_gyro=gyro is not None, **kw)
    bounds = zip([0, *cuts], [*cuts, len(t)], strict=True)
    parts = [det.update(t[a:b], acc[a:b], None if gyro is None else gyro[a:b]) for a, b in bounds]
    for name in COLUMNS:
        got = np.concatenate([getattr(p, name) for p in parts])
        np.testing.assert_array_equal(got, getattr(batch, name), err_msg=name)
    return batch


def drawn_cuts(data, n: int, max_size: int = 40) -> list[int]:
    """Draw block boundaries for a recording of ``n`` samples (``data``: hypothesis' ``st.data()``)."""
    return sorted(set(data.draw(st.lists(st.integers(1, n - 1), max_size=max_size))))


def naive_and_any_chunking(data, t: np.ndarray, a: np.ndarray, fs: float, placement: str) -> None:
    """The property tests' check of a recording without gyroscope: the kernel equals the naive
    reference, and a detector fed one sample per call, or blocks that ``data`` draws, equals the batch.
    """
    same_as_naive(t, a, None, sampling_rate_hz=fs, placement=placement)
    one_sample_blocks = data.draw(st.booleans())
    cuts = list(range(1, t.size)) if one_sample_blocks else drawn_cuts(data, t.size, 60)
    streams_as_batch(t, a, None, cuts, sampling_rate_hz=fs, placement=placement)


def damaged(draw, t: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Damage a recording as hypothesis draws it (inside a ``@st.composite`` strategy).

    Up to 20 dropped runs of 1-8 samples; maybe a gap in time (0.3-3 s), time going back once
    (0.01-2 s) and 1-4 NaN samples on one axis (repaired by holding the last good one).

    Parameters
    ----------
    draw : callable
        The composite strategy's ``draw``.
    t, a : numpy.ndarray
        Times, s, and accelerations ``(n, 3)``, m/s² (at least 10 samples; not modified).

    Returns
    -------
    tuple of numpy.ndarray
        The damaged times and accelerations.
    """
    n = t.size
    keep = np.ones(n, bool)
    for start in draw(st.lists(st.integers(0, n - 10), max_size=20)):  # dropped runs of samples
        keep[start : start + draw(st.integers(1, 8))] = False
    t = t.copy()
    a = a.copy()
    if draw(st.booleans()):  # a gap in time
        t[draw(st.integers(1, n - 1)) :] += draw(st.sampled_from([0.3, 1.0, 3.0]))
    if draw(st.booleans()):  # time going back once
        t[draw(st.integers(1, n - 1)) :] -= draw(st.sampled_from([0.01, 0.5, 2.0]))
    if draw(st.booleans()):  # NaN samples (repaired by holding the last good one)
        i = draw(st.integers(0, n - 5))
        a[i : i + draw(st.integers(1, 4)), draw(st.integers(0, 2))] = np.nan
    return t[keep], a[keep]
