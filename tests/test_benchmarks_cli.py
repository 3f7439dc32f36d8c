"""`python -m benchmarks` checks its outputs before the long run (no benchmark is run here)."""

from __future__ import annotations

import pytest


def test_bad_output_paths_end_in_one_line_before_any_run(tmp_path, capsys, monkeypatch):
    # --json was written only after the whole 10-minute run, and a folder or missing path ended
    # in a traceback there; a missing --write-readme README was a traceback too.
    from benchmarks import __main__ as bench

    monkeypatch.setattr(bench, "run_all", lambda args: pytest.fail("ran before checking its outputs"))
    assert bench.main(["--json", str(tmp_path), "--quick", "--no-peers"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--json {tmp_path}: it is a folder" in err
    missing = tmp_path / "nope" / "README.md"
    assert bench.main(["--write-readme", str(missing), "--quick", "--no-peers"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"--write-readme {missing}: cannot read it" in err
