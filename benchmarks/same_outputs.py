"""``python -m benchmarks.same_outputs``: tell whether a change leaves every output of every recording alone.

Usage::

    python -m benchmarks.same_outputs [--against REV] [--keep DIR] [--json FILE] [--jobs N]
                                      [--quick] [FOLDER ...]

The check behind every "bit-identical" refactoring in ``docs/performance.md``. For each recording
of the folders (default ``tests/fixtures`` and, when present, ``../shared/datasets``; ``--quick``:
the fixtures only) it writes

- ``json``, ``csv``: the report and the per-step CSV, as ``cadence-coach replay FOLDER --json DIR
  --csv DIR`` writes them (run through the CLI itself);
- ``json_gentle``: the report again with ``--profile gentle`` (the coach's other settings);
- ``warnings``: the warnings that replay printed for the recording;
- ``stream``: the live :class:`dsp.Pipeline` (default configuration) fed the recording in 50 ms
  blocks: every step, stride, cue and missed stride with the block it came out of, and the
  detector's flags. The recording is fed whole and in random chunks (seeded by its name) as well;
  the three must give the same items (else it is listed under ``stream_differs``: a failure);

and the sha256 of each to a JSON file (``--json``). With ``--against REV`` the same runs on the
revision ``REV`` (built in a temporary ``git worktree``, removed afterwards, with that worktree
first on ``PYTHONPATH``; the recordings are the same files), and the recordings whose digests
differ are printed (exit 1), or ``identical: N recordings, M outputs`` (exit 0). ``--keep DIR``
keeps the outputs (``DIR/this``, ``DIR/against``) for ``diff -r``. "This" tree is the checkout
this module is in, uncommitted edits included.

Both sides run in a child process with ``CADENCE_AOT=0`` (the numba JIT: an AOT module that is
stale in one tree and not the other would add a warning). The replay report's
``software_version`` is left out of the digest (a version bump is not an output change).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = "cadence-coach.same-outputs/1"
#: Seed of the random chunking (mixed with each recording's name).
SEED = 7
#: One random cut per this many samples on average.
CHUNK_SAMPLES = 300
BLOCK_S = 0.05
#: What the pipeline returns, as the stream's lines name them.
KINDS = ("step", "stride", "cue", "missed")
OUTPUTS = ("json", "csv", "json_gentle", "warnings", "stream")
DEFAULT_JSON = Path(tempfile.gettempdir()) / "cadence-coach-same-outputs.json"

# The worker half (``--worker``) runs with the tree under test first on PYTHONPATH and imports only
# firmware_py and dsp from it: benchmarks/ may not exist there (an older revision), or differ.


def sha256(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def plain(x: Any) -> str:
    """Spell out a pipeline output exactly (floats by ``repr``, which round-trips every bit).

    Dataclasses as ``Name(field=value, ...)``; numpy scalars and arrays as Python numbers and lists,
    so that the text does not depend on numpy's repr.
    """
    if x is None or isinstance(x, (bool, np.bool_)):
        return str(bool(x)) if x is not None else "None"
    if isinstance(x, (float, np.floating)):
        return repr(float(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, str):
        return repr(x)
    if isinstance(x, np.ndarray):
        return "array(" + plain(x.tolist()) + ")"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(plain(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{plain(k)}: {plain(v)}" for k, v in x.items()) + "}"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        fields = ", ".join(f"{f.name}={plain(getattr(x, f.name))}" for f in dataclasses.fields(x))
        return f"{type(x).__name__}({fields})"
    return repr(x)


def feed(rec: Any, cuts: list[int]) -> tuple[list[list[str]], str]:
    """Feed ``rec`` to a fresh pipeline (default configuration) cut at ``cuts``; return its outputs.

    Returns
    -------
    list of list of str
        Per call of ``process`` (and the final ``finish``): the steps, strides, cues and missed
        strides it returned, one line each.
    str
        The detector's flags after ``finish``.
    """
    from firmware_py.config import load_config, make_pipeline
    from firmware_py.replay import subject_height_m

    pipe = make_pipeline(
        load_config(),
        sampling_rate_hz=rec.sampling_rate_hz,
        placement=rec.placement,
        has_gyro=rec.has_gyro,
        placement_side=rec.placement_side,
        runner_height_m=subject_height_m(rec),
    )
    g = rec.gyro_rads
    updates = [
        pipe.process(rec.t_s[a:b], rec.acc_mps2[a:b], None if g is None else g[a:b])
        for a, b in itertools.pairwise(cuts)
    ]
    updates.append(pipe.finish())
    out = []
    for u in updates:
        lines = [f"step {plain(e)}" for e in u.steps]
        lines += [f"stride {plain(s)}" for s in u.strides]
        lines += [f"cue {plain(c)}" for c in u.cues]
        lines += [f"missed {plain(m)}" for m in u.missed_strides]
        out.append(lines)
    f = pipe.steps.flags
    flags = (
        f"flags repaired_samples={f.repaired_samples} gaps={f.gaps} "
        f"frozen_samples={f.frozen_samples} saturated_samples={f.saturated_samples}"
    )
    return out, flags


def stream_outputs(path: str, name: str) -> tuple[str, bool]:
    """Feed one recording whole, in 50 ms blocks and in random chunks.

    Parameters
    ----------
    path : str
        The recording.
    name : str
        Its name in the digest (seeds its random chunks, so that they do not depend on which other
        recordings are checked).

    Returns
    -------
    str
        The 50 ms run: each item prefixed with the block it came out of, then the flags.
    bool
        Whether the three runs gave the same items and flags (ignoring where the blocks fell).
    """
    import warnings

    from firmware_py.logs import read_log

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = read_log(Path(path))
        n = rec.n_samples
        b = max(1, round(BLOCK_S * rec.sampling_rate_hz))
        rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
        random_cuts = np.sort(rng.integers(0, n, size=max(1, n // CHUNK_SAMPLES)))
        runs = [
            feed(rec, cuts)
            for cuts in (
                [*range(0, n, b), n],
                [0, n],
                np.unique(np.r_[0, random_cuts, n]).tolist(),
            )
        ]
    # each kind in order (within one call, a block's strides may belong to earlier steps)
    flat = [
        ([line for kind in KINDS for lines in ups for line in lines if line.startswith(kind + " ")], flags)
        for ups, flags in runs
    ]
    same = flat[0] == flat[1] == flat[2]
    ups, flags = runs[0]
    text = "".join(f"b{i} {line}\n" for i, lines in enumerate(ups) for line in lines) + flags + "\n"
    return text, same


def _stream_job(args: tuple[str, str]) -> tuple[str, str, bool]:
    path, name = args
    text, same = stream_outputs(path, name)
    return name, text, same


def _run_cli(argv: list[str]) -> tuple[int, str]:
    """Run ``cadence-coach`` in this process; return its exit status and what it wrote to stderr."""
    from firmware_py.cli import main as cli_main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli_main(argv)
    # the progress bar redraws itself with '\r': keep what each line ends as
    lines = [line.rsplit("\r", 1)[-1] for line in err.getvalue().split("\n")]
    return rc, "\n".join(line for line in lines if line)


def split_warnings(stderr: str, sources: list[str]) -> tuple[dict[str, str], str]:
    """Attribute replay's stderr lines to recordings.

    A line ``cadence-coach: [warning: ]SOURCE: ...`` belongs to that recording; a line that
    names none continues the previous line's owner, or belongs to the folder.

    Returns
    -------
    dict
        Source -> its lines (only the sources that have some).
    str
        The lines of no recording.
    """
    per: dict[str, list[str]] = {}
    rest: list[str] = []
    owner: list[str] | None = None
    for line in stderr.splitlines():
        if line.startswith("cadence-coach:"):
            body = line.removeprefix("cadence-coach:").strip().removeprefix("warning:").strip()
            src = next((s for s in sources if body.startswith(s + ":")), None)
            owner = per.setdefault(src, []) if src is not None else rest
        (owner if owner is not None else rest).append(line)
    return {k: "\n".join(v) + "\n" for k, v in per.items()}, "\n".join(rest) + ("\n" if rest else "")


def _write(path: Path, data: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256(data)


def _report_digest(path: Path) -> str:
    """sha256 of a replay report with its ``software_version`` left out (the text otherwise as written)."""
    lines = path.read_bytes().splitlines(keepends=True)
    return sha256(b"".join(line for line in lines if not line.lstrip().startswith(b'"software_version"')))


def dump_outputs(folders: list[tuple[str, Path]], out: Path, jobs: int = 1) -> dict[str, Any]:
    """Write every output of every recording of ``folders`` below ``out``; return their digests.

    Parameters
    ----------
    folders : list of (str, Path)
        A label (the folder's name in the digests and below ``out``) and the folder.
    out : Path
        Output folder: ``out/<output>/<label>/<recording>``.
    jobs : int
        Worker processes.

    Returns
    -------
    dict
        ``recordings``: ``"<label>/<recording path>"`` -> output -> sha256 (None when missing);
        ``folders``: label -> sha256 of replay's stderr lines that name no recording (and its exit
        status); ``stream_differs``: the recordings fed whole, in 50 ms blocks and in random
        chunks that did not give the same items; ``replay_exit``: label -> the exit statuses of
        the two replays; ``modules``: where ``dsp`` and ``firmware_py`` were imported from.
    """
    import dsp
    import firmware_py
    from firmware_py.replay import find_recordings

    recordings: dict[str, dict[str, str | None]] = {}
    folder_digests: dict[str, str] = {}
    exits: dict[str, list[int]] = {}
    stream_work: list[tuple[str, str]] = []
    for label, folder in folders:
        found = find_recordings(folder)
        rels = {str(p): p.relative_to(folder) for p in found}
        dirs = {k: out / k / label for k in ("json", "csv", "json_gentle")}
        base = ["replay", str(folder), "--jobs", str(jobs)]
        rc, stderr = _run_cli([*base, "--json", str(dirs["json"]), "--csv", str(dirs["csv"])])
        rc_g, stderr_g = _run_cli([*base, "--profile", "gentle", "--json", str(dirs["json_gentle"])])
        per, rest = split_warnings(stderr, list(rels))
        _, rest_g = split_warnings(stderr_g, list(rels))
        exits[label] = [rc, rc_g]
        rest = f"exit {rc}\n{rest}--profile gentle: exit {rc_g}\n{rest_g}"
        folder_digests[label] = _write(out / "stderr" / f"{label}.txt", rest.encode())
        for src, rel in rels.items():
            name = f"{label}/{rel.as_posix()}"
            stem = rel.with_suffix("")
            files = {
                "json": dirs["json"] / stem.with_suffix(".json"),
                "csv": dirs["csv"] / stem.with_suffix(".csv"),
                "json_gentle": dirs["json_gentle"] / stem.with_suffix(".json"),
            }
            row: dict[str, str | None] = {
                k: (_report_digest(p) if k != "csv" else sha256(p.read_bytes())) if p.is_file() else None
                for k, p in files.items()
            }
            row["warnings"] = _write(out / "warnings" / label / f"{rel}.txt", per.get(src, "").encode())
            recordings[name] = row
            stream_work.append((src, name))
    if jobs > 1 and len(stream_work) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            streamed = list(pool.map(_stream_job, stream_work))
    else:
        streamed = [_stream_job(w) for w in stream_work]
    differs = []
    for name, text, same in streamed:
        recordings[name]["stream"] = _write(out / "stream" / f"{name}.txt", text.encode())
        if not same:
            differs.append(name)
    return {
        "schema": SCHEMA,
        "modules": {"dsp": dsp.__file__, "firmware_py": firmware_py.__file__},
        "recordings": recordings,
        "folders": folder_digests,
        "stream_differs": differs,
        "replay_exit": exits,
    }


# ---- the driver (runs in this checkout) ----------------------------------------------------


class Refused(Exception):
    """A bad revision, folder or option: one line for the user."""


def n_outputs(digests: dict[str, Any]) -> int:
    """Count the outputs of a digest file (one per recording and output that exists)."""
    return sum(v is not None for row in digests["recordings"].values() for v in row.values())


def compare(this: dict[str, Any], other: dict[str, Any]) -> list[str]:
    """Return one line per recording (or folder) whose outputs differ between two digest files."""
    lines = []
    a, b = this["recordings"], other["recordings"]
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            lines.append(f"{name}: only in {'this tree' if name in a else 'the other'}")
            continue
        diff = [k for k in sorted(set(a[name]) | set(b[name])) if a[name].get(k) != b[name].get(k)]
        if diff:
            lines.append(f"{name}: {', '.join(diff)}")
    for label in sorted(set(this["folders"]) | set(other["folders"])):
        if this["folders"].get(label) != other["folders"].get(label):
            lines.append(f"{label}: replay's other stderr lines (see stderr/{label}.txt)")
    return lines


def labelled(folders: list[Path]) -> list[tuple[str, Path]]:
    """Give each folder a label (its name, numbered when two share it), absolute paths."""
    out: list[tuple[str, Path]] = []
    for f in folders:
        if not f.is_dir():
            raise Refused(f"{f}: no such folder; fix: give folders of recordings (default tests/fixtures)")
        label, i = f.resolve().name, 2
        while any(label == x for x, _ in out):
            label, i = f"{f.resolve().name}-{i}", i + 1
        out.append((label, f.resolve()))
    return out


def run_tree(
    root: Path, folders: list[tuple[str, Path]], out: Path, jobs: int, numba_cache: Path | None = None
) -> dict[str, Any]:
    """Run :func:`dump_outputs` in a child Python that imports the project from ``root``.

    ``numba_cache``: a ``NUMBA_CACHE_DIR`` for the child (a temporary tree's kernels compile
    there rather than into a cache folder the user set, where they would stay).
    """
    from benchmarks.perf import child_env

    extra = {} if numba_cache is None else {"NUMBA_CACHE_DIR": str(numba_cache)}

    digest_file = out / "digests.json"
    spec = json.dumps({"folders": [[label, str(p)] for label, p in folders], "out": str(out), "jobs": jobs})
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", spec, str(digest_file)],
        cwd=root,
        env=child_env(root=root, **extra),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not digest_file.is_file():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Refused(f"the run in {root} failed (exit {proc.returncode}): {tail}")
    digests = json.loads(digest_file.read_text())
    digest_file.unlink()
    for mod, where in digests["modules"].items():
        if not Path(where).resolve().is_relative_to(root.resolve()):
            raise Refused(f"the run in {root} imported {mod} from {where}, not from that tree")
    return digests


def resolve_revision(repo: Path, rev: str) -> str:
    """Return the commit ``rev`` names in ``repo`` (Refused when it names none)."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError as exc:
        raise Refused(f"--against {rev}: git is not installed (it builds the revision)") from exc
    if proc.returncode != 0:
        raise Refused(f"--against {rev}: not a revision of {repo}; fix: a commit, branch or tag (git log)")
    return proc.stdout.strip()


@contextlib.contextmanager
def revision_tree(repo: Path, commit: str):
    """Check ``commit`` out in a temporary ``git worktree``; remove it on the way out."""
    parent = Path(tempfile.mkdtemp(prefix="cc-same-outputs-"))
    tree = parent / "tree"
    try:  # from before the add: an interrupt during or just after it removes the tree all the same
        proc = subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(tree), commit],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise Refused(f"git worktree add {commit[:12]} failed: {proc.stderr.strip()}")
        yield tree
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True
        )
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.same_outputs",
        description="Replay every recording (JSON, CSV, --profile gentle, warnings) and feed it to the "
        "live pipeline whole, in 50 ms blocks and in random chunks; write the sha256 of each output, "
        "and with --against REV tell the recordings whose outputs differ from that revision's.",
    )
    ap.add_argument(
        "folders",
        nargs="*",
        type=Path,
        help="folders of recordings (default: tests/fixtures and ../shared/datasets when present)",
    )
    ap.add_argument(
        "--against", metavar="REV", help="compare with this git revision (built in a temporary worktree)"
    )
    ap.add_argument("--keep", type=Path, metavar="DIR", help="keep the outputs in DIR/this (and DIR/against)")
    ap.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="FILE",
        help=f"digest file (default {DEFAULT_JSON})",
    )
    ap.add_argument(
        "--jobs", type=int, default=None, metavar="N", help="worker processes (default: all cores)"
    )
    ap.add_argument("--quick", action="store_true", help="tests/fixtures only")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point; return the exit status (0 same, 1 different, 2 refused)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        # run as a script from this checkout's benchmarks/: import nothing from that folder
        here = str(Path(__file__).resolve().parent)
        sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(here)]
        spec = json.loads(argv[1])
        folders = [(label, Path(p)) for label, p in spec["folders"]]
        digests = dump_outputs(folders, Path(spec["out"]), spec["jobs"])
        Path(argv[2]).write_text(json.dumps(digests, indent=1) + "\n")
        return 0
    from benchmarks.perf import REPO, default_folders

    args = build_parser().parse_args(argv)
    try:
        if args.jobs is not None and args.jobs < 1:
            raise Refused(f"--jobs {args.jobs}: give a whole number of at least 1")
        jobs = args.jobs or os.cpu_count() or 1
        if args.quick and args.folders:
            raise Refused("--quick replays tests/fixtures: give no folders with it")
        given = args.folders or default_folders()[: 1 if args.quick else None]
        folders = labelled(given)
        commit = resolve_revision(REPO, args.against) if args.against else None
        keep = args.keep
        if keep is not None and keep.exists() and not keep.is_dir():
            raise Refused(
                f"--keep {keep}: is a file; fix: give a folder (its this/ and against/ are replaced)"
            )
        work = Path(tempfile.mkdtemp(prefix="cc-same-outputs-out-")) if keep is None else keep
        try:
            for sub in ("this", "against"):
                shutil.rmtree(work / sub, ignore_errors=True)
            this = run_tree(REPO, folders, work / "this", jobs)
            result: dict[str, Any] = {"this": {"tree": str(REPO), **this}}
            other = None
            if commit is not None:
                with revision_tree(REPO, commit) as tree:
                    other = run_tree(tree, folders, work / "against", jobs, tree.parent / "numba-cache")
                result["against"] = {"revision": args.against, "commit": commit, **other}
        finally:
            if keep is None:
                shutil.rmtree(work, ignore_errors=True)
    except Refused as exc:
        print(f"same_outputs: {exc}", file=sys.stderr)
        return 2
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    bad = []
    for side, d in (("this tree", this), (f"{args.against}", other)):
        for name in d["stream_differs"] if d else []:
            bad.append(f"{name}: whole, 50 ms blocks and random chunks differ ({side})")
    if other is not None:
        bad += compare(this, other)
    n, m = len(this["recordings"]), n_outputs(this)
    for side, d in (("this tree", this), (f"{args.against}", other)):
        for label, codes in (d or {}).get("replay_exit", {}).items():
            if any(codes):
                print(f"note: {side}: replay of {label} exited {codes[0]} (--profile gentle: {codes[1]})")
    for line in bad:
        print(line)
    where = f"; outputs in {keep}" if keep else ""
    if bad:
        print(f"differ: {len(bad)} line(s) above, of {n} recordings; digests in {args.json}{where}")
        return 1
    what = "identical" if other is not None else "streaming == batch"
    print(f"{what}: {n} recordings, {m} outputs; digests in {args.json}{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
