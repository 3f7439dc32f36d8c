"""What the replay outputs promise a developer (issues 2, 4 and 5): summary, WAV, folders, demo.

Expected values are worked out by hand from the inputs each test builds, never by the code under
test.
"""

from __future__ import annotations

import itertools
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from dsp.pipeline import StepEvent
from firmware_py.cli import main
from firmware_py.replay import ReplayResult, find_recordings, summarize
from tests.conftest import FIXTURES


def _foot_result(rows: list[tuple[float, str, str]]) -> ReplayResult:
    """A foot replay (one contact per stride) whose contacts are ``(t_s, terrain, grade)``."""
    events = [
        StepEvent(
            t_s=t,
            emitted_at_s=t + 0.05,
            side="R",
            cadence_spm=170.0,
            gait="run",
            terrain=terrain,
            grade=grade,
        )
        for t, terrain, grade in rows
    ]
    return ReplayResult(
        source="synthetic",
        sampling_rate_hz=200.0,
        has_gyro=True,
        placement_side="right",
        duration_s=20.0,
        placement="foot",
        steps_feet="one",
        events=events,
    )


def test_summary_gives_time_per_grade():
    # contacts 1 s apart, then a 6 s stop (longer than any stride: not moving time), then 1 s again;
    # each interval belongs to the contact that ends it
    rows = [
        (0.0, "smooth", "flat"),
        (1.0, "smooth", "flat"),  # 0-1: flat
        (2.0, "smooth", "climb"),  # 1-2: climb
        (3.0, "technical", "climb"),  # 2-3: climb
        (4.0, "technical", "descent"),  # 3-4: descent
        (10.0, "smooth", "flat"),  # 4-10: a stop, not counted
        (11.0, "smooth", "flat"),  # 10-11: flat
    ]
    s = summarize(_foot_result(rows))
    assert s["grade"] == {"climb": {"time_s": 2.0}, "descent": {"time_s": 1.0}, "flat": {"time_s": 2.0}}
    assert s["moving_time_s"] == 5.0
    assert s["terrain"]["technical"]["time_s"] == 2.0


def test_folder_replay_follows_links_to_dataset_folders(tmp_path, capsys):
    # a subset of the datasets made of links: before, the folder held "no recordings" and the
    # accuracy command scored every recording of the subset as zero detections
    sub = tmp_path / "subset"
    sub.mkdir()
    (sub / "jog").symlink_to(FIXTURES / "harlab_treadmill_jog", target_is_directory=True)
    (sub / "loop").symlink_to(sub, target_is_directory=True)  # a link back up: must not loop
    names = ["S002_jog", "S028_jog", "S033_jog", "S036_jog"]  # the four recordings of that folder
    assert find_recordings(sub) == [sub / "jog" / f"{n}.csv" for n in names]
    out = tmp_path / "out"
    assert main(["replay", str(sub), "--json", str(out), "--jobs", "1", "--quiet"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == [
        f"jog/{n}.json" for n in names
    ]
    assert "replayed 4 of 4 recordings" in capsys.readouterr().out


WAIST_DEMO = Path(__file__).resolve().parent.parent / "firmware_py" / "data" / "demo_waist_run.csv"


def _wav_spectrum(path: Path) -> tuple[int, float, np.ndarray, np.ndarray]:
    with wave.open(str(path), "rb") as w:
        sr, n = w.getframerate(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(float)
    mag = np.abs(np.fft.rfft(x))
    return sr, n / sr, np.fft.rfftfreq(x.size, 1.0 / sr), mag


def _band(freq: np.ndarray, mag: np.ndarray, f_hz: float) -> float:
    return float(mag[np.abs(freq - f_hz) <= 20.0].sum())


@pytest.mark.parametrize(
    ("pins", "hears_beeps", "hears_rumble"),
    [
        ('vibration = "none"', True, False),  # the example runner's device: no motor fitted
        ('buzzer = "none"', False, True),  # a motor only: nothing to hear but its rumble
    ],
)
def test_cues_wav_plays_only_the_outputs_the_profile_fits(tmp_path, pins, hears_beeps, hears_rumble):
    # a runner fixed at 168 steps/min: the demo's waist recording (~161 spm running) is cued
    # quicken_steps (passive buzzer: 2000 Hz beeps; the motor rumbles at 150 Hz and 300 Hz)
    profile = tmp_path / "runner.toml"
    profile.write_text(
        '[coach]\nbaseline = "runner"\n[runner]\nheight_m = 1.78\nbaseline_cadence_spm = 168\n'
        f'baseline_stride_length_m = 2.3\n[pins]\nbuzzer_kind = "passive"\n{pins}\n'
    )
    wav = tmp_path / "cues.wav"
    assert main(["replay", str(WAIST_DEMO), "--config", str(profile), "--cues-wav", str(wav)]) == 0
    sr, duration_s, freq, mag = _wav_spectrum(wav)
    assert sr == 16000
    assert duration_s == pytest.approx(81.88, abs=0.01)  # the recording: 0.00 to 81.88 s
    beeps, rumble = _band(freq, mag, 2000.0), _band(freq, mag, 150.0) + _band(freq, mag, 300.0)
    assert beeps + rumble > 0, "the run is cued: the file cannot be silent"
    assert (beeps > 10 * rumble) == hears_beeps
    assert (rumble > 10 * beeps) == hears_rumble


def test_demo_report_says_what_happened(tmp_path):
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    foot = json.loads((out / "demo_foot_run.json").read_text())
    waist = json.loads((out / "demo_waist_run.json").read_text())
    # the example runner's target is 168±5 spm; the foot run has running steps below 163 spm, so
    # "no cue" must not be explained as "on target throughout" (it was): say the cue delay instead
    slow = [s for s in foot["steps"] if s["gait"] == "run" and s["cadence_spm"] and s["cadence_spm"] < 163.0]
    assert foot["cues"] == []
    assert len(slow) >= 5
    assert "on target throughout" not in report
    assert "no off-target stretch reached the cue delay (12 steps and 8 s)" in report
    # the README promises stride in the report: the table has the median stride of each run
    header = next(line for line in report.splitlines() if line.startswith("| recording"))
    col = [c.strip() for c in header.split("|")].index("stride median m")
    for name, doc in (("demo_waist_run.csv", waist), ("demo_foot_run.csv", foot)):
        row = next(line for line in report.splitlines() if line.startswith(f"| {name}"))
        strides = [s["stride_length_m"] for s in doc["steps"] if s["stride_length_m"] is not None]
        assert float(row.split("|")[col]) == pytest.approx(np.median(strides), abs=0.006)
    # the simulated pins are named by what is wired there ([pins] buzzer = 17 by default); the
    # waist run's quicken_steps cue (level 1: 3 beeps, followed by the example runner's 4
    # metronome beats) switches the buzzer on and off 2 x 7 times. (A level-2 cue used to follow
    # at 72.0 s, as the belt slowed at 153 steps/min: those steps have no flight phase any more,
    # they are walking, and the coach does not judge walking steps: docs/gait.md.)
    assert [c["level"] for c in waist["cues"]] == [1]
    assert "buzzer (GPIO17): 14," in report


def test_plot_draws_the_coach_target_bands(tmp_path):
    # issue 5: "--plot draws cadence and stride against their target bands"; the example runner's
    # targets are 168 spm and 2.3 m, and the default bands ±5 spm and ±8 % (2.116 to 2.484 m)
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    from firmware_py.config import builtin_config_dir, load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import plot_figure, replay_recording

    cfg = load_config(builtin_config_dir() / "runner.example.toml")
    fig = plot_figure(replay_recording(read_log(WAIST_DEMO), config=cfg))
    try:
        _, ax_cadence, ax_stride = fig.axes[:3]
        for ax, lo, hi in ((ax_cadence, 163.0, 173.0), (ax_stride, 2.116, 2.484)):
            bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
            assert len(bands) == 1, ax.get_ylabel()
            y = np.concatenate([p.vertices[:, 1] for p in bands[0].get_paths()])
            assert (y.min(), y.max()) == (pytest.approx(lo), pytest.approx(hi))
    finally:
        plt.close(fig)


def test_folder_replay_does_not_hide_a_recordings_other_gaps(tmp_path, capsys):
    # six gaps cut into a 100 Hz recording: the reader names three and counts "3 more gaps"; the
    # folder replay used to show the first three warnings only, so the count was lost
    src = FIXTURES / "harlab_treadmill_jog" / "S002_jog.csv"
    lines = src.read_text().splitlines(keepends=True)
    for k in range(6):  # drop 5 samples (a 0.06 s gap) at lines 1000, 2000, ... 6000
        del lines[1000 * (k + 1) - 5 * k : 1000 * (k + 1) - 5 * k + 5]
    folder = tmp_path / "in" / "harlab"
    folder.mkdir(parents=True)
    (folder / "gappy.csv").write_text("".join(lines))
    (folder / "gappy.json").write_text(src.with_suffix(".json").read_text())
    assert main(["replay", str(tmp_path / "in"), "--json", str(tmp_path / "out"), "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert err.count("gappy.csv: gap of 0.06 s") == 3
    assert "gappy.csv: 3 more gaps" in err


def test_a_converted_log_replays_like_its_csv(tmp_path):
    # the lower back's stride model uses the subject's height from the sidecar (1.7272 m here);
    # after `convert RUN.csv RUN.cclog` the sidecar sits in the log's header under csv_sidecar,
    # and the replay of the .cclog used the default height: other step lengths, other distance
    from firmware_py.logs import read_log
    from firmware_py.logs.convert import convert
    from firmware_py.replay import replay_recording, subject_height_m, to_json

    src = FIXTURES / "harlab_treadmill_jog" / "S002_jog.csv"
    height = json.loads(src.with_suffix(".json").read_text())["subject"]["height_m"]
    log = tmp_path / "S002_jog.cclog"
    convert(src, log)
    assert subject_height_m(read_log(log)) == height
    from_csv = to_json(replay_recording(read_log(src)))
    from_log = to_json(replay_recording(read_log(log)))
    assert from_log["steps"] == from_csv["steps"]
    assert from_log["summary"]["distance_m"] == from_csv["summary"]["distance_m"]


def test_plot_of_a_long_run_counts_its_cues_instead_of_labelling_each(tmp_path):
    # a 1-hour run is cued about a hundred times: a rotated label per cue was an unreadable red
    # wall; each cue keeps its line, and the legend says the kind and how many there were
    pytest.importorskip("matplotlib")
    import dataclasses

    import matplotlib.pyplot as plt

    from firmware_py.config import builtin_config_dir, load_config
    from firmware_py.logs import read_log
    from firmware_py.replay import plot_figure, replay_recording

    cfg = load_config(builtin_config_dir() / "runner.example.toml")
    result = replay_recording(read_log(WAIST_DEMO), config=cfg)
    first = result.cues[0]
    many = [dataclasses.replace(first, t_s=10.0 + 2.0 * k) for k in range(30)]
    two = [first, dataclasses.replace(first, t_s=first.t_s + 20.0, level=2)]
    for cues, n_labels in ((two, 2), (many, 0)):
        fig = plot_figure(dataclasses.replace(result, cues=cues))
        try:
            ax_cadence = fig.axes[1]
            assert len(ax_cadence.texts) == n_labels
            legend = [t.get_text() for t in ax_cadence.get_legend().get_texts()]
            assert f"cue quicken_steps ({len(cues)})" in legend
            assert len(ax_cadence.lines) >= len(cues)  # one line per cue, whatever their number
        finally:
            plt.close(fig)


def test_reference_check_does_not_skip_a_number_the_reference_no_longer_gives():
    # --check-reference compared only the fields present on both sides: a metric renamed in
    # score.py would have "agreed" without being compared
    from benchmarks.accuracy import _STATS_FIELDS, _compare_rows
    from benchmarks.scoring import Stats

    ours = Stats(**{name: 1 for name in _STATS_FIELDS})
    theirs = {name: 1 for name in _STATS_FIELDS}
    assert _compare_rows("g", ours, theirs) == []
    del theirs["stride_mape_pct"]
    theirs["f1"] = 0.5
    assert _compare_rows("g", ours, theirs) == [
        "g: f1 ours 1 reference 0.5",
        "g: stride_mape_pct missing from the reference's output",
    ]


def test_a_device_log_converted_to_csv_replays_like_the_log(tmp_path):
    # a device log stores the gyroscope bias it removed live and the barometer's readings as
    # events; `convert run.cclog run.csv` keeps them in the sidecar (cclog_header), but the
    # replay of the CSV ignored them: every stride and the grade of all 36 steps differed
    from firmware_py.logs import read_log
    from firmware_py.logs.convert import convert
    from firmware_py.replay import recorded_gyro_bias, recorded_pressure, replay_recording, to_json

    foot = WAIST_DEMO.with_name("demo_foot_run.csv")
    args = ["run", "--bus", f"fake:{foot}", "--chip", "lsm6dsox", "--fast", "--placement", "foot"]
    assert main([*args, "--side", "right", "--data-dir", str(tmp_path / "logs"), "--pins", "none"]) == 0
    (log,) = (tmp_path / "logs").glob("*.cclog")
    csv_path = tmp_path / "run.csv"
    convert(log, csv_path)
    from_log, from_csv = read_log(log), read_log(csv_path)
    assert np.any(recorded_gyro_bias(from_log) != 0)
    np.testing.assert_array_equal(recorded_gyro_bias(from_csv), recorded_gyro_bias(from_log))
    assert recorded_pressure(from_csv) == recorded_pressure(from_log)
    a, b = to_json(replay_recording(from_log)), to_json(replay_recording(from_csv))
    assert b["steps"] == a["steps"]
    assert b["summary"] == a["summary"]


def test_plot_of_a_recording_without_steps_warns_of_nothing(tmp_path):
    # a replay without steps printed matplotlib's "No artists with labels found to put in
    # legend" twice through the CLI's warning hook; it now says "no steps detected" in the panels
    pytest.importorskip("matplotlib")
    import warnings

    from firmware_py.logs import read_log
    from firmware_py.replay import plot_figure, replay_recording, write_plot

    rows = ["t,ax,ay,az,gx,gy,gz"] + [f"{k / 100:.2f},0.0,0.0,9.81,0.0,0.0,0.0" for k in range(300)]
    still = tmp_path / "still.csv"
    still.write_text("\n".join(rows) + "\n")
    result = replay_recording(read_log(still), placement="lower_back")
    assert result.events == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_figure(result)
        write_plot(result, tmp_path / "still.png")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("no steps detected") == 2
    assert (tmp_path / "still.png").stat().st_size > 0


def test_demo_report_gives_time_per_terrain_and_grade_and_the_ground_truth(tmp_path):
    # the report left out terrain, grade and moving time, counted the mode button (an input) among
    # the cue pins, and did not say what its numbers are; the bundled recordings carry ground truth
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    data = Path(__file__).resolve().parent.parent / "firmware_py" / "data"
    for stem, limit_s in (("demo_waist_run", 1.1), ("demo_foot_run", 2.2)):
        steps = json.loads((out / f"{stem}.json").read_text())["steps"]
        # moving time and time per grade, by hand: intervals between contacts, to the contact that
        # ends them, pauses beyond a stride left out
        moving, per_grade = 0.0, {}
        for a, b in itertools.pairwise(steps):
            dt = b["t"] - a["t"]
            if dt <= limit_s:
                moving += dt
                per_grade[b["grade"]] = per_grade.get(b["grade"], 0.0) + dt
        row = next(
            line for line in report.splitlines() if line.startswith(f"| {stem}.csv | ") and "smooth" in line
        )
        cells = [c.strip() for c in row.split("|")]
        assert float(cells[2]) == pytest.approx(moving, abs=0.051)
        shown = {k: float(v) for k, v in (item.split() for item in cells[5].split(", "))}
        assert shown.keys() == per_grade.keys()
        for grade, secs in per_grade.items():
            assert shown[grade] == pytest.approx(secs, abs=0.051)
        truth = json.loads((data / f"{stem}.json").read_text())["ground_truth"]
        sidecar = f"`firmware_py/data/{stem}.json`"  # by its path: a replay JSON of that name is beside
        line = next(x for x in report.splitlines() if x.startswith("Ground truth") and sidecar in x)
        assert f"{len(truth['steps_t'])} contacts" in line
        assert f"cadence median {truth['cadence_steps_per_min_median']:.1f} spm" in line
    foot_truth = json.loads((data / "demo_foot_run.json").read_text())["ground_truth"]
    assert f"distance {foot_truth['distance_m']:.1f} m" in report
    for term in ("**steps**", "**cadence**", "**distance**", "**speed**", "**on target**", "**max latency**"):
        assert term in report
    assert "mode button" not in report
    assert "buzzer (GPIO17): 14," in report


def test_json_rate_of_a_csv_without_sidecar_is_rounded(tmp_path):
    # the rate estimated from float timestamps came out as 199.99999999999983 in the contract
    rows = ["t,ax,ay,az,gx,gy,gz"] + [f"{k * 0.005:.3f},0.0,0.0,9.81,,," for k in range(400)]
    rec = tmp_path / "still.csv"
    rec.write_text("\n".join(rows) + "\n")
    out = tmp_path / "r.json"
    assert main(["replay", str(rec), "--placement", "lower_back", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["sample_rate_hz"] == 200.0
