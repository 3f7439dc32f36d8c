"""Performance and Pi readiness: throughput, streaming cost, start-up, memory and cue latency.

Each ``measure_*`` function returns a JSON-ready dict; ``python -m benchmarks`` runs them all,
adds the peers (``benchmarks.peers``) and the emulated arm64 check (``benchmarks/arm64/run.sh``),
prints the table and writes the JSON and the README block. Timings are medians (and 99th
percentiles where a distribution matters) of repeated runs on a machine that may be shared with
other jobs; they are measurements, never test assertions.

Logs are built from the bundled real recordings (``firmware_py/data``: a shoe-worn run and a
waist-worn jog) repeated to length and resampled to the wanted rate, as ``benchmarks.speed`` did.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from firmware_py.cli import DATA_DIR
from firmware_py.logs import read_log, write_log
from firmware_py.logs.recording import Recording

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = REPO.parent / "shared" / "datasets"
FIXTURES = REPO / "tests" / "fixtures"
#: The bundled recordings the long logs are built from.
SOURCES = {"foot": "demo_foot_run.csv", "lower_back": "demo_waist_run.csv"}
BLOCK_S = 0.05


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def tiled(rec: Recording, minutes: float, rate_hz: float) -> Recording:
    """Repeat (and resample to ``rate_hz``) a recording until it lasts ``minutes``.

    Parameters
    ----------
    rec : Recording
        A real recording.
    minutes : float
        Length of the result, min.
    rate_hz : float
        Sampling rate of the result, Hz (linear interpolation).

    Returns
    -------
    Recording
        The long log (placement and side of ``rec``).
    """
    n = round(minutes * 60 * rate_hz)
    t_src = rec.t_s - rec.t_s[0]
    period = t_src[-1] + 1.0 / rec.sampling_rate_hz
    t = np.arange(n) / rate_hz
    phase = np.mod(t, period)
    acc = np.column_stack([np.interp(phase, t_src, rec.acc_mps2[:, i]) for i in range(3)])
    gyro = None
    if rec.gyro_rads is not None:
        gyro = np.column_stack([np.interp(phase, t_src, rec.gyro_rads[:, i]) for i in range(3)])
    return Recording(
        path="",
        t_s=t,
        acc_mps2=acc,
        gyro_rads=gyro,
        sampling_rate_hz=rate_hz,
        placement=rec.placement,
        placement_side=rec.placement_side,
        meta={"note": f"built from {Path(rec.path).name} by benchmarks.perf"},
    )


def source(placement: str) -> Recording:
    """Return the bundled real recording of a placement."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_log(DATA_DIR / SOURCES[placement])


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Return the median wall time of ``repeat`` calls of ``fn`` and every time, s."""
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def pct(x: np.ndarray, q: float) -> float:
    """Return a percentile of ``x`` (NaN when empty)."""
    return float(np.percentile(x, q)) if x.size else float("nan")


def child_env(root: Path = REPO, **extra: str) -> dict[str, str]:
    """Environment for a child Python that imports the project from ``root`` (default this checkout).

    The numba JIT unless ``extra`` says otherwise: ``CADENCE_AOT=0`` keeps an AOT kernel module
    that may sit in the default cache folder out of the JIT measurements (see :func:`aot_env`).
    """
    env = {**os.environ, "CADENCE_AOT": "0", **extra}
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


_AOT: dict[str, Any] = {}


def aot_env() -> dict[str, str]:
    """Environment for a child that uses the ahead-of-time compiled kernels (``precompile --aot``).

    The first call builds the module as a device does at install: ``cadence-coach precompile --aot``
    into an empty cache folder (numba compiles the warm-up first, then ``numba.pycc`` the module);
    its wall time is kept in ``aot_build_s()``. The folder lives until this process exits.
    """
    if "dir" not in _AOT:
        import atexit
        import shutil

        d = tempfile.mkdtemp(prefix="cc-bench-aot-")
        atexit.register(shutil.rmtree, d, True)
        env = child_env(NUMBA_CACHE_DIR=d, CADENCE_AOT="1")
        _AOT["build_s"] = run_child(cli("precompile", "--aot"), env, timeout=3600)[0]
        _, out, _ = run_child(cli("precompile"), env)
        if "are current" not in out:
            raise RuntimeError(f"the AOT module built in {d} is not used: {out.strip()[-300:]}")
        _AOT["dir"] = d
    return child_env(NUMBA_CACHE_DIR=_AOT["dir"], CADENCE_AOT="1")


def aot_build_s() -> float | None:
    """Wall time of ``cadence-coach precompile --aot`` with an empty cache (None before :func:`aot_env`)."""
    return _AOT.get("build_s")


def run_child(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 900
) -> tuple[float, str, str]:
    """Run a child process from the repository root; return its wall time, stdout and stderr."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        args, cwd=REPO, env=env or child_env(), capture_output=True, text=True, timeout=timeout
    )
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])}... exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return dt, proc.stdout, proc.stderr


def cli(*args: str) -> list[str]:
    """Return the ``cadence-coach`` command as this Python runs it."""
    return [sys.executable, "-m", "firmware_py.cli", *args]


def machine_info() -> dict[str, Any]:
    """Describe this machine (CPU model, cores, load, versions)."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in ("numpy", "numba", "llvmlite", "scipy", "gpiozero"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[name] = version(name)
    commit = None
    with contextlib.suppress(Exception):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    return {
        "arch": platform.machine(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "versions": versions,
        "loadavg_start": list(os.getloadavg()),
        "commit": commit or None,
        "date": time.strftime("%Y-%m-%d"),
    }


# ---------------------------------------------------------------------------------------------
# 1. throughput
# ---------------------------------------------------------------------------------------------
def measure_throughput(repeat: int = 5, folders: list[Path] | None = None, log_minutes: float = 60.0) -> dict:
    """Step core, stride and whole-replay throughput on a 1-hour 200 Hz log, and on folders.

    Parameters
    ----------
    repeat : int
        Runs of each measurement (the median is reported).
    folders : list of Path, optional
        Folders of recordings for ``replay_tree`` (default: tests/fixtures and ../shared/datasets).
    log_minutes : float
        Length of the long log, min.

    Returns
    -------
    dict
        ``core`` (per placement), ``replay`` (per placement and format; ``*_aot_s``: the same
        processes with the ahead-of-time compiled kernels, :func:`aot_env`) and ``folders``.
    """
    from dsp import detect_steps, estimate_strides
    from firmware_py.replay import replay_recording, write_json

    out: dict[str, Any] = {
        "log_minutes": log_minutes,
        "rate_hz": 200.0,
        "core": [],
        "replay": [],
        "folders": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        for placement in ("foot", "lower_back"):
            rec = tiled(source(placement), log_minutes, 200.0)
            n = rec.n_samples
            detect_steps(
                rec.t_s[:2000],
                rec.acc_mps2[:2000],
                None if rec.gyro_rads is None else rec.gyro_rads[:2000],
                sampling_rate_hz=200.0,
                placement=placement,
            )
            steps_box: dict[str, Any] = {}

            def steps(rec=rec, placement=placement, box=steps_box):
                box["s"] = detect_steps(
                    rec.t_s, rec.acc_mps2, rec.gyro_rads, sampling_rate_hz=200.0, placement=placement
                )

            core_s, core_all = median_time(steps, repeat)
            contacts = steps_box["s"]
            estimate_strides(
                rec.t_s[:2000],
                rec.acc_mps2[:2000],
                None if rec.gyro_rads is None else rec.gyro_rads[:2000],
                contacts.t_s[contacts.t_s < rec.t_s[1999]],
                sampling_rate_hz=200.0,
                placement=placement,
            )
            stride_s, _ = median_time(
                lambda rec=rec, placement=placement, c=contacts: estimate_strides(
                    rec.t_s,
                    rec.acc_mps2,
                    rec.gyro_rads,
                    c.t_s,
                    sampling_rate_hz=200.0,
                    placement=placement,
                    contacts_is_run=c.is_run,
                ),
                repeat,
            )
            out["core"].append(
                {
                    "placement": placement,
                    "gyro": rec.gyro_rads is not None,
                    "samples": n,
                    "steps": contacts.n_steps,
                    "step_core_s": core_s,
                    "step_core_samples_per_s": n / core_s,
                    "step_core_best_samples_per_s": n / min(core_all),
                    "stride_s": stride_s,
                    "stride_samples_per_s": n / stride_s,
                }
            )
            # a 1-second log: the same process does the same imports and cache loads, no work
            short = tiled(source(placement), 1.0 / 60.0, 200.0)
            for ext in (".cclog", ".csv"):
                path = tmpd / f"{placement}_{int(log_minutes)}min{ext}"
                write_log(rec, path)
                spath = tmpd / f"{placement}_1s{ext}"
                write_log(short, spath)
                jout = tmpd / f"{placement}{ext}.json"

                def replay_file(path=path, jout=jout):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        write_json(replay_recording(read_log(path)), jout)

                replay_file()  # warm
                inproc, _ = median_time(replay_file, repeat)
                proc_times = [
                    run_child(cli("replay", str(path), "--json", str(jout)))[0] for _ in range(repeat)
                ]
                short_times = [
                    run_child(cli("replay", str(spath), "--json", str(jout)))[0] for _ in range(repeat)
                ]
                p_med, s_med = statistics.median(proc_times), statistics.median(short_times)
                aot = aot_env()
                aot_times = [
                    run_child(cli("replay", str(path), "--json", str(jout)), aot)[0] for _ in range(repeat)
                ]
                aot_short = [
                    run_child(cli("replay", str(spath), "--json", str(jout)), aot)[0] for _ in range(repeat)
                ]
                out["replay"].append(
                    {
                        "placement": placement,
                        "format": ext,
                        "samples": n,
                        "file_mb": path.stat().st_size / 1e6,
                        "in_process_s": inproc,
                        "in_process_samples_per_s": n / inproc,
                        "process_s": p_med,
                        "process_1s_log_s": s_med,
                        "beyond_startup_s": p_med - s_med,
                        "process_aot_s": statistics.median(aot_times),
                        "process_1s_log_aot_s": statistics.median(aot_short),
                        "beyond_startup_aot_s": statistics.median(aot_times) - statistics.median(aot_short),
                    }
                )
    from firmware_py.replay import find_recordings, replay_tree

    for folder in folders if folders is not None else default_folders():
        recs = find_recordings(folder)
        samples = 0
        for p in recs:
            side = p.with_suffix(".json")
            n = None
            with contextlib.suppress(Exception):
                n = int(json.loads(side.read_text()).get("n_samples"))
            if n is None:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    n = read_log(p).n_samples
            samples += n
        jobs = os.cpu_count() or 1
        times = []
        for _ in range(max(1, min(repeat, 3))):
            with tempfile.TemporaryDirectory() as o:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    done = replay_tree([folder], Path(o), jobs=jobs, progress=False)
                times.append(time.perf_counter() - t0)
        t_med = statistics.median(times)
        out["folders"].append(
            {
                "folder": display(folder),
                "recordings": len(recs),
                "replayed": len(done),
                "samples": samples,
                "jobs": jobs,
                "wall_s": t_med,
                "samples_per_s": samples / t_med,
            }
        )
    return out


def default_folders() -> list[Path]:
    """Return tests/fixtures and, when it exists, ../shared/datasets."""
    return [FIXTURES] + ([SHARED_DATASETS] if SHARED_DATASETS.is_dir() else [])


def display(path: Path) -> str:
    """Return ``path`` relative to the repository root where possible."""
    try:
        return os.path.relpath(path.resolve(), REPO)
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# 2. streaming cost per 50 ms block
# ---------------------------------------------------------------------------------------------
def _block_stats(ns: np.ndarray, rate_hz: float, block_s: float = BLOCK_S) -> dict:
    ms = ns / 1e6
    return {
        "blocks": int(ms.size),
        "rate_hz": rate_hz,
        "median_ms": pct(ms, 50),
        "p99_ms": pct(ms, 99),
        "max_ms": float(ms.max()) if ms.size else float("nan"),
        "median_pct": pct(ms, 50) / (block_s * 1e3) * 100.0,
        "p99_pct": pct(ms, 99) / (block_s * 1e3) * 100.0,
    }


def measure_pipeline_blocks(rates=(100.0, 200.0, 400.0), minutes: float = 10.0) -> list[dict]:
    """Time ``Pipeline.process`` per 50 ms block (device configuration: coach on), per rate and placement.

    Parameters
    ----------
    rates : tuple of float
        Sampling rates, Hz.
    minutes : float
        Length of the stream per rate and placement, min.

    Returns
    -------
    list of dict
        Per (placement, rate): blocks, median, p99 and max time per block (ms) and as % of 50 ms;
        the first block (cache load) is reported apart.
    """
    from firmware_py.config import load_config, make_pipeline

    cfg = load_config()
    rows = []
    for placement in ("foot", "lower_back"):
        src = source(placement)
        for rate in rates:
            rec = tiled(src, minutes, rate)
            pipe = make_pipeline(
                cfg,
                sampling_rate_hz=rate,
                placement=placement,
                has_gyro=rec.gyro_rads is not None,
                placement_side=rec.placement_side,
            )
            b = round(BLOCK_S * rate)
            n_blocks = rec.n_samples // b
            ns = np.empty(n_blocks, dtype=np.int64)
            g = rec.gyro_rads
            clock = time.perf_counter_ns
            steps = 0
            for k in range(n_blocks):
                i = k * b
                t0 = clock()
                up = pipe.process(
                    rec.t_s[i : i + b], rec.acc_mps2[i : i + b], None if g is None else g[i : i + b]
                )
                ns[k] = clock() - t0
                steps += len(up.steps)
            row = {"placement": placement, "gyro": g is not None, "samples_per_block": b, "steps": steps}
            row.update(_block_stats(ns[1:], rate))
            row["first_block_ms"] = ns[0] / 1e6
            rows.append(row)
    return rows


def _live_loop(
    path: Path,
    rate_hz: float,
    clock: Any,
    data_dir: Path,
    *,
    cfg: Any = None,
    listener: Any = None,
    keep_events: bool = False,
    chip: str = "lsm6dsox",
) -> tuple[Any, Any, dict[str, list]]:
    """Build the live loop as ``cadence-coach run`` does, with timers around its parts.

    Returns
    -------
    tuple
        ``(loop, pipeline, timings)``; ``timings`` gets, per block, ``process`` (``Pipeline.process``
        as ``(t_in_ns, t_out_ns, n_cues)``) and ``block`` (drain + decode + record + process, ns).
    """
    from firmware_py import __version__
    from firmware_py.bus import open_bus
    from firmware_py.config import load_config, make_pipeline
    from firmware_py.imu.detect import open_imu
    from firmware_py.loop import LiveLoop
    from firmware_py.recorder import Recorder

    cfg = cfg or load_config()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = read_log(path)
    bus = open_bus(f"fake:{path}?chip={chip}", clock=clock)
    placement = rec.placement
    accel_range_g = 16 if placement in ("foot", "shank") else 8

    def open_driver_plain():
        return open_imu(
            bus,
            "auto",
            None,
            sampling_rate_hz=rate_hz,
            accel_range_g=accel_range_g,
            gyro_range_dps=2000,
            clock=clock,
        )

    probe = open_driver_plain()
    real_rate = probe.sampling_rate_hz
    unit = np.zeros((1, 6), dtype=np.int16)
    unit[0, 0] = 1
    acc_lsb = float(probe.scale(unit)[0][0, 0])
    unit[0, 0], unit[0, 3] = 0, 1
    gyro_lsb = float(probe.scale(unit)[1][0, 0])
    probe.close()
    pipe = make_pipeline(
        cfg, sampling_rate_hz=real_rate, placement=placement, has_gyro=True, placement_side=rec.placement_side
    )
    header = {
        "sampling_rate_hz": real_rate,
        "acc_lsb_mps2": acc_lsb,
        "gyro_lsb_rads": gyro_lsb,
        "chip": chip,
        "accel_range_g": accel_range_g,
        "gyro_range_dps": 2000,
        "placement": pipe.placement,
        "placement_side": rec.placement_side,
        "software_version": __version__,
        "config": cfg.to_dict(),
    }
    recorder = Recorder(
        data_dir, header, clock=clock, fsync_interval_s=cfg.recording.fsync_interval_s, min_free_mb=0
    )
    timings: dict[str, list] = {"process": [], "block": [], "real_rate_hz": [real_rate]}
    ns = time.perf_counter_ns
    inner = pipe.process

    def process(*a, **k):
        t0 = ns()
        up = inner(*a, **k)
        timings["process"].append((t0, ns(), len(up.cues)))
        return up

    pipe.process = process  # the loop calls self.pipeline.process: time every call

    def open_driver():
        drv = open_driver_plain()
        read = drv.read_fifo

        def read_fifo():
            timings["_t0"] = [ns()]
            return read()

        drv.read_fifo = read_fifo
        return drv

    loop = LiveLoop(
        open_driver=open_driver,
        pipeline=pipe,
        recorder=recorder,
        clock=clock,
        listener=listener,
        keep_events=keep_events,
    )
    handle = loop._handle

    def timed_handle(batch):
        handle(batch)
        if "_t0" in timings:
            timings["block"].append(ns() - timings["_t0"][0])

    loop._handle = timed_handle
    timings["_bus"] = [bus]
    return loop, pipe, timings


def measure_live_loop_blocks(
    rates=(100.0, 200.0, 400.0), minutes: float = 5.0, chip: str = "lsm6dsox"
) -> list[dict]:
    """Time the live loop per block on a fake bus, fast clock, recorder writing (foot, 200 Hz source).

    Parameters
    ----------
    rates : tuple of float
        Rates asked of the fake chip, Hz (it runs at its nearest own rate, reported).
    minutes : float
        Session length on the fake clock, min.
    chip : str
        Fake chip.

    Returns
    -------
    list of dict
        Per rate: ``Pipeline.process`` per block and the whole block (drain, decode, record, process).
    """
    from firmware_py.clock import FakeClock

    rows = []
    path = DATA_DIR / SOURCES["foot"]
    for rate in rates:
        with tempfile.TemporaryDirectory() as tmp:
            clock = FakeClock()
            loop, _pipe, tm = _live_loop(path, rate, clock, Path(tmp), chip=chip)
            stop = threading.Event()
            t0 = time.perf_counter()
            report = loop.run(stop, duration_s=minutes * 60.0)
            wall = time.perf_counter() - t0
            real_rate = tm["real_rate_hz"][0]
            proc = np.array([b - a for a, b, _ in tm["process"]], dtype=np.int64)
            block = np.array(tm["block"], dtype=np.int64)
            row = {
                "chip": chip,
                "asked_hz": rate,
                "samples": report.samples,
                "steps": report.n_steps,
                "session_s": minutes * 60.0,
                "wall_s": wall,
            }
            # the first pipeline call takes the 2 s of bias-window blocks at once: leave it out;
            # % of real time per the loop's own drain interval
            block_s = loop.settings.block_interval_s
            row["block_s"] = block_s
            row["process"] = _block_stats(proc[1:], real_rate, block_s)
            row["block"] = _block_stats(block[1:], real_rate, block_s)
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# 3. start-up
# ---------------------------------------------------------------------------------------------
_FIRST_BLOCK_HOOK = """
import os, sys, time
import dsp.pipeline as _p
_orig = _p.Pipeline.process
def _process(self, *a, **k):
    out = _orig(self, *a, **k)
    if sys._getframe(1).f_code.co_filename.endswith("warmup.py"):
        return out  # a block of the kernels' warm-up (dsp.warmup), not of the device's pipeline
    sys.stdout.write("FIRST_BLOCK %r\\n" % time.monotonic())
    sys.stdout.flush()
    os._exit(0)
_p.Pipeline.process = _process
from firmware_py.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _first_block(args: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``cadence-coach ARGS`` to the end of its first ``Pipeline.process``."""
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_BLOCK_HOOK, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    m = re.search(r"FIRST_BLOCK ([0-9.e+-]+)", proc.stdout)
    if not m:
        raise RuntimeError(f"no first block: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return float(m.group(1)) - t0


def measure_startup(repeat: int = 5, cold_repeat: int = 2) -> dict:
    """Import time, cold start to the first processed block (warm and cold numba cache), precompile.

    Parameters
    ----------
    repeat : int
        Runs of each warm measurement.
    cold_repeat : int
        Runs with an empty numba cache (each compiles everything).

    Returns
    -------
    dict
        ``import``, ``first_block`` (``warm``/``cold``), ``run_process`` and ``precompile`` with the
        numba JIT; ``aot``: build time of the AOT kernel module, import, first block and the
        2.5 s run with it (:func:`aot_env`).
    """
    rec = DATA_DIR / SOURCES["foot"]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm_cache = Path(tmp) / "warm-cache"
        env_warm = child_env(NUMBA_CACHE_DIR=str(warm_cache))
        t_pre_cold = run_child(cli("precompile"), env_warm)[0]
        # import time
        bare = [run_child([sys.executable, "-c", "pass"], env_warm)[0] for _ in range(repeat)]
        imp = [
            run_child([sys.executable, "-c", "import firmware_py.cli, dsp"], env_warm)[0]
            for _ in range(repeat)
        ]
        _, _, err = run_child(
            [sys.executable, "-X", "importtime", "-c", "import firmware_py.cli, dsp"], env_warm
        )
        top: dict[str, float] = {}
        for line in err.splitlines():
            m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
            if m and len(m.group(3)) <= 1:  # top-level imports only
                top[m.group(4)] = int(m.group(2)) / 1e6
        out["import"] = {
            "python_bare_s": statistics.median(bare),
            "import_process_s": statistics.median(imp),
            "import_s": statistics.median(imp) - statistics.median(bare),
            "top_level_cumulative_s": dict(sorted(top.items(), key=lambda kv: -kv[1])[:8]),
        }
        # cold start to the first processed block
        args = [
            "run",
            "--bus",
            f"fake:{rec}",
            "--chip",
            "lsm6dsox",
            "--fast",
            "--data-dir",
            str(Path(tmp) / "logs"),
        ]
        warm = [_first_block(args, env_warm) for _ in range(repeat)]
        cold = []
        for i in range(max(1, cold_repeat)):
            env_cold = child_env(NUMBA_CACHE_DIR=str(Path(tmp) / f"cold-{i}"))
            cold.append(_first_block(args, env_cold))
        out["first_block"] = {
            "command": "cadence-coach "
            + " ".join(a if not a.startswith("fake:") else "fake:demo_foot_run.csv" for a in args[:6])
            + " --fast",
            "warm_s": statistics.median(warm),
            "warm_all_s": warm,
            "cold_s": statistics.median(cold),
            "cold_all_s": cold,
        }
        # the whole process, measured from outside only: 2.5 s of fake time (bias window + first blocks)
        whole_args = (
            "run",
            "--bus",
            f"fake:{rec}",
            "--chip",
            "lsm6dsox",
            "--fast",
            "--duration",
            "2.5",
            "--no-record",
            "--pins",
            "none",
        )
        whole = [run_child(cli(*whole_args), env_warm)[0] for _ in range(repeat)]
        out["run_process"] = {"duration_s": 2.5, "wall_s": statistics.median(whole)}
        pre = [run_child(cli("precompile"), env_warm)[0] for _ in range(repeat)]
        out["precompile"] = {"cold_cache_s": t_pre_cold, "warm_cache_s": statistics.median(pre)}
        # the same with the ahead-of-time compiled kernels: numba is never imported
        env_aot = aot_env()
        import_cmd = [sys.executable, "-c", "import firmware_py.cli, dsp"]
        imp_aot = [run_child(import_cmd, env_aot)[0] for _ in range(repeat)]
        first_aot = [_first_block(args, env_aot) for _ in range(repeat)]
        whole_aot = [run_child(cli(*whole_args), env_aot)[0] for _ in range(repeat)]
        out["aot"] = {
            "build_s": aot_build_s(),
            "import_s": statistics.median(imp_aot) - statistics.median(bare),
            "first_block_s": statistics.median(first_aot),
            "first_block_all_s": first_aot,
            "run_process_wall_s": statistics.median(whole_aot),
        }
    return out


# ---------------------------------------------------------------------------------------------
# 4. memory
# ---------------------------------------------------------------------------------------------
_MEMORY_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
from firmware_py.cli import main
rc = main(sys.argv[1:])
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
llvm_kb, path = 0, ""
for line in open("/proc/self/smaps"):  # resident pages of llvmlite's LLVM library (numba's JIT)
    head = line.split()
    if head and "-" in head[0] and ":" not in head[0]:
        path = head[-1] if len(head) > 5 else ""
    elif head and head[0] == "Rss:" and path.endswith("libllvmlite.so"):
        llvm_kb += int(head[1])
print("MEMORY " + json.dumps({"rc": rc, "wall_s": time.perf_counter() - t0,
      "vm_hwm_kb": int(status["VmHWM"].split()[0]), "vm_rss_kb": int(status["VmRSS"].split()[0]),
      "rss_anon_kb": int(status["RssAnon"].split()[0]), "rss_file_kb": int(status["RssFile"].split()[0]),
      "llvmlite_kb": llvm_kb}))
"""
_BASELINE_SCRIPT = """
import json
import firmware_py.cli, dsp
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
print("MEMORY " + json.dumps({"vm_hwm_kb": int(status["VmHWM"].split()[0])}))
"""


#: Where the JIT's memory goes: RSS after each stage of what ``cadence-coach run`` loads (the device's
#: foot pipeline), in one child. numba's target (its lowering registries, and LLVM compiling numba's
#: runtime module) is initialised by ``dsp._config`` at import: the same work numba does on the
#: first kernel it loads from the cache.
_STAGES_SCRIPT = """
import json, sys
def rss():
    st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
    return [int(st[k].split()[0]) / 1024.0 for k in ("VmRSS", "RssAnon", "RssFile")]
out = [["interpreter", *rss()]]
import numpy
out.append(["numpy", *rss()])
import firmware_py.cli
out.append(["firmware_py.cli", *rss()])
import numba
out.append(["numba (import)", *rss()])
import dsp._config
out.append(["numba target initialised (dsp._config)", *rss()])
import dsp, dsp.warmup, firmware_py.run, firmware_py.loop, firmware_py.recorder
out.append(["dsp and the live loop's modules", *rss()])
from firmware_py.config import load_config, make_pipeline
pipe = make_pipeline(load_config(None), sampling_rate_hz=200.0, placement="foot", has_gyro=True)
dsp.warmup.warm_up_pipeline(pipe)
out.append(["kernels of the foot pipeline loaded", *rss()])
print("MEMORY " + json.dumps(out))
"""
#: The least any process that runs one numba kernel from the cache holds: a trivial kernel, with
#: scipy's BLAS kept out as ``dsp._config`` does. Run twice (compile, then load from the cache).
_FLOOR_KERNEL = """
from numba import njit


@njit(cache=True, nogil=True)
def fill(a):
    for i in range(a.shape[0]):
        a[i] = i
    return a[0]
"""
_FLOOR_SCRIPT = """
import json, sys
import numpy as np
import numba
sys.modules["scipy.linalg.cython_blas"] = None
import floor_kernel
floor_kernel.fill(np.zeros(3))
st = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
print("MEMORY " + json.dumps({"vm_hwm_kb": int(st["VmHWM"].split()[0]),
      "cache_hits": sum(floor_kernel.fill.stats.cache_hits.values())}))
"""


def measure_memory_breakdown() -> dict:
    """Where the numba JIT's memory goes, stage by stage, and the floor of any numba process.

    Returns
    -------
    dict
        ``stages``: ``[label, rss_mb, anon_mb, file_mb]`` after each stage of what the live loop
        loads, with the JIT and a warm cache; ``numba_floor_peak_rss_mb``: peak RSS of a process
        that imports numpy and numba and runs one trivial kernel loaded from a warm cache.
    """
    _, stdout, _ = run_child([sys.executable, "-c", _STAGES_SCRIPT])
    stages = json.loads(stdout.split("MEMORY ", 1)[1])
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "floor_kernel.py").write_text(_FLOOR_KERNEL)
        env = child_env(PYTHONPATH=tmp, NUMBA_CACHE_DIR=str(Path(tmp) / "cache"))
        run_child([sys.executable, "-c", _FLOOR_SCRIPT], env)  # compiles and caches
        _, stdout, _ = run_child([sys.executable, "-c", _FLOOR_SCRIPT], env)
        floor = json.loads(stdout.split("MEMORY ", 1)[1])
    if floor["cache_hits"] != 1:
        raise RuntimeError(f"the floor kernel was not loaded from the cache: {floor}")
    return {
        "stages": stages,
        "numba_floor_peak_rss_mb": floor["vm_hwm_kb"] / 1024.0,
        "numba_floor_command": "import numpy, numba; a trivial @njit(cache=True) kernel, warm cache",
    }


def measure_memory(minutes: float = 10.0) -> dict:
    """Peak resident memory (VmHWM) of a live-loop session on a fake bus, fast clock, recorder on.

    Parameters
    ----------
    minutes : float
        Session length (of the fake clock), min.

    Returns
    -------
    dict
        The session's peak and final RSS (anonymous, file-backed, and the part of it that is
        llvmlite's LLVM library), the peak of a process that only imports the package, and the
        session's wall time, with the numba JIT (warm cache); the JIT's breakdown by stage and the
        floor of any numba process (:func:`measure_memory_breakdown`); under ``aot`` the same
        session with the ahead-of-time compiled kernels (:func:`aot_env`).
    """
    rec = DATA_DIR / SOURCES["foot"]
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "run",
            "--bus",
            f"fake:{rec}",
            "--chip",
            "lsm6dsox",
            "--fast",
            "--rate",
            "200",
            "--duration",
            str(minutes * 60.0),
            "--data-dir",
            str(Path(tmp) / "logs"),
            "--pins",
            "mock",
        ]
        _, stdout, _ = run_child([sys.executable, "-c", _MEMORY_SCRIPT, *args])
        res = json.loads(stdout.split("MEMORY ", 1)[1])
        logs = list((Path(tmp) / "logs").glob("*.cclog"))
        log_mb = sum(p.stat().st_size for p in logs) / 1e6
        _, base_out, _ = run_child([sys.executable, "-c", _BASELINE_SCRIPT])
        base = json.loads(base_out.split("MEMORY ", 1)[1])
        # the same session with the ahead-of-time compiled kernels (numba never imported)
        aot_args = [*args]
        aot_args[aot_args.index("--data-dir") + 1] = str(Path(tmp) / "logs-aot")
        _, stdout, _ = run_child([sys.executable, "-c", _MEMORY_SCRIPT, *aot_args], aot_env())
        res_aot = json.loads(stdout.split("MEMORY ", 1)[1])
        _, base_out, _ = run_child([sys.executable, "-c", _BASELINE_SCRIPT], aot_env())
        base_aot = json.loads(base_out.split("MEMORY ", 1)[1])
    return {
        "session_min": minutes,
        "command": "cadence-coach run --bus fake:demo_foot_run.csv --chip lsm6dsox --fast --rate 200 "
        f"--duration {minutes * 60:g} --pins mock (recorder on)",
        "peak_rss_mb": res["vm_hwm_kb"] / 1024.0,
        "final_rss_mb": res["vm_rss_kb"] / 1024.0,
        "final_rss_anon_mb": res["rss_anon_kb"] / 1024.0,
        "final_rss_file_mb": res["rss_file_kb"] / 1024.0,
        "final_rss_llvmlite_mb": res["llvmlite_kb"] / 1024.0,
        "import_only_peak_rss_mb": base["vm_hwm_kb"] / 1024.0,
        "wall_s": res["wall_s"],
        "log_mb": log_mb,
        **measure_memory_breakdown(),
        "aot": {
            "peak_rss_mb": res_aot["vm_hwm_kb"] / 1024.0,
            "final_rss_mb": res_aot["vm_rss_kb"] / 1024.0,
            "final_rss_anon_mb": res_aot["rss_anon_kb"] / 1024.0,
            "final_rss_file_mb": res_aot["rss_file_kb"] / 1024.0,
            "final_rss_llvmlite_mb": res_aot["llvmlite_kb"] / 1024.0,
            "import_only_peak_rss_mb": base_aot["vm_hwm_kb"] / 1024.0,
            "wall_s": res_aot["wall_s"],
        },
    }


# ---------------------------------------------------------------------------------------------
# 5. cue latency (real time)
# ---------------------------------------------------------------------------------------------
#: The benchmark's runner profile: config/runner.example.toml's runner (baseline 168 steps/min,
#: fixed) and pins (passive buzzer, RGB LED, no vibration motor), with the cue policy sped up so
#: that a few minutes give many cues, each shorter than the gap to the next (none waits in the queue);
#: no back-off of the repeats (``repeat_backoff = 1``): a cue every second for the whole run.
CUE_PROFILE = """
[coach]
profile = "brief"
baseline = "runner"
min_off_target_steps = 2
min_off_target_s = 0.0
repeat_s = 1.0
repeat_backoff = 1.0
min_cue_gap_s = 1.0
max_level = 1
metronome_beats = 0

[runner]
height_m = 1.78
baseline_cadence_spm = 168
baseline_stride_length_m = 2.3

[pins]
buzzer_kind = "passive"
vibration = "none"
led_kind = "rgb"
"""
#: A waist-worn treadmill jog at about 153 steps/min: every running step is below 168 - 5.
CUE_RECORDING = FIXTURES / "harlab_treadmill_jog" / "S002_jog.csv"
#: Where its jog starts (before: walking), s.
CUE_FROM_S = 27.0


def measure_cue_latency(seconds: float = 180.0, rate_hz: float = 200.0) -> dict:
    """Latency from the sample that decides a step to the first cue pin change, live, in real time.

    The live loop runs on a fake bus in real time (system clock: the fake chip fills its FIFO as
    time passes, the loop drains it every 50 ms), with the recorder writing and the cues played
    on gpiozero mock PWM pins. A step is decided by the sample whose time is its ``emitted_at``
    (the driver's timestamps are on the same monotonic clock); the pin change is stamped by the pin.

    Parameters
    ----------
    seconds : float
        Length of the real-time session, s.
    rate_hz : float
        Rate asked of the fake chip, Hz.

    Returns
    -------
    dict
        Median, p99 and max latency (ms) with its parts: waiting in the FIFO until the drain,
        drain + decode + record until the pipeline, the pipeline, and hand-over to the pin.
    """
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from firmware_py.clock import SystemClock
    from firmware_py.config import load_config
    from firmware_py.outputs import CueOutputs
    from firmware_py.run import CueListener

    class StampedPWMPin(MockPWMPin):
        """A mock PWM pin that stamps every change of state with ``time.monotonic``."""

        def __init__(self, *a, **k):
            self.stamps: list[tuple[float, float]] = []
            super().__init__(*a, **k)

        def _change_state(self, value):
            changed = super()._change_state(value)
            if changed:
                self.stamps.append((time.monotonic(), value))
            return changed

    with tempfile.TemporaryDirectory() as tmp:
        prof = Path(tmp) / "runner.toml"
        prof.write_text(CUE_PROFILE)
        cfg = load_config(prof)
        from dsp.warmup import warm_up_report

        warm_up_report()  # kernels loaded before the FIFO starts (see docs/performance.md: start-up)
        clock = SystemClock()
        factory = MockFactory(pin_class=StampedPWMPin)
        outputs = CueOutputs(cfg.pins, pin_factory=factory, clock=clock)
        # the jog only (the recording starts with ~27 s of walking, which the coach leaves alone);
        # the fake chip plays it in a loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = read_log(CUE_RECORDING)
        keep = full.t_s >= CUE_FROM_S
        jog = Recording(
            path="",
            t_s=full.t_s[keep] - full.t_s[keep][0],
            acc_mps2=full.acc_mps2[keep],
            gyro_rads=None if full.gyro_rads is None else full.gyro_rads[keep],
            sampling_rate_hz=full.sampling_rate_hz,
            placement=full.placement,
            placement_side=full.placement_side,
            meta={},
        )
        jog_path = Path(tmp) / "jog.csv"
        write_log(jog, jog_path)
        loop, pipe, tm = _live_loop(jog_path, rate_hz, clock, Path(tmp) / "logs", cfg=cfg, keep_events=True)
        loop.listener = CueListener(outputs, pipe)
        stop = threading.Event()
        report = loop.run(stop, duration_s=seconds)
        outputs.wait_idle(5.0)
        outputs.close()
        pins = {getattr(info, "name", str(info)): pin for info, pin in factory.pins.items()}
        factory.reset()
    changes = sorted((t, name) for name, pin in pins.items() for t, _ in getattr(pin, "stamps", []))
    change_t = np.array([t for t, _ in changes])
    steps = {ev.t_s: ev for ev in report.events}
    # each pipeline call: (start, end) in perf_counter_ns; map to monotonic via one offset
    off = time.monotonic() - time.perf_counter_ns() / 1e9
    calls = [(a / 1e9 + off, b / 1e9 + off, c) for a, b, c in tm["process"] if c]
    rows = []
    coaching = [
        c for c in report.cues if c.kind not in ("ready", "sensor_lost", "recording_stopped", "battery_low")
    ]
    ready = [c.t_s for c in report.cues if c.kind == "ready"]
    ready_t = ready[0] if ready else -np.inf
    startup = []
    for c in coaching:
        ev = steps.get(c.t_s)
        if ev is None:
            continue
        decided = ev.emitted_at_s  # the deciding sample's time, on the monotonic clock
        if decided <= ready_t:  # decided in the bias window: processed only when it ends
            k = int(np.searchsorted(change_t, decided))
            if k < change_t.size:
                startup.append((change_t[k] - decided) * 1e3)
            continue
        call = next(((a, b) for a, b, _ in calls if b >= decided), None)
        k = int(np.searchsorted(change_t, decided))
        if call is None or k >= change_t.size:
            continue
        first = change_t[k]
        busy_before = bool(k > 0 and decided - change_t[k - 1] < 0.05)  # a previous pattern still playing
        rows.append((first - decided, call[0] - decided, call[1] - call[0], first - call[1], busy_before))
    lat = np.array([r[0] for r in rows]) * 1e3
    fifo = np.array([r[1] for r in rows]) * 1e3
    proc = np.array([r[2] for r in rows]) * 1e3
    hand = np.array([r[3] for r in rows]) * 1e3

    def stats(x):
        return {
            "median_ms": pct(x, 50),
            "p99_ms": pct(x, 99),
            "max_ms": float(x.max()) if x.size else float("nan"),
        }

    return {
        "session_s": seconds,
        "recording": f"{display(CUE_RECORDING)} from {CUE_FROM_S:g} s (the jog, looped)",
        "chip_rate_hz": tm["real_rate_hz"][0],
        "drain_interval_s": loop.settings.block_interval_s,
        "steps": report.n_steps,
        "cues": len(coaching),
        "measured": int(lat.size),
        "queued_behind_previous": int(sum(r[4] for r in rows)),
        "in_bias_window": {"cues": len(startup), "max_ms": max(startup) if startup else None},
        "gaps": [list(g) for g in report.gaps],
        "cue_kinds": sorted({c.kind for c in report.cues}),
        "latency": stats(lat),
        "parts": {
            "sample_to_pipeline_start": stats(fifo),
            "pipeline_call": stats(proc),
            "pipeline_end_to_pin": stats(hand),
        },
        "includes": "the wait of the deciding sample in the FIFO until the next drain, the drain "
        "(I2C transactions on the fake bus), decoding, recording, Pipeline.process (steps, stride, coach), "
        "the hand-over to the cue thread and its first pin write (gpiozero mock PWM pin)",
        "excludes": "the step detector's own decision delay (contact -> deciding sample: up to 150 ms at "
        "the lower back, by design; README 'The step core'), and the buzzer's acoustic response",
    }
