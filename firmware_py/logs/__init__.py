"""Recorded IMU logs: the common CSV (+ JSON sidecar) and the device's native ``.cclog``.

Use ``read_log`` / ``write_log``: they pick the format from the extension (``.csv`` or ``.cclog``,
case-insensitive).  ``is_recording_file`` tells recordings from other files in a folder.
``firmware_py.logs.convert.convert`` converts between the two formats.
"""

from __future__ import annotations

import os
from pathlib import Path

from firmware_py.exc import LogFormatError, LogNotFoundError
from firmware_py.logs.cclog import (
    MAGIC,
    CclogBlock,
    CclogWriter,
    iter_cclog_blocks,
    read_cclog,
    read_cclog_header,
    write_cclog,
)
from firmware_py.logs.csvlog import read_csv, sidecar_path, write_csv
from firmware_py.logs.recording import Recording, normalise_placement

__all__ = [
    "LOG_EXTENSIONS",
    "CclogBlock",
    "CclogWriter",
    "Recording",
    "is_recording_file",
    "iter_cclog_blocks",
    "log_format",
    "normalise_placement",
    "read_cclog",
    "read_cclog_header",
    "read_csv",
    "read_log",
    "sidecar_path",
    "write_cclog",
    "write_csv",
    "write_log",
]

#: Recording file extensions, lower case, mapped to the format name.
LOG_EXTENSIONS: dict[str, str] = {".csv": "csv", ".cclog": "cclog"}


def log_format(path: str | os.PathLike[str]) -> str:
    """Return the log format of a path from its extension.

    Parameters
    ----------
    path : str or os.PathLike
        A file name.

    Returns
    -------
    str
        ``csv`` or ``cclog``.

    Raises
    ------
    LogFormatError
        For any other extension; the message names it and the two allowed ones.
    """
    suffix = Path(path).suffix
    fmt = LOG_EXTENSIONS.get(suffix.lower())
    if fmt is None:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise LogFormatError(f"{path}: {what} is not a log format; allowed: .csv, .cclog")
    return fmt


def read_log(path: str | os.PathLike[str]) -> Recording:
    """Read a recording, choosing the reader from the extension.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` (its ``.json`` sidecar is read when present) or ``.cclog`` file.

    Returns
    -------
    Recording
        The recording in SI units.

    Raises
    ------
    LogNotFoundError
        When the file does not exist (also a ``LogFormatError`` and a ``FileNotFoundError``).
    LogFormatError
        For an unknown extension or a file that cannot be read as it stands.

    Warns
    -----
    DataGapWarning, BadSampleWarning, LogTruncatedWarning, LogCorruptWarning
        See ``read_csv`` and ``read_cclog``.
    """
    fmt = log_format(path)
    if not os.path.lexists(path):
        raise LogNotFoundError(f"{path}: no such file")
    if fmt == "csv":
        return read_csv(path)
    return read_cclog(path)


def write_log(recording: Recording, path: str | os.PathLike[str]) -> None:
    """Write a recording, choosing the writer from the extension; never overwrites.

    A ``.csv`` is written with its JSON sidecar; a ``.cclog`` with encoding ``f8`` (lossless).

    Parameters
    ----------
    recording : Recording
        The recording.
    path : str or os.PathLike
        The ``.csv`` or ``.cclog`` file to create.

    Raises
    ------
    LogFormatError
        For an unknown extension.
    LogExistsError
        When the file (or the CSV's sidecar) exists.
    LogWriteError
        When the disk refuses.
    ValueError
        When the recording is inconsistent.
    """
    if log_format(path) == "csv":
        write_csv(recording, path)
    else:
        write_cclog(recording, path)


def is_recording_file(path: str | os.PathLike[str]) -> bool:
    """Tell whether a file is a recording (used by folder replay to skip other files).

    Parameters
    ----------
    path : str or os.PathLike
        Any path.

    Returns
    -------
    bool
        True for a ``.csv`` whose header line has the columns ``t``, ``ax``, ``ay`` and ``az`` (so not
        the datasets' ``index.csv``), and for a ``.cclog`` that starts with the ``.cclog`` magic.
        False for anything else, including missing and unreadable files.
    """
    p = Path(path)
    fmt = LOG_EXTENSIONS.get(p.suffix.lower())
    if fmt is None:
        return False
    try:
        if not p.is_file():
            return False
        with open(p, "rb") as f:
            head = f.read(len(MAGIC) if fmt == "cclog" else 65536)
    except OSError:
        return False
    if fmt == "cclog":
        return head == MAGIC
    line = head.split(b"\n", 1)[0]
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    names = {c.strip().strip("\"'").strip().lower() for c in text.rstrip("\r").split(",")}
    return {"t", "ax", "ay", "az"} <= names
