"""The numba environment on a device: unwritable cache directory, JIT off (32-bit Pi OS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import FIXTURES, REPO

SCRIPT = f"""
import json, sys
from firmware_py.logs import read_log
from dsp import detect_steps
rec = read_log({str(FIXTURES / "pyshoe_vicon" / "2017-11-27-11-24-07.csv")!r})
n = int(12 * rec.sampling_rate_hz)
steps = detect_steps(rec.t_s[:n], rec.acc_mps2[:n], rec.gyro_rads[:n],
                     sampling_rate_hz=rec.sampling_rate_hz, placement="foot")
rec2 = read_log({str(FIXTURES / "harlab_treadmill_jog" / "S028_jog.csv")!r})
m = int(12 * rec2.sampling_rate_hz)
trunk = detect_steps(rec2.t_s[:m], rec2.acc_mps2[:m],
                     sampling_rate_hz=rec2.sampling_rate_hz, placement="waist")
print(json.dumps([steps.t_s.tolist(), steps.cadence_spm.tolist(), trunk.t_s.tolist()]))
"""


def _run(env_extra):
    env = {**os.environ, **env_extra, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_jit_off_gives_the_same_steps_as_compiled():
    """32-bit Raspberry Pi OS has no numba wheels: the same code runs interpreted."""
    compiled, _ = _run({})
    interpreted, _ = _run({"NUMBA_DISABLE_JIT": "1"})
    assert len(compiled[0]) > 5
    assert len(compiled[2]) > 10
    assert compiled == interpreted


def test_unwritable_cache_dir_falls_back_with_a_warning(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    result, stderr = _run({"NUMBA_CACHE_DIR": str(blocker / "cache")})
    assert len(result[0]) > 5
    assert "not writable" in stderr
    assert "NUMBA_CACHE_DIR" in stderr


def test_without_numba_installed_the_same_code_runs(tmp_path):
    """32-bit Raspberry Pi OS: numba cannot be installed at all; import must still work."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "numba.py").write_text("raise ImportError('no numba wheels for armv7l')\n")
    # CADENCE_AOT=0: no AOT kernel module either (there is none on armv7)
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{REPO}", "CADENCE_AOT": "0"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "numba is not installed" in proc.stderr
    compiled, _ = _run({})
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == compiled
