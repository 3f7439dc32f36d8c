"""The 1-hour replay's bulk shortcuts must give exactly what the per-item code gives (issue 6, hour12).

``firmware_py.logs.cclog._read_intact`` (a whole intact ``.cclog`` read with a few numpy calls)
against the reader's block-by-block path; ``firmware_py.logs.csvlog.time_gaps``'s shortcut against
the median it skips; ``firmware_py._jsontext.rounded_column`` against ``repr(round(x, n))``;
``encode_column``/``objects_text``/``Raw`` against :func:`json.dumps`; the replay's column-built
``steps`` text against ``json.dumps(to_json(result), indent=1)``; ``rest_gravity_mps2``'s
prefix slice against the mask.
"""

from __future__ import annotations

import json
import math
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_py._jsontext import Raw, _float, dumps_indent1, encode_column, objects_text, rounded_column
from firmware_py.logs import cclog
from firmware_py.logs.csvlog import GAP_FACTOR

# -- the .cclog reader: bulk read of an intact file == block-by-block read ---------------------------


def _prelude(header: dict) -> bytes:
    head = json.dumps(header).encode()
    pre = cclog._PRELUDE.pack(cclog.MAGIC, cclog.FORMAT_VERSION, 0, len(head)) + head
    return pre + cclog._U32.pack(zlib.crc32(pre[8:]))


@st.composite
def cclog_files(draw):
    """Bytes of a .cclog: random blocks (samples of any size, gaps, events, unknown types), times
    mostly increasing, sometimes not (or NaN), and sometimes a damaged byte or a cut tail."""
    encoding = draw(st.sampled_from(["f8", "i2"]))
    has_gyro = draw(st.booleans())
    header = {
        "format_version": 1,
        "encoding": encoding,
        "has_gyro": has_gyro,
        "sampling_rate_hz": 100.0,
        "placement": "foot",
    }
    if encoding == "i2":
        header["acc_lsb_mps2"] = 0.0023
        header["gyro_lsb_rads"] = 0.00013
    dtype = cclog.record_dtype(encoding, has_gyro)
    nv = 6 if has_gyro else 3
    out = bytearray(_prelude(header))
    t = 0.0
    steady = draw(st.integers(1, 40))  # most blocks alike, as a device writes them
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["samples"] * 5 + ["gap", "event", "unknown"]))
        if kind == "samples":
            n = steady if draw(st.booleans()) else draw(st.integers(0, 50))
            dt = draw(st.sampled_from([0.01, 0.01, 0.01, 0.0, -0.01, math.nan, 0.5]))
            rec = np.zeros(n, dtype=dtype)
            ts = t + 0.01 * (1 + np.arange(n))
            if n and dt != 0.01 and draw(st.booleans()):
                ts[draw(st.integers(0, n - 1))] += dt  # a time that may not increase
            rec["t"] = ts
            if encoding == "i2":
                rec["v"] = draw(st.integers(-32768, 32767)) + np.arange(n * nv).reshape(n, nv) % 7
            else:
                v = np.arange(n * nv, dtype=float).reshape(n, nv) * 0.37
                if n and draw(st.integers(0, 5)) == 0:
                    v[draw(st.integers(0, n - 1)), 0] = draw(st.sampled_from([math.nan, math.inf]))
                rec["v"] = v
            if n:
                t = float(np.nanmax(ts)) if np.isfinite(ts).any() else t
            out += cclog._block_bytes(cclog.BLOCK_SAMPLES, rec.tobytes(), n)
        elif kind == "gap":
            a, b = t, t + draw(st.sampled_from([0.5, 2.0, -1.0]))
            out += cclog._block_bytes(cclog.BLOCK_GAP, cclog._GAP.pack(a, b) + b"fifo_overflow")
            t = max(t, b)
        elif kind == "event":
            out += cclog._block_bytes(cclog.BLOCK_EVENT, cclog._F64.pack(t) + b'{"type": "cue"}')
        else:
            out += cclog._block_bytes(9, b"future")
    damage = draw(st.sampled_from(["none", "none", "none", "flip", "cut"]))
    start = len(_prelude(header))
    if damage == "flip" and len(out) > start:
        i = draw(st.integers(start, len(out) - 1))
        out[i] ^= 0x5A
    elif damage == "cut" and len(out) > start:
        del out[draw(st.integers(start, len(out) - 1)) :]
    return bytes(out)


def _read(path, monkeypatch, bulk: bool):
    with monkeypatch.context() as m:
        if not bulk:
            m.setattr(cclog, "_read_intact", lambda *a: None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rec = cclog.read_cclog(path)
            except Exception as exc:  # the same error both ways
                return ("error", type(exc).__name__, str(exc)), []
    return rec, [(type(w.message).__name__, str(w.message)) for w in caught]


def _same_array(a, b):
    if a is None or b is None:
        return a is None and b is None
    return (
        a.dtype == b.dtype
        and a.shape == b.shape
        and a.flags.c_contiguous == b.flags.c_contiguous
        and a.tobytes() == b.tobytes()
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=cclog_files())
def test_cclog_bulk_read_is_the_block_by_block_read(data, tmp_path, monkeypatch):
    path = tmp_path / "x.cclog"
    path.write_bytes(data)
    got, got_w = _read(path, monkeypatch, bulk=True)
    want, want_w = _read(path, monkeypatch, bulk=False)
    assert got_w == want_w
    if isinstance(want, tuple):
        assert got == want
        return
    for name in ("t_s", "acc_mps2", "gyro_rads"):
        assert _same_array(getattr(got, name), getattr(want, name)), name
    assert got.meta == want.meta
    assert got.gaps == want.gaps
    assert (got.path, got.sampling_rate_hz, got.placement, got.placement_side) == (
        want.path,
        want.sampling_rate_hz,
        want.placement,
        want.placement_side,
    )


def test_the_bulk_read_takes_intact_files_and_leaves_the_rest(tmp_path):
    """It reads a written log (several runs of blocks, a gap and an event); a damaged one goes back."""
    rec_t = np.arange(1000) / 100.0
    path = tmp_path / "a.cclog"
    with cclog.CclogWriter(path, {"sampling_rate_hz": 100.0, "has_gyro": False}, block_s=0.3) as w:
        w.append(rec_t[:500], np.ones((500, 3)))
        w.append_gap(4.995, 5.0, "test")
        w.append_event(5.0, {"type": "note"})
        w.append(rec_t[500:] + 0.01, np.ones((500, 3)))
    buf = path.read_bytes()
    header, start = cclog._parse_header(buf, "a")
    got = cclog._read_intact(buf, start, header)
    assert got is not None
    assert got[0].shape == (1000,)
    assert [b.kind for b in got[3]] == ["gap", "event"]
    bad = bytearray(buf)
    bad[-5] ^= 1
    assert cclog._read_intact(bytes(bad), start, header) is None


# -- time_gaps: the shortcut when no step can be a gap ----------------------------------------------


def _time_gaps_with_median(t_s, factor=GAP_FACTOR):
    if t_s.shape[0] < 3:
        return np.zeros(0, dtype=np.intp)
    with np.errstate(all="ignore"):
        dt = np.diff(t_s)
        return np.flatnonzero(dt > factor * float(np.median(dt)))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e3, 1e3),
            st.sampled_from([0.01, 0.01, 0.0, -0.0, math.nan, math.inf, -math.inf, 5.0]),
        ),
        max_size=40,
    ),
    st.sampled_from([GAP_FACTOR, 0.5, 1.0, 0.0, -2.0]),
)
def test_time_gaps_is_the_median_test(steps, factor):
    from firmware_py.logs.csvlog import time_gaps

    with np.errstate(all="ignore"):
        t = np.cumsum(np.array(steps, dtype=float)) if steps else np.zeros(0)
    assert np.array_equal(time_gaps(t, factor), _time_gaps_with_median(t, factor))


# -- the JSON text built by columns ------------------------------------------------------------------

floats_any = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6),
    st.floats(-1e-3, 1e-3),
    st.sampled_from([0.0, -0.0, 0.5, 2.5, 1e-4, -1e-4, 5e-5, 0.00015, 99.99995, 1e9, 1e15, 1e16]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(floats_any, max_size=30), st.integers(-2, 16))
def test_rounded_column_is_repr_of_round(values, ndigits):
    want = [_float(round(v, ndigits)) for v in values]
    assert rounded_column(np.array(values, dtype=float), ndigits) == want
    assert want == [json.dumps(round(v, ndigits)) for v in values]


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
values = st.one_of(
    scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(max_size=5), min_size=1, max_size=5, unique=True),
    st.integers(0, 6),
    st.data(),
    st.integers(0, 3),
)
def test_objects_text_is_json_dumps_of_the_objects(keys, n, data, depth):
    rows = [{k: data.draw(values) for k in keys} for _ in range(n)]
    level = depth + 1  # the array sits under `depth` lists inside a top-level object
    cols = [encode_column([r[k] for r in rows], level + 2) for k in keys]
    raw = Raw(objects_text(keys, cols, level), level)
    doc: object = raw
    plain: object = rows
    for _ in range(depth):
        doc, plain = [doc, 1], [plain, 1]
    assert dumps_indent1({"a": doc, "b": [2.5]}) == json.dumps({"a": plain, "b": [2.5]}, indent=1)


def test_raw_at_the_wrong_level_and_bad_columns_are_refused():
    with pytest.raises(ValueError, match="level"):
        dumps_indent1([Raw("[]", 0)])
    with pytest.raises(ValueError):
        objects_text(["a", "b"], [["1"]], 1)
    with pytest.raises(ValueError):
        objects_text(["a", "b"], [["1"], []], 1)


def test_encode_column_takes_scalar_subclasses_value_by_value():
    vals = [np.float64(0.1), 1.5, "x\ny", None, True, [1, 2], {"k": 1.0}]
    assert encode_column(vals, 3) == [dumps_indent1(v).replace("\n", "\n   ") for v in vals]


# -- the replay's report: the steps text built by columns ---------------------------------------------


opt_float = st.one_of(st.none(), floats_any)
step_fields = st.tuples(
    st.floats(0.0, 1e5),  # t_s
    st.floats(0.0, 1e5),  # emitted_at_s
    st.sampled_from([None, "L", "R"]),
    opt_float,  # cadence
    st.sampled_from(["walk", "run"]),
    st.sampled_from(["smooth", "technical"]),
    st.sampled_from(["flat", "climb", "descent", "unknown"]),
    opt_float,  # target cadence
    opt_float,  # target stride
    st.sampled_from([None, True, False]),
)
strides = st.tuples(opt_float, opt_float, opt_float, opt_float)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(step_fields, strides), max_size=25), st.sampled_from(["one", "both"]))
def test_json_text_is_json_dumps_of_to_json(rows, steps_feet):
    from dsp.pipeline import _step_event, _stride_update
    from firmware_py.replay import ReplayResult, json_text, to_json

    events = []
    for fields, (sl, sp, v, h) in rows:
        ev = _step_event(*fields)
        events.append(ev.with_stride(_stride_update(fields[0], sl, sp, v, h, 0.0)))
    events.sort(key=lambda e: e.t_s)
    result = ReplayResult(
        source="x.csv",
        sampling_rate_hz=100.0,
        has_gyro=True,
        placement_side=None,
        duration_s=10.0,
        placement="foot",
        steps_feet=steps_feet,
        events=events,
        missed_strides=[(1.0, 1.2)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy on NaN statistics in the summary
        assert json_text(result) == json.dumps(to_json(result), indent=1) + "\n"


# -- summarize: the totals added by column ------------------------------------------------------------


def _summarize_reference(result):
    """``summarize`` as a loop over the events (before hour12), the reference."""
    from firmware_py.replay import _finite_or_none, total_distance_m

    ev = result.events
    cad = np.array([e.cadence_spm for e in ev if e.cadence_spm is not None], dtype=float)
    t = np.array([e.t_s for e in ev])
    gait_s = {"walk": 0.0, "run": 0.0}
    grade_s: dict = {}
    per_terrain: dict = {}
    period_limit = 2.2 if result.steps_feet == "one" else 1.1
    for i in range(1, len(ev)):
        dt = float(t[i] - t[i - 1])
        if dt > period_limit:
            continue
        gait_s[ev[i].gait] += dt
        grade_s[ev[i].grade] = grade_s.get(ev[i].grade, 0.0) + dt
        row = per_terrain.setdefault(ev[i].terrain, {"time_s": 0.0, "on_target_s": 0.0, "judged_s": 0.0})
        row["time_s"] += dt
        if ev[i].on_target is not None:
            row["judged_s"] += dt
            row["on_target_s"] += dt if ev[i].on_target else 0.0
    terrain_summary = {}
    for name, row in sorted(per_terrain.items()):
        cads = [e.cadence_spm for e in ev if e.terrain == name and e.cadence_spm is not None]
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
    latency = np.array([e.emitted_at_s - e.t_s for e in ev])
    contacts = len(ev) * (2 if result.steps_feet == "one" else 1)
    cue_counts: dict = {}
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


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(0.0, 3.0), st.sampled_from([0.0, 0.5, 1.1, 2.2, 5.0])),
            step_fields,
            strides,
        ),
        max_size=25,
    ),
    st.sampled_from(["one", "both"]),
)
def test_summarize_is_the_loop_over_events(rows, steps_feet):
    from dsp.pipeline import _step_event, _stride_update
    from firmware_py.replay import summarize

    events, t = [], 0.0
    for dt, fields, (sl, sp, v, h) in rows:
        t += dt
        ev = _step_event(t, t + fields[1] % 1.0, *fields[2:])
        events.append(ev.with_stride(_stride_update(t, sl, sp, v, h, 0.0)))
    result = _foot_result(events, t, steps_feet)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = summarize(result), _summarize_reference(result)
    assert json.dumps(got) == json.dumps(want)
    assert list(got) == list(want)


def _foot_result(events, duration_s, steps_feet, missed_strides=()):
    """A foot replay of ``events`` at 100 Hz with a gyroscope (the summaries' input)."""
    from firmware_py.replay import ReplayResult

    return ReplayResult(
        source="x.csv",
        sampling_rate_hz=100.0,
        has_gyro=True,
        placement_side=None,
        duration_s=duration_s,
        placement="foot",
        steps_feet=steps_feet,
        events=events,
        missed_strides=list(missed_strides),
    )


def _cumulative_reference(result):
    """``cumulative_distance_m`` as it was: one loop over the events (the reference)."""
    attr = "stride_length_m" if result.steps_feet == "one" else "step_length_m"
    lengths = [getattr(e, attr) for e in result.events]
    if all(x is None for x in lengths):
        return [None] * len(lengths)
    missed = sorted(result.missed_strides)
    j = 0
    total = 0.0
    out = []
    for e, x in zip(result.events, lengths, strict=True):
        while j < len(missed) and missed[j][0] <= e.t_s:
            total += missed[j][1]
            j += 1
        if x is not None:
            total += x
        out.append(total)
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 3.0), opt_float, opt_float), max_size=25),
    st.sampled_from(["one", "both"]),
    st.lists(st.tuples(st.floats(0.0, 30.0), st.floats(0.0, 3.0)), max_size=3),
)
def test_cumulative_distance_is_the_loop(rows, steps_feet, missed):
    from dsp.pipeline import _step_event, _stride_update
    from firmware_py.replay import cumulative_distance_m

    events, t = [], 0.0
    for dt, sl, sp in rows:
        t += dt
        ev = _step_event(t, t, None, None, "run", "smooth", "flat", None, None, None)
        events.append(ev.with_stride(_stride_update(t, sl, sp, None, None, 0.0)))
    result = _foot_result(events, t, steps_feet, missed)
    assert json.dumps(cumulative_distance_m(result)) == json.dumps(_cumulative_reference(result))


# -- rest_gravity_mps2: the start-up window as a slice -------------------------------------------------


@pytest.mark.parametrize("order", ["increasing", "shuffled", "fortran"])
def test_rest_gravity_slice_is_the_mask(order):
    from firmware_py.logs.recording import Recording
    from firmware_py.loop import LoopSettings, rest_gravity_if_still
    from firmware_py.replay import rest_gravity_mps2

    rng = np.random.default_rng(3)
    t = np.arange(3000) / 100.0
    acc = np.tile([0.1, 0.2, 9.8], (3000, 1)) + rng.normal(0, 0.01, (3000, 3))
    gyro = rng.normal(0, 0.001, (3000, 3))
    if order == "shuffled":
        t[[5, 2900]] = t[[2900, 5]]
    if order == "fortran":
        acc, gyro = np.asfortranarray(acc), np.asfortranarray(gyro)
    rec = Recording(path="", t_s=t, acc_mps2=acc, gyro_rads=gyro, sampling_rate_hz=100.0)
    first = t < t[0] + LoopSettings().bias_window_s
    want = rest_gravity_if_still(acc[first], gyro[first], LoopSettings())
    assert want is not None
    assert rest_gravity_mps2(rec) == want


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(floats_any, st.sampled_from([-0.0, 1e-300, -1e-300, 5e-7, -5e-7, 1e-5])),
            st.one_of(floats_any, st.sampled_from([-0.0, 1e-300, 123456.0000005])),
            st.one_of(opt_float, st.sampled_from([-0.0, 1e-300, -1e-300, 0.0005, -0.0005])),
        ),
        max_size=12,
    ),
    st.text(max_size=6),
)
def test_json_text_is_json_dumps_for_odd_times_values_and_sources(rows, name):
    # the times through the column path too (any float: NaN, infinities, -0.0, tiny, negative),
    # a source that is not ASCII, and no steps at all
    from dsp.pipeline import _step_event, _stride_update
    from firmware_py.replay import ReplayResult, json_text, to_json

    events = []
    for t, emitted, cad in rows:
        ev = _step_event(t, emitted, "L", cad, "run", "smooth", "flat", cad, cad, None)
        events.append(ev.with_stride(_stride_update(t, cad, cad, cad, cad, 0.0)))
    result = ReplayResult(
        source=f"läufe/{name}ü—🏃.csv",
        sampling_rate_hz=100.0,
        has_gyro=False,
        placement_side=None,
        duration_s=10.0,
        placement="foot",
        steps_feet="one",
        events=events,
        missed_strides=[],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert json_text(result) == json.dumps(to_json(result), indent=1) + "\n"
