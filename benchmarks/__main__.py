"""``python -m benchmarks``: performance and Pi readiness in one command.

Usage::

    python -m benchmarks [--write-readme README.md] [--json FILE] [--quick] [--no-peers]
                         [--arm64-result FILE] [--peers-folder DIR]

Measures core throughput, the streaming cost per 50 ms block, cold start, import time, peak memory,
cue latency, the open peers side by side (``benchmarks.peers``, in their own venv) and shows the
last emulated arm64 check (``benchmarks/arm64/run.sh``, default result
``/tmp/cc-arm64/result.json``). Prints a table, writes everything as JSON (``--json``) and, with
``--write-readme``, replaces the text between ``<!-- speed:start -->`` and ``<!-- speed:end -->``.
``--quick`` shortens every measurement (for tests); its numbers are not for the README.
"""

# ruff: noqa: E501  (the markdown table rows are long strings)
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import perf

MARK_START = "<!-- speed:start -->"
MARK_END = "<!-- speed:end -->"
DEFAULT_ARM64 = Path(os.environ.get("CC_ARM64_DIR", "/tmp/cc-arm64")) / "result.json"
SECTIONS = (
    "machine",
    "throughput",
    "streaming",
    "startup",
    "memory",
    "cue_latency",
    "peers",
    "arm64",
    "targets",
)


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_nan_to_none(v) for v in x]
    return x


def run_all(args: argparse.Namespace) -> dict:
    """Run every section; return the results (one key per section)."""
    q = args.quick
    rep = args.repeat or (1 if q else 5)
    res: dict[str, Any] = {"schema": "cadence-coach.perf/1", "quick": q, "command": _command(args)}
    res["machine"] = perf.machine_info()

    def step(name: str, fn) -> None:
        t0 = time.perf_counter()
        print(f"benchmarks: {name} ...", file=sys.stderr, flush=True)
        try:
            res[name] = fn()
        except Exception as exc:  # one broken section must not hide the others
            res[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"benchmarks: {name} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        res.setdefault("section_s", {})[name] = time.perf_counter() - t0

    step(
        "throughput",
        lambda: perf.measure_throughput(
            repeat=rep, folders=[perf.FIXTURES] if q else None, log_minutes=10.0 if q else 60.0
        ),
    )
    step(
        "streaming",
        lambda: {
            "pipeline": perf.measure_pipeline_blocks(minutes=1.0 if q else 10.0),
            "live_loop": perf.measure_live_loop_blocks(minutes=0.5 if q else 5.0),
        },
    )
    step("startup", lambda: perf.measure_startup(repeat=rep, cold_repeat=1 if q or rep < 3 else 2))
    step("memory", lambda: perf.measure_memory(minutes=1.0 if q else 10.0))
    step("cue_latency", lambda: perf.measure_cue_latency(seconds=args.cue_seconds or (15.0 if q else 180.0)))
    if args.no_peers:
        res["peers"] = {"skipped": "--no-peers"}
    else:
        from benchmarks import peers

        folder = Path(args.peers_folder) if args.peers_folder else None
        if folder is None:
            folder = perf.SHARED_DATASETS if perf.SHARED_DATASETS.is_dir() and not q else perf.FIXTURES
        step("peers", lambda: peers.run_peers(folder, max_recordings=3 if q else args.peers_max))
    res["arm64"] = load_arm64(Path(args.arm64_result))
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["targets"] = targets(res)
    return res


def _command(args: argparse.Namespace) -> str:
    parts = ["python -m benchmarks"]
    if args.quick:
        parts.append("--quick")
    if args.no_peers:
        parts.append("--no-peers")
    for flag in ("repeat", "cue_seconds", "peers_max"):
        if getattr(args, flag, None):
            parts.append(f"--{flag.replace('_', '-')} {getattr(args, flag):g}")
    if args.write_readme:
        parts.append(f"--write-readme {Path(args.write_readme).name}")
    return " ".join(parts)


def load_arm64(path: Path) -> dict:
    """Return the summary of the last emulated arm64 check, or why there is none."""
    if not path.is_file():
        return {"skipped": f"no {path}: run sudo benchmarks/arm64/run.sh"}
    try:
        r = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return {"skipped": f"{path}: {exc}"}
    ins = r.get("inside", {})
    return {
        "label": r.get("label"),
        "date": r.get("date"),
        "ok": r.get("ok"),
        "recordings": r.get("recordings"),
        "steps_total": r.get("steps_total"),
        "same_json_steps": r.get("same_json_steps"),
        "same_float64_bits": r.get("same_float64_bits"),
        "tests": ins.get("tests"),
        "versions": ins.get("versions"),
        "compile_s": ins.get("cold", {}).get("warm_up_s"),
        "cache_load_s": ins.get("warm", {}).get("warm_up_s"),
        "import_s": ins.get("warm", {}).get("import_s"),
        "throughput": ins.get("throughput"),
        "replay_s": ins.get("replay_s"),
    }


# ---------------------------------------------------------------------------------------------
# targets of the issue "Performance and Pi readiness"
# ---------------------------------------------------------------------------------------------
def _get(d: Any, *keys: Any) -> Any:
    for k in keys:
        if (isinstance(d, dict) and k in d) or (isinstance(d, list) and isinstance(k, int) and k < len(d)):
            d = d[k]
        else:
            return None
    return d


def like_for_like_ratio(row: dict) -> float | None:
    """Speed ratio of ours to a peer for the same work.

    mobgap's methods (lower back) find initial contacts only: they are compared with our step
    detector alone. gaitmap's stride pipeline (foot) segments strides, finds their events and
    integrates their trajectories: it is compared with our whole pipeline (steps, strides, terrain,
    grade and coach), which does more.

    Parameters
    ----------
    row : dict
        One row of ``benchmarks.peers.run_peers``' ``rows``.

    Returns
    -------
    float or None
        The ratio, or None when the peer was not timed.
    """
    if row.get("placement") == "lower_back":
        return row.get("speed_ratio_steps_only")
    return row.get("speed_ratio")


def targets(res: dict) -> list[dict]:
    """Compare the results with the issue's numbers: one row per target, met or not."""
    rows = []

    def add(name: str, target: str, value: float | None, fmt: str, ok: bool | None, note: str = "") -> None:
        rows.append(
            {
                "target": name,
                "wanted": target,
                "measured": None if value is None else format(value, fmt),
                "met": ok,
                "note": note,
            }
        )

    core = _get(res, "throughput", "core") or []
    if core:
        worst = min(core, key=lambda r: r["step_core_samples_per_s"])
        v = worst["step_core_samples_per_s"] / 1e6
        add(
            "step detection core, 1 x86 core",
            ">= 20 M samples/s",
            v,
            ".1f",
            v >= 20.0,
            f"slowest mode ({worst['placement']}) on a 1-hour 200 Hz log; M samples/s",
        )
    reps = [r for r in (_get(res, "throughput", "replay") or []) if r["format"] == ".cclog"]
    if reps:
        beyond = max(r["beyond_startup_s"] for r in reps)
        whole = max(r["process_s"] for r in reps)
        add(
            "replay 1-hour 200 Hz .cclog beyond start-up",
            "<= 0.5 s",
            beyond,
            ".2f",
            beyond <= 0.5,
            "process time minus that of a 1-second log (same imports and cache loads); worst placement",
        )
        add(
            "whole `cadence-coach replay` process, 1-hour .cclog",
            "<= 1.5 s",
            whole,
            ".2f",
            whole <= 1.5,
            "warm numba cache; worst placement",
        )
        whole_aot = [r.get("process_aot_s") for r in reps]
        if None not in whole_aot:
            add(
                "whole `cadence-coach replay` process, 1-hour .cclog, AOT kernels",
                "<= 1.5 s",
                max(whole_aot),
                ".2f",
                max(whole_aot) <= 1.5,
                "`precompile --aot` module, numba not imported; worst placement",
            )
    pipe = [r for r in (_get(res, "streaming", "pipeline") or []) if r["rate_hz"] == 200.0]
    if pipe:
        p99 = max(r["p99_pct"] for r in pipe)
        add(
            "live loop per 50 ms block at 200 Hz, p99",
            "<= 0.2 % of real time",
            p99,
            ".2f",
            p99 <= 0.2,
            "Pipeline.process, worst placement; %",
        )
    fb = _get(res, "startup", "first_block", "warm_s")
    if fb is not None:
        add(
            "cold start to first processed block, warm cache",
            "<= 1.0 s",
            fb,
            ".2f",
            fb <= 1.0,
            "cadence-coach run --bus fake:... --chip lsm6dsox --fast; s",
        )
    fb_aot = _get(res, "startup", "aot", "first_block_s")
    if fb_aot is not None:
        add(
            "cold start to first processed block, AOT kernels",
            "<= 1.0 s",
            fb_aot,
            ".2f",
            fb_aot <= 1.0,
            "the same command with the `precompile --aot` module (numba not imported); s",
        )
    mem = _get(res, "memory", "peak_rss_mb")
    if mem is not None:
        add(
            "peak RSS of the live loop, 10-minute session, numba JIT (development machines)",
            "<= 120 MB",
            mem,
            ".0f",
            mem <= 120.0,
            f"import of the package alone: {_get(res, 'memory', 'import_only_peak_rss_mb') or 0:.0f} MB; "
            f"one trivial numba kernel alone: {_get(res, 'memory', 'numba_floor_peak_rss_mb') or 0:.0f} MB",
        )
    mem_aot = _get(res, "memory", "aot", "peak_rss_mb")
    if mem_aot is not None:
        add(
            "peak RSS of the live loop, 10-minute session, AOT kernels (the device's set-up)",
            "<= 120 MB",
            mem_aot,
            ".0f",
            mem_aot <= 120.0,
            f"`precompile --aot` module, numba not imported; import alone: "
            f"{_get(res, 'memory', 'aot', 'import_only_peak_rss_mb') or 0:.0f} MB",
        )
    lat = _get(res, "cue_latency", "latency", "p99_ms")
    if lat is not None:
        add(
            "cue latency p99",
            "<= 50 ms",
            lat,
            ".1f",
            lat <= 50.0,
            f"{_get(res, 'cue_latency', 'measured')} cues, real time; ms",
        )
    prows = _get(res, "peers", "rows") or []
    if prows:
        ok_all = True
        worst_ratio = None
        for r in prows:
            ratio = like_for_like_ratio(r)
            if ratio is None:
                continue
            better = r["ours_f1"] >= r["peer_f1"] - 1e-12
            fast = ratio >= 100.0
            ok_all = ok_all and better and fast
            worst_ratio = ratio if worst_ratio is None else min(worst_ratio, ratio)
        add(
            "speed vs mobgap and gaitmap at equal or better F1",
            ">= 100x",
            worst_ratio,
            ".0f",
            ok_all,
            "lowest ratio, like for like: our step detector against mobgap's initial-contact detectors, "
            "our whole pipeline against gaitmap's stride pipeline (warm, in memory); every ratio and F1 "
            "in the peers table",
        )
    return rows


# ---------------------------------------------------------------------------------------------
# table
# ---------------------------------------------------------------------------------------------
def _f(x: Any, fmt: str, dash: str = "·") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return dash
    return format(x, fmt)


def format_markdown(res: dict) -> str:
    """Render the results as the README's speed block (markdown)."""
    m = res["machine"]
    out = [
        f"_Generated by `{res['command']}` on {m['date']} (commit {m.get('commit') or '?'}): {m['arch']}, "
        f"{m['cpu']}, {m['cores']} cores shared with other jobs (load {m['loadavg_start'][0]:.1f} at start, "
        f"{m.get('loadavg_end', [float('nan')])[0]:.1f} at end), Python {m['python']}, numba "
        f"{m['versions'].get('numba', '?')}. Medians of repeated runs; logs are the bundled real "
        "recordings repeated to length. Method and discussion: [docs/performance.md](docs/performance.md)._",
        "",
    ]
    tg = res.get("targets") or []
    if tg:
        out += ["**Targets** (issue \u201cPerformance and Pi readiness\u201d)", ""]
        out += ["| target | wanted | measured | met |", "|---|---|---:|---|"]
        for r in tg:
            met = "yes" if r["met"] else ("**no**" if r["met"] is False else "·")
            out.append(f"| {r['target']} | {r['target'] and r['wanted']} | {r['measured'] or '·'} | {met} |")
        out.append("")
    th = res.get("throughput") or {}
    if "core" in th:
        out += [f"**Throughput** (one core unless said; {th['log_minutes']:g}-minute 200 Hz log)", ""]
        out += [
            "| log | samples | step core M samples/s | stride M samples/s | replay in-process .cclog / .csv (s) "
            "| `cadence-coach replay` process .cclog / .csv (s) | .cclog beyond start-up (s) "
            "| replay process .cclog / .csv, AOT kernels (s) |",
            "|---|---:|---:|---:|---|---|---:|---|",
        ]
        for c in th["core"]:
            reps = {r["format"]: r for r in th["replay"] if r["placement"] == c["placement"]}
            cc, cs = reps.get(".cclog", {}), reps.get(".csv", {})
            out.append(
                f"| {c['placement']}{' + gyro' if c['gyro'] else ''} | {c['samples']:,} "
                f"| {c['step_core_samples_per_s'] / 1e6:.1f} | {c['stride_samples_per_s'] / 1e6:.1f} "
                f"| {_f(cc.get('in_process_s'), '.2f')} / {_f(cs.get('in_process_s'), '.2f')} "
                f"| {_f(cc.get('process_s'), '.2f')} / {_f(cs.get('process_s'), '.2f')} "
                f"| {_f(cc.get('beyond_startup_s'), '.2f')} "
                f"| {_f(cc.get('process_aot_s'), '.2f')} / {_f(cs.get('process_aot_s'), '.2f')} |"
            )
        for fo in th.get("folders", []):
            out.append("")
            out.append(
                f"Folder `{fo['folder']}`: {fo['replayed']}/{fo['recordings']} recordings, {fo['samples']:,} samples "
                f"in {fo['wall_s']:.2f} s with `replay_tree` on {fo['jobs']} cores "
                f"({fo['samples_per_s'] / 1e6:.2f} M samples/s, file reading and JSON included)."
            )
        out.append("")
    st = res.get("streaming") or {}
    if "pipeline" in st:
        loops = st.get("live_loop") or []
        drain_ms = {round(1e3 * r["block_s"]) for r in loops if "block_s" in r}
        per = (
            f"; in `LiveLoop`: per drain, every {'/'.join(map(str, sorted(drain_ms)))} ms" if drain_ms else ""
        )
        out += [f"**Streaming**: time per 50 ms block{per}, median / p99 (% of real time)", ""]
        out += [
            "| rate | `Pipeline.process` foot + gyro | `Pipeline.process` lower back "
            "| in `LiveLoop`: `Pipeline.process` | in `LiveLoop`: whole block (drain, decode, record, process) |",
            "|---|---|---|---|---|",
        ]
        for i, rate in enumerate(sorted({r["rate_hz"] for r in st["pipeline"]})):
            cells = []
            for place in ("foot", "lower_back"):
                r = next(
                    (x for x in st["pipeline"] if x["placement"] == place and x["rate_hz"] == rate), None
                )
                cells.append(
                    f"{_f(r and r['median_pct'], '.3f')} / {_f(r and r['p99_pct'], '.3f')}" if r else "·"
                )
            lp = loops[i] if i < len(loops) else None
            for part in ("process", "block"):
                cells.append(
                    f"{lp[part]['median_pct']:.3f} / {lp[part]['p99_pct']:.3f} ({lp[part]['rate_hz']:g} Hz)"
                    if lp and part in lp
                    else "·"
                )
            out.append(f"| {rate:g} Hz | " + " | ".join(cells) + " |")
        out.append("")
    su = res.get("startup") or {}
    if "first_block" in su:
        fb, imp, pre = su["first_block"], su["import"], su["precompile"]
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(imp["top_level_cumulative_s"].items())[:4])
        out.append(
            f"**Start-up**: `cadence-coach run --bus fake:… --chip lsm6dsox --fast` to the end of its first "
            f"`Pipeline.process`: {fb['warm_s']:.2f} s with a warm numba cache, {fb['cold_s']:.1f} s with an empty "
            f"one (compiles every kernel). `import firmware_py.cli, dsp`: {imp['import_s']:.2f} s beyond a bare "
            f"interpreter ({imp['python_bare_s']:.2f} s; `-X importtime` top level: {top} s). "
            f"`cadence-coach precompile`: {pre['warm_cache_s']:.2f} s warm, {pre['cold_cache_s']:.1f} s cold."
        )
        ao = su.get("aot")
        if ao:
            out.append(
                f"With the ahead-of-time compiled kernels (`cadence-coach precompile --aot`, built in "
                f"{_f(ao['build_s'], '.0f')} s from an empty cache; numba is then not imported): first block "
                f"{ao['first_block_s']:.2f} s, import {ao['import_s']:.2f} s."
            )
        out.append("")
    me = res.get("memory") or {}
    if "peak_rss_mb" in me:
        out.append(
            f"**Memory**: peak RSS (VmHWM) of a {me['session_min']:g}-minute live session (fake bus, fast clock, "
            f"recorder and mock pins on): {me['peak_rss_mb']:.0f} MB ({me['final_rss_anon_mb']:.0f} MB anonymous, "
            f"{me['final_rss_file_mb']:.0f} MB file-backed at the end); a process that only imports the package "
            f"peaks at {me['import_only_peak_rss_mb']:.0f} MB."
        )
        if "numba_floor_peak_rss_mb" in me:
            out.append(
                f"Of it, {me['final_rss_llvmlite_mb']:.0f} MB are pages of llvmlite's LLVM library (clean, "
                f"file-backed); any process that runs one trivial numba kernel from a warm cache peaks at "
                f"{me['numba_floor_peak_rss_mb']:.0f} MB: the JIT cannot meet 120 MB."
            )
        ma = me.get("aot")
        if ma:
            out.append(
                f"With the ahead-of-time compiled kernels (numba not imported): {ma['peak_rss_mb']:.0f} MB "
                f"({ma['final_rss_anon_mb']:.0f} MB anonymous, {ma['final_rss_file_mb']:.0f} MB file-backed); "
                f"import only {ma['import_only_peak_rss_mb']:.0f} MB."
            )
        out.append("")
    cl = res.get("cue_latency") or {}
    if "latency" in cl:
        la, pa = cl["latency"], cl["parts"]
        out.append(
            f"**Cue latency** (live loop in real time on a fake bus at {cl['chip_rate_hz']:g} Hz, gpiozero mock PWM "
            f"pins, {cl['measured']} cues): deciding sample to first cue pin change median "
            f"{_f(la['median_ms'], '.1f')} ms, p99 {_f(la['p99_ms'], '.1f')} ms, max {_f(la['max_ms'], '.1f')} ms; "
            f"of which waiting for the {_f(1e3 * cl.get('drain_interval_s', 0.05), '.0f')} ms drain, draining and recording {_f(pa['sample_to_pipeline_start']['median_ms'], '.1f')} "
            f"ms (median), `Pipeline.process` {_f(pa['pipeline_call']['median_ms'], '.2f')} ms, hand-over to the pin "
            f"{_f(pa['pipeline_end_to_pin']['median_ms'], '.2f')} ms. It excludes the detector's own decision delay "
            "(contact to deciding sample, by design) and the buzzer's acoustics."
        )
        out.append("")
    pe = res.get("peers") or {}
    if pe.get("rows"):
        v = pe.get("versions", {})
        out += [
            f"**Peers** on the same recordings (`{perf.display(Path(pe['folder']))}`), same run, warm, in memory, one "
            f"process each (mobgap {v.get('mobgap', '?')}, gaitmap {v.get('gaitmap', '?')} + gaitmap_mad, "
            "installed by the benchmark in their own venv):",
            "",
            "| method | placement | recordings | peer k samples/s | cadence-coach k samples/s (pipeline / steps only) "
            "| speed ratio (pipeline / steps only) | peer F1 | cadence-coach F1 |",
            "|---|---|---:|---:|---|---|---:|---:|",
        ]
        for r in pe["rows"]:
            out.append(
                f"| {r['method']} | {r['placement']} | {r['recordings_done']}/{r['recordings']} "
                f"| {_f(r['peer_samples_per_s'] and r['peer_samples_per_s'] / 1e3, ',.0f')} "
                f"| {r['ours_samples_per_s'] / 1e3:,.0f} / {r['ours_steps_only_samples_per_s'] / 1e3:,.0f} "
                f"| {_f(r['speed_ratio'], '.0f')}x / {_f(r['speed_ratio_steps_only'], '.0f')}x "
                f"| {r['peer_f1']:.3f} | {r['ours_f1']:.3f} |"
            )
        out.append("")
    elif pe.get("skipped"):
        out += [f"**Peers**: skipped ({pe['skipped']}).", ""]
    a = res.get("arm64") or {}
    if a.get("skipped"):
        out.append(f"**ARM64 (emulated)**: not run ({a['skipped']}).")
    elif a:
        tp = a.get("throughput") or {}
        tests = a.get("tests") or {}
        out.append(
            f"**ARM64, EMULATED** (`benchmarks/arm64/run.sh`, {a.get('date')}: Debian Bookworm arm64 under qemu-user, "
            f"numba {(a.get('versions') or {}).get('numba', '?')}): kernel tests {tests.get('summary', 'not run')}; "
            f"replay of {a.get('recordings')} bundled recordings: {a.get('same_json_steps')}/{a.get('recordings')} "
            f"with the same JSON steps as x86-64, {a.get('same_float64_bits')}/{a.get('recordings')} identical to "
            f"the last bit ({a.get('steps_total')} steps). EMULATED timings (not a Pi's): compile "
            f"{_f(a.get('compile_s'), '.0f')} s, cache load {_f(a.get('cache_load_s'), '.2f')} s, step core "
            + ", ".join(f"{k} {v['step_core_samples_per_s'] / 1e6:.2f} M samples/s" for k, v in tp.items())
            + "."
        )
    return "\n".join(out).rstrip() + "\n"


def write_readme(path: Path, block: str) -> None:
    """Replace the speed block of ``path`` (markers kept)."""
    text = path.read_text()
    a = text.index(MARK_START) + len(MARK_START)
    b = text.index(MARK_END)
    path.write_text(text[:a] + "\n" + block + text[b:])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--write-readme", metavar="README", help="replace the speed block in this README")
    ap.add_argument("--json", metavar="FILE", help="write every result here")
    ap.add_argument("--quick", action="store_true", help="short runs (tests); not for the README")
    ap.add_argument("--no-peers", action="store_true", help="skip mobgap and gaitmap")
    ap.add_argument("--peers-folder", help="recordings for the peers (default ../shared/datasets)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per measurement (default 5, --quick 1)")
    ap.add_argument("--cue-seconds", type=float, default=None, help="real-time cue session, s (default 180)")
    ap.add_argument("--peers-max", type=int, default=None, help="at most this many recordings per placement")
    ap.add_argument("--arm64-result", default=str(DEFAULT_ARM64), help="result of benchmarks/arm64/run.sh")
    args = ap.parse_args(argv)
    from benchmarks.accuracy import refuse_unwritable

    if refuse_unwritable(args.json, "--json", "benchmarks"):  # before the 10-minute run, not after
        return 2
    if args.write_readme:
        try:
            text = Path(args.write_readme).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            print(
                f"benchmarks: --write-readme {args.write_readme}: cannot read it ({exc}); fix: give the "
                "project's README.md",
                file=sys.stderr,
            )
            return 2
        if MARK_START not in text or MARK_END not in text:
            print(
                f"benchmarks: add {MARK_START} and {MARK_END} to {args.write_readme} first", file=sys.stderr
            )
            return 2
    res = _nan_to_none(run_all(args))
    block = format_markdown(res)
    print(block)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, allow_nan=False) + "\n")
    failed = [k for k, v in res.items() if isinstance(v, dict) and "error" in v]
    if failed:
        # a table with sections missing must not replace a complete one
        where = f"; {args.write_readme} left as it was" if args.write_readme else ""
        print(f"benchmarks: {len(failed)} section(s) failed: {', '.join(failed)}{where}", file=sys.stderr)
        return 1
    if args.write_readme:
        write_readme(Path(args.write_readme), block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
