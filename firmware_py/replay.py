"""Replay recorded IMU logs through the device pipeline and write the report.

The replay driver reads a ``.csv`` or ``.cclog`` log, feeds its samples to the same
:class:`dsp.Pipeline` that the live loop feeds, and writes the versioned JSON contract
(``cadence-coach.replay/1``), a per-step CSV and an optional plot.
"""

from __future__ import annotations

import csv
import itertools
import math
import operator
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsp import ValidationError
from dsp.coach import CueEvent
from dsp.pipeline import Pipeline, PipelineUpdate, StepEvent, StrideUpdate
from firmware_py import __version__
from firmware_py._jsontext import Raw, dumps_indent1, encode_column, objects_text, rounded_column
from firmware_py.config import Config, config_from_snapshot, load_config, make_pipeline
from firmware_py.exc import (
    ConfigError,
    ConfigWarning,
    LogFormatError,
    LogWriteError,
    SensorWarning,
    UsageError,
)
from firmware_py.logs import is_recording_file, read_log
from firmware_py.logs.csvlog import positive_rate, sidecar_path
from firmware_py.logs.recording import Recording
from firmware_py.loop import LoopSettings, rest_gravity_if_still, rest_gravity_warning

#: Name and version of the replay JSON contract. Add fields; never change their meaning.
SCHEMA = "cadence-coach.replay/1"


@dataclass
class ReplayResult:
    """Everything a replay produced for one recording.

    Attributes
    ----------
    source : str
        The log replayed (or the bus a live run read).
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    has_gyro : bool
        Whether gyroscope data were used.
    placement_side : str or None
        ``left``/``right`` when known.
    duration_s : float
        Time from the first to the last sample, s.
    placement : str
        Placement used for detection.
    steps_feet : str
        ``"one"`` (foot/shank sensor: contacts of that foot) or ``"both"``.
    events : list of StepEvent
        Every detected contact, in time order.
    repaired_samples : int
        Samples the detector repaired (NaN, inf, all-zero).
    gaps : int
        Gaps that restarted the detector (time jumps, dead stretches of 0.25 s or more).
    frozen_samples : int
        Samples of a frozen sensor (the same reading repeated on every axis for 50 ms or more).
    saturated_samples : int
        Samples with an axis at the sensor's full-scale range (when the log says the range).
    elapsed_s : float
        Wall time spent in the pipeline, s.
    recording : Recording or None
        The samples, when kept (replay keeps them for plots; a live run does not).
    cues : list of dsp.coach.CueEvent
        Every cue the coach decided on, with its reason.
    missed_strides : list of tuple of float
        ``(contact time s, stride length m)`` of the strides a foot sensor walked whose contact
        the step detector missed: counted in the distance covered, listed in no step.
    cadence_tolerance_spm : float or None
        Half-width of the coach's cadence band around its target, steps/min (None without a coach).
    stride_tolerance_pct : float or None
        Half-width of the coach's stride band, % of the stride target (None without a coach).
    rest_gravity_mps2 : float or None
        Mean |a| over the start-up window when the sensor stood still there, m/s² (the device's
        own figure from its log, else measured from the recording's first
        ``LoopSettings.bias_window_s``); None when it moved.
    """

    source: str
    sampling_rate_hz: float
    has_gyro: bool
    placement_side: str | None
    duration_s: float
    placement: str
    steps_feet: str
    events: list[StepEvent] = field(default_factory=list)
    repaired_samples: int = 0
    gaps: int = 0
    frozen_samples: int = 0
    saturated_samples: int = 0
    elapsed_s: float = 0.0
    recording: Recording | None = None
    cues: list[CueEvent] = field(default_factory=list)
    missed_strides: list[tuple[float, float]] = field(default_factory=list)
    cadence_tolerance_spm: float | None = None
    stride_tolerance_pct: float | None = None
    rest_gravity_mps2: float | None = None


def counted(n: int, noun: str) -> str:
    """Return ``"1 cue"``, ``"2 cues"``: a count and its noun, plural unless it is one.

    Parameters
    ----------
    n : int
        The count.
    noun : str
        The noun in the singular (its plural adds an ``s``).

    Returns
    -------
    str
        The count and the noun.
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def native_header(rec: Recording) -> dict[str, Any]:
    """Return the header of the device's native log that ``rec`` comes from.

    That is the ``.cclog`` header itself, or, for a CSV converted from a ``.cclog``, the header its
    sidecar keeps under ``cclog_header``: the gyroscope bias, the barometer readings and the
    sensor ranges then replay as they did from the log.
    """
    meta = rec.meta if isinstance(rec.meta, dict) else {}
    if "events" not in meta and isinstance(meta.get("cclog_header"), dict):
        return meta["cclog_header"]
    return meta


def recorded_config(rec: Recording) -> Config | None:
    """Return the configuration the device ran with, from its native log's header (None without one).

    A snapshot this version cannot read (a key since removed, a value out of today's range) is
    not fatal: a :class:`~firmware_py.exc.ConfigWarning` names it and the defaults are used.
    """
    snapshot = native_header(rec).get("config")
    if not isinstance(snapshot, dict) or not snapshot:
        return None
    try:
        return config_from_snapshot(snapshot, str(rec.path))
    except ConfigError as e:
        warnings.warn(f"{e}; replaying with the built-in defaults instead", ConfigWarning, stacklevel=2)
        return None


def _recorded_events(rec: Recording, kind: str) -> list[tuple[float, dict[str, Any]]]:
    """Return the events of one ``kind`` a native log stored, ``(t_s, event)`` in file order."""
    out = []
    for item in native_header(rec).get("events") or []:
        ev = item.get("event") if isinstance(item, dict) else None
        if isinstance(ev, dict) and ev.get("kind") == kind:
            out.append((float(item["t_s"]), ev))
    return out


def recorded_pressure(rec: Recording) -> list[tuple[float, float]]:
    """Return the barometer readings a native log stored, ``(t_s, pressure_pa)`` in time order."""
    return sorted((t, float(ev["pressure_pa"])) for t, ev in _recorded_events(rec, "pressure"))


def recorded_terrain_modes(rec: Recording) -> list[tuple[float, str]]:
    """Return the terrain modes the runner set with the mode button, ``(t_s, mode)`` in time order.

    The device logs a ``terrain_mode`` event at the last sample of the block after which it applied
    the press; a replay applies it after the same sample.
    """
    modes = [
        (t, ev["mode"]) for t, ev in _recorded_events(rec, "terrain_mode") if isinstance(ev.get("mode"), str)
    ]
    return sorted(modes, key=lambda x: x[0])


def recorded_gyro_bias(rec: Recording) -> np.ndarray | None:
    """Return the gyroscope bias the device removed live (a ``gyro_bias`` event in a native log), rad/s."""
    for _, ev in _recorded_events(rec, "gyro_bias"):
        return np.asarray(ev["gyro_bias_rads"], dtype=np.float64)
    return None


def recorded_gyro_dropped(rec: Recording) -> bool:
    """Tell whether the device ran without its gyroscope (a ``gyro_dropped`` event in a native log).

    The device decides it at start-up, when the gyroscope's counts never moved (``gyro_constant``);
    its raw counts stay in the log. A log written before that decision existed has no such event
    (even with a ``gyro_constant`` one): the device fed the gyroscope on, and so does the replay.
    """
    return bool(_recorded_events(rec, "gyro_dropped"))


def rest_gravity_mps2(rec: Recording) -> float | None:
    """Return |a| at rest over the start-up window, m/s² (None when the sensor moved there).

    A device log holds the figure the device measured (its ``gyro_bias`` event); any other
    recording is measured as the device does it, over its first ``LoopSettings.bias_window_s``.
    """
    for _, ev in _recorded_events(rec, "gyro_bias"):
        if "rest_gravity_mps2" in ev:
            g = ev["rest_gravity_mps2"]
            return float(g) if isinstance(g, (int, float)) else None
    settings = LoopSettings()
    if rec.t_s.shape[0] == 0:
        return None
    first = rec.t_s < rec.t_s[0] + settings.bias_window_s
    n = int(np.argmin(first)) if not first.all() else first.shape[0]
    if first[n:].any():  # times that do not increase: the window is not a prefix
        acc = rec.acc_mps2[first]
        gyro = rec.gyro_rads[first] if rec.gyro_rads is not None else np.zeros_like(acc)
    else:  # the usual recording: the window is its first n samples (the same array, no mask)
        acc = np.ascontiguousarray(rec.acc_mps2[:n])
        gyro = np.ascontiguousarray(rec.gyro_rads[:n]) if rec.gyro_rads is not None else np.zeros_like(acc)
    with np.errstate(invalid="ignore"):
        g = rest_gravity_if_still(acc, gyro, settings)
    return g if g is not None and math.isfinite(g) else None


def join_strides(events: list[StepEvent], strides: list[StrideUpdate]) -> list[StepEvent]:
    """Attach stride results (which may arrive blocks after their contact) to the contacts.

    Parameters
    ----------
    events : list of StepEvent
        Contacts in time order.
    strides : list of StrideUpdate
        Stride rows; each names its contact by time.

    Returns
    -------
    list of StepEvent
        The contacts with ``stride_length_m``, ``step_length_m``, ``speed_mps`` and
        ``height_change_m`` filled where known.
    """
    by_t = {s.t_contact_s: s for s in strides}
    get = by_t.get
    out = []
    for ev in events:
        st = get(ev.t_s)
        out.append(ev.with_stride(st) if st is not None and ev.stride_length_m is None else ev)
    return out


def subject_height_m(rec: Recording) -> float | None:
    """Return the subject's height from a recording's sidecar, when it gives one, m.

    A ``.cclog`` converted from a CSV keeps the sidecar under ``csv_sidecar``: its subject
    counts too, so that the converted log replays like the CSV.
    """
    meta = rec.meta if isinstance(rec.meta, dict) else {}
    subject = meta.get("subject")
    if subject is None and isinstance(meta.get("csv_sidecar"), dict):
        subject = meta["csv_sidecar"].get("subject")
    h = subject.get("height_m") if isinstance(subject, dict) else None
    try:
        h = float(h)
    except (TypeError, ValueError):
        return None
    return h if 1.0 <= h <= 2.5 else None


def rate_error(rec: Recording, exc: Exception) -> LogFormatError:
    """Name the recording in a rejected-rate error of the pipeline, with a hint for milliseconds.

    Parameters
    ----------
    rec : Recording
        The recording whose rate (``sampling_rate_hz``) the pipeline refused.
    exc : Exception
        The pipeline's error (it names the rate and the allowed range).

    Returns
    -------
    LogFormatError
        One line: the file, the pipeline's message, and, when the timestamps look like
        milliseconds (a rate that would be allowed if they were seconds), that fix.
    """
    rate = rec.sampling_rate_hz
    hint = ""
    if 0 < rate < 1.0 and 40.0 <= rate * 1000.0 <= 1000.0:
        hint = (
            f" (its timestamps step by a median {1.0 / rate:g} s: if t is in milliseconds, "
            "divide it by 1000; t must be in seconds)"
        )
    return LogFormatError(f"{rec.path}: {exc}{hint}")


def replay_recording(
    rec: Recording, *, placement: str | None = None, config: Config | None = None
) -> ReplayResult:
    """Run one recording through the pipeline.

    Parameters
    ----------
    rec : Recording
        The samples (from :func:`firmware_py.logs.read_log`).
    placement : str, optional
        Overrides the placement stored with the recording.
    config : Config, optional
        Coach profile, runner and stride calibration. Without it, a device log is coached with
        the configuration its header recorded (so the replay gives the cues the device gave), and
        any other recording with the built-in defaults.

    Returns
    -------
    ReplayResult
        The detected events, cues and counters.

    Raises
    ------
    UsageError
        When neither the recording nor the caller says where the sensor was worn.
    """
    where = placement or rec.placement
    if where is None:
        raise UsageError(
            f"{rec.path}: placement unknown (no sidecar or header says it); "
            "pass --placement lower_back|foot|shank"
        )
    t0 = time.perf_counter()
    cfg = config or recorded_config(rec) or load_config()
    dropped = rec.has_gyro and recorded_gyro_dropped(rec)
    if dropped:
        warnings.warn(
            f"{rec.path}: the device found its gyroscope dead at start-up (gyro_constant) and ran "
            "without it; replayed without it too (its counts are still in the log)",
            SensorWarning,
            stacklevel=2,
        )
    try:
        pipe = make_pipeline(
            cfg,
            sampling_rate_hz=rec.sampling_rate_hz,
            placement=where,
            has_gyro=rec.has_gyro and not dropped,
            placement_side=rec.placement_side,
            runner_height_m=subject_height_m(rec),
            accel_range_g=positive_rate(native_header(rec).get("accel_range_g")),
            gyro_range_dps=positive_rate(native_header(rec).get("gyro_range_dps")),
        )
    except ValidationError as exc:  # the recording's own values (its rate): name the file
        raise rate_error(rec, exc) from exc
    gyro = rec.gyro_rads if not dropped else None
    bias = recorded_gyro_bias(rec)
    if gyro is not None and bias is not None:
        gyro = gyro - bias  # exactly what the live loop fed the pipeline
    for t_p, p_pa in recorded_pressure(rec):
        pipe.add_pressure(t_p, p_pa)
    updates = []
    done = 0
    for t_mode, mode in recorded_terrain_modes(rec):  # the mode button, where the device applied it
        upto = int(np.searchsorted(rec.t_s, t_mode, side="right"))
        if upto > done:
            g = gyro[done:upto] if gyro is not None else None
            updates.append(pipe.process(rec.t_s[done:upto], rec.acc_mps2[done:upto], g))
            done = upto
        try:
            pipe.set_terrain_mode(mode)
        except ValueError as exc:
            raise LogFormatError(
                f"{rec.path}: terrain_mode event at t={t_mode} s holds {mode!r}: {exc}; fix: delete the "
                "event or replay with a version that knows the mode"
            ) from exc
    if done == 0:
        updates.append(pipe.process(rec.t_s, rec.acc_mps2, gyro))
    elif done < rec.t_s.shape[0]:
        g = gyro[done:] if gyro is not None else None
        updates.append(pipe.process(rec.t_s[done:], rec.acc_mps2[done:], g))
    updates.append(pipe.finish())
    rest_g = rest_gravity_mps2(rec)
    said = rest_gravity_warning(rest_g)
    if said is not None:
        warnings.warn(f"{rec.path}: {said}", SensorWarning, stacklevel=2)
    return result_from_pipeline(
        pipe,
        updates,
        source=rec.path,
        sampling_rate_hz=rec.sampling_rate_hz,
        placement_side=rec.placement_side,
        duration_s=rec.duration_s,
        extra_gaps=len(rec.gaps),
        recording=rec,
        elapsed_s=time.perf_counter() - t0,
        rest_gravity_mps2=rest_g,
    )


def result_from_pipeline(
    pipe: Pipeline,
    updates: list[PipelineUpdate],
    *,
    source: str,
    sampling_rate_hz: float,
    placement_side: str | None,
    duration_s: float,
    extra_gaps: int = 0,
    recording: Recording | None = None,
    elapsed_s: float = 0.0,
    rest_gravity_mps2: float | None = None,
) -> ReplayResult:
    """Gather a pipeline's updates into a :class:`ReplayResult` (replay and live runs alike)."""
    events = [e for u in updates for e in u.steps]
    strides = [s for u in updates for s in u.strides]
    flags = pipe.steps.flags
    coach = getattr(pipe, "coach", None)
    return ReplayResult(
        source=source,
        sampling_rate_hz=sampling_rate_hz,
        has_gyro=pipe.steps.has_gyro,
        placement_side=placement_side,
        duration_s=duration_s,
        recording=recording,
        placement=pipe.placement,
        steps_feet=pipe.steps_feet,
        events=join_strides(events, strides),
        cues=[c for u in updates for c in u.cues],
        missed_strides=[(s.t_contact_s, s.stride_length_m) for u in updates for s in u.missed_strides],
        repaired_samples=flags.repaired_samples,
        gaps=flags.gaps + extra_gaps,
        frozen_samples=flags.frozen_samples,
        saturated_samples=flags.saturated_samples,
        elapsed_s=elapsed_s,
        cadence_tolerance_spm=None if coach is None else coach.settings.cadence_tolerance_spm,
        stride_tolerance_pct=None if coach is None else coach.settings.stride_tolerance_pct,
        rest_gravity_mps2=rest_gravity_mps2,
    )


def _finite_or_none(x: float | None, ndigits: int = 4) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), ndigits)


_T_S = operator.attrgetter("t_s")
_CADENCE = operator.attrgetter("cadence_spm")
_GAIT = operator.attrgetter("gait")
_GRADE = operator.attrgetter("grade")
_TERRAIN = operator.attrgetter("terrain")
_ON_TARGET = operator.attrgetter("on_target")
_EMITTED_AT = operator.attrgetter("emitted_at_s")


def _running_total(values: Any) -> float:
    """Return ``0.0 + v0 + v1 + ...`` added left to right (a loop's ``total += v``)."""
    *_, last = itertools.accumulate(values, initial=0.0)
    return last


def summarize(result: ReplayResult) -> dict[str, Any]:
    """Summary block of the replay JSON.

    Parameters
    ----------
    result : ReplayResult
        A replay.

    Returns
    -------
    dict
        Counts; cadence statistics (steps/min, both feet); time per gait, per terrain and per
        grade (``climb``, ``flat``, ``descent``, ``unknown``);
        cadence, stride and share of time on target per terrain; distance (m) and mean moving
        speed (m/s); cue counts by kind; latency; |a| at rest in the start-up window
        (``rest_gravity_mps2``, m/s², None when the sensor moved there).
    """
    ev = result.events
    # Each field read once for all events; each total is the same sequence of float additions
    # as a loop adding one interval at a time (itertools.accumulate from 0.0, in event order).
    t = np.array(list(map(_T_S, ev)))
    cad_all = list(map(_CADENCE, ev))
    cad = np.array([c for c in cad_all if c is not None], dtype=float)
    terrains = list(map(_TERRAIN, ev))
    period_limit = 2.2 if result.steps_feet == "one" else 1.1
    # the interval before each event from the second on; a pause longer than a period counts nowhere
    dt = np.diff(t)
    dts = dt.tolist()
    kept = ~(dt > period_limit)

    def column(get: Any) -> np.ndarray:  # a field of the events from the second on
        return np.array(list(map(get, ev[1:])), dtype=object)

    def total(select: np.ndarray) -> float:
        return _running_total(itertools.compress(dts, select.tolist()))

    gait_s = {"walk": 0.0, "run": 0.0}
    grade_s: dict[str, float] = {}
    per_terrain: dict[str, dict[str, Any]] = {}
    if dts:
        gaits, grades, ground = column(_GAIT), column(_GRADE), column(_TERRAIN)
        on_target = column(_ON_TARGET)
        judged = kept & (on_target != None)  # noqa: E711 - elementwise
        hit = judged & on_target.astype(bool)  # the truth of each verdict
        for name in set(gaits[kept].tolist()):
            if name not in gait_s:
                raise KeyError(name)  # as the loop's gait_s[name] += dt
            gait_s[name] = total(kept & (gaits == name))
        for name in set(grades[kept].tolist()):
            grade_s[name] = total(kept & (grades == name))
        for name in set(ground[kept].tolist()):
            here = ground == name
            per_terrain[name] = {
                "time_s": total(kept & here),
                "on_target_s": total(hit & here),
                "judged_s": total(judged & here),
            }
    terrain_summary = {}
    for name, row in sorted(per_terrain.items()):
        cads = [c for c, g in zip(cad_all, terrains, strict=True) if g == name and c is not None]
        strides = [e.stride_length_m for e in ev if e.terrain == name and e.stride_length_m is not None]
        terrain_summary[name] = {
            "time_s": round(row["time_s"], 3),
            "cadence_spm_median": _finite_or_none(float(np.median(cads))) if cads else None,
            "stride_length_m_median": _finite_or_none(float(np.median(strides))) if strides else None,
            "on_target_share": round(row["on_target_s"] / row["judged_s"], 4)
            if row["judged_s"] > 0
            else None,
        }
    distance = total_distance_m(result)
    moving = gait_s["walk"] + gait_s["run"]
    latency = np.array(list(map(_EMITTED_AT, ev))) - t if ev else np.zeros(0)
    contacts = len(ev) * (2 if result.steps_feet == "one" else 1)
    cue_counts: dict[str, int] = {}
    for c in result.cues:
        cue_counts[c.kind] = cue_counts.get(c.kind, 0) + 1
    return {
        "n_steps": len(ev),
        "n_contacts_both_feet": contacts,
        "duration_s": round(result.duration_s, 3),
        "moving_time_s": round(moving, 3),
        "time_walking_s": round(gait_s["walk"], 3),
        "time_running_s": round(gait_s["run"], 3),
        "cadence_spm_median": _finite_or_none(float(np.median(cad))) if cad.size else None,
        "cadence_spm_p10": _finite_or_none(float(np.percentile(cad, 10))) if cad.size else None,
        "cadence_spm_p90": _finite_or_none(float(np.percentile(cad, 90))) if cad.size else None,
        "distance_m": _finite_or_none(distance, 2) if distance is not None else None,
        "mean_speed_mps": _finite_or_none(distance / moving, 3) if distance and moving > 0 else None,
        "terrain": terrain_summary,
        "grade": {name: {"time_s": round(sec, 3)} for name, sec in sorted(grade_s.items())},
        "cues": dict(sorted(cue_counts.items())),
        "latency_s_max": _finite_or_none(float(latency.max())) if latency.size else None,
        "repaired_samples": result.repaired_samples,
        "frozen_samples": result.frozen_samples,
        "saturated_samples": result.saturated_samples,
        "gaps": result.gaps,
        "rest_gravity_mps2": _finite_or_none(result.rest_gravity_mps2, 3)
        if result.rest_gravity_mps2 is not None
        else None,
    }


def cumulative_distance_m(result: ReplayResult) -> list[float | None]:
    """Distance covered from the start of the recording up to each contact, m.

    Each stride is counted once: a foot sensor lists one contact per stride (its
    ``stride_length_m``), a lower-back sensor one per step (its ``step_length_m``; a bout's first
    step counts with the estimator's estimate, the bout's second step, see ``docs/stride.md``).
    A contact whose length is unknown adds nothing; ``calibrate`` sums the same steps.  The
    strides a foot sensor walked whose contact the step detector missed
    (``result.missed_strides``) count from their own contact time on.  All None when the
    placement gives no lengths.

    Parameters
    ----------
    result : ReplayResult
        A replay.

    Returns
    -------
    list of float or None
        One entry per contact of ``result.events``.
    """
    attr = "stride_length_m" if result.steps_feet == "one" else "step_length_m"
    lengths = list(map(operator.attrgetter(attr), result.events))
    if all(x is None for x in lengths):
        return [None] * len(lengths)
    if not result.missed_strides:
        # the loop below without missed strides: a running total of the known lengths from 0.0
        # (an unknown one adds 0.0, which leaves a total that starts at 0.0 as it is)
        return list(itertools.accumulate([0.0 if x is None else x for x in lengths], initial=0.0))[1:]
    missed = sorted(result.missed_strides)
    j = 0
    total = 0.0
    out: list[float | None] = []
    for e, x in zip(result.events, lengths, strict=True):
        while j < len(missed) and missed[j][0] <= e.t_s:
            total += missed[j][1]
            j += 1
        if x is not None:
            total += x
        out.append(total)
    return out


def total_distance_m(result: ReplayResult) -> float | None:
    """Distance covered over the whole recording, m (None when the placement gives no lengths)."""
    along = cumulative_distance_m(result)
    if not along or along[-1] is None:
        return None
    last_t = result.events[-1].t_s
    return along[-1] + sum(d for t, d in result.missed_strides if t > last_t)


def _steps_json(result: ReplayResult) -> list[dict[str, Any]]:
    """Build the ``steps`` array of the contract: one object per contact.

    Each number goes through :func:`_finite_or_none`, spelt out inline (a replay has thousands of
    steps and eight numbers per step: the function calls were a good part of writing the report).
    """
    fin = math.isfinite
    out = []
    for e, d in zip(result.events, cumulative_distance_m(result), strict=True):
        c = e.cadence_spm
        sl = e.stride_length_m
        st = e.step_length_m
        v = e.speed_mps
        h = e.height_change_m
        tc = e.target_cadence_spm
        ts = e.target_stride_length_m
        out.append(
            {
                "t": round(e.t_s, 6),
                "side": e.side,
                "cadence_spm": None if c is None or not fin(c) else round(float(c), 3),
                "gait": e.gait,
                "stride_length_m": None if sl is None or not fin(sl) else round(float(sl), 4),
                "step_length_m": None if st is None or not fin(st) else round(float(st), 4),
                "speed_mps": None if v is None or not fin(v) else round(float(v), 3),
                "height_change_m": None if h is None or not fin(h) else round(float(h), 4),
                "distance_m": None if d is None or not fin(d) else round(float(d), 2),
                "terrain": e.terrain,
                "grade": e.grade,
                "target_cadence_spm": None if tc is None or not fin(tc) else round(float(tc), 1),
                "target_stride_length_m": None if ts is None or not fin(ts) else round(float(ts), 3),
                "on_target": e.on_target,
                "emitted_at": round(e.emitted_at_s, 6),
            }
        )
    return out


#: The keys of a ``steps`` object, in order (:func:`_steps_json`).
_STEP_KEYS = (
    "t",
    "side",
    "cadence_spm",
    "gait",
    "stride_length_m",
    "step_length_m",
    "speed_mps",
    "height_change_m",
    "distance_m",
    "terrain",
    "grade",
    "target_cadence_spm",
    "target_stride_length_m",
    "on_target",
    "emitted_at",
)


#: The CSV's columns: the ``steps`` keys, the two times with their unit in the name.
_CSV_COLUMNS = tuple({"t": "t_s", "emitted_at": "emitted_at_s"}.get(k, k) for k in _STEP_KEYS)


_FLOAT_OR_NONE = frozenset((float, type(None)))


def _rounded_texts(values: list[Any], ndigits: int, level: int) -> list[str]:
    """Return the JSON text of ``None if x is None or not isfinite(x) else round(float(x), ndigits)``.

    For a column of floats and None (the usual one) the rounded floats' texts come from
    :func:`firmware_py._jsontext.rounded_column` and None or a non-finite value is ``null``; any
    other column is built value by value with that expression.
    """
    if not values:
        return []
    if not set(map(type, values)) <= _FLOAT_OR_NONE:
        fin = math.isfinite
        return encode_column(
            [None if x is None or not fin(x) else round(float(x), ndigits) for x in values], level
        )
    arr = np.array(values, dtype=np.float64)  # None -> NaN
    good = np.isfinite(arr)
    if good.all():
        return rounded_column(arr, ndigits)
    out = ["null"] * len(values)
    idx = np.flatnonzero(good).tolist()
    for i, text in zip(idx, rounded_column(arr[good], ndigits), strict=True):
        out[i] = text
    return out


def _times_texts(values: list[Any], level: int) -> list[str]:
    """Return the JSON text of ``round(t, 6)`` for each time (:func:`_rounded_texts` for floats)."""
    if set(map(type, values)) <= {float}:
        return rounded_column(np.array(values, dtype=np.float64), 6)
    return encode_column(list(map(round, values, itertools.repeat(6))), level)


def _steps_text(result: ReplayResult, level: int) -> str:
    """Return the JSON text of :func:`_steps_json` as :func:`dumps_indent1` writes it at ``level``.

    Built column by column (:func:`firmware_py._jsontext.objects_text`): each field of every step
    read at once, and each column's texts made in a few calls (:func:`_rounded_texts`,
    :func:`firmware_py._jsontext.encode_column`), the same text as :func:`_steps_json`'s values
    encoded one step at a time. A replay has thousands of steps: building one dict per step and
    encoding it was most of the time spent writing the report.
    """
    ev = result.events
    if not ev:
        return "[]"

    def field(name: str) -> list[Any]:
        return list(map(operator.attrgetter(name), ev))

    lv = level + 2  # the level of the values inside each step's object
    texts = [
        _times_texts(field("t_s"), lv),
        encode_column(field("side"), lv),
        _rounded_texts(field("cadence_spm"), 3, lv),
        encode_column(field("gait"), lv),
        _rounded_texts(field("stride_length_m"), 4, lv),
        _rounded_texts(field("step_length_m"), 4, lv),
        _rounded_texts(field("speed_mps"), 3, lv),
        _rounded_texts(field("height_change_m"), 4, lv),
        _rounded_texts(cumulative_distance_m(result), 2, lv),
        encode_column(field("terrain"), lv),
        encode_column(field("grade"), lv),
        _rounded_texts(field("target_cadence_spm"), 1, lv),
        _rounded_texts(field("target_stride_length_m"), 3, lv),
        encode_column(field("on_target"), lv),
        _times_texts(field("emitted_at_s"), lv),
    ]
    return objects_text(list(_STEP_KEYS), texts, level)


def _contract(result: ReplayResult, steps: Any, summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the replay contract of :func:`to_json` with ``steps`` as its ``steps`` value."""
    return {
        "schema": SCHEMA,
        "software_version": __version__,
        "source": result.source,
        "placement": result.placement,
        "placement_side": result.placement_side,
        "sample_rate_hz": round(float(result.sampling_rate_hz), 4),  # 200.0, not 199.99999999999983
        "has_gyro": result.has_gyro,
        "steps_feet": result.steps_feet,
        "steps": steps,
        "cues": [
            {"t": round(c.t_s, 6), "kind": c.kind, "level": c.level, "reason": c.reason} for c in result.cues
        ],
        "summary": summarize(result) if summary is None else summary,
    }


def json_text(result: ReplayResult, summary: dict[str, Any] | None = None) -> str:
    """Return the text :func:`write_json` writes: ``json.dumps(to_json(result), indent=1)`` and a newline.

    The same bytes, faster: :func:`firmware_py._jsontext.dumps_indent1`, with the ``steps`` array
    written column by column (:func:`_steps_text`). ``summary``: ``summarize(result)`` when the
    caller has it already.
    """
    return dumps_indent1(_contract(result, Raw(_steps_text(result, 1), 1), summary)) + "\n"


def to_json(result: ReplayResult) -> dict[str, Any]:
    """Build the replay contract ``cadence-coach.replay/1`` for one recording.

    Parameters
    ----------
    result : ReplayResult
        A replay.

    Returns
    -------
    dict
        JSON-serialisable object (described in the README).
    """
    return _contract(result, _steps_json(result))


class _WritingOutput:
    """Turn an OS error while writing one output into a one-line :class:`LogWriteError`."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = Path(path), what

    def __enter__(self) -> None:
        if self.path.is_dir():
            raise LogWriteError(
                f"{self.path}: cannot write the {self.what} there: it is a folder; fix: give a file name"
            )

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None and isinstance(exc, OSError) and not isinstance(exc, LogWriteError):
            reason = exc.strerror or str(exc)
            err = LogWriteError(
                f"{self.path}: cannot write the {self.what} ({reason}); fix: choose a file in an existing, "
                "writable folder with free space (no file may stand in the folder path)"
            )
            err.errno, err.reason = exc.errno, reason
            raise err from exc
        return False


def write_json(result: ReplayResult, path: Path, *, summary: dict[str, Any] | None = None) -> None:
    """Write the JSON contract to ``path`` (parents created).

    A regular file is replaced atomically; an existing special file (``/dev/stdout``, a pipe) is
    written to as it is, never replaced. ``summary``: ``summarize(result)``, when the caller has
    it already (it is not computed again).

    Raises
    ------
    LogWriteError
        When the file cannot be written (the message names it and the reason).
    """
    path = Path(path)
    with _WritingOutput(path, "replay JSON (--json)"):
        text = json_text(result, summary)  # = json.dumps(to_json(result), indent=1) + "\n", faster
        if path.exists() and not path.is_file():
            with path.open("w") as fh:
                fh.write(text)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def write_csv(result: ReplayResult, path: Path) -> None:
    """Write one row per step (the JSON's per-step fields, as CSV).

    Raises
    ------
    LogWriteError
        When the file cannot be written (the message names it and the reason).
    """
    path = Path(path)
    with _WritingOutput(path, "per-step CSV (--csv)"):
        _write_csv_rows(result, path)


def _write_csv_rows(result: ReplayResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(_CSV_COLUMNS)

        def num(x: float | None, fmt: str) -> str:
            return "" if x is None else format(x, fmt)

        for e, d in zip(result.events, cumulative_distance_m(result), strict=True):
            w.writerow(
                [
                    f"{e.t_s:.6f}",
                    e.side or "",
                    num(e.cadence_spm, ".3f"),
                    e.gait,
                    num(e.stride_length_m, ".4f"),
                    num(e.step_length_m, ".4f"),
                    num(e.speed_mps, ".3f"),
                    num(
                        None
                        if e.height_change_m is None or not math.isfinite(e.height_change_m)
                        else e.height_change_m,
                        ".4f",
                    ),
                    num(d, ".2f"),
                    e.terrain,
                    e.grade,
                    num(e.target_cadence_spm, ".1f"),
                    num(e.target_stride_length_m, ".3f"),
                    "" if e.on_target is None else int(e.on_target),
                    f"{e.emitted_at_s:.6f}",
                ]
            )


#: Beyond this many cues the plot stops writing each cue's kind beside it (its legend counts them).
_MAX_CUE_LABELS = 12


def write_plot(result: ReplayResult, path: Path) -> None:
    """Draw the signal with the detected steps, cadence and stride against their target bands, to a PNG.

    The bands are the coach's (target ± tolerance, as it changes with the terrain); technical
    ground is shaded; cues are marked with their kind.

    Raises
    ------
    UsageError
        When matplotlib (optional extra ``plot``) is not installed, the samples were not kept, or
        matplotlib has no format for the file's extension.
    LogWriteError
        When the file cannot be written (the message names it and the reason).
    """
    path = Path(path)
    with _WritingOutput(path, "plot (--plot)"):
        _draw_plot(result, path)


def _draw_plot(result: ReplayResult, path: Path) -> None:
    fig = plot_figure(result)
    import matplotlib.pyplot as plt

    try:
        fmt = path.suffix[1:].lower() or "png"
        if fmt not in fig.canvas.get_supported_filetypes():
            allowed = ", ".join(sorted(fig.canvas.get_supported_filetypes()))
            raise UsageError(
                f"{path}: --plot cannot draw a '.{fmt}' file; allowed extensions: {allowed} (e.g. .png)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, format=fmt)
    finally:
        plt.close(fig)


def plot_figure(result: ReplayResult):
    """Build the replay plot's matplotlib figure (three panels sharing the time axis).

    Raises
    ------
    UsageError
        When matplotlib is not installed or the samples were not kept.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise UsageError("--plot needs matplotlib: pip install 'cadence-coach[plot]'") from exc
    rec = result.recording
    if rec is None:
        raise UsageError("--plot needs the samples; a live run's plot comes from replaying its log")
    ev = result.events
    t = rec.t_s
    acc_norm = np.linalg.norm(rec.acc_mps2, axis=1)
    st = np.array([e.t_s for e in ev])

    def col(name: str) -> np.ndarray:
        return np.array([np.nan if getattr(e, name) is None else getattr(e, name) for e in ev], dtype=float)

    cad, cad_t = col("cadence_spm"), col("target_cadence_spm")
    stride, stride_t = col("stride_length_m"), col("target_stride_length_m")
    run = np.array([e.gait == "run" for e in ev], dtype=bool)
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(12, 8), sharex=True)
    for ax in (ax1, ax2, ax3):  # technical ground
        label = "technical ground" if ax is ax1 else None
        for i in range(1, len(ev)):
            if ev[i].terrain == "technical":
                ax.axvspan(st[i - 1], st[i], color="tab:brown", alpha=0.15, lw=0, label=label)
                label = None
    ax1.plot(t, acc_norm, lw=0.6, color="0.35", label="|a| (m/s²)")
    if st.size:
        ms = 5 if st.size <= _MAX_CUE_LABELS * 50 else 2  # a long run: small marks, the signal stays visible
        ax1.plot(st, np.interp(st, t, acc_norm), "v", color="tab:red", ms=ms, label="detected contact")
    ax1.set_ylabel("|a| (m/s²)")
    _legend(ax1, loc="upper right")
    feet = "one foot" if result.steps_feet == "one" else "both feet"
    cues = counted(len(result.cues), "cue")
    ax1.set_title(f"{Path(rec.path).name}: {len(ev)} steps ({result.placement}, {feet}), {cues}")
    if st.size:
        ax2.plot(st[~run], cad[~run], ".", color="tab:blue", label="walk")
        ax2.plot(st[run], cad[run], ".", color="tab:orange", label="run")
        if np.isfinite(cad_t).any():
            tol = result.cadence_tolerance_spm
            band = f" ± {tol:g} spm" if tol else ""
            ax2.plot(st, cad_t, "-", color="tab:green", lw=1.2, label=f"target{band}", drawstyle="steps-pre")
            if tol:
                ax2.fill_between(
                    st, cad_t - tol, cad_t + tol, step="pre", color="tab:green", alpha=0.15, lw=0
                )
        ax3.plot(st, stride, ".", color="tab:purple", label="stride")
        if np.isfinite(stride_t).any():
            pct = result.stride_tolerance_pct
            band = f" ± {pct:g} %" if pct else ""
            ax3.plot(
                st, stride_t, "-", color="tab:green", lw=1.2, label=f"target{band}", drawstyle="steps-pre"
            )
            if pct:
                k = pct / 100.0
                ax3.fill_between(
                    st,
                    stride_t * (1 - k),
                    stride_t * (1 + k),
                    step="pre",
                    color="tab:green",
                    alpha=0.15,
                    lw=0,
                )
        along = np.array([np.nan if d is None else d for d in cumulative_distance_m(result)], dtype=float)
        if np.isfinite(along).any():
            ax4 = ax3.twinx()
            ax4.plot(st, along, "-", color="0.45", lw=1.0)
            ax4.set_ylabel(f"distance (m): {np.nanmax(along):.0f}", color="0.45")
    # cues: a line per cue, one colour per kind; the kind is written beside each line only while
    # the labels stay readable (a long run has hundreds: the legend counts them instead)
    kinds = sorted({c.kind for c in result.cues})
    colour = {k: plt.get_cmap("tab10")((3 + i) % 10) for i, k in enumerate(kinds)}
    label_each = len(result.cues) <= _MAX_CUE_LABELS
    for c in result.cues:
        for ax in (ax2, ax3):
            ax.axvline(c.t_s, color=colour[c.kind], lw=0.8, alpha=0.7)
        if label_each:
            ax2.annotate(
                c.kind, (c.t_s, ax2.get_ylim()[1]), fontsize=7, rotation=90, va="top", color=colour[c.kind]
            )
    for k in kinds:
        n = sum(1 for c in result.cues if c.kind == k)
        ax2.plot([], [], "-", color=colour[k], lw=0.8, label=f"cue {k} ({n})")
    if not st.size:
        for ax in (ax2, ax3):
            ax.text(0.5, 0.5, "no steps detected", transform=ax.transAxes, ha="center", va="center")
    ax2.set_ylabel("cadence (steps/min)")
    _legend(ax2, loc="lower right", fontsize=8)
    ax3.set_ylabel("stride (m)")
    ax3.set_xlabel("time (s)")
    _legend(ax3, loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def _legend(ax, **kwargs) -> None:
    """Add a legend to ``ax`` when something in it is labelled (else matplotlib warns)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


# ---- files and folders ----------------------------------------------------------------------


def find_recordings(root: Path) -> list[Path]:
    """Every recording below ``root`` (sorted); non-recordings such as ``index.csv`` are skipped.

    Symbolic links to folders are followed (a subset of datasets is often a folder of links),
    each real folder once, so that a link back up the tree cannot loop.
    """
    out = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.suffix.lower() in (".csv", ".cclog") and is_recording_file(p):
                out.append(p)
    return out


def plan_outputs(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """Pair each recording with its output stem ``<dataset>/<recording>``.

    A folder given on the command line maps ``FOLDER/<dataset>/<rec>.csv`` to
    ``<dataset>/<rec>``; a file maps to ``<parent folder name>/<rec>``.
    """
    plan = []
    for inp in inputs:
        if inp.is_dir():
            for p in find_recordings(inp):
                plan.append((p, p.relative_to(inp).with_suffix("")))
        elif inp.exists():
            plan.append((inp, Path(inp.resolve().parent.name) / inp.stem))
        else:
            raise UsageError(f"{inp}: no such file or folder")
    return plan


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs_spare_inputs(src: Path, outputs: dict[str, Path | None]) -> None:
    """Refuse an output that would overwrite the recording ``src`` or its JSON sidecar.

    Parameters
    ----------
    src : Path
        The recording replayed.
    outputs : dict
        Option name (``"--json"``, ...) -> the file it would write, or None.

    Raises
    ------
    UsageError
        When an output is the recording itself or the CSV's sidecar (which holds its placement,
        rate and ground truth).
    """
    src = Path(src)
    keep = [(src, "the recording")]
    if src.suffix.lower() == ".csv" and sidecar_path(src).exists():
        keep.append((sidecar_path(src), "its sidecar (placement, rate, ground truth)"))
    for option, out in outputs.items():
        if out is None:
            continue
        for p, what in keep:
            if Path(out).resolve() == p.resolve() or _same_file(Path(out), p):
                raise UsageError(
                    f"{out}: {option} would overwrite {what} {p}; fix: write the outputs elsewhere "
                    "(another name or folder)"
                )


def _tree_outputs(stem: Path, outs: dict[str, Path | None]) -> dict[str, Path | None]:
    ext = {"json": ".json", "csv": ".csv", "plot": ".png"}
    return {f"--{k}": (None if v is None else v / stem.with_suffix(ext[k])) for k, v in outs.items()}


#: Warnings of one recording that a folder replay shows before it counts the rest.
_MAX_WARNINGS = 4


def _replay_one(
    args: tuple[Path, Path, dict[str, Path | None], str | None, Config | None],
) -> tuple[str, str | None]:
    src, stem, outs, placement, config = args
    import warnings

    from firmware_py.exc import CadenceError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = replay_recording(read_log(src), placement=placement, config=config)
        if outs["json"] is not None:
            write_json(result, outs["json"] / stem.with_suffix(".json"))
        if outs["csv"] is not None:
            write_csv(result, outs["csv"] / stem.with_suffix(".csv"))
        if outs["plot"] is not None:
            write_plot(result, outs["plot"] / stem.with_suffix(".png"))
        # the readers already summarise (three gaps, then "N more gaps"): keep a few lines, and
        # never let the rest vanish without a count
        lines = [str(w.message) for w in caught[:_MAX_WARNINGS]]
        if len(caught) > _MAX_WARNINGS:
            lines.append(
                f"{len(caught) - _MAX_WARNINGS} more warning(s); replay this recording alone to see them"
            )
        note = "\n".join(lines) or None
        return str(src), note
    except (CadenceError, ValueError) as exc:
        return str(src), f"error: {exc}"


def replay_tree(
    inputs: list[Path],
    json_out: Path | None,
    *,
    csv_out: Path | None = None,
    plot_out: Path | None = None,
    placement: str | None = None,
    jobs: int | None = None,
    progress: bool = True,
    config: Config | None = None,
) -> list[Path]:
    """Replay files and folders, mirroring their layout in the output folders.

    A recording that cannot be replayed is reported on stderr (one line) and left out; with
    ``progress``, the warnings of the others (gaps, repaired samples) are shown as well.

    Parameters
    ----------
    inputs : list of Path
        Recordings and/or folders of recordings.
    json_out, csv_out, plot_out : Path or None
        Output folders (``<out>/<dataset>/<recording>.json`` etc.); None skips that output.
    placement : str, optional
        Overrides every recording's placement.
    jobs : int, optional
        Worker processes (default: all cores).
    progress : bool
        Draw a progress bar on stderr and show the recordings' warnings (errors are always shown).
    config : Config, optional
        Coach profile, runner and stride calibration for every recording; without it, each
        device log with the configuration its header recorded, other recordings with the
        built-in defaults.

    Returns
    -------
    list of Path
        The recordings replayed without error.

    Raises
    ------
    UsageError
        When an input does not exist, or an output would overwrite a recording or its sidecar
        (e.g. ``--json`` given the input folder itself).
    """
    plan = plan_outputs(inputs)
    outs = {"json": json_out, "csv": csv_out, "plot": plot_out}
    for src, stem in plan:
        check_outputs_spare_inputs(src, _tree_outputs(stem, outs))
    if any(v is not None for v in outs.values()):
        # RUN.csv beside RUN.cclog (a log and its conversion) both map to <dataset>/RUN: the second
        # would overwrite the first's outputs without a word
        first: dict[Path, Path] = {}
        for src, stem in plan:
            other = first.setdefault(stem, src)
            if other != src:
                raise UsageError(
                    f"{other} and {src} would write the same outputs ({stem}.json, .csv, .png); fix: "
                    "rename one, or move it out (a log and its converted copy side by side?)"
                )
    work = [(src, stem, outs, placement, config) for src, stem in plan]
    jobs = jobs or os.cpu_count() or 1
    done: list[Path] = []
    errors: list[str] = []
    if jobs == 1 or len(work) <= 1:
        results = map(_replay_one, work)
        results_iter = results
    else:
        pool = ProcessPoolExecutor(max_workers=jobs)
        results_iter = pool.map(_replay_one, work, chunksize=max(1, len(work) // (8 * jobs)))
    warned: list[str] = []
    for i, (src, note) in enumerate(results_iter, 1):
        if note and note.startswith("error:"):
            msg = note[7:]
            errors.append(msg if msg.startswith(src) else f"{src}: {msg}")
        else:
            done.append(Path(src))
            for msg in (note or "").splitlines():
                warned.append(msg if src in msg else f"{src}: {msg}")
        if progress:
            width = 30
            fill = int(width * i / max(1, len(work)))
            sys.stderr.write(f"\rreplay [{'#' * fill}{'.' * (width - fill)}] {i}/{len(work)}")
            sys.stderr.flush()
    if progress and work:
        sys.stderr.write("\n")
    if jobs != 1 and len(work) > 1:
        pool.shutdown()
    for line in warned if progress else []:
        print(f"cadence-coach: warning: {line}", file=sys.stderr)
    for line in errors:
        print(f"cadence-coach: {line}", file=sys.stderr)
    return done
