"""Compile (or load from the numba cache) every kernel the device uses, and time each one.

``cadence-coach precompile`` (run by ``hardware/setup-pi.sh`` and before every start of the
service) calls :func:`warm_up`. It drives the public streaming objects exactly as the device and
replay do, in every mode (step detector at the lower back, on a foot and on a shank with and
without gyroscope; stride estimators for a foot and for the lower back with and without
gyroscope; the whole :class:`dsp.Pipeline`), so every ``@kernel`` entry point is compiled for
the argument types it meets in service, and with it every helper kernel it calls. It then checks
that no ``@kernel`` function anywhere in ``dsp`` was left uncompiled.

``cadence-coach precompile --aot`` calls :func:`build_aot` instead: the entry kernels compiled ahead
of time into a native module (``dsp/_aot.py``), which lets the device run without numba.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dsp.pipeline import Pipeline

__all__ = [
    "KernelTiming",
    "aot_allowed",
    "aot_module_path",
    "build_aot",
    "compiled_kernels",
    "kernel_backend",
    "warm_up",
    "warm_up_pipeline",
    "warm_up_report",
]


def kernel_backend() -> str:
    """Return how the kernels run in this process.

    Returns
    -------
    str
        ``"aot"`` (the ahead-of-time compiled module; numba is not imported), ``"jit"`` (numba
        dispatchers, compiled or loaded from the cache on first call) or ``"python"`` (numba not
        installed, or ``NUMBA_DISABLE_JIT=1``).
    """
    from dsp import _config

    if _config.AOT:
        return "aot"
    return "jit" if _config.JIT else "python"


def aot_module_path() -> Path:
    """Return where the AOT kernel module is looked for (and built): in the numba cache folder."""
    from dsp import _aot, _config

    return _aot.module_path(_config.CACHE_DIR)


def aot_allowed() -> bool:
    """Return False when ``CADENCE_AOT=0`` or ``NUMBA_DISABLE_JIT=1`` keep the AOT module out."""
    from dsp import _aot

    return _aot.enabled()


def build_aot() -> bool:
    """Build the AOT kernel module into the numba cache folder, in a child process.

    The child runs with ``CADENCE_AOT=0`` (its kernels must be numba dispatchers) and the same
    ``NUMBA_CACHE_DIR``; it prints the exported signatures. It needs numba, a C and a C++
    compiler and the Python headers. The module is renamed into place when complete, so a
    process running on the previous one is not disturbed.

    Returns
    -------
    bool
        True when the module was built.
    """
    import os
    import subprocess

    from dsp import _aot, _config

    code = "import sys; from dsp._aot import build; print(f'  built {build(sys.argv[1], verbose=True)}')"
    env = {**os.environ, _aot.ENV_SWITCH: "0", "NUMBA_CACHE_DIR": _config.CACHE_DIR}
    proc = subprocess.run([sys.executable, "-c", code, _config.CACHE_DIR], env=env, check=False)
    return proc.returncode == 0


@dataclass(frozen=True)
class KernelTiming:
    """How long one kernel variant took to become ready.

    Attributes
    ----------
    kernel : str
        The entry kernel, ``module.function`` (e.g. ``dsp._step_kernels._detect_block``).
    variant : str
        The device mode that exercised it (e.g. ``"foot + gyro"``).
    seconds : float
        Wall time of the first call in that mode, s (compilation or cache load included).
    source : str
        ``"compiled"`` (numba compiled it now), ``"cache"`` (loaded from the on-disk cache),
        ``"memory"`` (already loaded in this process: the same machine code serves this mode) or
        ``"aot"`` (ahead-of-time compiled module, see ``dsp/_aot.py``: numba is not used).
    """

    kernel: str
    variant: str
    seconds: float
    source: str


def _signal(fs: float, n: int, gyro: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return a synthetic stride: gravity on z, a 2.8 Hz bounce, a 1.4 Hz pitch swing."""
    t = np.arange(n) / fs
    acc = np.zeros((n, 3))
    acc[:, 2] = 9.80665 + 3.0 * np.sin(2.0 * np.pi * 2.8 * t)
    acc[:, 0] = 1.0 * np.sin(2.0 * np.pi * 1.4 * t)
    g = None
    if gyro:
        g = np.zeros((n, 3))
        g[:, 1] = 4.0 * np.sin(2.0 * np.pi * 1.4 * t)
    return t, acc, g


def _dispatchers() -> dict[str, object]:
    """Every numba dispatcher defined in a ``dsp`` module (``module.function`` -> dispatcher)."""
    from numba.core.dispatcher import Dispatcher

    import dsp

    found: dict[str, object] = {}
    for info in pkgutil.iter_modules(dsp.__path__, "dsp."):
        if info.name == __name__:
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and getattr(obj.py_func, "__module__", None) == info.name:
                found[f"{info.name}.{name}"] = obj
    return found


def compiled_kernels() -> dict[str, bool]:
    """Return every ``@kernel`` function of ``dsp`` and whether it is ready in this process.

    A kernel is ready when it has machine code of its own (compiled or loaded from the cache),
    or when a ready kernel calls it: code loaded from the cache carries its helpers inside it.

    Returns
    -------
    dict
        ``"module.function"`` -> True when ready.
    """
    found = _dispatchers()
    ready = {name for name, d in found.items() if d.signatures}
    todo = list(ready)
    while todo:
        name = todo.pop()
        module = name.rsplit(".", 1)[0]
        for callee in found[name].py_func.__code__.co_names:
            full = f"{module}.{callee}"
            if full in found and full not in ready:
                ready.add(full)
                todo.append(full)
    return {name: name in ready for name in sorted(found)}


def _source(dispatcher, before: int) -> str:
    if len(dispatcher.signatures) == before:
        return "memory"
    stats = dispatcher.stats
    return "cache" if sum(stats.cache_hits.values()) > 0 and not stats.cache_misses else "compiled"


def warm_up_report(sampling_rate_hz: float = 200.0) -> list[KernelTiming]:
    """Exercise every kernel the device uses, in every mode, and time the first call of each.

    Parameters
    ----------
    sampling_rate_hz : float
        Rate of the synthetic blocks, Hz (the machine code does not depend on it).

    Returns
    -------
    list of KernelTiming
        One entry per (entry kernel, mode), in the order they ran; the first entry of each
        kernel carries the compilation (or cache load), later modes reuse its machine code.
    """
    from dsp import _step_kernels as SK
    from dsp import _stride_kernels as TK
    from dsp.steps import StepDetector
    from dsp.stride import FootStrideEstimator, TrunkStrideEstimator

    fs = float(sampling_rate_hz)
    n = int(4 * fs)
    out: list[KernelTiming] = []

    def timed(kernel, variant: str, fn: Callable[[], object]) -> None:
        jit = hasattr(kernel, "signatures")  # else a function of the AOT module (dsp/_aot.py)
        before = len(kernel.signatures) if jit else 0
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if jit:
            name = f"{kernel.py_func.__module__}.{kernel.py_func.__name__}"
            out.append(KernelTiming(name, variant, dt, _source(kernel, before)))
        else:
            out.append(KernelTiming(f"{type(kernel).__module__}.{kernel.__name__}", variant, dt, "aot"))

    t, acc, gyro = _signal(fs, n, gyro=True)
    for placement, has_gyro, label in (
        ("lower_back", False, "steps: lower back"),
        ("foot", True, "steps: foot + gyro"),
        ("foot", False, "steps: foot, no gyro"),
        ("shank", True, "steps: shank + gyro"),
        ("shank", False, "steps: shank, no gyro"),
    ):
        det = StepDetector(sampling_rate_hz=fs, placement=placement, has_gyro=has_gyro)
        timed(SK._detect_block, label, lambda det=det, g=has_gyro: det.update(t, acc, gyro if g else None))

    contacts = np.arange(0.5, t[-1] - 0.5, 0.7)
    run = np.ones(contacts.shape[0], dtype=bool)

    def foot() -> None:
        est = FootStrideEstimator(sampling_rate_hz=fs)
        est.update(t, acc, gyro, contacts, run)
        est.flush()

    timed(TK._foot_block, "stride: foot + gyro", foot)
    for has_gyro, label in ((False, "stride: lower back"), (True, "stride: lower back + gyro")):

        def trunk(g=has_gyro) -> None:
            est = TrunkStrideEstimator(sampling_rate_hz=fs, has_gyro=g)
            est.update(t, acc, gyro if g else None, contacts, run)
            est.flush()

        timed(TK._trunk_block, label, trunk)

    # the whole pipeline as the live loop feeds it: 50 ms blocks, a coach attached
    # (on the shank the terrain model applies: the only mode that runs the terrain kernel, and the
    # only kernel that mode has not met before, so its line is the terrain kernel's: timed as the
    # step kernel's, it read "_detect_block ... 7 s (memory)" for the terrain kernel's compilation)
    from dsp import _terrain_kernels as RK

    for placement, has_gyro in (("lower_back", False), ("foot", True), ("lower_back", True), ("shank", True)):
        label = f"pipeline: {placement.replace('_', ' ')}{' + gyro' if has_gyro else ''}, 50 ms blocks"
        kernel = RK._terrain_block if placement == "shank" else SK._detect_block
        timed(kernel, label, lambda p=placement, g=has_gyro: _feed_pipeline(p, g, fs))
    return out


def _feed_pipeline(placement: str, has_gyro: bool, fs: float) -> None:
    """Run a :class:`dsp.Pipeline` with a coach over 4 s of synthetic strides in 50 ms blocks."""
    from dsp.coach import Coach, CoachSettings
    from dsp.pipeline import Pipeline

    pipe = Pipeline(sampling_rate_hz=fs, placement=placement, has_gyro=has_gyro, coach=Coach(CoachSettings()))
    warm_up_pipeline(pipe)


def warm_up_pipeline(pipeline: Pipeline) -> None:
    """Load (or compile) the kernels one pipeline calls, by feeding it 4 s of synthetic strides.

    ``cadence-coach run`` calls it with a throwaway pipeline built like the device's own (same
    configuration, placement and gyroscope) before the sensor starts: every kernel that pipeline
    calls is then loaded, and only those. The device only ever runs its own placement, so the
    kernels of the others (the trunk stride kernel on a foot, the terrain kernel anywhere but on a
    shank) stay unloaded: each costs memory (1-2 MB with the numba JIT) and start-up time.
    :func:`warm_up` (``cadence-coach precompile``) still drives every mode.

    Parameters
    ----------
    pipeline : dsp.Pipeline
        A fresh pipeline, fed in 50 ms blocks at its own sampling rate and then finished (it is of
        no further use).
    """
    fs = pipeline.steps.sampling_rate_hz
    has_gyro = pipeline.steps.has_gyro
    n = int(4 * fs)
    t, acc, gyro = _signal(fs, n, gyro=True)
    block = max(1, int(0.05 * fs))
    for i in range(0, n, block):
        pipeline.process(t[i : i + block], acc[i : i + block], gyro[i : i + block] if has_gyro else None)
    pipeline.finish()


def warm_up(*, verbose: bool = True) -> int:
    """Compile or load every kernel variant the device uses; print what each took.

    Parameters
    ----------
    verbose : bool
        Print one line per kernel variant, and a check that every ``@kernel`` of ``dsp`` is
        compiled, to stdout (``cadence-coach precompile`` shows them).

    Returns
    -------
    int
        Number of kernel variants (entry kernel × device mode) exercised.

    Notes
    -----
    numba compiles one machine-code version per combination of argument types. Every mode of
    the device passes the same types (contiguous float64 arrays, Python bools), so each entry
    kernel is compiled once and the later modes only check that the first version serves them.
    Helper kernels are compiled as part of the entry kernel that calls them.
    """
    timings = warm_up_report()
    if verbose:
        for k in timings:
            print(
                f"  kernel {k.kernel.rsplit('.', 1)[-1]:<14} {k.variant:<44} {k.seconds:7.3f} s  ({k.source})"
            )
        if kernel_backend() == "aot":
            print(f"  every entry kernel comes from the AOT module {aot_module_path()}")
            return len(timings)
        ready = compiled_kernels()
        missing = [name for name, ok in ready.items() if not ok]
        print(f"  {len(ready) - len(missing)} of {len(ready)} @kernel functions of dsp are ready")
        if missing:
            print(
                f"  not called by any device mode (yet): {', '.join(missing)}; "
                "add their mode to dsp/warmup.py when they join the pipeline",
                file=sys.stderr,
            )
    return len(timings)
