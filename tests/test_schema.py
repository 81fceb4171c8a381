"""The published JSON Schema agrees with the loader: both come from one grammar table (spec/grammar.py).

For every form of the table (each layer kind, the block definition, a parameter, the document) the
tests build documents from the table itself (minimal, complete, with an unknown key, without each
required key, with another kind's key, with a forbidden key) and check that the loader and the
schema give the same verdict, and the verdict the table implies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rescomp.errors import SpecError
from rescomp.spec.grammar import BLOCK_DEF, DOCUMENT, FORMS, ITEMS, OP, PARAM, Field, Form, item_kinds
from rescomp.spec.library import LIBRARY_DIR
from rescomp.spec.model import parse_spec
from rescomp.spec.schema import spec_schema
from rescomp.spec.yamlsrc import load_yaml

SCHEMA = spec_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
LAYER = SCHEMA["$defs"]["layer"]["oneOf"]

RELU = {"op": "relu"}
#: One valid value per field type of the grammar.
SAMPLES: dict[str, Any] = {
    "op": "relu",
    "name": "x1",
    "layer-name": "block1-0",
    "spec-name": "t-1.0",
    "string": "text",
    "block-ref": "b",
    "expr-int": 2,
    "bool-expr": True,
    "inputs": ["input"],
    "layers": [RELU],
    "args": {"width": 4},
    "exprs": {"w": "2 * 2"},
    "block-params": {"width": None, "stride": 1},
    "params": {"k": 2},
    "param-value": 2,
    "choices": [2, 3],
    "version": 1,
    "shape": [3, 8, 8],
    "dtype": "float16",
    "shortcut": "B",
    "defaults": {"conv": {"bias": False}},
    "blocks": {"b": {"layers": [RELU]}},
}


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted(LIBRARY_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_bundled_specs_validate(path: Path) -> None:
    assert list(VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))) == []


# ---------------------------------------------------------------------------------------------
# the malformed corpus: the schema rejects each file for the loader's reason, not for any reason


def _flat(doc: Any) -> list[tuple[tuple[Any, ...], str | None, str, str]]:
    """Schema errors as (path, layer alternative's title or None, validator, message)."""
    out = []
    for e in VALIDATOR.iter_errors(doc):
        if e.validator == "oneOf" and e.context:
            out += [
                (tuple(c.absolute_path), LAYER[c.schema_path[0]].get("title"), c.validator, c.message)
                for c in e.context
            ]
        else:
            out.append((tuple(e.absolute_path), None, str(e.validator), e.message))
    return out


def _alternative(errors: list[Any], title: str) -> list[tuple[tuple[Any, ...], str, str]]:
    return [(p, v, m) for p, t, v, m in errors if t == title]


OP_TITLES = [a["title"] for a in LAYER if "const" in a["properties"].get("op", {})]
EXPECTED: dict[str, Callable[[list[Any]], bool]] = {
    # the unknown key itself is reported, at the top (the loader's 'inptu' also hides 'input')
    "04_unknown_top_key": lambda errs: (
        ((), None, "additionalProperties", "Additional properties are not allowed ('inptu' was unexpected)") in errs
        and all(p == () for p, *_ in errs)
    ),
    "05_missing_layers": lambda errs: errs == [((), None, "required", "'layers' is a required property")],
    # no op alternative takes 'convv' as its op
    "06_unknown_op": lambda errs: all(
        any(p == ("layers", 0, "op") and v == "const" for p, v, _ in _alternative(errs, t)) for t in OP_TITLES
    ),
    # the conv alternative fails on 'kernal' and on nothing else
    "07_unknown_attr": lambda errs: (
        _alternative(errs, "conv")
        == [(("layers", 0), "additionalProperties", "Additional properties are not allowed ('kernal' was unexpected)")]
    ),
    # the conv alternative fails on 'bias' and on nothing else
    "08_wrong_attr_type": lambda errs: (
        bool(_alternative(errs, "conv")) and all(p == ("layers", 0, "bias") for p, _, _ in _alternative(errs, "conv"))
    ),
    # every alternative misses its discriminating key
    "35_layer_without_kind": lambda errs: all(
        ((("layers", 0), "required", f"'{a['required'][0]}' is a required property") in _alternative(errs, a["title"]))
        for a in LAYER
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_structural_mistakes_fail_the_schema_too(name: str) -> None:
    path = Path(__file__).parent / "malformed" / f"{name}.yaml"
    errors = _flat(yaml.safe_load(path.read_text()))
    assert errors, "the schema accepts it"
    assert EXPECTED[name](errors), errors


def test_expectations_can_fail() -> None:
    """The corpus checks reject a document that fails for another reason than the expected one."""
    wrong = {"name": "t", "input": [3, 8, 8], "layers": [{"op": "conv", "out": "x", "bias": 2, "kernel": []}]}
    assert not EXPECTED["07_unknown_attr"](_flat(wrong))
    assert not EXPECTED["05_missing_layers"](_flat({"name": "t", "input": [3], "bogus": 1}))


# ---------------------------------------------------------------------------------------------
# every form of the grammar table: the loader and the schema agree, and agree with the table


def _mapping(form: Form, which: str = "required") -> dict[str, Any]:
    fields: list[Field] = [f for f in form.fields if which == "all" or f.required]
    return {f.key: SAMPLES[f.type] for f in fields}


def _embed(form: Form, m: dict[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """A document holding ``m`` as one ``form``, and the path of ``m`` in it."""
    base: dict[str, Any] = {"name": "t", "input": [3, 8, 8], "blocks": {"b": {"layers": [RELU]}}, "layers": [RELU]}
    if form is DOCUMENT:
        return m, ()
    if form is BLOCK_DEF:
        return {**base, "blocks": {"b": m}}, ("blocks", "b")
    if form is PARAM:
        return {**base, "params": {"p": m}}, ("params", "p")
    return {**base, "layers": [m]}, ("layers", 0)


def _loader_error(doc: dict[str, Any]) -> SpecError | None:
    try:
        parse_spec(load_yaml(yaml.safe_dump(doc, sort_keys=False), "<test>"), "<test>")
    except SpecError as e:
        assert e.exit_code == 1
        return e
    return None


def _schema_errors(doc: dict[str, Any]) -> list[jsonschema.ValidationError]:
    return list(VALIDATOR.iter_errors(doc))


def _variants(form: Form) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(label, mapping, accepted?) for one form, as the table says."""
    yield "minimal", _mapping(form), True
    yield "complete", _mapping(form, "all"), True
    yield "unknown key", {**_mapping(form), "bogus_key": 1}, form.extra == "args"
    for f in form.fields:
        if f.required and f.key != form.key:
            yield f"without {f.key}", {k: v for k, v in _mapping(form).items() if k != f.key}, False
    for bad in form.forbidden:
        yield f"with {bad.key}", {**_mapping(form), bad.key: SAMPLES["name"]}, False
    if form in ITEMS:
        for other in ITEMS:
            key = other.key
            if other is not form and key is not None and key not in form.keys:
                m = {**_mapping(form), key: _mapping(other)[key]}
                kinds = item_kinds(m)  # a stage takes 'block' and 'repeat' as its own fields
                yield f"with {other.key}", m, len(kinds) == 1 and set(kinds[0].required) <= set(m)


CASES = [(form, *v) for form in FORMS for v in _variants(form)]


@pytest.mark.parametrize(("form", "label", "m", "accepted"), CASES, ids=[f"{c[0].kind}: {c[1]}" for c in CASES])
def test_loader_and_schema_agree_with_the_table(form: Form, label: str, m: dict[str, Any], accepted: bool) -> None:
    doc, where = _embed(form, m)
    loader = _loader_error(doc)
    errors = _schema_errors(doc)
    if accepted:
        assert loader is None, f"the loader rejects it: {loader}"
        assert errors == [], f"the schema rejects it: {[e.message for e in errors]}"
    else:
        assert loader is not None, "the loader accepts it"
        assert errors, "the schema accepts it"
        assert all(tuple(e.absolute_path)[: len(where)] == where for e in errors), [
            (list(e.absolute_path), e.message) for e in errors
        ]


@pytest.mark.parametrize("form", [f for f in FORMS if f.extra is None], ids=lambda f: f.kind)
def test_unknown_keys_are_named_by_both(form: Form) -> None:
    doc, _ = _embed(form, {**_mapping(form), "bogus_key": 1})
    loader = _loader_error(doc)
    assert loader is not None and "unknown key 'bogus_key'" in str(loader)
    messages = [e.message for e in _schema_errors(doc) for e in ([e, *e.context] if e.context else [e])]
    assert any("'bogus_key' was unexpected" in m for m in messages), messages


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.kind)
def test_missing_required_keys_are_named_by_both(form: Form) -> None:
    for f in form.fields:
        if not f.required or f.key == form.key:
            continue
        doc, _ = _embed(form, {k: v for k, v in _mapping(form).items() if k != f.key})
        loader = _loader_error(doc)
        expected = (
            f.missing.format(value=_mapping(form).get(form.key or ""))
            if f.missing
            else f"missing required key '{f.key}'"
        )
        assert loader is not None and expected in str(loader)
        messages = [e.message for e in _schema_errors(doc) for e in ([e, *e.context] if e.context else [e])]
        assert f"'{f.key}' is a required property" in messages, messages


def test_op_attributes_come_from_the_registry() -> None:
    """An op item takes its op's attributes (from the registry) and nothing else, in both readers."""
    from rescomp.ops import REGISTRY

    conv = {"op": "conv", **{k: SAMPLES["expr-int"] for k, a in REGISTRY["conv"].attrs.items() if a.required}}
    doc, _ = _embed(OP, {**conv, "stride": 2})
    assert _loader_error(doc) is None and _schema_errors(doc) == []
    doc, _ = _embed(OP, {**conv, "eps": 0.1})  # a bn attribute
    assert _loader_error(doc) is not None and _schema_errors(doc)


def test_every_field_type_has_a_sample_and_a_schema() -> None:
    types = {f.type for form in FORMS for f in form.fields}
    assert types <= set(SAMPLES)
    for form in FORMS:
        for f in form.fields:
            if f.default is not None:
                doc, _ = _embed(form, {**_mapping(form), f.key: f.default})
                assert _loader_error(doc) is None and _schema_errors(doc) == [], (form.kind, f.key)
