"""Focused checks of the ops the conformance test cannot reach alone (issue 13, Build item 1).

- `mul` as the squeeze-and-excitation gate: (N, C, 1, 1) against (N, C, H, W), in both orders, from a
  spec (the conformance examples' builder makes further operands with a 1x1 conv, never a pooled gate);
- the activations' ONNX at every opset they have a different form for (the conformance test exports at
  the default opset only), against torch within 1e-5;
- `stochastic_depth`'s emitted helper against torchvision's semantics, written here by hand;
- `avgpool` with `count_include_pad: false` over a grid of windows, against torch, in ONNX Runtime.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rescomp.errors import SpecError
from rescomp.ops import REGISTRY

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rescomp.backends.onnx_export import check_onnx, export_onnx  # noqa: E402
from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.ops.base import OnnxConst, OnnxNode  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402

SE = """
name: se_gate
input: [8, 5, 5]
layers:
  - {{op: conv, name: stem, out: 8, kernel: 3}}
  - {{op: adaptive_avgpool, name: squeeze, size: 1}}
  - {{op: conv, name: fc1, out: 2, kernel: 1}}
  - {{op: relu, name: act}}
  - {{op: conv, name: fc2, out: 8, kernel: 1}}
  - {{op: sigmoid, name: gate}}
  - {{op: mul, name: scaled, inputs: [{first}, {second}]}}
"""


def _ort(model: Any, x: Any) -> Any:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("order", [("gate", "stem"), ("stem", "gate")], ids=["gate-first", "map-first"])
def test_mul_is_the_squeeze_excitation_gate(order: tuple[str, str]) -> None:
    g = build_graph(load_spec_text(SE.format(first=order[0], second=order[1]), "se.yaml"))
    a = analyze(g)
    layer = next(x for x in a.layers if x.name == "scaled")
    assert g["scaled"].shape == layer.output == (1, 8, 5, 5)
    assert layer.flops == 8 * 5 * 5 and layer.macs == 0 and layer.params == 0
    source = emit_source(g)
    assert "StochasticDepth" not in source.text and " * " in source.text  # the product is an expression
    model = instantiate(source, 0).eval()
    x = torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = model(x)
        stem = model.stem(x)
        gate = model.gate(model.fc2(model.act(model.fc1(model.squeeze(stem)))))
    assert torch.allclose(y, stem * gate)  # the gate scales every position of its channel
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    exported = export_onnx(g, weights)
    check_onnx(exported.model, g)
    assert np.abs(_ort(exported.model, x.numpy()) - y.numpy()).max() <= 1e-5


def test_mul_refuses_shapes_that_do_not_broadcast() -> None:
    op = REGISTRY["mul"]
    assert op.shape({}, [(2, 3, 1, 1), (2, 3, 4, 4)]) == (2, 3, 4, 4)
    assert op.shape({}, [(2, 1, 4, 4), (2, 3, 1, 1)]) == (2, 3, 4, 4)
    for x, y in [((2, 3, 4, 4), (2, 2, 4, 4)), ((2, 3, 4, 4), (2, 3)), ((2, 6), (2, 5))]:
        with pytest.raises(SpecError, match="mul needs"):
            op.shape({}, [x, y])


def _run_op(kind: str, attrs: dict[str, Any], x: Any, opset: int) -> Any:
    """One op's ONNX nodes in a graph of their own, run by ONNX Runtime at ``opset``."""
    from onnx import TensorProto, helper, numpy_helper

    op = REGISTRY[kind]
    a = op.complete(attrs)
    shape = tuple(x.shape)
    out = op.shape(a, [shape])
    emitted = op.onnx(a, [shape], ["x"], "y", kind, opset)
    nodes = [
        helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attrs)
        for n in emitted
        if isinstance(n, OnnxNode)
    ]
    inits = [
        numpy_helper.from_array(np.asarray(c.values, dtype=np.float32).reshape(c.shape), c.name)
        for c in emitted
        if isinstance(c, OnnxConst)
    ]
    graph = helper.make_graph(
        nodes,
        kind,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else 10
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


ACTIVATIONS = [
    ("relu6", {}, torch.nn.ReLU6()),
    ("hardswish", {}, torch.nn.Hardswish()),
    ("hardsigmoid", {}, torch.nn.Hardsigmoid()),
    ("sigmoid", {}, torch.nn.Sigmoid()),
    ("silu", {}, torch.nn.SiLU()),
    ("gelu", {}, torch.nn.GELU()),
    ("gelu", {"approximate": "tanh"}, torch.nn.GELU(approximate="tanh")),
]


@pytest.mark.parametrize("opset", [13, 14, 17, 20, 22])
@pytest.mark.parametrize(("kind", "attrs", "module"), ACTIVATIONS, ids=[f"{k}-{a}" for k, a, _ in ACTIVATIONS])
def test_activation_onnx_matches_torch_at_every_opset(
    kind: str, attrs: dict[str, Any], module: Any, opset: int
) -> None:
    # values across every branch: both clamps of the hard ops, the tails of sigmoid and GELU
    x = np.concatenate([np.linspace(-8, 8, 161, dtype=np.float32), np.array([-30, -4, -3, 0, 3, 4, 30], np.float32)])
    x = x.reshape(1, 1, 1, -1)
    want = module(torch.from_numpy(x)).numpy()
    got = _run_op(kind, attrs, x, opset)
    assert np.abs(got - want).max() <= 1e-5, (kind, attrs, opset)


def test_activation_onnx_operators_by_opset() -> None:
    def types(kind: str, attrs: dict[str, Any], opset: int) -> list[str]:
        op = REGISTRY[kind]
        a = op.complete(attrs)
        return [n.op_type for n in op.onnx(a, [(1, 4)], ["x"], "y", kind, opset) if isinstance(n, OnnxNode)]

    assert types("hardswish", {}, 13) == ["HardSigmoid", "Mul"] and types("hardswish", {}, 14) == ["HardSwish"]
    assert types("gelu", {}, 19).count("Erf") == 1 and types("gelu", {}, 20) == ["Gelu"]
    assert "Tanh" in types("gelu", {"approximate": "tanh"}, 17)
    hs = REGISTRY["hardsigmoid"].onnx({}, [(1, 4)], ["x"], "y", "h", 13)[0]
    assert isinstance(hs, OnnxNode) and hs.attrs == {"alpha": 1 / 6, "beta": 0.5}


def test_attribute_values_are_checked() -> None:
    with pytest.raises(SpecError, match="'none' or 'tanh'"):
        REGISTRY["gelu"].shape(REGISTRY["gelu"].complete({"approximate": "fast"}), [(1, 4)])
    sd = REGISTRY["stochastic_depth"]
    with pytest.raises(SpecError, match="'row' or 'batch'"):
        sd.shape(sd.complete({"p": 0.1, "mode": "column"}), [(1, 4)])
    with pytest.raises(SpecError, match="at most 1"):
        sd.complete({"p": 1.5})
    with pytest.raises(SpecError, match="needs 'p'"):
        sd.complete({})


def _stochastic_depth_reference(x: Any, p: float, mode: str, training: bool) -> Any:
    """torchvision.ops.stochastic_depth, as its documentation and source describe it."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


def _stochastic_depth_module(p: float, mode: str) -> Any:
    text = f"name: sd\ninput: [3, 4, 4]\nlayers:\n  - {{op: stochastic_depth, name: drop, p: {p}, mode: {mode}}}\n"
    g = build_graph(load_spec_text(text, "sd.yaml"))
    source = emit_source(g)
    assert "import torchvision" not in source.text and "class StochasticDepth(nn.Module)" in source.text
    return g, instantiate(source, 0)


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_stochastic_depth_is_torchvisions(p: float, mode: str) -> None:
    g, model = _stochastic_depth_module(p, mode)
    assert dict(model.state_dict()) == {}  # torchvision's StochasticDepth saves nothing either
    assert repr(model.drop) == f"StochasticDepth(p={p}, mode={mode})"
    x = torch.randn(16, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    model.eval()
    assert torch.equal(model(x), x)
    model.train()
    for seed in range(3):
        torch.manual_seed(seed)
        got = model(x)
        torch.manual_seed(seed)
        assert torch.equal(got, _stochastic_depth_reference(x, p, mode, True))
    a = analyze(g)
    assert a.flops == 0 and a.params == 0
    exported = export_onnx(g, {})
    assert [n.op_type for n in exported.model.graph.node] == ["Identity"]


def _avgpool_onnx(a: dict[str, Any], x: Any) -> Any:
    return _run_op("avgpool", a, x, 17)


GRID = list(
    itertools.product(
        ((2, 2), (3, 3), (3, 2)),  # kernel
        ((1, 1), (2, 2), (3, 2)),  # stride
        ((1, 1), (0, 1)),  # padding
        (False, True),  # ceil_mode
        ((7, 7), (5, 6), (6, 8)),  # input size
    )
)


def test_avgpool_count_include_pad_false_matches_torch() -> None:
    op = REGISTRY["avgpool"]
    rng = np.random.default_rng(0)
    checked = 0
    for kernel, stride, padding, ceil_mode, (h, w) in GRID:
        attrs = {
            "kernel": list(kernel),
            "stride": list(stride),
            "padding": list(padding),
            "ceil_mode": ceil_mode,
            "count_include_pad": False,
        }
        a = op.complete(attrs)
        shape = (1, 2, h, w)
        try:
            op.shape(a, [shape])
            op.onnx(a, [shape], ["x"], "y", "pool", 17)
        except SpecError:
            continue  # refused with a located error (ceil mode ONNX cannot express)
        m = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=False)
        x = rng.standard_normal(shape).astype(np.float32) + 3  # offset: a wrong divisor shows
        want = m(torch.from_numpy(x)).numpy()
        got = _avgpool_onnx(attrs, x)
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5, attrs
        checked += 1
    assert checked > len(GRID) // 2


def test_avgpool_count_include_pad_is_emitted() -> None:
    op = REGISTRY["avgpool"]
    on = op.complete({"kernel": 3, "padding": 1})
    off = op.complete({"kernel": 3, "padding": 1, "count_include_pad": False})
    made_on, made_off = op.torch_module(on, [(1, 2, 6, 6)]), op.torch_module(off, [(1, 2, 6, 6)])
    assert made_on is not None and made_off is not None
    assert made_on[1][-1] == ("count_include_pad", True, True)  # equal to torch's default: left out
    assert ("count_include_pad", False, True) in made_off[1]
    for a, want in ((on, 1), (off, 0)):
        (node,) = op.onnx(a, [(1, 2, 6, 6)], ["x"], "y", "pool", 17)
        assert isinstance(node, OnnxNode) and node.attrs["count_include_pad"] == want
