"""The malformed-spec corpus: every user mistake is one located line on stderr, exit 1, no traceback.

Each file in tests/malformed/ starts with ``# expect: LINE:COL message-fragment`` and optionally
``# args: ...`` (extra command-line arguments).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

CORPUS = sorted((Path(__file__).parent / "malformed").glob("*.yaml"))


def _header(path: Path) -> tuple[str, str, list[str]]:
    text = path.read_text()
    expect = re.search(r"^# expect: (\d+:\d+) (.+)$", text, re.M)
    assert expect, f"{path.name} has no '# expect:' line"
    args = re.search(r"^# args: (.+)$", text, re.M)
    return expect.group(1), expect.group(2), shlex.split(args.group(1)) if args else []


def test_corpus_size_matches_the_docs() -> None:
    """docs/reliability.md states the corpus size; the two must agree."""
    docs = (Path(__file__).parents[1] / "docs" / "reliability.md").read_text()
    stated = re.search(r"`tests/malformed/` holds (\d+) broken specs", docs)
    assert stated, "docs/reliability.md no longer states the corpus size"
    assert len(CORPUS) == int(stated.group(1)) == 86


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_spec(path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    where, fragment, args = _header(path)
    result = cli("analyze", str(path), *args)
    assert result.code == 1, result.err
    assert result.out == ""
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    line = lines[0]
    source = f"<{args[0]} {args[1]}>" if args else str(path)
    assert line.startswith(f"{source}:{where}: error: "), line
    assert fragment in line, line
