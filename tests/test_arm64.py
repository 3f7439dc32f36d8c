"""The emulated 64-bit Raspberry Pi OS check (``benchmarks/arm64/run.sh``): not in the default run.

Run with ``./test.sh -m arm64`` as root on an x86-64 or arm64 Debian machine that reaches the
Debian mirror (the first run builds the chroot, about 30 minutes under emulation; later runs reuse it
from ``$CC_ARM64_DIR``, default ``/tmp/cc-arm64``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.arm64


@pytest.fixture(scope="module")
def arm64_result(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("benchmarks/arm64/run.sh needs root (debootstrap, chroot)")
    if shutil.which("apt-get") is None:
        pytest.skip("needs a Debian-like host (apt-get, debootstrap, qemu-user-static)")
    out = tmp_path_factory.mktemp("arm64") / "result.json"
    proc = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "arm64" / "run.sh"), "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=4 * 3600,
    )
    if proc.returncode == 2:  # the emulated system could not be built: say exactly why
        pytest.fail(f"arm64 chroot not built: {proc.stderr.strip()[-1500:]}")
    assert out.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(out.read_text()), proc


def test_kernel_tests_pass_on_arm64(arm64_result):
    res, _ = arm64_result
    tests = res["inside"]["tests"]
    assert tests["exit_code"] == 0, tests["summary"]
    assert "passed" in tests["summary"]
    assert res["inside"]["machine"] == "aarch64"


def test_replay_steps_are_identical_to_x86(arm64_result):
    res, proc = arm64_result
    assert res["recordings"] >= 20
    bad = [r["recording"] for r in res["rows"] if not r["same_json"]]
    assert not bad, bad
    assert res["ok"] is True, proc.stdout[-2000:]


def test_emulated_timings_are_reported(arm64_result):
    res, _ = arm64_result
    assert "EMULATED" in res["label"]
    assert res["inside"]["cold"]["warm_up_s"] > 0
    assert res["inside"]["warm"]["warm_up_s"] > 0
    for v in res["inside"]["throughput"].values():
        assert v["step_core_samples_per_s"] > 0
