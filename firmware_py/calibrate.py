"""Calibrate the stride-length estimate on a course of known length.

``calibrate(RECORDING, distance_m, profile_path=...)`` replays a recording through the step
detector and the stride estimator, compares the distance they give with the true one, and
stores the runner's factors in the ``[stride]`` table of the profile TOML (``scale_walk``,
``scale_run``: measured / estimated, see ``config/default.toml``).  Only that table's two keys
change: every other table, key and comment of the file is kept as written.  A foot sensor needs
no calibration (strapdown navigation measures the stride); for it the ratio is only reported.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from dsp import ValidationError, detect_steps
from dsp.stride import StrideSettings, estimate_strides
from firmware_py.config import load_config, step_settings
from firmware_py.exc import ConfigError, UsageError
from firmware_py.logs import read_log
from firmware_py.logs.recording import normalise_placement

#: Allowed range of a calibration factor (``[stride]`` in ``config/default.toml``).
SCALE_RANGE = (0.5, 2.0)
#: A gait must carry at least this share of the distance to get its own factor.
OWN_FACTOR_SHARE = 0.8

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(float(value)) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    raise ValueError(f"only numbers, booleans and strings can be written, got {type(value).__name__}")


def update_table(text: str, table: str, values: dict[str, Any]) -> str:
    """Set ``values`` in the flat table ``[table]`` of a TOML text; everything else is kept verbatim.

    Keys of the table that are not in ``values`` are kept; an existing key is replaced on its
    own line (its comment lines above stay); missing keys are added at the end of the table;
    a missing table is appended at the end of the text.

    Parameters
    ----------
    text : str
        The TOML document.
    table : str
        Name of a flat table (no dots).
    values : dict
        Keys and their new values (numbers, booleans or strings).

    Returns
    -------
    str
        The new document.

    Raises
    ------
    ValueError
        When the document defines the table in a form this writer does not edit (dotted keys,
        inline table) or the result would not parse back to the same data.
    """
    lines = text.splitlines(keepends=True)
    start = None
    for i, line in enumerate(lines):
        m = _HEADER.match(line.rstrip("\r\n"))
        if m and m.group(1).strip().strip("\"'") == table:
            start = i
            break
    rendered = {k: f"{k} = {_toml_value(v)}\n" for k, v in values.items()}
    if start is None:
        before = tomllib.loads(text) if text.strip() else {}
        if table in before:
            raise ValueError(
                f"[{table}] is written as dotted keys or an inline table; rewrite it as a [{table}] section"
            )
        sep = "" if not text or text.endswith("\n") else "\n"
        blank = "\n" if text.strip() else ""
        new = text + sep + blank + f"[{table}]\n" + "".join(rendered.values())
    else:
        end = next((j for j in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[j])), len(lines))
        body = lines[start + 1 : end]
        todo = dict(rendered)
        for j, line in enumerate(body):
            key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
            if key in todo:
                body[j] = todo.pop(key)
        # new keys go after the last key line of the table (before trailing blank/comment lines)
        last = max(
            (j for j, line in enumerate(body) if line.strip() and not line.lstrip().startswith("#")),
            default=-1,
        )
        if last >= 0 and not body[last].endswith("\n"):
            body[last] += "\n"
        body[last + 1 : last + 1] = list(todo.values())
        new = "".join(lines[: start + 1] + body + lines[end:])
    parsed_old = tomllib.loads(text) if text.strip() else {}
    parsed_new = tomllib.loads(new)
    expected = dict(parsed_old)
    expected[table] = {**parsed_old.get(table, {}), **values}
    if parsed_new != expected:
        raise ValueError(f"updating [{table}] would change other parts of the file; edit it by hand")
    return new


def write_profile_table(profile_path: str | os.PathLike[str], table: str, values: dict[str, Any]) -> None:
    """Set keys of one flat table of a profile TOML atomically, keeping the rest of the file.

    Parameters
    ----------
    profile_path : str or os.PathLike
        The file (created when absent).
    table : str
        The table, e.g. ``stride``.
    values : dict
        Keys and values to set.

    Raises
    ------
    ConfigError
        When the file cannot be parsed or edited safely, or cannot be written.
    """
    path = Path(profile_path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        new = update_table(text, table, values)
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        if path.exists():
            st = path.stat()
            os.chmod(tmp, st.st_mode & 0o777)
            # keep the owner and group: /etc/cadence-coach/config.toml is root:cadence 0640, and a
            # profile left root:root (sudo calibrate) would be unreadable by the service
            with contextlib.suppress(PermissionError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot write the profile ({e.strerror or e}); fix: give --profile a .toml file in a "
            "folder you can write (sudo for /etc/cadence-coach/config.toml)"
        ) from e


def fit_scales(
    step_length_m: np.ndarray,
    is_run: np.ndarray,
    distance_m: float,
    *,
    scale_walk: float = 1.0,
    scale_run: float = 1.0,
) -> dict[str, Any]:
    """Factors that make the summed step lengths of a lower-back recording equal ``distance_m``.

    Parameters
    ----------
    step_length_m : numpy.ndarray
        Step lengths estimated with the factors ``scale_walk`` and ``scale_run``, m; NaN (unknown)
        adds nothing, as in the replay's ``distance_m`` (a bout's first step already carries the
        estimator's own estimate).
    is_run : numpy.ndarray
        True for running steps.
    distance_m : float
        True distance, m.
    scale_walk, scale_run : float
        The factors the steps were estimated with.

    Returns
    -------
    dict
        ``estimated_distance_m``, ``walk_distance_m``, ``run_distance_m``, ``ratio``, ``fitted``
        (``walk``, ``run`` or ``both``), ``scale_walk``, ``scale_run`` (rounded to 4 decimals).

    Raises
    ------
    ValueError
        When no step length is known or a factor would leave :data:`SCALE_RANGE`.
    """
    steps = np.asarray(step_length_m, dtype=float)
    run = np.asarray(is_run, dtype=bool)
    # exactly what the replay sums (firmware_py.replay.cumulative_distance_m): the known steps
    d_walk = float(np.nansum(steps[~run]))
    d_run = float(np.nansum(steps[run]))
    est = d_walk + d_run
    if est <= 0:
        raise ValueError("no step length could be estimated")
    new_walk, new_run = scale_walk, scale_run
    if d_run >= OWN_FACTOR_SHARE * est:
        fitted = "run"
        new_run = scale_run * (distance_m - d_walk) / d_run
    elif d_walk >= OWN_FACTOR_SHARE * est:
        fitted = "walk"
        new_walk = scale_walk * (distance_m - d_run) / d_walk
    else:
        fitted = "both"
        new_walk = scale_walk * distance_m / est
        new_run = scale_run * distance_m / est
    lo, hi = SCALE_RANGE
    for name, value in (("scale_walk", new_walk), ("scale_run", new_run)):
        if not (lo <= value <= hi):
            raise ValueError(
                f"{name} would be {value:.3g} (allowed {lo}-{hi}): "
                f"the estimate gives {est:.1f} m for {distance_m:g} m"
            )
    return {
        "estimated_distance_m": est,
        "walk_distance_m": d_walk,
        "run_distance_m": d_run,
        "ratio": distance_m / est,
        "fitted": fitted,
        "scale_walk": round(new_walk, 4),
        "scale_run": round(new_run, 4),
    }


def calibrate(
    recording_path: str | os.PathLike[str],
    distance_m: float,
    *,
    profile_path: str | os.PathLike[str],
    placement: str | None = None,
) -> dict[str, Any]:
    """Fit the runner's stride factors so that a recording gives its known distance.

    Parameters
    ----------
    recording_path : str or os.PathLike
        A ``.csv`` or ``.cclog`` recording of a course of known length (walk or run, or both).
    distance_m : float
        Its true length, m.
    profile_path : str or os.PathLike
        Runner profile TOML, checked like ``--config`` first: the body height is read from
        ``[runner] height_m``, the current factors from ``[stride]``, and the new factors written
        back to ``[stride]`` (lower back only).
    placement : str, optional
        Overrides the placement stored with the recording.

    Returns
    -------
    dict
        ``placement``, ``distance_m``, ``estimated_distance_m`` (with the factors before),
        ``ratio`` (true / estimated), ``walk_distance_m`` and ``run_distance_m`` (estimated),
        ``fitted`` (``"walk"``, ``"run"``, ``"both"`` or ``"none"``), ``scale_walk`` and
        ``scale_run`` (after), ``runner_height_m``, ``n_contacts``, ``profile_path``, ``written``.

    Raises
    ------
    UsageError
        For a distance that is not positive, an unknown placement, a recording without
        contacts, or factors that would leave their allowed range (0.5-2.0: wrong distance,
        wrong placement, or a recording that is not the course).
    ConfigError
        When the profile cannot be read, edited or written.

    Notes
    -----
    At the lower back the estimated distance is the sum of the step lengths, the same sum as the
    replay's ``distance_m`` (a bout's first step counts with the estimator's estimate).  When
    one gait carries at least 80 % of the distance only its factor changes; otherwise both
    change by the same ratio.
    """
    d_true = float(distance_m)
    if not (d_true > 0 and math.isfinite(d_true)):
        raise UsageError(f"--distance-m {distance_m!r}: give the course length in metres (> 0)")
    rec = read_log(recording_path)
    try:
        where = normalise_placement(placement or rec.placement)
    except ValueError as e:
        raise UsageError(f"{recording_path}: {e}") from e
    if where is None:
        raise UsageError(f"{recording_path}: placement unknown; pass --placement lower_back|foot")
    if where == "shank":
        raise UsageError(
            f"{recording_path}: a shank sensor has no stride model; wear it at the lower back or on the foot"
        )
    # the profile is read as replay and run --config will read it: an unknown key or a bad value
    # is refused now, with the config's own one-line error, before anything is written to it
    cfg = load_config(profile_path if Path(profile_path).exists() else None)
    # the height replay and run will use: a sidecar's subject height before [runner] height_m
    # (replay's make_pipeline does the same); with another height the fitted scales would be off
    # by the ratio of the two leg lengths in every later replay of this runner
    from firmware_py.replay import subject_height_m

    height = subject_height_m(rec) or cfg.runner.height_m
    scale_walk = cfg.stride.scale_walk
    scale_run = cfg.stride.scale_run
    settings = StrideSettings(
        scale_walk=scale_walk, scale_run=scale_run, sensor_height_m=cfg.stride.foot_sensor_height_m
    )
    try:
        steps = detect_steps(
            rec.t_s,
            rec.acc_mps2,
            rec.gyro_rads,
            sampling_rate_hz=rec.sampling_rate_hz,
            placement=where,
            settings=step_settings(cfg),  # the gait replay and run will see: it picks the scale
        )
    except ValidationError as exc:  # the recording's rate: name the file
        from firmware_py.replay import rate_error

        raise rate_error(rec, exc) from exc
    if steps.n_steps < 4:
        raise UsageError(f"{recording_path}: only {steps.n_steps} contacts found; is it the right recording?")
    if where == "foot" and rec.gyro_rads is None:
        raise UsageError(f"{recording_path}: a foot sensor needs the gyroscope to measure strides")
    res = estimate_strides(
        rec.t_s,
        rec.acc_mps2,
        rec.gyro_rads,
        steps.t_s,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=where,
        runner_height_m=height,
        settings=settings,
        contacts_is_run=steps.is_run,
    )
    result: dict[str, Any] = {
        "placement": where,
        "distance_m": d_true,
        "runner_height_m": height,
        "n_contacts": steps.n_steps,
        "profile_path": str(profile_path),
        "written": False,
    }
    if where == "foot":
        est = float(np.nansum(res.stride_length_m))
        run = res.is_run == 1.0
        result.update(
            estimated_distance_m=est,
            walk_distance_m=float(np.nansum(res.stride_length_m[~run])),
            run_distance_m=float(np.nansum(res.stride_length_m[run])),
            ratio=d_true / est if est > 0 else math.nan,
            fitted="none",
            scale_walk=scale_walk,
            scale_run=scale_run,
        )
        return result
    try:
        fit = fit_scales(
            res.step_length_m, res.is_run == 1.0, d_true, scale_walk=scale_walk, scale_run=scale_run
        )
    except ValueError as e:
        raise UsageError(
            f"{recording_path}: {e}; check --distance-m, the placement and that the recording "
            "is the measured course"
        ) from e
    write_profile_table(
        profile_path, "stride", {"scale_walk": fit["scale_walk"], "scale_run": fit["scale_run"]}
    )
    result.update(fit, written=True)
    return result
