"""Tests of benchmarks.scoring and benchmarks.accuracy.

* Hand-made truth where the expected TP/FP/FN (and stride, distance, cadence numbers) are worked
  out by hand below.
* Agreement with the team's reference scorer ``../shared/tools/score.py`` on the REAL truth of
  ``../shared/datasets``, for prediction folders generated here from that truth (perfect,
  jittered, dropped/extra steps, one/both feet, with/without sides, null and non-null
  ``cadence_spm`` / ``stride_length_m``, missing files). Every count must agree exactly and every
  float to 1e-9. Skipped when ``../shared`` is not beside the checkout.
* The ``python -m benchmarks.accuracy`` command, with a stand-in for
  ``firmware_py.replay.replay_tree`` defined in this file.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import accuracy
from benchmarks.scoring import (
    GroupRow,
    Report,
    ScoringError,
    Stats,
    format_markdown,
    format_misses,
    format_worst_recordings,
    match_times,
    parse_prediction,
    score_folder,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
REFERENCE_PATH = SHARED / "tools" / "score.py"
DATASETS = SHARED / "datasets"
NEED_SHARED = f"needs the team's shared folder beside the checkout ({SHARED}: score.py and datasets/)"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def sidecar(
    steps_t: list[float],
    *,
    sides: list[str] | None = None,
    feet: str = "both",
    intervals: list[list[float]] | None = None,
    placement: str = "lower_back",
    placement_side: str | None = None,
    activity: str = "walk",
    **gt_extra: Any,
) -> dict[str, Any]:
    gt = {
        "steps_t": steps_t,
        "steps_side": sides or ["instrumented"] * len(steps_t),
        "steps_feet_code": feet,
        "event_definition": "initial contact",
        "gt_intervals": intervals if intervals is not None else [[0.0, max(steps_t, default=0.0) + 1.0]],
        **gt_extra,
    }
    return {
        "placement": placement,
        "placement_side": placement_side,
        "activity": activity,
        "duration_s": 60.0,
        "ground_truth": gt,
    }


def prediction(times: Iterable[float], *, feet: str | None = None, **columns: list[Any]) -> dict[str, Any]:
    times = list(times)
    steps = []
    for k, t in enumerate(times):
        step: dict[str, Any] = {
            "t": t,
            "side": None,
            "cadence_spm": None,
            "gait": "walk",
            "stride_length_m": None,
        }
        for name, values in columns.items():
            step[name] = values[k]
        steps.append(step)
    obj: dict[str, Any] = {"schema": "cadence-coach.replay/1", "steps": steps, "summary": {}}
    if feet is not None:
        obj["steps_feet"] = feet
    return obj


def score_one(tmp_path: Path, dataset: str, meta: dict[str, Any], pred: dict[str, Any] | None) -> Report:
    truth, preds = tmp_path / "truth", tmp_path / "pred"
    write_json(truth / dataset / "rec.json", meta)
    if pred is not None:
        write_json(preds / dataset / "rec.json", pred)
    return score_folder(truth, preds)


def load_reference() -> types.ModuleType | None:
    if not REFERENCE_PATH.is_file():
        return None
    name = "_reference_score"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REFERENCE_PATH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def reference() -> types.ModuleType:
    module = load_reference()
    if module is None:
        pytest.skip(f"reference scorer not found: {NEED_SHARED}")
    return module


def assert_stats_equal(ours: Stats, theirs: dict[str, Any], where: str) -> None:
    for f in fields(Stats):
        mine, ref = getattr(ours, f.name), theirs[f.name]
        if isinstance(mine, int):
            assert mine == ref, f"{where}: {f.name} ours {mine} reference {ref}"
        elif math.isnan(mine) or ref is None or math.isnan(ref):
            both_undefined = math.isnan(mine) and (ref is None or math.isnan(ref))
            assert both_undefined, f"{where}: {f.name} ours {mine} reference {ref}"
        else:
            assert math.isclose(mine, ref, rel_tol=1e-9, abs_tol=1e-9), (
                f"{where}: {f.name} {mine!r} vs {ref!r}"
            )


def assert_rows_equal(rows: list[GroupRow], theirs: list[dict[str, Any]], where: str) -> None:
    assert [tuple(r.key.values()) for r in rows] == [tuple(g["group"].values()) for g in theirs], where
    for row, ref in zip(rows, theirs, strict=True):
        assert_stats_equal(row.stats, ref, f"{where} {row.label}")


def assert_agrees_with_reference(
    ref: types.ModuleType,
    truth: Path,
    pred: Path,
    *,
    by: tuple[str, ...] = ("dataset", "placement", "activity"),
    only: dict[str, set[str]] | None = None,
    tol_scale: float = 1.0,
) -> Report:
    ours = score_folder(truth, pred, by=by, only=only, tol_scale=tol_scale)
    theirs = ref.score_dirs(str(truth), str(pred), by=list(by), only=only, tol_scale=tol_scale)
    assert_rows_equal(ours.groups, theirs["groups"], "group")
    assert_stats_equal(ours.overall, theirs["overall"], "overall")
    pooled = ref.score_dirs(str(truth), str(pred), by=["placement"], only=only, tol_scale=tol_scale)
    assert_rows_equal(ours.placements, pooled["groups"], "placement")
    assert len(ours.recording_rows) == len(theirs["recordings"])
    for row, raw, rec in zip(ours.recording_rows, ours.recordings, theirs["recordings"], strict=True):
        assert (raw.dataset, raw.recording_id) == (rec["dataset"], rec["recording_id"])
        assert_stats_equal(row.stats, rec, f"recording {row.label}")
        assert (raw.side_mode, raw.pred_feet, raw.pred_missing) == (
            rec["side_mode"],
            rec["pred_feet"],
            rec["pred_missing"],
        )
    assert ours.has_cadence == theirs["pred_has_cadence_spm"]
    assert ours.has_stride == theirs["pred_has_stride_length_m"]
    assert ours.n_missing_prediction_files == theirs["n_missing_prediction_files"]
    assert ours.n_skipped_no_step_truth == theirs["n_skipped_no_step_truth"]
    return ours


# ---------------------------------------------------------------------------------------------
# hand-made truth, expected numbers worked out by hand
# ---------------------------------------------------------------------------------------------
def test_counts_inside_intervals(tmp_path: Path) -> None:
    # events 1, 2, 3, 4 (both feet) labelled in [0.5, 4.5]; tolerance 0.1 s
    meta = sidecar([1.0, 2.0, 3.0, 4.0], sides=["L", "R", "L", "R"], intervals=[[0.5, 4.5]])
    # 1.05 -> event 1; 2.2 is 0.2 s off (FP); 3.0 -> event 3; 3.02 second candidate (FP);
    # 5.0 outside the interval (ignored); events 2 and 4 missed (FN)
    rep = score_one(tmp_path, "synth", meta, prediction([1.05, 2.2, 3.0, 3.02, 5.0]))
    s = rep.overall
    assert (s.tp, s.fp, s.fn, s.n_gt, s.n_pred) == (2, 2, 2, 4, 4)
    assert (s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5)
    assert s.dt_median_ms == pytest.approx(25.0)  # median of +50 ms and 0 ms
    assert rep.recordings[0].pred_feet == "both"  # lower back without sides: both feet


def test_misses_and_false_positives_are_listed_with_their_times(tmp_path: Path) -> None:
    # the case above: events 2 and 4 missed; 2.2 and 3.02 false; 5.0 is outside the interval
    meta = sidecar([1.0, 2.0, 3.0, 4.0], sides=["L", "R", "L", "R"], intervals=[[0.5, 4.5]])
    rep = score_one(tmp_path, "synth", meta, prediction([1.05, 2.2, 3.0, 3.02, 5.0]))
    raw = rep.recordings[0]
    assert raw.missed_t_s.tolist() == [2.0, 4.0]
    assert raw.false_t_s.tolist() == [2.2, 3.02]
    table = format_misses(rep)
    assert "| synth/rec | lower_back | 4 | 2.00, 4.00 | 2.20, 3.02 |" in table
    assert format_misses(rep, "foot").count("\n") == 1  # header only: no foot recording


def test_an_empty_other_foot_zone_is_listed_by_its_middle(tmp_path: Path) -> None:
    # one-foot events 0..3, both-feet prediction: zone (2.25, 2.75) is empty, 1.6 is a second hit
    meta = sidecar([0.0, 1.0, 2.0, 3.0], feet="one", intervals=[[0.0, 3.0]])
    pred = prediction([0.0, 0.5, 1.0, 1.5, 1.6, 2.0, 3.0], feet="both")
    raw = score_one(tmp_path, "synth", meta, pred).recordings[0]
    assert raw.missed_t_s.tolist() == [2.5]
    assert raw.false_t_s.tolist() == [1.6]
    assert (raw.fn, raw.fp) == (raw.missed_t_s.size, raw.false_t_s.size)


def test_cadence_from_times_and_field(tmp_path: Path) -> None:
    meta = sidecar([1.0, 2.0, 3.0, 4.0], sides=["L", "R", "L", "R"], intervals=[[0.5, 4.5]])
    pred = prediction([1.05, 2.2, 3.0, 3.02, 5.0], cadence_spm=[100.0, 0.0, 110.0, None, 200.0])
    rep = score_one(tmp_path, "synth", meta, pred)
    s = rep.overall
    # one window (4 s < 10 s); truth: 3 intervals of 1 s = 60 spm
    assert s.n_cadence_windows == 1
    # predicted steps in the window 1.05, 2.2, 3.0, 3.02: mean interval 1.97 / 3 s
    assert s.cadence_times_abs_err_median_spm == pytest.approx(abs(60.0 / (1.97 / 3) - 60.0))
    # field: median(100, 0, 110) = 100 (null left out; the 200 at 5.0 s is outside the window)
    assert s.cadence_field_abs_err_median_spm == pytest.approx(40.0)
    assert s.cadence_field_abs_err_p95_spm == pytest.approx(40.0)


def test_matching_maximises_pairs_then_minimises_error() -> None:
    # greedy nearest would give 1.06 to event 1.0 and leave 1.15 without a partner
    pairs = match_times(np.array([1.0, 1.15]), np.array([0.92, 1.06]), 0.1)
    assert sorted(pairs) == [(0, 0), (1, 1)]
    # among two candidates the nearer one wins; a prediction matches at most one event
    assert match_times(np.array([1.0, 2.0]), np.array([0.95, 1.04, 2.5]), 0.1) == [(0, 1)]
    assert len(match_times(np.array([1.0, 1.15]), np.array([1.08]), 0.1)) == 1
    # the tolerance bound is inclusive; unsorted predictions keep their indices
    assert match_times(np.array([1.0]), np.array([3.0, 1.1]), 0.1) == [(0, 1)]
    assert match_times(np.array([]), np.array([1.0]), 0.1) == []


def test_max_cardinality_in_a_recording(tmp_path: Path) -> None:
    meta = sidecar([1.0, 1.15], sides=["L", "R"], intervals=[[0.0, 2.0]])
    s = score_one(tmp_path, "synth", meta, prediction([0.92, 1.06])).overall
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)


def test_one_foot_truth_both_feet_prediction_scores_other_foot_zones(tmp_path: Path) -> None:
    # one-foot events 0, 1, 2, 3: three strides, other-foot zones (0.25, 0.75), (1.25, 1.75), (2.25, 2.75)
    meta = sidecar([0.0, 1.0, 2.0, 3.0], feet="one", intervals=[[0.0, 3.0]])
    pred = prediction([0.0, 0.5, 1.0, 1.5, 1.6, 2.0, 3.0], feet="both")
    rep = score_one(tmp_path, "synth", meta, pred)
    s = rep.overall
    # 4 matched events + zones 1 and 2 found (0.5, 1.5); 1.6 is a second hit in zone 2 (FP);
    # zone 3 is empty (FN)
    assert (s.tp, s.fp, s.fn, s.n_gt) == (6, 1, 1, 7)
    assert (s.n_other_foot_expected, s.n_other_foot_found) == (3, 2)
    # cadence: truth 2 x 60 spm; both-feet prediction: 6 intervals over 3 s
    assert s.cadence_times_abs_err_median_spm == pytest.approx(0.0, abs=1e-9)


def test_both_feet_truth_one_foot_prediction_scores_instrumented_foot(tmp_path: Path) -> None:
    meta = sidecar(
        [1.0, 1.5, 2.0, 2.5, 3.0],
        sides=["L", "R", "L", "R", "L"],
        intervals=[[0.5, 3.5]],
        placement="foot",
        placement_side="left",
    )
    # foot placement without sides: the instrumented (left) foot only; 2.5 is a right contact (FP)
    s = score_one(tmp_path / "a", "synth", meta, prediction([1.01, 2.5, 3.05])).overall
    assert (s.tp, s.fp, s.fn) == (2, 1, 1)
    # with L and R labels the prediction lists both feet: all five events are scored
    pred = prediction([1.01, 1.5, 2.0, 2.52, 3.0], side=["L", "R", "L", "R", "L"])
    rep = score_one(tmp_path / "b", "synth", meta, pred)
    assert (rep.overall.tp, rep.overall.fp, rep.overall.fn) == (5, 0, 0)
    assert rep.overall.side_agreement == 1.0


def test_unknown_instrumented_side_uses_the_better_foot(tmp_path: Path) -> None:
    # both-feet truth, one-foot prediction, placement_side unknown: the foot with more matches
    meta = sidecar([1.0, 1.5, 2.0, 2.5, 3.0], sides=["L", "R", "L", "R", "L"], placement="foot")
    s = score_one(tmp_path / "a", "synth", meta, prediction([1.5, 2.5])).overall
    assert (s.tp, s.fp, s.fn) == (2, 0, 0)  # the right foot
    # no match at all: a tie, the first foot (L, three events) is kept
    s = score_one(tmp_path / "b", "synth", meta, prediction([])).overall
    assert (s.tp, s.fp, s.fn) == (0, 0, 3)


def test_end_of_stance_events(tmp_path: Path) -> None:
    # gdind_footprints: window +-0.25 s around event - 0.4 stride; the first event is the start position
    meta = sidecar([2.0, 3.0, 4.0, 5.0], feet="one", intervals=[[2.0, 5.0]], placement="foot")
    # centres 2.6, 3.6, 4.6: 2.62 and 3.55 match, 4.9 is 0.3 s off
    s = score_one(tmp_path, "gdind_footprints", meta, prediction([2.62, 3.55, 4.9])).overall
    assert (s.tp, s.fp, s.fn) == (2, 1, 1)
    assert s.dt_median_ms == pytest.approx(-415.0)  # against the raw events: -380 and -450 ms


def test_stride_pairs_and_distance(tmp_path: Path) -> None:
    # the fourth stride ends near the event at 2.0 too: the first stride keeps that event
    strides = {
        "t_start": [1.0, 2.0, 3.0, 1.0],
        "t_end": [2.0, 3.0, 4.0, 2.02],
        "length_m": [1.0, 1.2, 1.1, 9.9],
        "foot": "right",
    }
    meta = sidecar(
        [1.0, 2.0, 3.0, 4.0],
        sides=["R"] * 4,
        feet="one",
        intervals=[[1.0, 4.0]],
        placement="foot",
        placement_side="right",
        strides=strides,
        distance_m=3.3,
    )
    pred = prediction([1.0, 2.0, 3.02, 4.0], stride_length_m=[None, 1.1, 1.2, None])
    s = score_one(tmp_path, "pyshoe_vicon", meta, pred).overall
    # anchored strides end at 2, 3, 4; pairs (1.1, 1.0) and (1.2, 1.2); the one at 4.0 has no length
    assert (s.n_stride_pairs, s.n_gt_strides) == (2, 3)
    assert s.stride_mae_m == pytest.approx(0.05)
    assert s.stride_mape_pct == pytest.approx(5.0)
    assert s.stride_bias_m == pytest.approx(0.05)
    # pyshoe: the first step of the span is left out: 1.1 + 1.2 = 2.3 m against 3.3 m
    assert s.n_distance == 1
    assert s.distance_err_pct_mean == pytest.approx((2.3 - 3.3) / 3.3 * 100)
    assert s.distance_abs_err_pct_mean == pytest.approx(abs((2.3 - 3.3) / 3.3 * 100))


def test_missing_prediction_and_recordings_without_step_truth(tmp_path: Path) -> None:
    truth = tmp_path / "truth"
    write_json(truth / "a" / "r1.json", sidecar([1.0, 2.0, 3.0, 4.0], intervals=[[0.0, 5.0]]))
    no_steps = sidecar([], intervals=[], has_step_truth=False)
    write_json(truth / "terrain" / "t1.json", no_steps)
    rep = score_folder(truth, tmp_path / "nothing-here")
    assert (rep.overall.tp, rep.overall.fp, rep.overall.fn) == (0, 0, 4)
    assert rep.overall.n_recordings == 1
    assert (rep.n_missing_prediction_files, rep.n_skipped_no_step_truth) == (1, 1)
    assert math.isnan(rep.overall.cadence_field_abs_err_median_spm)  # nobody gives cadence_spm
    assert rep.overall.cadence_times_abs_err_median_spm == pytest.approx(60.0)  # truth 60 spm, 0 predicted
    with pytest.raises(ScoringError, match="left to score"):
        score_folder(truth, tmp_path, only={"placement": ["foot"]})
    with pytest.raises(ScoringError, match="no <dataset>"):
        score_folder(tmp_path / "empty", tmp_path)


def test_groups_pooled_rows_and_markdown(tmp_path: Path) -> None:
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    write_json(truth / "a" / "walk1.json", sidecar([1.0, 2.0, 3.0], intervals=[[0.5, 3.5]]))
    write_json(truth / "b" / "run1.json", sidecar([1.0, 2.0, 3.0], intervals=[[0.5, 3.5]], activity="run"))
    write_json(pred / "a" / "walk1.json", prediction([1.0, 2.0, 3.0]))
    write_json(pred / "b" / "run1.json", prediction([1.0, 2.5]))
    rep = score_folder(truth, pred)
    assert [g.label for g in rep.groups] == ["a / lower_back / walk", "b / lower_back / run"]
    assert [g.label for g in rep.placements] == ["all lower_back"]
    pooled = rep.placements[0].stats
    assert (pooled.tp, pooled.fp, pooled.fn, pooled.n_recordings) == (4, 1, 2, 2)
    table = format_markdown(rep)
    assert table.splitlines()[0].startswith("| group | recordings | events | P | R | F1 | dt ms |")
    assert "| **all lower_back** | 2 | 6 |" in table
    assert "stride" not in table  # no stride or distance truth: no stride columns
    worst = format_worst_recordings(rep, 1)
    assert "b/run1" in worst
    assert "a/walk1" not in worst
    json.dumps(rep.to_dict(), allow_nan=False)  # JSON-ready, NaN as null


def test_prediction_contract_errors() -> None:
    with pytest.raises(ScoringError, match="'steps' list"):
        parse_prediction({"steps": None})
    with pytest.raises(ScoringError, match=r"steps\[1\] has no 't'"):
        parse_prediction({"steps": [{"t": 1.0}, {"side": "L"}]})
    with pytest.raises(ScoringError, match="finite"):
        parse_prediction({"steps": [{"t": "nan"}]})
    with pytest.raises(ScoringError, match="steps_feet"):
        parse_prediction({"steps": [], "steps_feet": "left"})
    p = parse_prediction({"steps": [{"t": 2.0, "side": "left"}, {"t": 1.0, "side": "R", "cadence_spm": "x"}]})
    assert p.t.tolist() == [1.0, 2.0]
    assert p.side == ("R", "L")
    assert np.isnan(p.cadence_spm).all()


# ---------------------------------------------------------------------------------------------
# agreement with the reference scorer on the real truth
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """How to derive a prediction folder from the truth."""

    name: str
    seed: int = 0
    jitter_s: float = 0.0  # uniform noise in +-jitter_s
    drop: float = 0.0  # share of steps dropped
    extra: float = 0.0  # extra steps at random times inside the intervals, share of the steps
    outside: int = 0  # steps added outside the intervals, per recording
    feet: str = "contract"  # "contract" (lower_back: both, else one), "one" or "both"
    declare_feet: bool = True  # write steps_feet
    sides: str = "LR"  # "LR", "words" (left/right), "none"
    cadence: str = "truth"  # "truth", "noisy", "mixed" (half null), "none"
    stride: str = "truth"  # "truth", "noisy", "mixed", "none"
    shift_end_of_stance: bool = True  # move gdind events to the contact before them
    missing: float = 0.0  # share of recordings without a prediction file


VARIANTS = [
    Variant("perfect"),
    Variant("jitter_0.05", seed=1, jitter_s=0.05, cadence="noisy", stride="noisy"),
    Variant("jitter_0.2_drop_extra", seed=2, jitter_s=0.2, drop=0.2, extra=0.2, outside=3, cadence="mixed"),
    Variant("jitter_0.1_no_stance_shift", seed=3, jitter_s=0.1, shift_end_of_stance=False, stride="mixed"),
    Variant("one_foot_no_sides", seed=4, jitter_s=0.08, feet="one", sides="none", declare_feet=False),
    Variant(
        "both_feet_sides_inferred", seed=5, jitter_s=0.12, feet="both", declare_feet=False, sides="words"
    ),
    Variant("both_feet_declared_no_sides", seed=6, jitter_s=0.15, feet="both", sides="none", drop=0.1),
    Variant("null_fields", seed=7, jitter_s=0.06, cadence="none", stride="none", extra=0.1),
    Variant("missing_files", seed=8, jitter_s=0.1, missing=0.3, cadence="mixed", stride="mixed", drop=0.3),
]


def _side_of(value: Any) -> str | None:
    return {"l": "L", "left": "L", "r": "R", "right": "R"}.get(str(value).strip().lower())


def _previous_same_side(t: np.ndarray, sides: list[str | None]) -> np.ndarray:
    gap = np.full(t.size, np.nan)
    last: dict[str | None, float] = {}
    for k in range(t.size):
        if sides[k] in last:
            gap[k] = t[k] - last[sides[k]]
        last[sides[k]] = t[k]
    med = np.nanmedian(gap) if np.isfinite(gap).any() else 1.0
    return np.where(np.isfinite(gap) & (gap < 2.5 * med), gap, med)


def synth_prediction(meta: dict[str, Any], v: Variant, rng: np.random.Generator) -> dict[str, Any]:
    gt = meta["ground_truth"]
    t = np.asarray(gt["steps_t"], float)
    side = [_side_of(s) for s in gt.get("steps_side") or [None] * t.size]
    one_foot_truth = gt.get("steps_feet_code") == "one"
    feet = v.feet if v.feet != "contract" else ("both" if meta["placement"] == "lower_back" else "one")
    instrumented = _side_of(meta.get("placement_side")) or "L"
    if v.shift_end_of_stance and meta["dataset"] == "gdind_footprints":
        t = t - 0.40 * _previous_same_side(t, side)
    if one_foot_truth:
        side = [instrumented] * t.size
        if feet == "both" and t.size > 1:  # the other foot half-way between two contacts
            gaps = np.diff(t)
            mid = (t[:-1] + gaps / 2)[gaps < 2 * np.median(gaps)]
            t = np.concatenate([t, mid])
            side += ["R" if instrumented == "L" else "L"] * mid.size
    elif feet == "one":
        keep = [k for k in range(t.size) if side[k] == instrumented]
        t, side = t[keep], [side[k] for k in keep]
    keep = rng.random(t.size) >= v.drop
    t = t[keep] + rng.uniform(-v.jitter_s, v.jitter_s, t.size)[keep]
    side = [s for s, k in zip(side, keep, strict=True) if k]
    spans = gt.get("gt_intervals") or [[0.0, meta.get("duration_s", 0.0)]]
    n_extra = round(v.extra * t.size)
    for _ in range(n_extra):
        a, b = spans[rng.integers(len(spans))]
        t = np.append(t, rng.uniform(a, b))
        side.append(None)
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    for k in range(v.outside):
        t = np.append(t, lo - 1.0 - k if k % 2 else hi + 1.0 + k)
        side.append(None)

    events = np.asarray(gt["steps_t"], float)
    rate = (
        60.0 / float(np.median(np.diff(events))) * (2.0 if one_foot_truth else 1.0)
        if events.size > 1
        else 100.0
    )
    strides = gt.get("strides") or {}
    s_end = np.asarray(strides.get("t_end") or [], float)
    s_len = strides.get("length_m") or []
    steps = []
    for k in range(t.size):
        cadence: float | None = rate
        if v.cadence == "noisy" or v.cadence == "mixed":
            cadence = rate + float(rng.normal(0.0, 4.0))
        if v.cadence == "none" or (v.cadence == "mixed" and rng.random() < 0.5):
            cadence = None
        length = None
        if s_end.size and v.stride != "none":
            j = int(np.argmin(np.abs(s_end - t[k])))
            length = s_len[j]
            if length is not None and v.stride in ("noisy", "mixed"):
                length *= 1.0 + float(rng.normal(0.0, 0.05))
            if v.stride == "mixed" and rng.random() < 0.5:
                length = None
        label = side[k] if v.sides != "none" else None
        if label is not None and v.sides == "words":
            label = {"L": "left", "R": "right"}[label]
        steps.append(
            {
                "t": float(t[k]),
                "side": label,
                "cadence_spm": cadence,
                "gait": "walk",
                "stride_length_m": length,
            }
        )
    order = rng.permutation(len(steps))  # the scorer sorts
    obj: dict[str, Any] = {
        "schema": "cadence-coach.replay/1",
        "source": f"{meta['dataset']}/{meta['recording_id']}.csv",
        "placement": meta["placement"],
        "sample_rate_hz": meta.get("sample_rate_hz", 100.0),
        "steps": [steps[i] for i in order],
        "summary": {},
    }
    if v.declare_feet:
        obj["steps_feet"] = feet
    return obj


@pytest.fixture(scope="module")
def real_truth() -> list[dict[str, Any]]:
    if not DATASETS.is_dir():
        pytest.skip(f"no real datasets: {NEED_SHARED}")
    metas = []
    for path in sorted(DATASETS.glob("*/*.json")):
        meta = json.loads(path.read_text())
        meta.setdefault("dataset", path.parent.name)
        meta.setdefault("recording_id", path.stem)
        gt = meta.get("ground_truth") or {}
        if gt.get("has_step_truth") is not False and gt.get("steps_t"):
            metas.append(meta)
    return metas


def write_variant(root: Path, metas: list[dict[str, Any]], v: Variant) -> Path:
    rng = np.random.default_rng(v.seed)
    for meta in metas:
        obj = synth_prediction(meta, v, rng)
        if rng.random() >= v.missing:
            write_json(root / meta["dataset"] / f"{meta['recording_id']}.json", obj)
    return root


@pytest.mark.datasets
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_agrees_with_reference_on_real_truth(
    tmp_path: Path, reference: types.ModuleType, real_truth: list[dict[str, Any]], variant: Variant
) -> None:
    pred = write_variant(tmp_path / "pred", real_truth, variant)
    rep = assert_agrees_with_reference(reference, DATASETS, pred)
    # every dataset and placement is in the comparison
    datasets = {g.key["dataset"] for g in rep.groups}
    assert {"gdind_footprints", "adept_outdoor_run", "harlab_treadmill_jog", "pyshoe_vicon"} <= datasets
    assert {"voisard_ipol", "mobgap_example", "gaitmap_example", "bach_shank_walkrun"} <= datasets
    assert {g.key["placement"] for g in rep.placements} == {"foot", "lower_back", "shank"}
    modes = {r.side_mode for r in rep.recordings}
    if variant.name == "perfect":
        assert rep.overall.f1 > 0.99
        assert rep.overall.stride_mae_m == pytest.approx(0.0, abs=1e-12)
        # one-foot truth at the lower back (adept, harlab) against both-feet predictions
        assert rep.overall.n_other_foot_expected > 0
        assert "gt filtered to instrumented foot" in modes  # voisard / gaitmap feet
    if variant.feet == "both":
        assert rep.overall.n_other_foot_found > 0
    if variant.missing:
        assert rep.n_missing_prediction_files > 0
    if variant.cadence == "none":
        assert not rep.has_cadence
        assert math.isnan(rep.overall.cadence_field_abs_err_median_spm)


@pytest.mark.datasets
def test_agrees_with_reference_with_options(
    tmp_path: Path, reference: types.ModuleType, real_truth: list[dict[str, Any]]
) -> None:
    pred = write_variant(tmp_path / "pred", real_truth, VARIANTS[2])
    for by, only, scale in [
        (("placement", "activity"), {"placement": {"lower_back", "foot"}}, 2.5),
        (("dataset",), {"activity": {"run"}}, 0.5),
        (("subject",), None, 1.0),
    ]:
        assert_agrees_with_reference(reference, DATASETS, pred, by=by, only=only, tol_scale=scale)


@pytest.mark.datasets
def test_agrees_with_reference_without_predictions(tmp_path: Path, reference: types.ModuleType) -> None:
    if not DATASETS.is_dir():
        pytest.skip(f"no real datasets: {NEED_SHARED}")
    rep = assert_agrees_with_reference(reference, DATASETS, tmp_path / "empty")
    assert rep.overall.tp == 0
    assert rep.n_missing_prediction_files == rep.overall.n_recordings


def test_hand_made_cases_agree_with_reference(tmp_path: Path, reference: types.ModuleType) -> None:
    truth, pred = tmp_path / "truth", tmp_path / "pred"
    write_json(truth / "synth" / "lb.json", sidecar([1.0, 2.0, 3.0, 4.0], sides=["L", "R", "L", "R"]))
    write_json(pred / "synth" / "lb.json", prediction([1.05, 2.2, 3.0, 3.02, 5.0]))
    write_json(truth / "synth" / "one.json", sidecar([0.0, 1.0, 2.0, 3.0], feet="one", intervals=[[0, 3]]))
    write_json(pred / "synth" / "one.json", prediction([0.0, 0.5, 1.0, 1.5, 1.6, 2.0, 3.0], feet="both"))
    gd = sidecar([2.0, 3.0, 4.0, 5.0], feet="one", intervals=[[2.0, 5.0]], placement="foot")
    write_json(truth / "gdind_footprints" / "g.json", gd)
    write_json(pred / "gdind_footprints" / "g.json", prediction([2.62, 3.55, 4.9]))
    assert_agrees_with_reference(reference, truth, pred)


# ---------------------------------------------------------------------------------------------
# python -m benchmarks.accuracy, with a stand-in for firmware_py.replay.replay_tree
# ---------------------------------------------------------------------------------------------
def stand_in_replay_tree(
    inputs: list[Path], json_out: Path, *, jobs: int | None = None, progress: bool = True
) -> list[Path]:
    """Write near-perfect predictions from each recording's sidecar.

    Like the real replay: ``FOLDER/<dataset>/<rec>.csv`` -> ``<json_out>/<dataset>/<rec>.json``
    for a folder, ``<parent folder name>/<rec>.json`` for a file.
    """
    rng = np.random.default_rng(11)
    done = []
    for inp in map(Path, inputs):
        plan = [(p, p.relative_to(inp).parent) for p in sorted(inp.rglob("*.csv"))] if inp.is_dir() else []
        plan += [] if inp.is_dir() else [(inp, Path(inp.parent.name))]
        for csv, rel in plan:
            meta = json.loads(csv.with_suffix(".json").read_text())
            meta.setdefault("dataset", csv.parent.name)
            meta.setdefault("recording_id", csv.stem)
            obj = synth_prediction(meta, Variant("stand-in", jitter_s=0.02), rng)
            obj["source"] = str(csv)
            write_json(json_out / rel / f"{csv.stem}.json", obj)
            done.append(csv)
    return done


@dataclass
class ReplayCalls:
    """What the stand-in replay was asked to do: CSV names and input kinds per call."""

    names: list[list[str]] = field(default_factory=list)
    kinds: list[set[str]] = field(default_factory=list)


@pytest.fixture
def stand_in_replay(monkeypatch: pytest.MonkeyPatch) -> ReplayCalls:
    """Install the stand-in as ``firmware_py.replay`` and record its calls."""
    calls = ReplayCalls()

    def replay_tree(inputs: list[Path], json_out: Path, *, jobs: int | None = None, progress: bool = True):
        calls.names.append(sorted(p.name for i in inputs for p in ([i] if i.is_file() else i.rglob("*.csv"))))
        calls.kinds.append({"file" if i.is_file() else "folder" for i in inputs})
        return stand_in_replay_tree(inputs, json_out, jobs=jobs, progress=progress)

    module = types.ModuleType("firmware_py.replay")
    module.replay_tree = replay_tree  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "firmware_py.replay", module)
    return calls


def small_truth_folder(root: Path, *, terrain: bool = True) -> Path:
    """Two scored recordings (CSV + sidecar) and, with ``terrain``, one without step truth."""
    metas = {
        ("synth_lb", "walk1"): sidecar([1.0 + 0.55 * k for k in range(30)], sides=["L", "R"] * 15),
        ("synth_foot", "run1"): sidecar(
            [1.0 + 0.7 * k for k in range(30)],
            sides=["R"] * 30,
            feet="one",
            placement="foot",
            placement_side="right",
            activity="run",
            strides={
                "t_start": [1.0 + 0.7 * k for k in range(29)],
                "t_end": [1.7 + 0.7 * k for k in range(29)],
                "length_m": [2.0] * 29,
                "foot": "right",
            },
        ),
    }
    if terrain:
        metas["synth_terrain", "t1"] = sidecar([], intervals=[], has_step_truth=False)
    for (ds, rec), meta in metas.items():
        write_json(root / ds / f"{rec}.json", meta)
        (root / ds / f"{rec}.csv").write_text("t,ax,ay,az,gx,gy,gz\n")
    return root


README = "# cadence-coach\n\nintro\n\n<!-- accuracy:start -->\nold table\n<!-- accuracy:end -->\n\nmore\n"


def test_accuracy_cli_end_to_end(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    out, js = tmp_path / "out", tmp_path / "acc.json"
    stale = write_json(out / "truth" / "synth_lb" / "walk1.json", prediction([]))
    argv = [str(folder), "--out", str(out), "--write-readme", str(readme), "--json", str(js)]
    rc = accuracy.main([*argv, "--per-recording", "2", "--misses", "--jobs", "1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| synth_lb / lower_back / walk | 1 | 30 |" in printed
    assert "Worst 2 recordings by F1" in printed
    assert "Missed events and false positives:" in printed
    # only recordings with step truth were replayed (given as files), stale output replaced
    assert stand_in_replay.names == [["run1.csv", "walk1.csv"]]
    assert stand_in_replay.kinds == [{"file"}]
    assert not (out / "truth" / "synth_terrain").exists()
    assert json.loads(stale.read_text())["steps"]
    # README: only the block between the markers changes
    text = readme.read_text()
    head, rest = text.split("<!-- accuracy:start -->")
    block, tail = rest.split("<!-- accuracy:end -->")
    assert head == "# cadence-coach\n\nintro\n\n"
    assert tail == "\n\nmore\n"
    assert "old table" not in block
    assert "`python -m benchmarks.accuracy " in block
    assert accuracy.software_version() in block
    assert "| **all foot** |" in block
    assert "stride MAE m / MAPE %" in block
    report = json.loads(js.read_text())
    assert report["folders"][0]["report"]["overall"]["n_recordings"] == 2
    assert report["folders"][0]["reference_check"] == "not run"


def test_accuracy_cli_missing_markers_fails_before_replay(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    rc = accuracy.main([str(folder), "--out", str(tmp_path / "out"), "--write-readme", str(readme)])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "<!-- accuracy:start -->" in err
    assert "add the markers" in err
    assert stand_in_replay.names == []
    assert readme.read_text() == "# no markers\n"


def test_accuracy_cli_reference_disagreement_fails_loudly(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "fake_score.py"
    fake.write_text(
        "import argparse, json\n"
        "ap = argparse.ArgumentParser()\n"
        "for a in ('--truth', '--pred', '--json', '--by'):\n"
        "    ap.add_argument(a)\n"
        "args = ap.parse_args()\n"
        "json.dump({'groups': [], 'overall': {'f1': 0.123}}, open(args.json, 'w'))\n"
    )
    folder = small_truth_folder(tmp_path / "truth", terrain=False)
    argv = [str(folder), "--out", str(tmp_path / "out"), "--check-reference", "--reference", str(fake)]
    assert accuracy.main(argv) == 1
    assert stand_in_replay.kinds == [{"folder"}]  # every recording has step truth: the folder is replayed
    err = capsys.readouterr().err
    assert "REFERENCE MISMATCH" in err
    assert "overall: f1" in err
    assert "group only in ours" in err


def test_accuracy_cli_check_reference_on_real_truth(
    tmp_path: Path,
    stand_in_replay: ReplayCalls,
    reference: types.ModuleType,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not DATASETS.is_dir():
        pytest.skip(f"no real datasets: {NEED_SHARED}")
    # a few real recordings of every dataset (sidecars + empty CSVs), ncsu_shin_terrain included
    folder = tmp_path / "datasets"
    for ds_dir in sorted(p for p in DATASETS.iterdir() if p.is_dir()):
        for path in sorted(ds_dir.glob("*.json"))[:2]:
            (folder / ds_dir.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, folder / ds_dir.name / path.name)
            (folder / ds_dir.name / f"{path.stem}.csv").write_text("t,ax,ay,az,gx,gy,gz\n")
    js = tmp_path / "acc.json"
    rc = accuracy.main([str(folder), "--out", str(tmp_path / "out"), "--check-reference", "--json", str(js)])
    assert rc == 0, capsys.readouterr().err
    assert "every group agrees" in capsys.readouterr().out
    assert json.loads(js.read_text())["folders"][0]["reference_check"] == "passed"
    assert not (tmp_path / "out" / "datasets" / "ncsu_shin_terrain").exists()


def test_accuracy_cli_nothing_to_score(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert accuracy.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "nothing scored" in capsys.readouterr().err


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stderr, which must be exactly one line."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_accuracy_cli_unwritable_json_fails_before_replay(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    rc = accuracy.main([str(folder), "--out", str(tmp_path / "out"), "--json", str(blocker / "acc.json")])
    assert rc == 2
    err = one_line_error(capsys)
    assert "--json" in err
    assert "acc.json" in err
    assert "fix:" in err
    assert stand_in_replay.names == []  # nothing was replayed for an output that cannot be written


def test_accuracy_cli_no_replay_without_predictions_is_an_error(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    rc = accuracy.main([str(folder), "--out", str(tmp_path / "never_written"), "--no-replay"])
    assert rc == 2
    err = one_line_error(capsys)
    assert "--no-replay" in err
    assert "never_written" in err
    assert "without --no-replay" in err
    assert "| synth_lb" not in capsys.readouterr().out  # no table of zeros


def test_accuracy_cli_dataset_folder_names_its_parent(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    assert accuracy.main([str(folder / "synth_lb"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "walk1.json" in err
    assert "give the folder above it" in err
    assert str(folder.name) in err


def test_accuracy_cli_unreadable_sidecar_is_named_not_skipped(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    (folder / "synth_lb" / "broken.json").write_text("{not json")
    assert accuracy.main([str(folder), "--out", str(tmp_path / "out")]) == 2
    err = one_line_error(capsys)
    assert "broken.json" in err
    assert "not valid JSON" in err
    assert stand_in_replay.names == []


@pytest.mark.parametrize(
    "option", [["--jobs", "0"], ["--jobs", "-2"], ["--per-recording", "-3"], ["--misses", "hand"]]
)
def test_accuracy_cli_refuses_bad_option_values(
    tmp_path: Path, stand_in_replay: ReplayCalls, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    folder = small_truth_folder(tmp_path / "truth")
    with pytest.raises(SystemExit) as exc:
        accuracy.main([str(folder), "--out", str(tmp_path / "out"), *option])
    assert exc.value.code == 2
    assert option[0] in capsys.readouterr().err
    assert stand_in_replay.names == []


def test_folder_study_unwritable_json_fails_before_the_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    args = argparse.Namespace(folder=tmp_path, json=blocker / "study.json")
    studied: list[Path] = []
    rc = accuracy.run_folder_study(args, lambda f: studied.append(f) or {}, str)
    assert rc == 2
    assert "--json" in one_line_error(capsys)
    assert studied == []
