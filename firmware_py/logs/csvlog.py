"""Read and write the common CSV recording format and its JSON sidecar.

The format (see ``shared/datasets/README.md``) is one header line naming the columns
``t,ax,ay,az,gx,gy,gz`` (any order, extra columns ignored) and one row per sample: ``t`` in seconds,
``ax, ay, az`` in m/s² including gravity, ``gx, gy, gz`` in rad/s.  When the sensor has no
gyroscope the gyro cells are empty on every row.  A JSON sidecar with the same stem
(``rec.csv`` -> ``rec.json``) carries the metadata.

This module also holds the few helpers that the ``.cclog`` reader shares (gap detection and the
warnings about gaps and bad samples).
"""

from __future__ import annotations

import io
import json
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from firmware_py.exc import (
    BadSampleWarning,
    DataGapWarning,
    LogExistsError,
    LogFormatError,
    LogNotFoundError,
    LogTruncatedWarning,
    LogWriteError,
    TimestampRepairWarning,
    UnitsWarning,
)
from firmware_py.logs.recording import Recording, normalise_placement

__all__ = [
    "CSV_COLUMNS",
    "GAP_FACTOR",
    "read_csv",
    "sidecar_for_recording",
    "sidecar_path",
    "write_csv",
]

#: Column names written, in this order.
CSV_COLUMNS: tuple[str, ...] = ("t", "ax", "ay", "az", "gx", "gy", "gz")
_REQUIRED = ("t", "ax", "ay", "az")
_GYRO = ("gx", "gy", "gz")
_HEADER_HINT = "the header must name t,ax,ay,az,gx,gy,gz (any order; leave gx,gy,gz empty without a gyro)"

#: A step in time longer than this many median sample intervals is a gap.
GAP_FACTOR = 3.0
#: At most this many gaps are warned about one by one; the rest are summarised in one warning.
MAX_GAP_WARNINGS = 3

#: Keys a reader adds to ``Recording.meta`` of a ``.cclog`` recording (not part of the stored header).
CCLOG_READER_KEYS = ("events", "gap_blocks", "recovery")
_CCLOG_ENCODINGS = ("f8", "i2")


# --------------------------------------------------------------------------------------------------
# helpers shared with the .cclog reader
# --------------------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 40) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, safe to put in a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_cclog_header(meta: Any) -> bool:
    """Tell whether a metadata dict is the header of a ``.cclog`` file.

    Parameters
    ----------
    meta : Any
        Usually ``Recording.meta``.

    Returns
    -------
    bool
        True when ``meta`` carries the ``format_version`` and ``encoding`` keys of a ``.cclog`` header.
    """
    return (
        isinstance(meta, dict)
        and isinstance(meta.get("format_version"), int)
        and meta.get("encoding") in _CCLOG_ENCODINGS
    )


def time_gaps(t_s: np.ndarray, factor: float = GAP_FACTOR) -> np.ndarray:
    """Find steps in time longer than ``factor`` times the median step.

    Parameters
    ----------
    t_s : numpy.ndarray
        Strictly increasing sample times, s.
    factor : float
        Threshold in median sample intervals.

    Returns
    -------
    numpy.ndarray
        Indices ``i`` (int) such that ``t_s[i + 1] - t_s[i]`` is a gap.
    """
    if t_s.shape[0] < 3:
        return np.zeros(0, dtype=np.intp)
    with np.errstate(all="ignore"):
        dt = np.diff(t_s)
        # The median is at least the smallest step: when no step exceeds ``factor`` times the
        # smallest, none exceeds ``factor`` times the median (rounding keeps the order), and the
        # median (a partial sort) is not needed. A NaN fails the test and takes the full path.
        if factor > 0 and float(dt.max()) <= factor * float(dt.min()):
            return np.zeros(0, dtype=np.intp)
        med = float(np.median(dt))
        return np.flatnonzero(dt > factor * med)


def warn_gaps(path: str, gaps: list[tuple[float, float, str]], stacklevel: int = 3) -> None:
    """Emit one ``DataGapWarning`` per gap (the first few) and one summary for the rest.

    Parameters
    ----------
    path : str
        File the gaps were found in.
    gaps : list of tuple
        ``(t_before_s, t_after_s, where)``; ``where`` locates the gap in the file (e.g. ``line 12``).
    stacklevel : int
        Passed to ``warnings.warn``.
    """
    for t_before, t_after, where in gaps[:MAX_GAP_WARNINGS]:
        warnings.warn(
            f"{path}: gap of {t_after - t_before:.2f} s at t={t_before:.2f} s ({where}); "
            "samples on both sides kept",
            DataGapWarning,
            stacklevel=stacklevel,
        )
    rest = gaps[MAX_GAP_WARNINGS:]
    if rest:
        total = sum(b - a for a, b, _ in rest)
        warnings.warn(
            f"{path}: {len(rest)} more gaps ({total:.2f} s in all, first at t={rest[0][0]:.2f} s, "
            f"{rest[0][2]}); samples on both sides kept; see Recording.gaps",
            DataGapWarning,
            stacklevel=stacklevel,
        )


def bad_sample_rows(acc_mps2: np.ndarray, gyro_rads: np.ndarray | None) -> np.ndarray:
    """Return the indices of samples holding a NaN or infinite acc/gyro value.

    Parameters
    ----------
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``.
    gyro_rads : numpy.ndarray or None
        Gyroscope, shape ``(n, 3)``, or None.

    Returns
    -------
    numpy.ndarray
        Row indices (int), increasing.

    Notes
    -----
    Most logs hold no bad value: a sum is finite only when every term is (a NaN or an infinity
    makes it NaN or infinite), so one summing pass answers them; a non-finite sum (a bad value,
    or an overflow of huge finite values) falls through to the row-by-row test.
    """
    with np.errstate(all="ignore"):
        if math.isfinite(float(np.sum(acc_mps2))) and (
            gyro_rads is None or math.isfinite(float(np.sum(gyro_rads)))
        ):
            return np.zeros(0, dtype=np.intp)
    bad = ~np.isfinite(acc_mps2).all(axis=1)
    if gyro_rads is not None:
        bad |= ~np.isfinite(gyro_rads).all(axis=1)
    return np.flatnonzero(bad)


def warn_bad_samples(path: str, n_bad: int, first_where: str, stacklevel: int = 3) -> None:
    """Warn once that ``n_bad`` samples hold NaN or infinite values (they are kept).

    Parameters
    ----------
    path : str
        File they were found in.
    n_bad : int
        Number of samples (rows) with at least one non-finite acc/gyro value.
    first_where : str
        Where the first one is (e.g. ``line 57``).
    stacklevel : int
        Passed to ``warnings.warn``.
    """
    warnings.warn(
        f"{path}: {n_bad} sample(s) hold NaN or infinite acc/gyro values (first at {first_where}); "
        "kept as they are for the DSP to flag and repair",
        BadSampleWarning,
        stacklevel=stacklevel,
    )


#: A worn sensor's median |acceleration| is gravity, 9.81 m/s², give or take the motion: outside
#: this range the CSV is in other units (about 1 in g, about 1000 in milli-g), m/s².
ACC_MEDIAN_RANGE_MPS2 = (3.0, 30.0)
#: No IMU that cadence-coach reads measures beyond ±2000 °/s (34.9 rad/s): a higher 99th
#: percentile of |gyro| is a gyroscope written in °/s, rad/s.
GYRO_P99_MAX_RADS = math.radians(2000.0)


def warn_units(path: str, acc: np.ndarray, gyro: np.ndarray | None, stacklevel: int = 3) -> None:
    """Warn when a CSV's samples look like g or °/s instead of m/s² and rad/s (they are kept).

    The check looks at every tenth sample: the median of |acc| (gravity) and the 99th percentile
    of |gyro| (the chips' full scale), so a few bad samples do not trigger it.

    Parameters
    ----------
    path : str
        File the samples come from (named in the warning).
    acc : numpy.ndarray
        Accelerations, shape (n, 3), meant to be m/s².
    gyro : numpy.ndarray or None
        Angular rates, shape (n, 3), meant to be rad/s.
    stacklevel : int
        Passed to ``warnings.warn``.
    """
    with np.errstate(all="ignore"):
        a = np.linalg.norm(acc[::10], axis=1)
        a = a[np.isfinite(a)]
        if a.size:
            med = float(np.median(a))
            lo, hi = ACC_MEDIAN_RANGE_MPS2
            if not lo <= med <= hi:
                warnings.warn(
                    f"{path}: the median |acc| is {med:.3g}, not about 9.81: ax, ay, az must be in m/s² "
                    "(from g, multiply by 9.80665); samples kept as they are, expect wrong steps and strides",
                    UnitsWarning,
                    stacklevel=stacklevel,
                )
        if gyro is not None:
            g = np.linalg.norm(gyro[::10], axis=1)
            g = g[np.isfinite(g)]
            if g.size and float(np.percentile(g, 99)) > GYRO_P99_MAX_RADS:
                warnings.warn(
                    f"{path}: |gyro| reaches {float(np.percentile(g, 99)):.0f} (99th percentile), beyond any "
                    "IMU's ±2000 °/s = 34.9 rad/s: gx, gy, gz must be in rad/s (from °/s, multiply by "
                    "0.0174533); samples kept as they are, expect wrong strides",
                    UnitsWarning,
                    stacklevel=stacklevel,
                )


def normalise_side(value: Any) -> str | None:
    """Map a placement side to ``left``/``right`` (``L``/``R`` accepted); other strings pass through.

    Parameters
    ----------
    value : Any
        Side as found in a sidecar or header.

    Returns
    -------
    str or None
        The normalised side.

    Raises
    ------
    ValueError
        When ``value`` is neither None nor a string.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"placement_side must be a string such as 'left' or 'right', not {_short(value)}")
    key = value.strip().lower()
    return {"l": "left", "r": "right"}.get(key, key)


def positive_rate(value: Any) -> float | None:
    """Return ``value`` as a positive finite float, or None when it is not one.

    Parameters
    ----------
    value : Any
        Candidate sampling rate (or any header number that must be positive: a range, a count size).

    Returns
    -------
    float or None
        The number, or None.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        rate = float(value)
    except OverflowError:
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def check_new_file(path: Path) -> None:
    """Refuse to go on when ``path`` exists (writers never overwrite a recording).

    Parameters
    ----------
    path : pathlib.Path
        File about to be written.

    Raises
    ------
    LogExistsError
        When it exists.
    """
    if os.path.lexists(path):
        raise LogExistsError(
            f"{path}: file exists; recordings are never overwritten; fix: choose another name or delete it"
        )


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def sidecar_path(csv_path: str | os.PathLike[str]) -> Path:
    """Return the JSON sidecar path of a CSV recording (same stem, ``.json``).

    Parameters
    ----------
    csv_path : str or os.PathLike
        The CSV file.

    Returns
    -------
    pathlib.Path
        ``rec.csv`` -> ``rec.json``.
    """
    return Path(csv_path).with_suffix(".json")


def _read_bytes(path: Path) -> bytes:
    """Read a whole file, turning OS errors into ``LogFormatError``."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LogNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LogFormatError(f"{path}: is a directory, not a recording") from None
    except OSError as exc:
        raise LogFormatError(f"{path}: cannot read: {exc.strerror or exc}; fix: check the file") from None


def _load_json_object(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object from ``path``; every problem becomes a one-line ``LogFormatError``."""
    raw = _read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise LogFormatError(
            f"{path}:{line}: {what} is not UTF-8 text (byte {exc.start}); fix: save it as UTF-8 JSON"
        ) from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LogFormatError(
            f"{path}:{exc.lineno}: {what} is not valid JSON: {exc.msg} at line {exc.lineno} column "
            f"{exc.colno} (char {exc.pos}); fix the JSON or move the file away"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise LogFormatError(f"{path}: {what} cannot be read as JSON ({_short(str(exc), 80)})") from None
    if not isinstance(obj, dict):
        raise LogFormatError(
            f"{path}: {what} must hold a JSON object {{...}}, not a {type(obj).__name__}; fix the sidecar"
        )
    return obj


def _sidecar_fields(sc_path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise the sidecar fields the reader uses."""
    out: dict[str, Any] = {}
    try:
        out["placement"] = normalise_placement(meta.get("placement"))
    except ValueError as exc:
        raise LogFormatError(f"{sc_path}: 'placement': {exc}; fix the sidecar") from None
    try:
        out["placement_side"] = normalise_side(meta.get("placement_side"))
    except ValueError as exc:
        raise LogFormatError(f"{sc_path}: {exc}; fix the sidecar") from None
    rate = meta.get("sample_rate_hz")
    if rate is not None and positive_rate(rate) is None:
        raise LogFormatError(
            f"{sc_path}: 'sample_rate_hz' must be a positive number of Hz, not {_short(rate)}; "
            "fix the sidecar or delete the key"
        )
    out["sample_rate_hz"] = positive_rate(rate)
    has_gyro = meta.get("has_gyro")
    if has_gyro is not None and not isinstance(has_gyro, bool):
        raise LogFormatError(f"{sc_path}: 'has_gyro' must be true or false, not {_short(has_gyro)}")
    out["has_gyro"] = has_gyro
    return out


def _parse_header(path: str, raw: bytes) -> tuple[list[str], int]:
    """Return the lower-cased column names and the byte offset where the body starts."""
    if not raw.strip():
        raise LogFormatError(
            f"{path}: file is empty; expected a header line 't,ax,ay,az,gx,gy,gz' and one row per sample"
        )
    if raw.startswith(b"\x89CCLOG"):
        raise LogFormatError(f"{path}:1: this is a binary .cclog log, not a CSV; fix: rename it to .cclog")
    nl = raw.find(b"\n")
    body_start = len(raw) if nl < 0 else nl + 1
    head = raw[: len(raw) if nl < 0 else nl]
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LogFormatError(
            f"{path}:1: the header line is not UTF-8 text; is this a CSV? {_HEADER_HINT}"
        ) from None
    names = [c.strip().strip("\"'").strip().lower() for c in line.rstrip("\r").split(",")]
    return names, body_start


def _column_indices(path: str, names: list[str]) -> tuple[list[int], list[int] | None]:
    """Map the header to the column indices of t, ax, ay, az and (when present) gx, gy, gz."""
    for wanted in _REQUIRED + _GYRO:
        if names.count(wanted) > 1:
            raise LogFormatError(
                f"{path}:1: column {wanted!r} appears {names.count(wanted)} times; {_HEADER_HINT}"
            )
    gyro_found = [g for g in _GYRO if g in names]
    missing = [c for c in _REQUIRED if c not in names]
    if gyro_found and len(gyro_found) < 3:
        missing += [g for g in _GYRO if g not in names]
    if missing:
        found = ", ".join(_short(n, 24) for n in names[:12]) + (", ..." if len(names) > 12 else "")
        # a spreadsheet's export with ';' or tabs reads as one column named "t;ax;ay;..."
        other = next((sep for sep in (";", "\t") if len(names) == 1 and sep in names[0]), None)
        sep = f" (separated by {other!r}: the separator must be a comma)" if other else ""
        raise LogFormatError(
            f"{path}:1: missing column(s) {', '.join(missing)}; found: {found}{sep}; fix: {_HEADER_HINT}"
        )
    acc_idx = [names.index(c) for c in _REQUIRED]
    gyro_idx = [names.index(g) for g in _GYRO] if gyro_found else None
    return acc_idx, gyro_idx


_Parsed = tuple[np.ndarray, np.ndarray, np.ndarray | None, Callable[[int], int]]


def _drop_cut_last_line(
    path: str, raw: bytes, body_start: int, ncols: int, acc_idx: list[int], gyro_idx: list[int] | None
) -> bytes:
    """Leave out a last row that a power loss or a killed writer cut short, with a warning.

    Only a final line without its line end can be a cut row; it is left out when it cannot be a whole
    row (too few cells, an acceleration cell empty or not a number, gyro cells partly filled). A
    row that ends with a line end is the writer's own and stays subject to the usual checks.
    """
    if raw.endswith(b"\n") or len(raw) <= body_start:
        return raw
    cut = raw.rfind(b"\n") + 1
    if cut <= body_start - 1:  # the header itself is the last line
        return raw
    line = raw[cut:].decode("utf-8", errors="replace").rstrip("\r")
    if not line.strip():
        return raw
    cells = line.split(",")
    whole = len(cells) == ncols and all(
        _to_float(cells[j].strip()) is not None for j in acc_idx if j < len(cells)
    )
    if whole and gyro_idx is not None:
        filled = sum(cells[j].strip() != "" for j in gyro_idx)
        whole = filled in (0, len(gyro_idx))
    if whole:
        return raw
    line_no = raw.count(b"\n", 0, cut) + 1
    warnings.warn(
        LogTruncatedWarning(
            f"{path}:{line_no}: the last line is cut short ({len(cells)} of {ncols} cells, no line end); "
            "the file was cut off while being written: that row is left out, every row before it kept"
        ),
        stacklevel=3,
    )
    return raw[:cut]


def _parse_fast(
    path: Path | io.BytesIO,
    raw: bytes,
    body_start: int,
    ncols: int,
    acc_idx: list[int],
    gyro_idx: list[int] | None,
) -> _Parsed | None:
    """Parse a well-formed body with numpy; return None when anything looks unusual.

    The layout is checked on the raw bytes (every row has exactly ``ncols`` cells, no blank lines, no
    empty t/acc cell, gyro cells all empty or all filled); the numbers are parsed by ``np.loadtxt``.
    Any doubt sends the caller to the slow path, which finds and reports the exact problem.
    """
    b = np.frombuffer(raw, dtype=np.uint8)[body_start:]
    end = b.shape[0]
    while end > 0 and b[end - 1] in (9, 10, 13, 32):
        end -= 1
    if end == 0:
        return None
    b = b[:end]
    is_comma = b == 44
    delim = np.flatnonzero(is_comma | (b == 10))
    n_rows = delim.shape[0] - int(np.count_nonzero(is_comma)) + 1
    if delim.shape[0] + 1 != n_rows * ncols:
        return None
    delim = np.append(delim, end).reshape(n_rows, ncols)
    if not (b[delim[:, :-1]] == 44).all() or not (b[delim[:-1, -1]] == 10).all():
        return None
    starts = np.empty_like(delim)
    starts[0, 0] = 0
    starts.ravel()[1:] = delim.ravel()[:-1] + 1
    lens = delim - starts
    last = delim[:, -1]
    has_cr = (lens[:, -1] > 0) & (b[np.maximum(last - 1, 0)] == 13)
    lens[:, -1] -= has_cr
    if (lens[:, acc_idx] == 0).any():
        return None
    usecols = list(acc_idx)
    if gyro_idx is not None:
        empty = lens[:, gyro_idx] == 0
        if empty.all():
            gyro_idx = None
        elif empty.any():
            return None
        else:
            usecols += gyro_idx
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(
                path,
                delimiter=",",
                comments=None,
                skiprows=1,
                usecols=usecols,
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8",
            )
    except Exception:  # any trouble: let the careful slow path find and name it
        return None
    if data.shape != (n_rows, len(usecols)):
        return None
    t = np.ascontiguousarray(data[:, 0])
    acc = np.ascontiguousarray(data[:, 1:4])
    gyro = np.ascontiguousarray(data[:, 4:7]) if gyro_idx is not None else None
    return t, acc, gyro, lambda row: row + 2


def _to_float(cell: str) -> float | None:
    """Parse one cell like ``np.loadtxt`` does; None when it is not a number."""
    if "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _parse_slow(
    path: str, raw: bytes, names: list[str], acc_idx: list[int], gyro_idx: list[int] | None
) -> _Parsed:
    """Parse the body line by line and report the first problem with its line number."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LogFormatError(
            f"{path}:{line}: byte {raw[exc.start]:#04x} at column {col} is not UTF-8 text; "
            "fix: save the file as a UTF-8 CSV"
        ) from None
    ncols = len(names)
    rows: list[list[float]] = []
    line_nos: list[int] = []
    gyro_state: bool | None = None  # True = filled, False = empty, on the first data row
    first_gyro_line = 0
    for line_no, line in enumerate(text.split("\n")[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != ncols:
            raise LogFormatError(
                f"{path}:{line_no}: {len(cells)} cells but the header has {ncols}; "
                "fix: repair or delete the row"
            )
        values: list[float] = []
        for j in acc_idx:
            cell = cells[j].strip()
            value = _to_float(cell) if cell else None
            if value is None:
                what = "is empty" if not cell else f"holds {_short(cell)}, which is not a number"
                raise LogFormatError(
                    f"{path}:{line_no}: column {names[j]!r} (column {j + 1}) {what}; "
                    "fix: correct or delete the row"
                )
            values.append(value)
        if gyro_idx is not None:
            gcells = [cells[j].strip() for j in gyro_idx]
            filled = [c != "" for c in gcells]
            if any(filled) and not all(filled):
                empty_names = ", ".join(g for g, f in zip(_GYRO, filled, strict=True) if not f)
                raise LogFormatError(
                    f"{path}:{line_no}: gyro cell(s) {empty_names} empty while the others are filled; "
                    "fix: fill all three gyro cells or leave all three empty on every row"
                )
            state = all(filled)
            if gyro_state is None:
                gyro_state, first_gyro_line = state, line_no
            elif state != gyro_state:
                here, there = ("empty", "filled") if gyro_state else ("filled", "empty")
                raise LogFormatError(
                    f"{path}:{line_no}: gyro cells are {here} here but {there} on the lines before "
                    f"(from line {first_gyro_line}); the gyro columns must be filled on every row or empty "
                    "on every row; fix: repair the rows or clear the gyro columns"
                )
            if state:
                for j, cell in zip(gyro_idx, gcells, strict=True):
                    value = _to_float(cell)
                    if value is None:
                        raise LogFormatError(
                            f"{path}:{line_no}: column {names[j]!r} (column {j + 1}) holds {_short(cell)}, "
                            "which is not a number; fix: correct or delete the row"
                        )
                    values.append(value)
        rows.append(values)
        line_nos.append(line_no)
    if not rows:
        raise LogFormatError(
            f"{path}:1: the file has a header but no data rows; fix: record some data or delete the file"
        )
    data = np.array(rows, dtype=np.float64)
    lines = np.array(line_nos)
    gyro = np.ascontiguousarray(data[:, 4:7]) if data.shape[1] == 7 else None
    return (
        np.ascontiguousarray(data[:, 0]),
        np.ascontiguousarray(data[:, 1:4]),
        gyro,
        lambda row: int(lines[row]),
    )


def read_csv(path: str | os.PathLike[str]) -> Recording:
    """Read a CSV recording and its JSON sidecar (when one lies beside it).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.csv`` file.

    Returns
    -------
    Recording
        Samples in SI units; ``meta`` is the whole sidecar (``{}`` without one); ``gaps`` lists every
        step in time longer than 3 median sample intervals.

    Raises
    ------
    LogFormatError
        One line ``<path>:<line>: <what is wrong>; <fix>`` for: missing file (``LogNotFoundError``),
        empty file or header only, missing columns, a non-numeric or empty cell, a non-finite,
        repeated or decreasing ``t``, gyro cells filled on some rows and empty on others, a sidecar
        that is not valid JSON or holds invalid values.

    Warns
    -----
    DataGapWarning
        For each gap in time (the samples on both sides are kept).
    BadSampleWarning
        Once, when acc/gyro cells hold NaN or infinity (the samples are kept).
    LogTruncatedWarning
        When the last line was cut short while being written (no line end, not a whole row): that
        row is left out and every row before it kept.
    """
    p = Path(path)
    name = str(path)
    raw = _read_bytes(p)
    sc_path = sidecar_path(p)
    meta: dict[str, Any] = {}
    fields: dict[str, Any] = {
        "placement": None,
        "placement_side": None,
        "sample_rate_hz": None,
        "has_gyro": None,
    }
    if sc_path != p and sc_path.is_file():
        meta = _load_json_object(sc_path, "sidecar")
        fields = _sidecar_fields(sc_path, meta)

    names, body_start = _parse_header(name, raw)
    acc_idx, gyro_idx = _column_indices(name, names)
    whole_raw = _drop_cut_last_line(name, raw, body_start, len(names), acc_idx, gyro_idx)
    source: Path | io.BytesIO = p if whole_raw is raw else io.BytesIO(whole_raw)
    raw = whole_raw
    parsed = _parse_fast(source, raw, body_start, len(names), acc_idx, gyro_idx)
    if parsed is None:
        parsed = _parse_slow(name, raw, names, acc_idx, gyro_idx)
    t, acc, gyro, line_of = parsed

    with np.errstate(all="ignore"):
        not_finite = np.flatnonzero(~np.isfinite(t))
        if not_finite.size:
            row = int(not_finite[0])
            raise LogFormatError(
                f"{name}:{line_of(row)}: t is {float(t[row])!r}; every timestamp must be a finite number of "
                "seconds; fix: correct or delete the row"
            )
        dt = np.diff(t)
        back_step = np.flatnonzero(dt < 0)
        if back_step.size:
            row = int(back_step[0]) + 1
            raise LogFormatError(
                f"{name}:{line_of(row)}: t={float(t[row])!r} s is earlier than "
                f"t={float(t[row - 1])!r} s on line {line_of(row - 1)}; timestamps must increase; "
                "fix: sort the rows by t"
            )
        repeats = np.flatnonzero(dt == 0)
    if repeats.size:
        # Rounded sensor clocks repeat a time for distinct samples: keep every sample and spread
        # each run of equal times evenly up to the next distinct time.
        t = spread_repeated_times(t)
        still = np.flatnonzero(np.diff(t) <= 0)
        if still.size:  # times so large that floats cannot tell the spread samples apart
            row = int(still[0]) + 1
            raise LogFormatError(
                f"{name}:{line_of(row)}: t={float(t[row])!r} s repeats the timestamp of line "
                f"{line_of(row - 1)} and cannot be re-spaced at this magnitude; fix: give times in "
                "seconds from the start of the recording"
            )
        warnings.warn(
            TimestampRepairWarning(
                f"{name}:{line_of(int(repeats[0]) + 1)}: {repeats.size} timestamps repeat the one before "
                "(a rounded clock); every sample kept, repeated times spread evenly to the next timestamp"
            ),
            stacklevel=2,
        )
        meta = {**meta, "timestamp_repairs": int(repeats.size)}

    if fields["has_gyro"] is True and gyro is None:
        raise LogFormatError(
            f"{sc_path}: says has_gyro true but the gyro cells of {name} are empty; "
            "fix: set has_gyro to false or restore the gyro data"
        )
    if fields["has_gyro"] is False and gyro is not None:
        raise LogFormatError(
            f"{sc_path}: says has_gyro false but {name} holds gyro values; "
            "fix: set has_gyro to true or clear the gyro columns"
        )

    rate = fields["sample_rate_hz"]
    if rate is None:
        if t.shape[0] < 2:
            raise LogFormatError(
                f"{name}: a single sample and no sample_rate_hz in {sc_path.name}; the sampling rate is "
                "unknown; fix: add sample_rate_hz to the sidecar"
            )
        with np.errstate(all="ignore"):
            median_dt = float(np.median(np.diff(t)))
        rate = 1.0 / median_dt if median_dt > 0 else math.inf
        if not (math.isfinite(rate) and rate > 0):
            raise LogFormatError(
                f"{name}: cannot estimate the sampling rate from the timestamps (median step "
                f"{median_dt!r} s); fix: add sample_rate_hz to the sidecar"
            )

    bad = bad_sample_rows(acc, gyro)
    if bad.size:
        warn_bad_samples(name, int(bad.size), f"line {line_of(int(bad[0]))}")
    warn_units(name, acc, gyro)
    gap_idx = time_gaps(t)
    found = [(float(t[i]), float(t[i + 1]), f"line {line_of(int(i))}") for i in gap_idx]
    if found:
        warn_gaps(name, found)

    return Recording(
        path=name,
        t_s=t,
        acc_mps2=acc,
        gyro_rads=gyro,
        sampling_rate_hz=float(rate),
        placement=fields["placement"],
        placement_side=fields["placement_side"],
        meta=meta,
        gaps=[(a, b) for a, b, _ in found],
    )


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def spread_repeated_times(t: np.ndarray) -> np.ndarray:
    """Re-space runs of equal timestamps evenly between their time and the next distinct one.

    Parameters
    ----------
    t : numpy.ndarray
        Non-decreasing sample times, s.

    Returns
    -------
    numpy.ndarray
        Strictly increasing times; unchanged where ``t`` already increases. A run at the very
        end is spread by the median positive step.
    """
    uniq, first, counts = np.unique(t, return_index=True, return_counts=True)
    steps = np.diff(uniq)
    last_step = float(np.median(steps)) if steps.size else 1.0
    nxt = np.append(uniq[1:], uniq[-1] + counts[-1] * last_step)
    group = np.repeat(np.arange(uniq.size), counts)
    k = np.arange(t.size) - first[group]
    return uniq[group] + k * (nxt[group] - uniq[group]) / counts[group]


def check_recording(rec: Recording) -> None:
    """Check that a recording can be written and read back.

    Parameters
    ----------
    rec : Recording
        The recording.

    Raises
    ------
    ValueError
        When shapes disagree, timestamps are not finite and strictly increasing, or the rate is not
        a positive number.
    """
    t = np.asarray(rec.t_s)
    n = t.shape[0] if t.ndim == 1 else -1
    if t.ndim != 1:
        raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
    if np.shape(rec.acc_mps2) != (n, 3):
        raise ValueError(f"acc_mps2 must have shape ({n}, 3), got {np.shape(rec.acc_mps2)}")
    if rec.gyro_rads is not None and np.shape(rec.gyro_rads) != (n, 3):
        raise ValueError(f"gyro_rads must have shape ({n}, 3) or be None, got {np.shape(rec.gyro_rads)}")
    if not np.isfinite(t).all():
        raise ValueError(f"t_s holds a non-finite value at index {int(np.flatnonzero(~np.isfinite(t))[0])}")
    steps = np.flatnonzero(np.diff(t) <= 0)
    if steps.size:
        raise ValueError(f"t_s must be strictly increasing; t_s[{int(steps[0]) + 1}] <= t_s[{int(steps[0])}]")
    if positive_rate(rec.sampling_rate_hz) is None:
        raise ValueError(f"sampling_rate_hz must be a positive number, got {_short(rec.sampling_rate_hz)}")


def format_csv(rec: Recording) -> str:
    """Format a recording as CSV text (header and rows, shortest round-trip float formatting).

    Parameters
    ----------
    rec : Recording
        The recording.

    Returns
    -------
    str
        The CSV text, LF line ends, gyro cells empty when the recording has no gyro.
    """
    header = ",".join(CSV_COLUMNS) + "\n"
    if rec.n_samples == 0:
        return header
    cols = [np.asarray(rec.t_s, dtype=np.float64)[:, None], np.asarray(rec.acc_mps2, dtype=np.float64)]
    if rec.gyro_rads is not None:
        cols.append(np.asarray(rec.gyro_rads, dtype=np.float64))
    end = "\n" if rec.gyro_rads is not None else ",,,\n"
    # repr() of a list of floats formats every float with its shortest round-trip repr, in C.
    text = repr(np.hstack(cols).tolist())
    return header + text[2:-2].replace("], [", end).replace(", ", ",") + end


def sidecar_for_recording(rec: Recording) -> dict[str, Any]:
    """Build the JSON sidecar written beside a CSV.

    A recording read from a CSV keeps its whole sidecar.  One read from a ``.cclog`` gets a minimal
    sidecar (the CSV sidecar it was converted from, if its header kept one) plus the ``.cclog``
    header under ``cclog_header``.  ``placement``, ``placement_side``, ``sample_rate_hz`` and
    ``has_gyro`` always reflect the recording.

    Parameters
    ----------
    rec : Recording
        The recording.

    Returns
    -------
    dict
        The sidecar.
    """
    meta = rec.meta or {}
    if is_cclog_header(meta):
        base = dict(meta.get("csv_sidecar") or {}) if isinstance(meta.get("csv_sidecar"), dict) else {}
        base["cclog_header"] = {k: v for k, v in meta.items() if k != "csv_sidecar"}
    else:
        base = dict(meta)
    base.update(
        placement=rec.placement,
        placement_side=rec.placement_side,
        sample_rate_hz=float(rec.sampling_rate_hz),
        has_gyro=rec.has_gyro,
    )
    return base


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (never overwrite) and write ``text``; remove the partial file on failure."""
    try:
        f = open(path, "x", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed below
    except FileExistsError:
        check_new_file(path)
        raise
    except OSError as exc:
        raise LogWriteError(f"{path}: cannot create: {exc.strerror or exc}; fix: check the folder") from None
    try:
        with f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise LogWriteError(f"{path}: write failed: {exc.strerror or exc}; nothing was kept") from None


def write_csv(rec: Recording, path: str | os.PathLike[str], *, sidecar: bool = True) -> None:
    """Write a recording as CSV (``t,ax,ay,az,gx,gy,gz``) and, by default, its JSON sidecar.

    Floats are written with their shortest round-trip repr, so ``read_csv`` gives back the very
    same values.  Neither file may exist yet.

    Parameters
    ----------
    rec : Recording
        The recording.
    path : str or os.PathLike
        The ``.csv`` file to create.
    sidecar : bool
        Also write ``sidecar_for_recording(rec)`` to the ``.json`` beside it.

    Raises
    ------
    LogExistsError
        When the CSV or the sidecar exists already (nothing is written).
    LogWriteError
        When the disk refuses.
    ValueError
        When the recording is inconsistent (see ``check_recording``) or has no samples.
    """
    p = Path(path)
    check_recording(rec)
    if rec.n_samples == 0:
        raise ValueError(f"{p}: the recording has no samples; a CSV needs at least one data row")
    sc_path = sidecar_path(p)
    check_new_file(p)
    if sidecar:
        if sc_path == p:
            raise LogWriteError(f"{p}: a CSV recording needs a .csv name; fix: rename the output")
        check_new_file(sc_path)
        sc_text = json.dumps(sidecar_for_recording(rec), indent=1, ensure_ascii=False) + "\n"
    _write_new(p, format_csv(rec))
    if sidecar:
        try:
            _write_new(sc_path, sc_text)
        except LogWriteError:
            p.unlink(missing_ok=True)
            raise
