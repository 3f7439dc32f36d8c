"""Ahead-of-time compiled kernels: build them into a native module, and load it without numba.

``cadence-coach precompile --aot`` compiles every entry kernel the device calls (the four
``*_block`` kernels, with every helper kernel they call inlined into them) into one native
extension module with ``numba.pycc.CC``, for the exact argument types the wrappers pass (taken
from the JIT dispatchers after :func:`dsp.warmup.warm_up_report` has exercised every device mode).
When that module is present and was built from the same sources, ``dsp._config.kernel`` hands the
wrappers its functions instead of numba dispatchers, and numba is never imported: the live loop
and ``replay`` then start faster and use far less memory (see ``docs/performance.md``).

The module embeds a fingerprint (:func:`fingerprint`): a hash of the kernel sources, of this
file and ``dsp/_config.py``, of the numba and numpy versions, the Python ABI and the CPU
architecture. A module with any other fingerprint is ignored with a one-line warning, and the JIT
(with its on-disk cache) is used, exactly as without the module. The machine code is built for the
generic CPU of the architecture (``CC.target_cpu`` left empty), so a module built on one
Raspberry Pi runs on any other of the same architecture.

This module imports nothing heavy at import time: the builder needs numba, the loader does not.

Notes
-----
An AOT function does not check its arguments as a numba dispatcher does: it checks neither the
array dtype (only its item size), nor the number of dimensions, nor the memory layout. The
wrappers in ``dsp`` already pass C-contiguous float64 arrays of the documented shapes, Python
bools and nothing else (``tests/test_aot.py`` checks that the JIT compiles exactly one version of
each entry kernel over the bundled recordings, i.e. that the wrappers never pass another type).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path
from types import ModuleType

__all__ = [
    "ENTRY_KERNELS",
    "MODULE_NAME",
    "AotStaleWarning",
    "build",
    "export_name",
    "fingerprint",
    "load",
    "module_path",
]

#: Name of the extension module (its file is ``MODULE_NAME`` + the interpreter's extension suffix).
MODULE_NAME = "cadence_kernels_aot"
#: The kernels the wrappers call from Python, ``(module, function)``; their helpers are compiled in.
ENTRY_KERNELS = (
    ("dsp._step_kernels", "_detect_block"),
    ("dsp._stride_kernels", "_foot_block"),
    ("dsp._stride_kernels", "_trunk_block"),
    ("dsp._terrain_kernels", "_terrain_block"),
)
#: Environment variable: ``0`` ignores the AOT module (JIT only); ``1`` (default) uses it when current.
ENV_SWITCH = "CADENCE_AOT"

_HERE = Path(__file__).resolve().parent


class AotStaleWarning(RuntimeWarning):
    """The AOT kernel module was built from other sources, versions or CPU; the JIT is used instead."""


def export_name(module: str, function: str) -> str:
    """Return the name a kernel is exported under (e.g. ``step_detect_block``).

    Parameters
    ----------
    module : str
        The kernel's module, ``dsp._<topic>_kernels``.
    function : str
        The kernel's name.

    Returns
    -------
    str
        A valid, unique C identifier.
    """
    topic = module.rsplit(".", 1)[-1].strip("_").removesuffix("_kernels")
    return f"{topic}_{function.lstrip('_')}"


def _version(dist: str) -> str:
    """Installed version of ``dist``, found without importing it ("none" when not installed).

    Read from the name of its ``*.dist-info`` (or Debian's ``*.egg-info``) folder beside the
    package: ``importlib.metadata`` would cost tens of ms of start-up on a Pi.
    """
    spec = importlib.util.find_spec(dist)
    if spec is None or spec.origin is None:
        return "none"
    site = Path(spec.origin).resolve().parent.parent
    found = sorted(
        p.name.split("-", 1)[1].rsplit(".", 1)[0]
        for pattern in (f"{dist}-*.dist-info", f"{dist}-*.egg-info")
        for p in site.glob(pattern)
    )
    if found:
        return ",".join(found)
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def fingerprint() -> int:
    """Return the fingerprint the AOT module must carry to be used in this environment.

    Returns
    -------
    int
        63 bits of a SHA-256 over the kernel sources (``dsp/_*_kernels.py``), ``dsp/_config.py``
        and this file, the numba and numpy versions, the Python ABI tag and the CPU architecture.
    """
    h = hashlib.sha256()
    for path in [*sorted(_HERE.glob("_*_kernels.py")), _HERE / "_config.py", _HERE / "_aot.py"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for part in (
        f"numba={_version('numba')}",
        f"numpy={_version('numpy')}",
        f"python={sys.implementation.cache_tag}",
        f"machine={os.uname().machine}",
    ):
        h.update(part.encode())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def module_path(directory: str | os.PathLike) -> Path:
    """Return the file of the AOT module in ``directory`` (for this interpreter's ABI).

    Parameters
    ----------
    directory : str or os.PathLike
        The numba cache directory (``dsp._config.cache_dir()``).

    Returns
    -------
    Path
        ``directory / (MODULE_NAME + extension suffix)``.
    """
    return Path(directory) / (MODULE_NAME + importlib.machinery.EXTENSION_SUFFIXES[0])


def enabled() -> bool:
    """Return whether an AOT module may be used (``CADENCE_AOT`` not 0, the JIT not disabled)."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    # NUMBA_DISABLE_JIT=1 asks for the kernels as plain Python (coverage runs, 32-bit OS)
    return os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0")


def load(directory: str | os.PathLike) -> ModuleType | None:
    """Load the AOT module from ``directory`` if it is there and current.

    Parameters
    ----------
    directory : str or os.PathLike
        Where :func:`build` put it (the numba cache directory).

    Returns
    -------
    module or None
        The extension module; None when it is absent, or stale (with an :class:`AotStaleWarning`),
        or cannot be loaded (with an :class:`AotStaleWarning` naming the error).
    """
    path = module_path(directory)
    if not path.is_file():
        return None
    rebuild = "rebuild with `cadence-coach precompile --aot`"
    try:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        found = int(mod.fingerprint())
    except Exception as exc:  # a truncated or foreign file: never fatal, the JIT still works
        warnings.warn(
            f"AOT kernels {path} could not be loaded ({type(exc).__name__}: {exc}); "
            f"using the numba JIT ({rebuild})",
            AotStaleWarning,
            stacklevel=3,
        )
        return None
    if found != fingerprint():
        warnings.warn(
            f"AOT kernels {path} were built from other kernel sources, numba/numpy versions or CPU; "
            f"ignoring them and using the numba JIT ({rebuild})",
            AotStaleWarning,
            stacklevel=3,
        )
        return None
    missing = [n for n in (export_name(m, f) for m, f in ENTRY_KERNELS) if not hasattr(mod, n)]
    if missing:  # cannot happen with a matching fingerprint, unless the file was tampered with
        warnings.warn(
            f"AOT kernels {path} lack {', '.join(missing)}; using the numba JIT ({rebuild})",
            AotStaleWarning,
            stacklevel=3,
        )
        return None
    return mod


def build(directory: str | os.PathLike, *, verbose: bool = False) -> Path:
    """Compile the entry kernels into the AOT module in ``directory`` (needs numba and a C/C++ compiler).

    Must run in a process where the kernels are numba dispatchers (``CADENCE_AOT=0``):
    ``cadence-coach precompile --aot`` runs it in a child process for that reason.

    Parameters
    ----------
    directory : str or os.PathLike
        Destination (created if needed). The module is written under a temporary name and then
        renamed into place, so a running process that has the old one loaded is not disturbed.
    verbose : bool
        Print the exported kernels and their signatures.

    Returns
    -------
    Path
        The module file.

    Raises
    ------
    RuntimeError
        When the kernels are not numba dispatchers here, or an entry kernel met more than one
        argument type combination during warm-up (the AOT module can hold only one).
    """
    import importlib
    import tempfile

    from numba.core.dispatcher import Dispatcher
    from numba.pycc import CC

    from dsp.warmup import warm_up_report

    cc = CC(MODULE_NAME, source_module=sys.modules[__name__])  # fails now when there is no compiler
    warm_up_report()  # every device mode: each entry kernel gets the argument types of service
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".aot-build-") as tmp:
        cc.output_dir = tmp
        for module, function in ENTRY_KERNELS:
            disp = getattr(importlib.import_module(module), function)
            if not isinstance(disp, Dispatcher):
                raise RuntimeError(f"{module}.{function} is not a numba dispatcher: build with CADENCE_AOT=0")
            sigs = disp.nopython_signatures
            if len(sigs) != 1:
                raise RuntimeError(
                    f"{module}.{function} was compiled for {len(sigs)} argument type combinations; "
                    "an AOT module holds one: make the wrappers pass one"
                )
            if verbose:
                print(f"  export {export_name(module, function)}{sigs[0]}")
            cc.export(export_name(module, function), sigs[0])(disp.py_func)
        stamp: dict[str, object] = {}
        exec(f"def fingerprint():\n    return {fingerprint()}\n", stamp)  # a constant, frozen into the module
        cc.export("fingerprint", "i8()")(stamp["fingerprint"])
        cc.compile()
        built = Path(tmp) / cc.output_file
        target = module_path(directory)
        os.replace(built, target)
    return target
