"""Replay every recording with ground truth through our pipeline and score it.

Usage::

    python -m benchmarks.accuracy [FOLDER ...] [--out DIR] [--jobs N]
                                  [--write-readme README.md] [--json FILE]
                                  [--per-recording [N]] [--check-reference] [--reference PATH]

Default folders: ``tests/fixtures`` of the repository and ``../shared/datasets`` (beside the
checkout) when it exists. For each folder, the recordings whose sidecar has step truth are
replayed with :func:`firmware_py.replay.replay_tree` into ``<out>/<folder name>/<dataset>/
<recording>.json`` and scored with :mod:`benchmarks.scoring`; the table goes to stdout.

* ``--write-readme README.md`` replaces the text between ``<!-- accuracy:start -->`` and
  ``<!-- accuracy:end -->`` with the command, the date, the software version and the tables.
* ``--check-reference`` also runs the team's reference scorer (``../shared/tools/score.py``, or
  ``--reference PATH``) on the same predictions and fails (exit 1) when any group's numbers
  disagree with ours.
* ``--per-recording`` lists the recordings with the lowest F1.
* ``--no-replay`` scores the predictions already in ``--out``.

Recordings without step truth (``has_step_truth: false``) are neither replayed nor scored.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from benchmarks.scoring import (
    Report,
    ScoringError,
    Stats,
    Truth,
    format_markdown,
    format_misses,
    format_worst_recordings,
    load_truth,
    score_folder,
)
from firmware_py.cli import positive_int
from firmware_py.logs import read_log
from firmware_py.logs.recording import Recording

#: The repository root (the folder holding ``benchmarks/``).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The team's shared folder, beside the checkout.
SHARED_ROOT = REPO_ROOT.parent / "shared"
#: The reference scorer.
DEFAULT_REFERENCE = SHARED_ROOT / "tools" / "score.py"
#: Opening and closing markers of the generated block in the README.
README_START = "<!-- accuracy:start -->"
README_END = "<!-- accuracy:end -->"
#: Group fields of the tables.
GROUP_BY = ("dataset", "placement", "activity")
_STATS_FIELDS = tuple(f.name for f in fields(Stats))


class AccuracyError(Exception):
    """A one-line error that ends the command with exit status 2."""


@dataclass
class FolderResult:
    """The outcome for one input folder.

    Parameters
    ----------
    folder : Path
        Truth folder (the recordings and sidecars).
    pred_dir : Path
        Where its predictions are.
    report : Report
        The scores.
    replay_s : float
        Wall time of the replay (s; 0 with ``--no-replay``).
    mismatches : list of str, optional
        Disagreements with the reference scorer; None when it was not run.
    """

    folder: Path
    pred_dir: Path
    report: Report
    replay_s: float
    mismatches: list[str] | None = field(default=None)


def default_folders() -> list[Path]:
    """Return ``tests/fixtures`` and, when it exists, ``../shared/datasets``."""
    folders = [REPO_ROOT / "tests" / "fixtures"]
    shared = SHARED_ROOT / "datasets"
    if shared.is_dir():
        folders.append(shared)
    return folders


def folder_argument(ap: argparse.ArgumentParser) -> None:
    """Add the optional ``folder`` argument of the single-folder studies and their ``--json``.

    The folder defaults to ``../shared/datasets`` when it exists, else ``tests/fixtures``.
    """
    shared = SHARED_ROOT / "datasets"
    ap.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=shared if shared.is_dir() else REPO_ROOT / "tests" / "fixtures",
        help="truth folder <dataset>/<recording>.{csv,json} (default: ../shared/datasets when it "
        "exists, else tests/fixtures)",
    )
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON")


def run_folder_study(
    args: argparse.Namespace, evaluate: Callable[[Path], Any], format_report: Callable[[Any], str]
) -> int:
    """Run a single-folder study as its command line asked (see :func:`folder_argument`).

    Prints ``format_report(evaluate(args.folder))`` and writes the report as JSON to
    ``args.json`` when given. Returns the exit status: 2 when the folder does not exist.
    """
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    try:
        if args.json:
            check_writable(args.json, "--json")
        if not any(args.folder.glob("*/*.json")):
            raise AccuracyError(no_truth_message(args.folder).replace("; skipped", "; nothing to study"))
        report = evaluate(args.folder)
        print(format_report(report))
        if args.json:
            write_output(args.json, json.dumps(report, indent=1, default=float), "--json")
    except (AccuracyError, ScoringError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def labelled_logs(folder: Path, keep: Callable[[Truth], bool]) -> Iterator[tuple[Truth, Recording]]:
    """Yield the recordings of a truth folder that have step truth and that ``keep`` accepts.

    The shared loop of the single-folder studies: a truth whose ``.csv`` is absent is passed over,
    and the reader's warnings (gaps, repaired timestamps) are silenced: replay reports them.

    Parameters
    ----------
    folder : Path
        Truth folder ``<dataset>/<recording>.{csv,json}``.
    keep : callable
        Takes a :class:`~benchmarks.scoring.Truth` (with step truth), returns whether to read it.

    Yields
    ------
    tuple of (Truth, Recording)
        Each kept truth and its recording, in :func:`~benchmarks.scoring.load_truth`'s order.
    """
    for truth in load_truth(folder):
        if not truth.has_step_truth or not keep(truth):
            continue
        csv = folder / truth.dataset / f"{truth.recording_id}.csv"
        if not csv.is_file():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gaps and repaired timestamps are reported by replay
            log = read_log(csv)
        yield truth, log


def software_version() -> str:
    """Return the installed version of cadence-coach, or ``"dev"`` when it is not installed."""
    try:
        return importlib.metadata.version("cadence-coach")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def display_path(path: Path) -> str:
    """Return ``path`` relative to the repository root where that is shorter."""
    try:
        rel = os.path.relpath(path.resolve(), REPO_ROOT)
    except ValueError:
        return str(path)
    return rel if len(rel) <= len(str(path)) else str(path)


def truth_with_steps(folder: Path) -> tuple[list[Truth], int]:
    """Return the sidecars of ``folder`` with step truth, and the number of sidecars in total.

    Raises
    ------
    ScoringError
        When a sidecar is there but cannot be read (it is named; the folder is not skipped).
    """
    try:
        truths = load_truth(folder)
    except ScoringError:
        if any(folder.glob("*/*.json")):
            raise
        return [], 0
    return [t for t in truths if t.has_step_truth], len(truths)


def no_truth_message(folder: Path) -> str:
    """Say why ``folder`` gave nothing to score, and what to give instead."""
    own = [p for p in sorted(folder.glob("*.json")) if p.with_suffix(".csv").is_file()]
    if own:
        return (
            f"{display_path(folder)}: no <dataset>/<recording>.json sidecars below it, but it holds "
            f"recordings itself ({own[0].name}, ...); fix: give the folder above it "
            f"({display_path(folder.parent)}), whose sub-folders are the datasets"
        )
    return f"{display_path(folder)}: no recordings with step truth; skipped"


def check_writable(path: Path, option: str) -> None:
    """Fail before any work when the output file ``path`` of ``option`` cannot be written.

    A file that was not there is created and removed again; missing folders are made.

    Raises
    ------
    AccuracyError
        Naming the option, the file and the fix.
    """
    if path.is_dir():
        raise AccuracyError(f"{option} {path}: it is a folder; fix: give a file name")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a"):
            pass
    except OSError as exc:
        raise AccuracyError(
            f"{option} {path}: cannot write there ({exc.strerror or exc}); fix: give a file in a "
            "writable folder"
        ) from exc
    if not existed:
        path.unlink(missing_ok=True)


def refuse_unwritable(path: str | Path | None, option: str, prog: str) -> bool:
    """Say in one line on stderr, before a long run, that ``option``'s file cannot be written.

    Returns
    -------
    bool
        True when the caller should stop (exit status 2); False when ``path`` is None or writable.
    """
    if path is None:
        return False
    try:
        check_writable(Path(path), option)
    except AccuracyError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return True
    return False


def write_output(path: Path, text: str, option: str) -> None:
    """Write an output file, turning an OS error (disk full, ...) into a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise AccuracyError(
            f"{option} {path}: cannot write ({exc.strerror or exc}); fix: check the folder"
        ) from exc


#: File types that hold a recording (the replay reads these).
RECORDING_SUFFIXES = (".csv", ".cclog")


def recording_file(truth: Truth) -> Path | None:
    """Return the recording beside a sidecar: its ``csv`` field, else a same-stem .csv or .cclog."""
    if truth.sidecar is None:
        return None
    folder, named = truth.sidecar.parent, truth.meta.get("csv")
    candidates = [folder / Path(str(named)).name] if named else []
    candidates += [truth.sidecar.with_suffix(suffix) for suffix in RECORDING_SUFFIXES]
    return next((p for p in candidates if p.is_file()), None)


def replay_folder(
    folder: Path,
    truths: Sequence[Truth],
    n_sidecars: int,
    json_out: Path,
    *,
    jobs: int | None,
    progress: bool,
) -> None:
    """Replay the recordings ``truths`` of ``folder`` into ``json_out/<dataset>/<recording>.json``.

    Old predictions of these recordings are deleted first, so a recording that fails to replay
    is scored as missing instead of with stale steps. When every sidecar of the folder has step
    truth the folder itself is replayed; otherwise only the recordings with step truth are, given
    as files (the replay maps ``<dataset>/<rec>.csv`` to ``<dataset>/<rec>.json`` either way).

    Parameters
    ----------
    folder : Path
        Truth folder.
    truths : sequence of Truth
        Its recordings with step truth.
    n_sidecars : int
        Number of sidecars in the folder (with or without step truth).
    json_out : Path
        Prediction folder of this truth folder.
    jobs : int or None
        Worker processes for the replay (None: its default).
    progress : bool
        Let the replay show progress.

    Raises
    ------
    AccuracyError
        When the replay cannot be imported.
    """
    try:  # imported here: only the replay needs the pipeline
        from firmware_py.replay import replay_tree
    except ImportError as exc:
        raise AccuracyError(
            f"cannot import firmware_py.replay.replay_tree ({exc}); use --no-replay to score the "
            "predictions already in --out"
        ) from exc

    for t in truths:
        (json_out / t.dataset / f"{t.recording_id}.json").unlink(missing_ok=True)
    json_out.mkdir(parents=True, exist_ok=True)
    if len(truths) == n_sidecars:
        inputs = [folder]
    else:
        found = [recording_file(t) for t in truths]
        inputs = [p for p in found if p is not None]
    replay_tree(inputs, json_out, jobs=jobs, progress=progress)


# ---------------------------------------------------------------------------------------------
# Reference check
# ---------------------------------------------------------------------------------------------
def _same(ours: Any, theirs: Any) -> bool:
    """Whether two numbers agree (ints exactly, floats to 1e-9, NaN == None)."""
    if isinstance(ours, float) and not math.isfinite(ours):
        return theirs is None or (isinstance(theirs, float) and math.isnan(theirs))
    if theirs is None:
        return False
    if isinstance(ours, int) and isinstance(theirs, int):
        return ours == theirs
    return math.isclose(float(ours), float(theirs), rel_tol=1e-9, abs_tol=1e-9)


def _compare_rows(label: str, ours: Stats, theirs: dict[str, Any]) -> list[str]:
    out = []
    for name in _STATS_FIELDS:
        if name not in theirs:  # a renamed field must not pass as "agrees" unseen
            out.append(f"{label}: {name} missing from the reference's output")
        elif not _same(getattr(ours, name), theirs[name]):
            out.append(f"{label}: {name} ours {getattr(ours, name)!r} reference {theirs[name]!r}")
    return out


def _run_reference(reference: Path, truth: Path, pred: Path, by: Sequence[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accuracy-ref-") as tmp:
        out = Path(tmp) / "reference.json"
        cmd = [
            sys.executable,
            str(reference),
            "--truth",
            str(truth),
            "--pred",
            str(pred),
            "--json",
            str(out),
            "--by",
            ",".join(by),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise AccuracyError(f"reference scorer failed (exit {proc.returncode}): {last}")
        return json.loads(out.read_text())


def check_against_reference(reference: Path, report: Report) -> list[str]:
    """Score the same folders with the reference scorer and list every disagreement.

    Every group (by the report's fields, and pooled by placement) and the overall row are
    compared on every number: counts exactly, P/R/F1, offsets, cadence, stride and distance
    errors to 1e-9.

    Parameters
    ----------
    reference : Path
        ``score.py`` of the team.
    report : Report
        Our scores of ``report.truth_root`` / ``report.pred_root``.

    Returns
    -------
    list of str
        One line per disagreement (empty when everything agrees).
    """
    truth, pred = Path(report.truth_root), Path(report.pred_root)
    problems: list[str] = []
    for by, rows in ((report.by, report.groups), (("placement",), report.placements)):
        ref = _run_reference(reference, truth, pred, by)
        theirs = {tuple(g["group"][k] for k in by): g for g in ref["groups"]}
        ours = {tuple(r.key[k] for k in by): r for r in rows}
        for key in sorted(set(theirs) | set(ours)):
            label = " / ".join(key)
            if key not in ours or key not in theirs:
                side = "reference" if key not in ours else "ours"
                problems.append(f"{label}: group only in {side}")
                continue
            problems += _compare_rows(label, ours[key].stats, theirs[key])
        if by == report.by:
            problems += _compare_rows("overall", report.overall, ref["overall"])
    return problems


# ---------------------------------------------------------------------------------------------
# README block
# ---------------------------------------------------------------------------------------------
def readme_block(results: Sequence[FolderResult], command: str, date: str, version: str) -> str:
    """Return the generated README text that goes between the markers.

    Parameters
    ----------
    results : sequence of FolderResult
        One per scored folder.
    command : str
        The command that produced it.
    date : str
        ISO date.
    version : str
        Software version.

    Returns
    -------
    str
        Markdown, starting and ending with a newline.
    """
    parts = [
        "",
        f"_Generated by `{command}` on {date} with cadence-coach {version}. Scored with "
        "`benchmarks.scoring` (the conventions of `../shared/tools/score.py`: P/R/F1 pooled over "
        "events, dt = median(pred - event) of the matches, cadence |error| in steps/min over ~10 s "
        "windows, from the step times and from the `cadence_spm` field)._",
    ]
    for res in results:
        n = res.report.overall.n_recordings
        parts += [
            "",
            f"**`{display_path(res.folder)}`** ({n} recording{'s' if n != 1 else ''} with step truth)",
            "",
            format_markdown(res.report),
        ]
        peers = peer_best_f1(res.folder / "PEERS.md")
        table = peer_comparison(res.report, peers) if peers else ""
        if table:
            parts += [
                "",
                "Against the open libraries on the same recordings "
                f"(`{display_path(res.folder / 'PEERS.md')}`: "
                "gaitmap, mobgap, scikit-digital-health, offline batch, some given the labelled walking "
                "bouts; bold where cadence-coach is at least as good):",
                "",
                table,
            ]
    parts.append("")
    return "\n".join(parts) + "\n"


def peer_best_f1(peers_md: Path) -> dict[str, tuple[float, str, float | None]]:
    """Best open-library step F1 per group, read from the team's ``PEERS.md``.

    Parameters
    ----------
    peers_md : Path
        ``shared/datasets/PEERS.md`` (its table "Step F1 (tolerance as in score.py)").

    Returns
    -------
    dict
        ``{"dataset / placement / activity": (best F1, method, naive F1 or None)}``; the
        ``naive`` column (a plain peak picker, the floor) is not a library and is reported apart.
    """
    if not peers_md.is_file():
        return {}
    lines = peers_md.read_text().splitlines()
    try:
        start = next(
            i for i, ln in enumerate(lines) if ln.startswith("#### Step F1 (tolerance as in score.py)")
        )
    except StopIteration:
        return {}
    rows = []
    for ln in lines[start + 1 :]:
        if ln.startswith("|"):
            rows.append([c.strip() for c in ln.strip().strip("|").split("|")])
        elif rows:
            break
    if len(rows) < 3:
        return {}
    head = rows[0]
    out: dict[str, tuple[float, str, float | None]] = {}
    for row in rows[2:]:
        label = row[0].replace("*", "").strip()
        best, who, naive = -1.0, "", None
        for name, cell in zip(head[2:], row[2:], strict=False):
            try:
                v = float(cell)
            except ValueError:
                continue
            if name == "naive":
                naive = v
            elif v > best:
                best, who = v, name
        if best >= 0:
            out[label] = (best, who, naive)
    return out


def peer_comparison(report: Report, peers: dict[str, tuple[float, str, float | None]]) -> str:
    """Markdown table: our step F1 next to the best open library's on the same group."""
    lines = [
        "| group | cadence-coach F1 | best open library F1 (method) | naive peak picker F1 |",
        "|---|---:|---|---:|",
    ]
    rows = [(g.label, g.stats) for g in report.groups] + [(g.label, g.stats) for g in report.placements]
    for label, st in rows:
        key = label.replace("*", "").strip()
        if key not in peers:
            continue
        best, who, naive = peers[key]
        mark = "**" if st.f1 is not None and st.f1 >= best else ""
        lines.append(
            f"| {label} | {mark}{_fmt_f1(st.f1)}{mark} | {best:.3f} ({who}) | "
            f"{'·' if naive is None else f'{naive:.3f}'} |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def _fmt_f1(x: float | None) -> str:
    return "·" if x is None else f"{x:.3f}"


def replace_readme_block(text: str, block: str) -> str:
    """Return ``text`` with the part between the accuracy markers replaced by ``block``.

    Raises
    ------
    AccuracyError
        When the markers are missing or out of order.
    """
    start = text.find(README_START)
    end = text.find(README_END, start + len(README_START)) if start >= 0 else -1
    if start < 0 or end < 0:
        raise AccuracyError(f"add the markers {README_START} and {README_END} to the README first")
    return text[: start + len(README_START)] + block + text[end:]


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy",
        description="Replay every recording with ground truth through our pipeline and score it.",
    )
    ap.add_argument(
        "folders",
        nargs="*",
        type=Path,
        metavar="FOLDER",
        help="truth folders <dataset>/<recording>.{csv,json} (default: tests/fixtures and "
        "../shared/datasets when it exists)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "cadence-coach-accuracy",
        help="where predictions go, as <out>/<folder name>/<dataset>/<recording>.json (default: %(default)s)",
    )
    ap.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="replay worker processes (default: all cores)",
    )
    ap.add_argument("--write-readme", type=Path, metavar="README.md", help="update the accuracy block there")
    ap.add_argument("--json", type=Path, metavar="FILE", help="write every report as JSON")
    ap.add_argument(
        "--per-recording",
        type=positive_int,
        nargs="?",
        const=15,
        default=None,
        metavar="N",
        help="also list the N recordings with the lowest F1 (default N: 15)",
    )
    ap.add_argument(
        "--misses",
        nargs="?",
        const="all",
        default=None,
        choices=("all", "foot", "lower_back", "shank"),
        metavar="PLACEMENT",
        help="also list every missed event and false positive with its time, per recording "
        "(optionally only one placement: foot, lower_back, shank)",
    )
    ap.add_argument(
        "--check-reference",
        action="store_true",
        help="also score with the reference score.py and fail if any group disagrees",
    )
    ap.add_argument(
        "--reference", type=Path, default=DEFAULT_REFERENCE, help="reference scorer (default: %(default)s)"
    )
    ap.add_argument("--no-replay", action="store_true", help="score the predictions already in --out")
    ap.add_argument("--quiet", action="store_true", help="no replay progress")
    return ap


def _unique_names(folders: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for folder in folders:
        base = folder.resolve().name or "root"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def _json_ready(results: Sequence[FolderResult], command: str, date: str, version: str) -> dict[str, Any]:
    return {
        "command": command,
        "date": date,
        "version": version,
        "folders": [
            {
                "folder": str(r.folder),
                "pred": str(r.pred_dir),
                "replay_s": r.replay_s,
                "reference_check": (
                    "not run" if r.mismatches is None else "failed" if r.mismatches else "passed"
                ),
                "reference_mismatches": r.mismatches or [],
                "report": r.report.to_dict(),
            }
            for r in results
        ],
    }


def run(args: argparse.Namespace, command: str) -> int:
    """Run the command for parsed arguments; return the exit status."""
    readme_text = None
    if args.write_readme is not None:
        if not args.write_readme.is_file():
            raise AccuracyError(f"{args.write_readme}: no such README")
        readme_text = args.write_readme.read_text()
        replace_readme_block(readme_text, "")  # fail on missing markers before any work
        check_writable(args.write_readme, "--write-readme")
    if args.json is not None:
        check_writable(args.json, "--json")
    if args.check_reference and not args.reference.is_file():
        raise AccuracyError(f"reference scorer not found at {args.reference} (use --reference PATH)")
    folders: list[Path] = list(args.folders) or default_folders()
    for folder in args.folders:
        if not folder.is_dir():
            raise AccuracyError(f"{folder}: not a folder")

    results: list[FolderResult] = []
    failed = False
    for folder, name in zip(folders, _unique_names(folders), strict=True):
        truths, n_sidecars = truth_with_steps(folder)
        if not truths:
            print(no_truth_message(folder), file=sys.stderr)
            continue
        pred_dir = args.out / name
        if args.no_replay and not any(
            (pred_dir / t.dataset / f"{t.recording_id}.json").is_file() for t in truths
        ):
            raise AccuracyError(
                f"--no-replay: no predictions for {display_path(folder)} in {pred_dir}; fix: run once "
                "without --no-replay, or give the --out of the run that replayed it"
            )
        replay_s = 0.0
        if not args.no_replay:
            t0 = time.perf_counter()
            replay_folder(folder, truths, n_sidecars, pred_dir, jobs=args.jobs, progress=not args.quiet)
            replay_s = time.perf_counter() - t0
        report = score_folder(folder, pred_dir, by=GROUP_BY)
        result = FolderResult(folder, pred_dir, report, replay_s)
        print(
            f"\n## {display_path(folder)} -> {pred_dir}" + (f" (replay {replay_s:.1f} s)" if replay_s else "")
        )
        print()
        print(format_markdown(report))
        if args.per_recording:
            print(f"\nWorst {min(args.per_recording, len(report.recordings))} recordings by F1:\n")
            print(format_worst_recordings(report, args.per_recording))
        if args.misses:
            only = None if args.misses == "all" else args.misses
            print("\nMissed events and false positives" + (f" ({only})" if only else "") + ":\n")
            print(format_misses(report, only))
        if args.check_reference:
            result.mismatches = check_against_reference(args.reference, report)
            if result.mismatches:
                failed = True
                print(
                    f"\nREFERENCE MISMATCH: {len(result.mismatches)} number(s) of {display_path(folder)} "
                    f"disagree with {args.reference}:",
                    file=sys.stderr,
                )
                for line in result.mismatches:
                    print(f"  {line}", file=sys.stderr)
            else:
                print(f"\nreference check: every group agrees with {display_path(args.reference)}")
        results.append(result)

    if not results:
        raise AccuracyError("no folder had recordings with step truth; nothing scored")
    date = dt.date.today().isoformat()
    version = software_version()
    if args.json is not None:
        write_output(
            args.json, json.dumps(_json_ready(results, command, date, version), indent=1) + "\n", "--json"
        )
    if readme_text is not None:
        block = readme_block(results, command, date, version)
        write_output(args.write_readme, replace_readme_block(readme_text, block), "--write-readme")
        print(f"\nupdated the accuracy block of {args.write_readme}")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.accuracy``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    command = " ".join(["python -m benchmarks.accuracy", *map(shlex.quote, argv)])
    try:
        return run(args, command)
    except (AccuracyError, ScoringError) as exc:
        print(f"accuracy: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
