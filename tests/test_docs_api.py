"""docs/api.md: every example runs, and prints what the page says (doctest)."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_api_examples_print_what_the_docs_say() -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=flags, verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in docs/api.md failed (see above)"


def test_readme_python_example_prints_what_its_comments_say() -> None:
    """The README's API snippet: each expression line's comment is its value."""
    import ast
    import re

    readme = (DOC.parent.parent / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "rescomp.analyze(" in b)
    namespace: dict[str, object] = {}
    checked = 0
    for line in block.splitlines():
        code, _, comment = line.partition("#")
        if not code.strip():
            continue
        try:
            expected = ast.literal_eval(comment.strip().split(":")[0].strip())
        except (ValueError, SyntaxError):
            exec(code, namespace)
            continue
        if "=" in code.split("(")[0]:
            exec(code, namespace)
            continue
        assert eval(code, namespace) == expected, line
        checked += 1
    assert checked == 2
