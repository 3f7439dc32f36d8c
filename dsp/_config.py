"""Numba flags in one place, a writable cache location, and the choice between AOT and JIT.

Every ``@njit`` in ``dsp`` takes its flags from here (house style: no hard-coded
``fastmath`` or ``cache`` on individual kernels).  ``NUMBA_CACHE_DIR`` is honoured;
when neither it nor the package directory is writable, the cache falls back to a
temporary directory with a warning instead of failing at import.

When the cache directory holds a current ahead-of-time compiled kernel module (built by
``cadence-coach precompile --aot``, see ``dsp/_aot.py``), :func:`kernel` returns its functions
for the entry kernels and numba is not imported at all; otherwise the kernels are compiled by the
numba JIT (and cached) as before.
"""

from __future__ import annotations

import os
import tempfile
import warnings

from dsp import _aot

#: Cache compiled kernels on disk (``__pycache__`` or ``NUMBA_CACHE_DIR``).
CACHE: bool = True
#: IEEE-exact arithmetic: replay must give the same steps on every machine.
FASTMATH: bool = False


def _ensure_writable_cache_dir() -> str:
    """Point ``NUMBA_CACHE_DIR`` at a writable directory when the default is not; return the directory."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    candidates = [configured] if configured else [os.path.join(os.path.dirname(__file__), "__pycache__")]
    for path in candidates:
        try:
            os.makedirs(path, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path, prefix=".probe", delete=True):
                return path
        except OSError:
            continue
    fallback = os.path.join(tempfile.gettempdir(), "cadence-coach-numba-cache")
    os.makedirs(fallback, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = fallback
    warnings.warn(
        f"numba cache directory {candidates[0]!r} is not writable; caching in {fallback!r} instead "
        "(set NUMBA_CACHE_DIR to a writable, persistent directory to keep start-up fast)",
        RuntimeWarning,
        stacklevel=2,
    )
    return fallback


#: The numba cache directory; the AOT kernel module lives here too.
CACHE_DIR: str = _ensure_writable_cache_dir()

#: The ahead-of-time compiled kernels, when present and built from these sources (else None).
AOT_MODULE = _aot.load(CACHE_DIR) if _aot.enabled() else None
#: True when the entry kernels come from the AOT module (numba is then never imported).
AOT: bool = AOT_MODULE is not None

_njit = None
#: True when the kernels are compiled by the numba JIT (numba installed, NUMBA_DISABLE_JIT unset, no AOT).
JIT = False
try:
    if not AOT:
        from numba import njit as _njit  # after the cache dir is set: numba reads it at import

        JIT = os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0")
except ImportError:  # 32-bit Raspberry Pi OS: no numba wheels exist; run the same code interpreted
    _njit = None
    JIT = False
    warnings.warn(
        "numba is not installed (there are no numba wheels for 32-bit Raspberry Pi OS); the signal "
        "processing runs as plain Python, about 100x slower: install the 64-bit OS for real-time use",
        RuntimeWarning,
        stacklevel=2,
    )


def _load_cpu_target_without_blas() -> None:
    """Initialise numba's CPU target with scipy's BLAS hidden from it.

    When numba first loads or compiles a kernel it imports ``scipy.linalg.cython_blas``
    to offer ``np.dot`` and ``np.linalg`` in kernels.  No kernel here uses them, and the
    import maps scipy's OpenBLAS (about 12 MB resident, and thread buffers that can fail
    to allocate under a tight memory limit).  The target is initialised once, here, with
    the module hidden; scipy itself is untouched for any other user of the process.
    """
    import sys

    name = "scipy.linalg.cython_blas"
    if name in sys.modules:  # someone already loaded it: nothing to save
        return
    sys.modules[name] = None  # type: ignore[assignment]  # makes the import fail (ImportError)
    try:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    except Exception:  # pragma: no cover - numba internals moved: the kernels load as before
        pass
    finally:
        if sys.modules.get(name, 0) is None:
            del sys.modules[name]


if _njit is not None and JIT:
    _load_cpu_target_without_blas()


def kernel(func):
    """Compile ``func`` with the project's numba flags (or leave it as Python without numba).

    Parameters
    ----------
    func : callable
        A pure function over numpy arrays and scalars.

    Returns
    -------
    callable
        The AOT-compiled function (an entry kernel, with the AOT module loaded), the compiled
        dispatcher (JIT), or ``func`` itself (helper kernels under AOT, or numba not installed).
    """
    if AOT_MODULE is not None:
        return getattr(AOT_MODULE, _aot.export_name(func.__module__, func.__name__), func)
    if _njit is None:
        return func
    return _njit(cache=CACHE, fastmath=FASTMATH, nogil=True)(func)
