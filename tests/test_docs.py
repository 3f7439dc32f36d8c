"""README and docs as a reader checks them: links resolve, prose agrees with the generated blocks.

The figures compared here are read from the documents themselves (the generated tables and the
prose that quotes them); nothing is produced by the code under test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
#: Every Markdown file a reader of the repository opens.
DOCS = sorted(
    [README, *(REPO / "docs").glob("*.md"), *(REPO / "hardware").glob("*.md")]
    + [p for p in REPO.glob("*/ATTRIBUTION.md")]
    + [p for p in (REPO / "firmware_py" / "data").glob("*.md")]
    + [p for p in (REPO / "tests" / "fixtures").glob("*.md")]
)


def _readme() -> str:
    return README.read_text()


def _block(name: str) -> str:
    text = _readme()
    return text[text.index(f"<!-- {name}:start -->") : text.index(f"<!-- {name}:end -->")]


def _prose() -> str:
    """The README without its generated blocks."""
    text = _readme()
    for name in ("accuracy", "terrain", "speed", "reliability"):
        start, end = text.find(f"<!-- {name}:start -->"), text.find(f"<!-- {name}:end -->")
        if start >= 0 and end > start:
            text = text[:start] + text[end:]
    return text


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(doc: Path) -> None:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)  # code blocks hold no links
    broken = []
    for m in re.finditer(r"\]\(([^)\s]+)\)", text):
        target = m.group(1).split("#")[0]
        if not target or re.match(r"[a-z]+:", target):
            continue
        if not (doc.parent / target).exists():
            broken.append(m.group(1))
    assert broken == [], f"{doc.relative_to(REPO)}: links to nothing: {broken}"


def test_known_gaps_foot_stride_mape_range_is_the_tables():
    # prose said 1.2-1.9 % while the table's gdind and pyshoe rows read 1.2-1.8 %
    datasets = _block("accuracy").split("**`../shared/datasets`**")[1]
    mapes = [
        float(m.group(1))
        for m in re.finditer(
            r"^\| (?:gdind_footprints|pyshoe_vicon) / foot / \w+ \|.*?\| [\d.]+ / ([\d.]+)% \(",
            datasets,
            re.M,
        )
    ]
    assert len(mapes) == 4
    low, high = re.search(r"foot stride MAPE is ([\d.]+)–([\d.]+) % on gdind and pyshoe", _prose()).groups()
    assert (float(low), float(high)) == (min(mapes), max(mapes))


def test_known_gaps_jit_floor_is_the_speed_blocks():
    # prose said 138 MB, the generated speed block 139 MB
    block = re.search(r"trivial numba kernel from a warm cache peaks at (\d+) MB", _block("speed")).group(1)
    prose = re.search(r"one trivial cached kernel alone peaks\s+at (\d+) MB", _prose()).group(1)
    assert prose == block


def test_known_gaps_peer_ratios_are_the_speed_blocks():
    # prose said 82-90x and 1-5x where the table read 84x and 1-3x
    rows = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(
            r"^\| ([\w/-]+) \| \w+ \| [^|]+\| [^|]+\| [^|]+\| (\d+)x / (\d+)x \|", _block("speed"), re.M
        )
    }
    gaitmap = rows["gaitmap"]
    assert f"is {gaitmap[0]}× gaitmap's stride pipeline and its steps alone {gaitmap[1]}×" in " ".join(
        _prose().split()
    )
    mobgap = [v for k, v in rows.items() if k.startswith("mg-")]
    steps = sorted(int(s) for _, s in mobgap)
    whole = sorted(int(w) for w, _ in mobgap)
    text = " ".join(_prose().split())
    assert f"our step detector alone is {steps[0]}-{steps[-1]}× mobgap's" in text
    assert f"and the whole pipeline {whole[0]}-{whole[-1]}×" in text


def test_coaching_example_reason_is_the_json_examples():
    # the Coaching section quoted the demo's first cue with 19 steps, the JSON example with 23
    example = json.loads(re.search(r"```json\n(.*?)```", _readme(), re.S).group(1))
    reason = example["cues"][0]["reason"]
    quoted = re.search(r"carries its reason with the numbers, e\.g\. `([^`]+)`", " ".join(_prose().split()))
    assert quoted.group(1) == reason


def _command_lines(prefix: str) -> list[tuple[str, str]]:
    """Every line of a fenced code block in the docs that runs ``prefix``, with its document."""
    found = []
    for doc in DOCS:
        fence = None  # the language of the block we are in, or None outside blocks
        for raw in doc.read_text().splitlines():
            if raw.lstrip().startswith("```"):
                fence = raw.strip()[3:] if fence is None else None
                continue
            if fence not in ("bash", "sh", "console", ""):
                continue
            line = raw.split(" #")[0].strip().removeprefix("sudo ").removeprefix("$ ")
            if line.startswith(prefix + " "):
                found.append((str(doc.relative_to(REPO)), line))
        # and inline: `cadence-coach ...` in the prose (a span may wrap; elided ones are skipped)
        prose = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
        for span in re.findall(r"`((?:sudo )?" + re.escape(prefix) + r" [^`]+)`", prose):
            line = " ".join(span.split()).removeprefix("sudo ")
            if "…" not in line and "..." not in line and len(line.split()) > 2:
                found.append((str(doc.relative_to(REPO)), line))
    return found


@pytest.mark.parametrize(("where", "line"), _command_lines("cadence-coach"))
def test_every_documented_cadence_coach_command_parses(where: str, line: str) -> None:
    import shlex

    from firmware_py.cli import build_parser

    try:
        build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{where}: `{line}` is refused by the parser (status {exc.code})")


def _cue_table() -> dict[str, list[str]]:
    """The README's cue table: kind -> [meaning, buzzer, vibration, LED] cells."""
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*) \|$", _readme(), re.M)
    return {kind: [c.strip() for c in rest.split(" | ")] for kind, rest in rows}


#: Tones the README names as notes instead of in Hz (the ``ready`` triple), Hz -> note.
_NOTES = {1047.0: "C6", 1319.0: "E6", 1568.0: "G6"}


def _numbers(cell: str) -> set[float]:
    """Every number written in a table cell."""
    return {float(x) for x in re.findall(r"\d+(?:\.\d+)?", cell)}


def test_readme_cue_table_is_the_patterns_played_on_the_pins():
    # issue #5 asks that every cue pattern be documented with its meaning; the patterns the pins
    # play live in firmware_py.outputs.PATTERNS, and nothing tied the README's table to them
    from firmware_py.outputs import PATTERNS

    table = _cue_table()
    assert set(table) == set(PATTERNS)
    for kind, pattern in PATTERNS.items():
        meaning, buzzer, vibration, led = table[kind]
        assert meaning, kind
        said = _numbers(buzzer)
        chirp_ms = round(sum(p[0] for p in pattern["buzzer"]) * 1000)  # a chirp is one sweep
        for on_s, off_s, tone in pattern["buzzer"]:
            assert tone in said or _NOTES.get(tone, "?") in buzzer, (kind, tone, buzzer)
            assert round(on_s * 1000) in said or chirp_ms in said, (kind, on_s, buzzer)
            assert not off_s or round(off_s * 1000) in said, (kind, off_s, buzzer)
        if vibration == "same rhythm":
            assert [p[:2] for p in pattern["vibration"]] == [p[:2] for p in pattern["buzzer"]], kind
        elif "vibration" in pattern:
            for _on_s, _off_s, value in pattern["vibration"]:
                assert value in _numbers(vibration), (kind, value, vibration)
        else:
            assert vibration.startswith("none"), (kind, vibration)
        assert (led != "–") == ("led" in pattern), (kind, led)


class _Parsed(Exception):
    """Raised by the spied ``parse_args`` once a command line has been accepted."""


def _benchmark_command_lines() -> list[tuple[str, str]]:
    # usage-style lines ("[FOLDER] [--json FILE]") are checked with their optional parts given
    lines = [(w, line.replace("[", "").replace("]", "")) for w, line in _command_lines("python -m")]
    return [(w, line) for w, line in lines if line.split()[2].split(".")[0] == "benchmarks"]


@pytest.mark.parametrize(("where", "line"), _benchmark_command_lines())
def test_every_documented_benchmark_command_parses(where: str, line: str, monkeypatch) -> None:
    # a benchmark option renamed or dropped must not linger in the docs; the module's own parser
    # reads the line and nothing runs (parse_args is stopped right after it accepts the line)
    import argparse
    import importlib
    import shlex

    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise _Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    words = shlex.split(line)
    module = importlib.import_module(words[2] if words[2] != "benchmarks" else "benchmarks.__main__")
    try:
        module.main(words[3:])
    except _Parsed:
        return
    except SystemExit as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{where}: `{line}` is refused by {words[2]}'s parser (status {exc.code})")
    pytest.fail(f"{where}: `{line}` ran without parsing its arguments")  # pragma: no cover


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_anchor_within_a_document_names_one_of_its_headings(doc: Path) -> None:
    text = doc.read_text()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", prose, re.M)}
    broken = [a for a in re.findall(r"\]\(#([^)\s]+)\)", prose) if a not in anchors]
    assert broken == [], f"{doc.relative_to(REPO)}: anchors without a heading: {broken}"
