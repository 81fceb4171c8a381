"""The op interface: every registered op fills in every rule, and the shared rules hold."""

from __future__ import annotations

import math

import pytest

from rescomp.errors import SpecError
from rescomp.ops import REGISTRY, Attr, Op
from rescomp.ops.activation import Activation
from rescomp.ops.base import CATEGORIES


@pytest.mark.parametrize("kind", list(REGISTRY))
def test_every_op_declares_its_interface(kind: str) -> None:
    op = REGISTRY[kind]
    assert op.category in CATEGORIES and op.color.startswith("#")
    assert op.tensorrt_layer, f"{kind} names no TensorRT layer"
    assert op.min_opset >= 13
    assert op.examples, f"{kind} declares no example"
    for ex in op.examples:
        a = op.complete(ex.attrs)
        out = op.shape(a, ex.inputs)
        lo, hi = op.arity
        assert lo <= len(ex.inputs) and (hi is None or len(ex.inputs) <= hi)
        assert sum(map(math.prod, ex.inputs)) + math.prod(out) < 2000, "keep examples small"
        k, s = op.receptive(a, ex.inputs, out)
        assert isinstance(k, int) and isinstance(s, int) and k >= 1 and s >= 1
        counts = op.census(a, ex.inputs, out, op.params(a, ex.inputs, out))
        assert set(counts) <= set(op.census_terms), f"{kind} counts undeclared census terms"
        assert op.onnx(a, ex.inputs, [f"x{i}" for i in range(len(ex.inputs))], "y", kind, op.min_opset) is not None
    if op.torch_helper is not None:
        name, source = op.torch_helper
        # a module class (or the function making the parameter, for parameter ops)
        assert source.startswith((f"class {name}(nn.", f"def {name}(")), name
        assert source.startswith(f"def {name}(") == op.parameter, name


def test_census_terms_are_unique_across_ops() -> None:
    seen: dict[str, str] = {}
    for kind, op in REGISTRY.items():
        for term in op.census_terms:
            assert term not in seen, f"census term {term!r} declared by {seen.get(term)} and {kind}"
            seen[term] = kind


def test_float_attributes_must_be_finite() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(SpecError, match="'eps' must be a finite number"):
            REGISTRY["bn"].complete({"eps": bad})


def test_nan_in_a_spec_is_a_located_error() -> None:
    """Issue 11 bug 4: {op: bn, eps: .nan} was accepted and emitted as eps=nan."""
    from rescomp.spec.load import build_graph, load_spec_text

    text = "name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4}\n  - {op: bn, eps: .nan}\n"
    with pytest.raises(SpecError, match="'eps' must be a finite number, got nan") as info:
        build_graph(load_spec_text(text))
    assert ":5:" in str(info.value)


def test_maximum_bounds_numbers_and_reaches_the_schema() -> None:
    with pytest.raises(SpecError, match="'p' must be at most 1"):
        REGISTRY["dropout"].complete({"p": 1.5})
    with pytest.raises(SpecError, match="'momentum' must be at most 1"):
        REGISTRY["bn"].complete({"momentum": 2})
    assert REGISTRY["dropout"].complete({"p": 1})["p"] == 1.0
    schema = REGISTRY["dropout"].attrs["p"].json_schema()
    assert schema["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 1}
    assert Attr("int", 1, "x", minimum=1, maximum=4).range_text() == "1 .. 4"


def test_activation_family_needs_only_its_class_variables() -> None:
    class Fake(Activation):  # not registered: a new activation as the recipe writes it
        kind = "fake"
        doc = "A test activation."
        flops_rule = "3 per element"
        flops_per_element = 3
        torch_class = "nn.Fake"
        onnx_op = "Fake"
        census_terms = {"fake": "fake output elements"}

    op = Fake()
    a = op.complete({})
    out = op.shape(a, [(2, 3, 4, 4)])
    assert out == (2, 3, 4, 4) and op.flops(a, [out], out) == 3 * 96 and op.params(a, [out], out) == 0
    assert op.census(a, [out], out, 0) == {"fake": 96} and op.receptive(a, [out], out) == (1, 1)
    assert op.torch_module(a, [out]) == ("nn.Fake", [])
    (node,) = op.onnx(a, [out], ["x"], "y", "n", 13)
    assert node.op_type == "Fake"  # type: ignore[union-attr]
    assert op.category == "activation" and op.tensorrt_layer == "IActivationLayer"


def test_bn_channel_affine_and_conv_absorb_it() -> None:
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    c = 4
    bn_state = {
        "weight": rng.uniform(0.5, 2, c),
        "bias": rng.uniform(-1, 1, c),
        "running_mean": rng.uniform(-1, 1, c),
        "running_var": rng.uniform(0.5, 2, c),
    }
    x = rng.standard_normal((3, c, 2, 2))
    bn = REGISTRY["bn"]
    for affine in (True, False):
        a = bn.complete({"eps": 1e-3, "affine": affine})
        state = bn_state if affine else {k: v for k, v in bn_state.items() if k.startswith("running")}
        g, b = (state["weight"], state["bias"]) if affine else (1.0, 0.0)
        m, v = state["running_mean"], state["running_var"]
        want = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3) * np.asarray(g)[..., None, None]
        want = want + np.asarray(b)[..., None, None]
        affine_map = bn.channel_affine(a, state)
        assert affine_map is not None
        scale, shift = affine_map
        np.testing.assert_allclose(x * scale[:, None, None] + shift[:, None, None], want, rtol=1e-12)
    assert bn.affine_foldable and not REGISTRY["relu"].affine_foldable
    assert REGISTRY["relu"].channel_affine({}, {}) is None

    conv = REGISTRY["conv"]
    assert conv.absorbs_channel_affine and not REGISTRY["linear"].absorbs_channel_affine
    scale, shift = rng.uniform(0.5, 2, c), rng.uniform(-1, 1, c)
    w, bias = rng.standard_normal((c, 2, 3, 3)), rng.standard_normal(c)
    for has_bias in (True, False):
        a = conv.complete({"out": c, "bias": has_bias})
        state = {"weight": w, "bias": bias} if has_bias else {"weight": w}
        new_attrs, new_state = conv.absorb_affine(a, state, scale, shift)
        assert new_attrs == {**a, "bias": True} and set(new_state) == {"weight", "bias"}
        np.testing.assert_allclose(new_state["weight"], w * scale[:, None, None, None])
        np.testing.assert_allclose(new_state["bias"], (bias * scale if has_bias else 0) + shift)
    with pytest.raises(NotImplementedError):
        REGISTRY["linear"].absorb_affine(REGISTRY["linear"].complete({"out": 2}), {}, scale, shift)


def test_registry_is_discovered_and_ordered() -> None:
    import pkgutil

    import rescomp.ops

    modules = {m.name for m in pkgutil.iter_modules(rescomp.ops.__path__)} - {"base", "doc"}
    defined = {type(op).__module__.rsplit(".", 1)[1] for op in REGISTRY.values()}
    assert defined == modules  # every op module is imported, and every module defines an op
    order = list(CATEGORIES)
    keys = [(order.index(op.category), kind) for kind, op in REGISTRY.items()]
    assert keys == sorted(keys)
    assert all(isinstance(op, Op) for op in REGISTRY.values())
