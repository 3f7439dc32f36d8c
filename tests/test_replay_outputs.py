"""What the replay outputs promise a developer (issues 2, 4 and 5): summary, WAV, folders, demo.

Expected values are worked out by hand from the inputs each test builds, never by the code under
test.
"""

from __future__ import annotations

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
