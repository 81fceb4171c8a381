"""Every YAML example in docs/spec.md is a valid spec that analyses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import run_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "spec.md"
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("text", EXAMPLES, ids=[re.search(r"name: (\S+)", t).group(1) for t in EXAMPLES])  # type: ignore[union-attr]
def test_example_analyses(text: str) -> None:
    a = run_text(text)
    assert a.params > 0 and a.macs > 0 and a.output[-1] == 10
