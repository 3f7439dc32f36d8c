"""Property tests of the shank mode (a shank without gyroscope) on synthetic strides.

Random walks and runs (``tests/shank_strides.py``) at 40 Hz to 1000 Hz, with dropped samples, a
gap, time going back and NaN samples: the kernel equals the naive reference, and any chunking
(down to one sample per call) equals the batch result.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.shank_strides import shank_strides
from tests.step_checks import damaged, naive_and_any_chunking


@st.composite
def _recordings(draw):
    fs = draw(st.sampled_from([40.0, 41.0, 52.0, 100.0, 142.86, 200.0, 1000.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    run = draw(st.booleans())
    n_strides = 8 if fs >= 1000 else 16
    stride_s = draw(st.floats(0.6, 0.85) if run else st.floats(0.85, 1.6))
    strides = stride_s * rng.uniform(0.9, 1.1, n_strides)
    impact = draw(st.floats(8.0, 120.0))
    snap = draw(st.sampled_from([0.0, 0.0, 15.0, 40.0]))  # some push-offs end in a sharp spike
    t, a, _ = shank_strides(
        fs, strides, rng, run=run, impact_mps2=impact, snap_mps2=snap, noise_mps2=draw(st.floats(0.01, 1.0))
    )
    return (*damaged(draw, t, a), fs)


@settings(max_examples=40, deadline=None)
@given(rec=_recordings(), data=st.data())
def test_shank_kernel_equals_naive_and_any_chunking_on_random_strides(rec, data):
    naive_and_any_chunking(data, *rec, "shank")
