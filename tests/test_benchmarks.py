"""`python -m benchmarks --quick` runs and writes well-formed JSON with every section (no timings)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from benchmarks.__main__ import MARK_END, MARK_START, SECTIONS, format_markdown, write_readme
from tests.conftest import REPO


def _finite_or_none(x):
    if isinstance(x, float):
        assert math.isfinite(x)
    elif isinstance(x, dict):
        for v in x.values():
            _finite_or_none(v)
    elif isinstance(x, list):
        for v in x:
            _finite_or_none(v)


# the quick benchmark run takes minutes on 2 cores: run with `./test.sh -m slow`
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "perf.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--no-peers",
            "--json",
            str(out),
            "--arm64-result",
            str(out.parent / "none.json"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def test_quick_run_writes_every_section(quick):
    res, stdout = quick
    for name in SECTIONS:
        assert name in res, name
        assert "error" not in (res[name] if isinstance(res[name], dict) else {}), res[name]
    assert res["schema"] == "cadence-coach.perf/1"
    assert res["quick"] is True
    _finite_or_none(res)  # strict JSON: no NaN anywhere
    assert "Targets" in stdout
    assert "Throughput" in stdout


def test_quick_run_sections_are_well_formed(quick):
    res, _ = quick
    th = res["throughput"]
    assert {r["placement"] for r in th["core"]} == {"foot", "lower_back"}
    for r in th["core"]:
        assert r["step_core_samples_per_s"] > 0
        assert r["stride_samples_per_s"] > 0
        assert r["steps"] > 0
    assert {(r["placement"], r["format"]) for r in th["replay"]} == {
        (p, f) for p in ("foot", "lower_back") for f in (".cclog", ".csv")
    }
    assert th["folders"][0]["replayed"] == th["folders"][0]["recordings"] > 0
    pipe = res["streaming"]["pipeline"]
    assert {r["rate_hz"] for r in pipe} == {100.0, 200.0, 400.0}
    for r in pipe + [x["process"] for x in res["streaming"]["live_loop"]]:
        assert r["blocks"] > 100
        assert 0 < r["median_ms"] <= r["p99_ms"] <= r["max_ms"]
    su = res["startup"]
    assert su["first_block"]["warm_s"] > 0
    assert su["first_block"]["cold_s"] > 0
    assert su["import"]["import_process_s"] > 0
    assert res["memory"]["peak_rss_mb"] > res["memory"]["import_only_peak_rss_mb"] > 0
    # with the AOT kernel module: numba is not imported, so less memory than the JIT session
    aot = res["memory"]["aot"]
    assert res["memory"]["peak_rss_mb"] > aot["peak_rss_mb"] > aot["import_only_peak_rss_mb"] > 0
    # the JIT's breakdown: LLVM's pages are resident with the JIT and absent with the AOT module
    assert res["memory"]["final_rss_llvmlite_mb"] > 0
    assert aot["final_rss_llvmlite_mb"] == 0
    stages = res["memory"]["stages"]
    assert [s[0] for s in stages][:4] == ["interpreter", "numpy", "firmware_py.cli", "numba (import)"]
    assert all(len(s) == 4 and s[1] > 0 for s in stages)
    assert stages[-1][1] <= res["memory"]["peak_rss_mb"]
    assert 0 < res["memory"]["numba_floor_peak_rss_mb"] < res["memory"]["peak_rss_mb"]
    assert su["aot"]["build_s"] > 0
    assert su["aot"]["first_block_s"] > 0
    assert all(r["process_aot_s"] > 0 for r in th["replay"])
    cl = res["cue_latency"]
    assert cl["cues"] > 0
    assert cl["measured"] > 0
    assert cl["latency"]["median_ms"] > 0
    assert res["peers"] == {"skipped": "--no-peers"}
    assert "skipped" in res["arm64"]
    names = {t["target"] for t in res["targets"]}
    assert len(names) >= 6
    assert all(t["met"] in (True, False) for t in res["targets"])


def test_readme_block_is_replaced_between_the_markers(quick, tmp_path):
    res, _ = quick
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{MARK_START}\nold table\n{MARK_END}\nafter\n")
    write_readme(readme, format_markdown(res))
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n" + MARK_START + "\n")
    assert text.endswith(MARK_END + "\nafter\n")
    assert "old table" not in text
    assert "| target | wanted | measured | met |" in text
