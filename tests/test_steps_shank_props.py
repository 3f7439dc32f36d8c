"""Property tests of the shank mode (a shank without gyroscope) on synthetic strides.

Random walks and runs (``tests/shank_strides.py``) at 40 Hz to 1000 Hz, with dropped samples, a
gap, time going back and NaN samples: the kernel equals the naive reference, and any chunking
(down to one sample per call) equals the batch result.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import StepDetector, detect_steps
from tests.naive import naive_detect_steps
from tests.shank_strides import shank_strides


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
    n = t.size
    keep = np.ones(n, bool)
    for start in draw(st.lists(st.integers(0, n - 10), max_size=20)):  # dropped runs of samples
        keep[start : start + draw(st.integers(1, 8))] = False
    t = t.copy()
    if draw(st.booleans()):  # a gap in time
        t[draw(st.integers(1, n - 1)) :] += draw(st.sampled_from([0.3, 1.0, 3.0]))
    if draw(st.booleans()):  # time going back once
        t[draw(st.integers(1, n - 1)) :] -= draw(st.sampled_from([0.01, 0.5, 2.0]))
    if draw(st.booleans()):  # NaN samples (repaired by holding the last good one)
        i = draw(st.integers(0, n - 5))
        a[i : i + draw(st.integers(1, 4)), draw(st.integers(0, 2))] = np.nan
    return t[keep], a[keep], fs


@settings(max_examples=40, deadline=None)
@given(rec=_recordings(), data=st.data())
def test_shank_kernel_equals_naive_and_any_chunking_on_random_strides(rec, data):
    t, a, fs = rec
    batch = detect_steps(t, a, None, sampling_rate_hz=fs, placement="shank")
    slow = naive_detect_steps(t, a, None, sampling_rate_hz=fs, placement="shank")
    np.testing.assert_array_equal(batch.t_s, [s[0] for s in slow])
    np.testing.assert_array_equal(batch.emitted_at_s, [s[1] for s in slow])
    np.testing.assert_allclose(batch.cadence_spm, [s[2] for s in slow], rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(batch.is_run, [s[3] for s in slow])
    det = StepDetector(sampling_rate_hz=fs, placement="shank", has_gyro=False)
    if data.draw(st.booleans()):
        cuts = list(range(1, t.size))  # one sample per call
    else:
        cuts = sorted(set(data.draw(st.lists(st.integers(1, t.size - 1), max_size=60))))
    parts = [det.update(t[i:j], a[i:j]) for i, j in zip([0, *cuts], [*cuts, t.size], strict=True)]
    np.testing.assert_array_equal(np.concatenate([p.t_s for p in parts]), batch.t_s)
    np.testing.assert_array_equal(np.concatenate([p.emitted_at_s for p in parts]), batch.emitted_at_s)
    np.testing.assert_array_equal(np.concatenate([p.cadence_spm for p in parts]), batch.cadence_spm)
    np.testing.assert_array_equal(np.concatenate([p.is_run for p in parts]), batch.is_run)
