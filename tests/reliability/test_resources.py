"""Resources: a full disk (at start and mid-run), a read-only data folder, an unwritable numba cache
folder and low memory.

A full or read-only disk is a real tiny tmpfs when this machine lets the tests mount one (root), and
an injected writer that fails with ENOSPC otherwise. The message must be clear (one line naming the
folder and the cause), coaching must go on, and nothing already written may be damaged.
"""

from __future__ import annotations

import pytest

from tests.reliability import campaigns as C


def test_disk_full_at_start_means_no_log_but_coaching(rel_workdir):
    out = C.disk_full_trial(rel_workdir / "res", at_start=True)
    assert not out.crashed
    assert out.problems == []
    assert "coaching continues" in out.stopped_reason


def test_disk_full_mid_run_keeps_every_sample_written_before(rel_workdir):
    out = C.disk_full_trial(rel_workdir / "res", at_start=False)
    assert not out.crashed
    assert out.problems == []
    assert "disk full" in out.stopped_reason


def test_a_read_only_data_folder_means_no_log_but_coaching(rel_workdir):
    out = C.read_only_trial(rel_workdir / "res")
    assert not out.crashed
    assert out.problems == []


def test_the_device_starts_with_1_gb_of_address_space(rel_workdir):
    m = C.low_memory_trial(rel_workdir / "mem", 1024)
    assert m.status == "ok", m.detail
    assert m.log_ok


@pytest.mark.slow
def test_an_unwritable_numba_cache_folder_compiles_in_memory_with_a_warning(rel_workdir):
    out = C.numba_cache_trial(rel_workdir / "numba")
    assert out.problems == []


@pytest.mark.slow
def test_a_read_only_data_folder_is_one_warning_line_from_the_cli(rel_workdir):
    blocker = rel_workdir / "cli-ro" / "file"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("x")
    p = C.cli_run(C.fast_run_args(blocker / "logs", 20.0))
    assert p is not None
    assert p.returncode == 0, p.stderr
    warnings = [line for line in p.stderr.splitlines() if "cannot record" in line]
    assert len(warnings) == 1
    assert str(blocker / "logs") in warnings[0]
    assert " steps" in p.stdout


@pytest.mark.slow
@pytest.mark.parametrize("limit_mb", [384, 256])
def test_low_memory_is_a_clean_failure_or_a_run(rel_workdir, limit_mb):
    m = C.low_memory_trial(rel_workdir / "mem", limit_mb, timeout=60)
    assert m.log_ok
    assert m.status in ("ok", "clean failure"), f"{m.status}: {m.detail}"
