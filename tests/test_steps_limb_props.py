"""Property tests of the limb mode (foot without gyroscope) on synthetic strides.

Random strides (impacts, swing humps, rests), rates from 40 Hz to 1000 Hz, dropped samples, a
gap, time going back and NaN samples: the kernel equals the naive reference, and any chunking
(down to one sample per call) equals the batch result.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import detect_steps
from tests.step_checks import damaged, naive_and_any_chunking

G = 9.80665


def _strides(seed: int, fs: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A foot's |a| story: a rest, a push-off burst, a swing hump, a heel strike, per stride."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    a = np.zeros((n, 3))
    a[:, 2] = G
    t0 = rng.uniform(0.2, 1.0)
    while t0 < seconds - 0.5:
        period = rng.uniform(0.6, 1.5)
        stance = rng.uniform(0.1, 0.5) * period
        push = t0 + stance
        land = push + rng.uniform(0.3, 0.6) * period
        for centre, width, height in (
            (push + 0.03, 0.03, rng.uniform(5, 25)),  # push-off burst
            (land - 0.12, rng.uniform(0.03, 0.12), rng.uniform(3, 30)),  # swing hump
            (land, rng.uniform(0.004, 0.02), rng.uniform(10, 80)),  # heel strike
        ):
            bump = height * np.exp(-0.5 * ((t - centre) / width) ** 2)
            a[:, rng.integers(0, 3)] += bump * rng.choice([-1.0, 1.0])
        t0 = land + rng.uniform(0.05, 0.4)
    a += rng.normal(0.0, rng.uniform(0.01, 0.5), a.shape)
    return t, a


@st.composite
def _recordings(draw):
    fs = draw(st.sampled_from([40.0, 41.0, 52.0, 100.0, 200.0, 1000.0]))
    seconds = 12.0 if fs >= 1000 else 25.0
    t, a = _strides(draw(st.integers(0, 2**31)), fs, seconds)
    return (*damaged(draw, t, a), fs)


@settings(max_examples=40, deadline=None)
@given(rec=_recordings(), data=st.data())
def test_limb_kernel_equals_naive_and_any_chunking_on_random_strides(rec, data):
    naive_and_any_chunking(data, *rec, "foot")


def test_the_synthetic_strides_give_contacts():
    # the generator makes strides the detector finds (else the property above tests nothing)
    for fs in (40.0, 100.0, 1000.0):
        t, a = _strides(3, fs, 25.0 if fs < 1000 else 12.0)
        got = detect_steps(t, a, None, sampling_rate_hz=fs, placement="foot")
        assert got.n_steps >= 4, fs
