"""Located, safe YAML loading."""

from __future__ import annotations

import time

import pytest

from rescomp.errors import SpecError
from rescomp.spec.yamlsrc import LList, LMap, load_yaml


def test_locations_are_one_based() -> None:
    doc = load_yaml("a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml")
    assert isinstance(doc, LMap) and isinstance(doc["b"], LList)
    assert (doc.loc_of("a").line, doc.loc_of("a").col) == (1, 4)
    assert (doc["b"].loc_of(1).line, doc["b"].loc_of(1).col) == (4, 5)
    assert str(doc["b"][1].loc_of("c")) == "f.yaml:4:9"


@pytest.mark.parametrize(
    "text",
    ["a: !!python/object/apply:os.system [ls]", "a: !!python/name:os.system", "a: !custom 1", "a: !!binary aGk="],
)
def test_non_core_tags_refused(text: str) -> None:
    with pytest.raises(SpecError, match="not allowed"):
        load_yaml(text, "f.yaml")


def test_merge_keys_and_anchors() -> None:
    doc = load_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert dict(doc["m"]) == {"y": 3, "x": 1}


def test_billion_laughs_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    start = time.perf_counter()
    with pytest.raises(SpecError, match="expands to more than"):
        load_yaml("\n".join(lines) + "\n", "bomb.yaml")
    assert time.perf_counter() - start < 30  # generous bound: the failure is quick, not a timing test


def test_nesting_depth_bounded() -> None:
    with pytest.raises(SpecError, match="nesting deeper"):
        load_yaml("a: " + "[" * 200 + "]" * 200, "deep.yaml")


def test_non_string_key_refused() -> None:
    with pytest.raises(SpecError, match="not a string"):
        load_yaml("1: a", "f.yaml")
