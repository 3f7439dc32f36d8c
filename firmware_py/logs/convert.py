"""Convert a recording between the CSV (+ JSON sidecar) and ``.cclog`` formats.

Sample values are carried over bit for bit both ways: a ``.cclog`` is written with encoding ``f8``
and a CSV with shortest round-trip float formatting, so CSV -> ``.cclog`` -> CSV gives the very same
floats.  Metadata travel too: a CSV sidecar goes into the ``.cclog`` header (``placement``,
``placement_side``, ``sampling_rate_hz`` and ``has_gyro`` as fields, the whole sidecar under
``csv_sidecar``); a CSV written from a ``.cclog`` gets a sidecar with those four fields, the
original CSV sidecar if the header kept one, and the ``.cclog`` header under ``cclog_header``.

Command line::

    python -m firmware_py.logs.convert IN OUT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from firmware_py.exc import CadenceError, LogWriteError
from firmware_py.logs import log_format, read_log, write_log
from firmware_py.logs.csvlog import check_new_file, sidecar_path
from firmware_py.logs.recording import Recording

__all__ = ["convert", "main"]


def convert(in_path: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> Recording:
    """Convert a recording; each side's format comes from its extension.

    Parameters
    ----------
    in_path : str or os.PathLike
        The ``.csv`` or ``.cclog`` to read.
    out_path : str or os.PathLike
        The ``.csv`` or ``.cclog`` to create (for a CSV, its ``.json`` sidecar is created too).

    Returns
    -------
    Recording
        The recording as read from ``in_path``.

    Raises
    ------
    LogFormatError
        For an unknown extension or an unreadable input.
    LogExistsError
        When the output (or its sidecar) exists: nothing is read or written.
    LogWriteError
        When the output is the input, or the disk refuses.

    Warns
    -----
    DataGapWarning, BadSampleWarning, LogTruncatedWarning, LogCorruptWarning
        From reading the input.
    """
    log_format(in_path)
    out_fmt = log_format(out_path)
    src, dst = Path(in_path), Path(out_path)
    if src.resolve() == dst.resolve():
        raise LogWriteError(
            f"{out_path}: output and input are the same file; fix: choose another output name"
        )
    check_new_file(dst)
    if out_fmt == "csv":
        check_new_file(sidecar_path(dst))
    rec = read_log(in_path)
    write_log(rec, out_path)
    return rec


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m firmware_py.logs.convert IN OUT``.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on a usage error, 1 when the conversion failed.
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0].startswith("-"):
        print("usage: python -m firmware_py.logs.convert IN.{csv,cclog} OUT.{csv,cclog}", file=sys.stderr)
        return 2
    try:
        rec = convert(args[0], args[1])
    except (CadenceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args[1]}: {rec.n_samples} samples, {rec.duration_s:.1f} s, gyro: {rec.has_gyro}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
