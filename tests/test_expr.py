"""The expression language: Python-like arithmetic, never eval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rescomp.errors import Loc, SpecError
from rescomp.spec.expr import evaluate, interpolate

L = Loc("f.yaml", 3, 10)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2 * n + 2", 8),
        ("n // 2", 1),
        ("stride if mode == '1x1' else 1", 2),
        ("[1, 2, 3][n - 1]", 3),
        ("{18: [2, 2], 34: [3, 4]}[34][1]", 4),
        ("max(n, 5)", 5),
        ("ceil_div(7, 2)", 4),
        ("not flag", True),
        ("n in [1, 3]", True),
        ("2 ** 10", 1024),
    ],
)
def test_values(text: str, value: object) -> None:
    assert evaluate(text, {"n": 3, "stride": 2, "mode": "1x1", "flag": False}, L) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("__import__('os')", "unknown function"),
        ("n.__class__", "not allowed"),
        ("(lambda: 1)()", "not allowed"),
        ("[x for x in [1]]", "not allowed"),
        ("10 ** 10 ** 10", "exponent"),
        ("1 / 0", "division by zero"),
        ("m + 1", "unknown name 'm'"),
        ("'a' * 100000", "longer than"),
        ("open('f')", "unknown function"),
        ("n +", "invalid syntax"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        evaluate(text, {"n": 3}, L)
    assert info.value.loc is not None and info.value.loc.line == 3


def test_interpolation() -> None:
    env = {"n": 2, "kind": "basic"}
    assert interpolate("${kind}", env, L) == "basic"
    assert interpolate("${n * 2}", env, L) == 4
    assert interpolate("layer${n + 1}", env, L) == "layer3"
    assert interpolate("plain", env, L) == "plain"


@given(st.integers(-1000, 1000), st.integers(1, 1000), st.sampled_from(["+", "-", "*", "//", "%"]))
def test_arithmetic_matches_python(a: int, b: int, op: str) -> None:
    assert evaluate(f"a {op} b", {"a": a, "b": b}, L) == eval(f"{a} {op} {b}")
