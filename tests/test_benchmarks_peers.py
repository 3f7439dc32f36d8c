"""The peers' worker half of `benchmarks/peers.py`: time mapping and no cadence-coach imports."""

from __future__ import annotations

import ast
import inspect

import numpy as np

from benchmarks import peers
from tests.ast_imports import imported_modules


def test_sample_times_read_the_recordings_timestamps_across_a_gap():
    # 100 Hz with 0.5 s of dropped samples after sample 9: index 10 is at 0.59 s, not 0.10 s
    t = np.concatenate([np.arange(10) * 0.01, 0.59 + np.arange(10) * 0.01])
    assert peers._sample_times(t, [0, 9, 10, 15.0]) == [t[0], t[9], t[10], t[15]]
    assert peers._sample_times(t, [10])[0] == 0.59  # t[0] + 10 / 100 Hz would say 0.10 s


def test_sample_times_round_and_clip_indices():
    t = np.arange(5) * 0.5
    assert peers._sample_times(t, [1.4, 1.6, -1, 7]) == [0.5, 1.0, 0.0, 2.0]
    assert peers._sample_times(t, []) == []


def test_worker_half_imports_nothing_of_cadence_coach():
    # the worker runs under the peers' venv, where dsp / firmware_py / benchmarks are absent
    worker_half = (peers._load, peers._body_frame, peers._mobgap, peers._gaitmap, peers._sample_times)
    worker_half += (peers.worker,)
    banned = ("dsp", "firmware_py", "benchmarks", "tests")
    for fn in worker_half:
        for name in imported_modules(ast.parse(inspect.getsource(fn).lstrip())):
            assert name.split(".")[0] not in banned, (fn.__name__, name)
    top = ast.parse(inspect.getsource(peers))
    for node in top.body:
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned, node.module
