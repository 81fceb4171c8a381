"""The IR's lint and the op registry's completeness."""

from __future__ import annotations

import pytest

from rescomp.errors import SpecError
from rescomp.ir import Graph, Node, lint
from rescomp.ops import REGISTRY, Op


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_op_implements_every_rule(kind: str) -> None:
    op = REGISTRY[kind]
    assert op.kind == kind and op.doc and op.flops_rule
    for rule in ("shape", "flops"):
        assert getattr(type(op), rule) is not getattr(Op, rule), f"{kind} lacks {rule}"
    for name, attr in op.attrs.items():
        assert attr.doc, f"{kind}.{name} lacks a doc"
        schema = attr.json_schema()
        assert schema["description"] == attr.doc
        if not attr.required and attr.default is not None:
            attr.coerce(name, attr.default)  # every default passes its own type check


def _g() -> Graph:
    g = Graph("t")
    g.add(Node("input", "input", (), REGISTRY["input"].complete({"shape": "1x3x8x8"})))
    return g


def test_lint_accepts_add_of_same_input_twice() -> None:
    g = _g()
    g.add(Node("a", "add", ("input", "input"), {}), g.root)
    lint(g)
    assert g.g.number_of_edges() == 1 and g["a"].inputs == ("input", "input")


def test_lint_rejects_unknown_op_and_attr_and_bad_name() -> None:
    g = _g()
    g.add(Node("x", "no_such_op", ("input",), {}), g.root)
    with pytest.raises(SpecError, match="unknown op 'no_such_op'"):
        lint(g)
    g = _g()
    g.add(Node("x", "relu", ("input",), {"alpha": 1}), g.root)
    with pytest.raises(SpecError, match="no attribute 'alpha'"):
        lint(g)
    g = _g()
    g.add(Node("x.class", "relu", ("input",), {}), g.root)
    with pytest.raises(SpecError, match="not a safe identifier"):
        lint(g)


def test_lint_rejects_cycles_and_undefined_inputs() -> None:
    g = _g()
    with pytest.raises(SpecError, match="not defined before"):
        g.add(Node("a", "relu", ("b",), {}), g.root)
    g.add(Node("a", "relu", ("input",), {}), g.root)
    g.add(Node("b", "relu", ("a",), {}), g.root)
    g._nodes["a"] = Node("a", "relu", ("b",), {})  # forge a cycle a <-> b behind the builder's back
    with pytest.raises(SpecError, match="a cycle or a forward reference"):
        lint(g)


def test_networkx_view() -> None:
    g = _g()
    g.add(Node("a", "relu", ("input",), {}), g.root)
    g.add(Node("b", "add", ("a", "input"), {}), g.root)
    assert sorted(g.g.edges) == [("a", "b"), ("input", "a"), ("input", "b")]
    assert g.consumers("input") == ["a", "b"]


def test_unknown_attribute_in_complete() -> None:
    with pytest.raises(SpecError, match="no attribute"):
        REGISTRY["relu"].complete({"inplace": True})
