"""The Python half of ``benchmarks/arm64/run.sh``: what runs inside the emulated arm64 chroot.

Subcommands (run as a script, ``python3 benchmarks/arm64/check.py CMD``; only the standard
library, numpy, numba and the project are needed):

* ``replay --out DIR``: replay every bundled recording (``firmware_py/data/*.csv`` and
  ``tests/fixtures``; each foot recording also without its gyroscope, as a foot and as a
  shank) and write, per recording, the replay JSON's ``steps`` and the float64 bits
  (``float.hex``) of every contact time, decision time, cadence and stride length.
* ``inside --out DIR [--skip-tests]``: in the chroot: the kernels' tests, the replay above, and
  EMULATED timings (numba compile time with an empty cache, cache-load time, steady throughput).
* ``compare --arm DIR --host DIR --result FILE``: compare the two replays step for step, bit for
  bit, and write the result JSON (with the emulated timings) that the README block shows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: The tests that hold every kernel against its slow reference (tests/naive.py, naive_stride.py).
KERNEL_TESTS = (
    "tests/test_steps.py",
    "tests/test_steps_limb.py",
    "tests/test_steps_shank.py",
    "tests/test_stride.py",
)
#: Replays of every foot recording with its gyroscope left out, as a foot (the limb mode of the
#: step kernel) and as a shank (its shank mode): the modes no bundled recording reaches by itself.
NO_GYRO_VARIANTS = ("foot", "shank")


def recordings() -> list[Path]:
    """Return the bundled recordings: the demo logs and every fixture recording."""
    from firmware_py.replay import find_recordings

    return sorted((REPO / "firmware_py" / "data").glob("*.csv")) + find_recordings(
        REPO / "tests" / "fixtures"
    )


def _hex(x: float | None) -> str | None:
    return None if x is None else float(x).hex()


def cmd_replay(out: Path) -> int:
    """Replay every bundled recording; write its steps and their bits to ``out``."""
    import warnings

    from firmware_py.logs import read_log
    from firmware_py.replay import replay_recording, to_json

    out.mkdir(parents=True, exist_ok=True)
    index = {}
    t0 = time.perf_counter()
    runs = []
    for path in recordings():
        rel = path.relative_to(REPO).as_posix()
        rec = read_log(path)
        runs.append((rel, rec, None))
        if rec.placement == "foot" and rec.has_gyro:
            for where in NO_GYRO_VARIANTS:
                runs.append((f"{rel}#{where}-no-gyro", replace(rec, gyro_rads=None), where))
    for rel, rec, where in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = replay_recording(rec, placement=where)
        doc = to_json(result)
        bits = [
            [
                _hex(e.t_s),
                _hex(e.emitted_at_s),
                _hex(e.cadence_spm),
                _hex(e.stride_length_m),
                _hex(e.step_length_m),
            ]
            for e in result.events
        ]
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", rel) + ".json"
        (out / name).write_text(json.dumps({"source": rel, "steps": doc["steps"], "bits": bits}))
        index[rel] = {"file": name, "n_steps": len(doc["steps"]), "samples": int(result.recording.n_samples)}
    (out / "index.json").write_text(
        json.dumps({"machine": platform.machine(), "replay_s": time.perf_counter() - t0, "recordings": index})
    )
    return 0


_TIMING_SCRIPT = """
import json, time
t0 = time.perf_counter()
import dsp, firmware_py.cli
t1 = time.perf_counter()
from dsp.warmup import warm_up_report
rep = warm_up_report()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "warm_up_s": t2 - t1,
                  "kernels": [[k.kernel, k.variant, k.seconds, k.source] for k in rep]}))
"""


def _timed_subprocess(env: dict[str, str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _TIMING_SCRIPT], capture_output=True, text=True, env=env, cwd=REPO, check=True
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def _throughput(repeat: int = 3) -> dict:
    """Steady step-core and stride throughput on 2 minutes of a bundled recording at 200 Hz."""
    import numpy as np

    from dsp import detect_steps, estimate_strides
    from firmware_py.logs import read_log

    out = {}
    for name, placement in (("demo_foot_run.csv", "foot"), ("demo_waist_run.csv", "lower_back")):
        rec = read_log(REPO / "firmware_py" / "data" / name)
        n = 200 * 120
        ts = rec.t_s - rec.t_s[0]
        period = ts[-1] + 1.0 / rec.sampling_rate_hz
        t = np.arange(n) / 200.0
        ph = np.mod(t, period)
        acc = np.column_stack([np.interp(ph, ts, rec.acc_mps2[:, i]) for i in range(3)])
        gyro = None
        if rec.gyro_rads is not None:
            gyro = np.column_stack([np.interp(ph, ts, rec.gyro_rads[:, i]) for i in range(3)])
        detect_steps(
            t[:400],
            acc[:400],
            None if gyro is None else gyro[:400],
            sampling_rate_hz=200.0,
            placement=placement,
        )
        times = []
        steps = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            steps = detect_steps(t, acc, gyro, sampling_rate_hz=200.0, placement=placement)
            times.append(time.perf_counter() - t0)
        s_times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            estimate_strides(t, acc, gyro, steps.t_s, sampling_rate_hz=200.0, placement=placement)
            s_times.append(time.perf_counter() - t0)
        out[placement] = {
            "samples": n,
            "step_core_samples_per_s": n / statistics.median(times),
            "stride_samples_per_s": n / statistics.median(s_times),
        }
    return out


def cmd_inside(out: Path, skip_tests: bool) -> int:
    """Everything that runs in the emulated chroot; writes ``out/inside.json``."""
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "uname": " ".join(platform.uname()),
        "date": dt.date.today().isoformat(),
    }
    try:
        import llvmlite
        import numba
        import numpy

        res["versions"] = {
            "numpy": numpy.__version__,
            "numba": numba.__version__,
            "llvmlite": llvmlite.__version__,
        }
        import llvmlite.binding as llvm

        res["llvm_host_cpu"] = llvm.get_host_cpu_name()
    except Exception as exc:  # report, do not hide
        res["versions_error"] = repr(exc)
    rc = 0
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
        print("arm64: compiling every kernel with an empty numba cache (EMULATED)", flush=True)
        res["cold"] = _timed_subprocess(env)
        print(f"arm64: compile {res['cold']['warm_up_s']:.1f} s; loading from the cache", flush=True)
        res["warm"] = _timed_subprocess(env)
        print(f"arm64: cache load {res['warm']['warm_up_s']:.2f} s", flush=True)
    if not skip_tests:
        print(f"arm64: pytest {' '.join(KERNEL_TESTS)} (EMULATED)", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *KERNEL_TESTS],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        (out / "pytest.log").write_text(proc.stdout + proc.stderr)
        summary = [ln for ln in proc.stdout.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
        res["tests"] = {
            "files": list(KERNEL_TESTS),
            "exit_code": proc.returncode,
            "summary": summary[-1].strip("= ") if summary else proc.stdout[-300:],
            "seconds": time.perf_counter() - t0,
        }
        print(f"arm64: tests: {res['tests']['summary']}", flush=True)
        rc = rc or (proc.returncode != 0)
    print("arm64: replay of the bundled recordings (EMULATED)", flush=True)
    t0 = time.perf_counter()
    cmd_replay(out / "replay")
    res["replay_s"] = time.perf_counter() - t0
    print("arm64: steady throughput (EMULATED)", flush=True)
    res["throughput"] = _throughput()
    (out / "inside.json").write_text(json.dumps(res, indent=1))
    return int(rc)


def cmd_compare(arm: Path, host: Path, result: Path) -> int:
    """Compare the arm64 replay with this machine's; write the combined result."""
    inside = json.loads((arm / "inside.json").read_text())
    a_idx = json.loads((arm / "replay" / "index.json").read_text())["recordings"]
    h_idx = json.loads((host / "index.json").read_text())["recordings"]
    rows = []
    n_same_json = n_same_bits = 0
    for rel in sorted(set(a_idx) | set(h_idx)):
        if rel not in a_idx or rel not in h_idx:
            rows.append(
                {"recording": rel, "same_json": False, "same_bits": False, "note": "missing on one side"}
            )
            continue
        a = json.loads((arm / "replay" / a_idx[rel]["file"]).read_text())
        h = json.loads((host / h_idx[rel]["file"]).read_text())
        same_json = a["steps"] == h["steps"]
        same_bits = a["bits"] == h["bits"]
        n_same_json += same_json
        n_same_bits += same_bits
        row = {"recording": rel, "n_steps": len(h["steps"]), "same_json": same_json, "same_bits": same_bits}
        if not same_bits:
            diff = [i for i, (x, y) in enumerate(zip(a["bits"], h["bits"], strict=False)) if x != y]
            row["first_difference"] = {
                "step": diff[0] if diff else None,
                "arm64": a["bits"][diff[0]] if diff else None,
            }
        rows.append(row)
    tests = inside.get("tests")
    ok = n_same_json == len(rows) and (tests is None or tests["exit_code"] == 0)
    res = {
        "label": "EMULATED (qemu-user aarch64 on x86-64): timings are not Raspberry Pi timings",
        "date": inside.get("date"),
        "host_machine": platform.machine(),
        "inside": inside,
        "recordings": len(rows),
        "steps_total": sum(r.get("n_steps", 0) for r in rows),
        "same_json_steps": n_same_json,
        "same_float64_bits": n_same_bits,
        "rows": rows,
        "ok": ok,
    }
    result.write_text(json.dumps(res, indent=1))
    print(
        f"arm64 vs {platform.machine()}: {n_same_json}/{len(rows)} recordings with identical JSON steps, "
        f"{n_same_bits}/{len(rows)} identical to the last bit ({res['steps_total']} steps); "
        f"tests: {tests['summary'] if tests else 'not run'}"
    )
    cold, warm = inside["cold"], inside["warm"]
    print(
        f"EMULATED: compile {cold['warm_up_s']:.1f} s, cache load {warm['warm_up_s']:.2f} s, "
        f"import {warm['import_s']:.2f} s; step core "
        + ", ".join(
            f"{k} {v['step_core_samples_per_s'] / 1e6:.2f} M samples/s"
            for k, v in inside["throughput"].items()
        )
    )
    print(f"result: {result}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replay")
    r.add_argument("--out", type=Path, required=True)
    i = sub.add_parser("inside")
    i.add_argument("--out", type=Path, required=True)
    i.add_argument("--skip-tests", action="store_true")
    c = sub.add_parser("compare")
    c.add_argument("--arm", type=Path, required=True)
    c.add_argument("--host", type=Path, required=True)
    c.add_argument("--result", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "replay":
        return cmd_replay(args.out)
    if args.cmd == "inside":
        return cmd_inside(args.out, args.skip_tests)
    return cmd_compare(args.arm, args.host, args.result)


if __name__ == "__main__":
    sys.exit(main())
