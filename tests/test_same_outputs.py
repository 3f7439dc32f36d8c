"""``python -m benchmarks.same_outputs``: the digests, the streaming check and the revision compare."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import same_outputs as so
from benchmarks.perf import FIXTURES, REPO

TINY = ("HA-001_Test5_Trial2", "MS-001_Test5_Trial2")  # two short lower-back walks, ~11 s each


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A folder holding two small fixtures (and their sidecars) in their dataset's folder."""
    folder = tmp_path / "rec" / "mobgap_example"
    folder.mkdir(parents=True)
    for stem in TINY:
        for ext in (".csv", ".json"):
            shutil.copy(FIXTURES / "mobgap_example" / (stem + ext), folder / (stem + ext))
    return tmp_path / "rec"


def _name(stem: str) -> str:
    return f"rec/mobgap_example/{stem}.csv"


def test_digests_are_stable_and_complete(tiny: Path, tmp_path: Path) -> None:
    a = so.dump_outputs([("rec", tiny)], tmp_path / "a", jobs=1)
    b = so.dump_outputs([("rec", tiny)], tmp_path / "b", jobs=1)
    assert sorted(a["recordings"]) == [_name(s) for s in TINY]
    assert a["recordings"] == b["recordings"]
    assert a["folders"] == b["folders"]
    assert a["stream_differs"] == []
    for row in a["recordings"].values():
        assert set(row) == set(so.OUTPUTS)
        assert all(v is not None for v in row.values())
    assert so.n_outputs(a) == 2 * len(so.OUTPUTS)
    # the digests are of the files written (the report without its software_version line)
    csv = tmp_path / "a" / "csv" / "rec" / "mobgap_example" / f"{TINY[0]}.csv"
    assert a["recordings"][_name(TINY[0])]["csv"] == so.sha256(csv.read_bytes())
    stream = (tmp_path / "a" / "stream" / f"{_name(TINY[0])}.txt").read_text()
    assert stream.count(" step StepEvent(") >= 10
    assert stream.endswith("saturated_samples=0\n")


def test_one_changed_sample_changes_that_recording_only(tiny: Path, tmp_path: Path) -> None:
    before = so.dump_outputs([("rec", tiny)], tmp_path / "a", jobs=1)["recordings"]
    path = tiny / "mobgap_example" / f"{TINY[0]}.csv"
    lines = path.read_text().splitlines(keepends=True)
    row = lines[391].split(",")  # t = 3.90 s, just before a contact at 3.93 s
    assert row[0] == "3.900"
    row[1] = f"{float(row[1]) + 8.0:.4f}"  # the vertical axis, +8 m/s²
    lines[391] = ",".join(row)
    path.write_text("".join(lines))
    after = so.dump_outputs([("rec", tiny)], tmp_path / "b", jobs=1)["recordings"]
    assert after[_name(TINY[1])] == before[_name(TINY[1])]
    changed = [k for k in so.OUTPUTS if after[_name(TINY[0])][k] != before[_name(TINY[0])][k]]
    assert {"json", "csv", "stream"} <= set(changed)
    assert so.compare({"recordings": before, "folders": {}}, {"recordings": after, "folders": {}}) == [
        f"{_name(TINY[0])}: {', '.join(sorted(changed))}"
    ]


def test_streaming_check_catches_a_chunking_difference(tiny: Path, tmp_path: Path, monkeypatch) -> None:
    from dsp.pipeline import Pipeline

    process = Pipeline.process

    def short_blocks_lose_a_step(self, t_s, *args, **kwargs):
        update = process(self, t_s, *args, **kwargs)
        if len(t_s) <= 5 and update.steps:  # only the 50 ms blocks (5 samples at 100 Hz)
            update = dataclasses.replace(update, steps=update.steps[1:])
        return update

    monkeypatch.setattr(Pipeline, "process", short_blocks_lose_a_step)
    digests = so.dump_outputs([("rec", tiny)], tmp_path / "a", jobs=1)
    assert digests["stream_differs"] == [_name(s) for s in TINY]


def test_replay_warnings_go_to_their_recording() -> None:
    stderr = (
        "replay [###] 2/2\n"
        "cadence-coach: warning: d/a.csv: gap of 0.03 s\n"
        "  second line of that warning\n"
        "cadence-coach: d/b.csv: error: no placement\n"
        "cadence-coach: warning: d: 1 .cclog file(s) skipped\n"
    )
    per, rest = so.split_warnings(stderr, ["d/a.csv", "d/b.csv"])
    assert per == {
        "d/a.csv": "cadence-coach: warning: d/a.csv: gap of 0.03 s\n  second line of that warning\n",
        "d/b.csv": "cadence-coach: d/b.csv: error: no placement\n",
    }
    assert rest == "replay [###] 2/2\ncadence-coach: warning: d: 1 .cclog file(s) skipped\n"


def test_plain_spells_out_every_bit() -> None:
    import numpy as np

    assert so.plain(0.1 + 0.2) != so.plain(0.3)
    assert so.plain(np.float64(-0.0)) == "-0.0"
    assert so.plain(np.float64(0.0)) == "0.0"
    assert so.plain((np.int64(3), None, "x", [True])) == "(3, None, 'x', [True])"


def test_bad_folder_and_revision_are_one_line(tiny: Path, tmp_path: Path, capsys) -> None:
    assert so.main([str(tmp_path / "nowhere"), "--json", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nowhere: no such folder" in err
    assert so.main([str(tiny), "--against", "no-such-rev-xyz", "--json", str(tmp_path / "d.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--against no-such-rev-xyz: not a revision" in err
    assert so.main(["--quick", str(tiny)]) == 2
    assert not (tmp_path / "d.json").exists()


@pytest.mark.slow
def test_against_head_is_identical_and_removes_its_worktree(tiny: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.json"
    rc = so.main(
        [str(tiny), "--against", "HEAD", "--jobs", "1", "--json", str(out), "--keep", str(tmp_path / "k")]
    )
    said = capsys.readouterr().out
    assert rc == 0, said
    assert said.startswith(f"identical: 2 recordings, {2 * len(so.OUTPUTS)} outputs")
    assert (tmp_path / "k" / "against" / "stream").is_dir()
    trees = subprocess.run(
        ["git", "-C", str(REPO), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert "cc-same-outputs-" not in trees


def test_an_interrupt_right_after_the_worktree_is_added_removes_it(tmp_path: Path, monkeypatch) -> None:
    # Ctrl-C (or any error) between `git worktree add` and the `with` body must not leave the
    # temporary worktree registered in the repository nor its folder in /tmp
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "--quiet"], check=True)
    (repo / "f.txt").write_text("x\n")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "c"], check=True)
    commit = so.resolve_revision(repo, "HEAD")
    real_run = subprocess.run
    added: list[Path] = []

    def run(argv, *args, **kwargs):
        proc = real_run(argv, *args, **kwargs)
        if "add" in argv and "worktree" in argv:
            added.append(Path(argv[-2]))
            raise KeyboardInterrupt
        return proc

    monkeypatch.setattr(so.subprocess, "run", run)
    with pytest.raises(KeyboardInterrupt), so.revision_tree(repo, commit):
        pass
    monkeypatch.setattr(so.subprocess, "run", real_run)
    trees = real_run(["git", "-C", str(repo), "worktree", "list"], capture_output=True, text=True).stdout
    assert len(added) == 1
    assert str(added[0]) not in trees
    assert not added[0].parent.exists()
