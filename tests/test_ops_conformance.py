"""Conformance over the op registry: every op's examples agree across every place rescomp knows the op.

For each example (attributes and input shapes the op class declares) a minimal graph is built: the
input, a 1x1 convolution or an identity to make each further operand, then the op. Then:

- analysis: the node's shape, params, buffers and MACs;
- the emitted torch module: the same output shape, params and buffers under the op's name, and
  ``FlopCounterMode`` = 2 x MACs for the whole graph;
- onnxruntime equals the torch output, BN folded and kept;
- the receptive field equals what perturbing input rows one at a time shows;
- the crosscheck census explains every installed counter with zero residual.

An op without an example fails.
"""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")

from rescomp.backends.onnx_export import check_onnx, export_onnx  # noqa: E402
from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.crosscheck import census, explain, runners  # noqa: E402
from rescomp.ir import Graph, Node, lint  # noqa: E402
from rescomp.ops import REGISTRY  # noqa: E402
from rescomp.ops.base import Example  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.passes.shapes import verify_shapes  # noqa: E402

OP = "layer"  # the name of the node under test

CASES = [(kind, i, ex) for kind, op in sorted(REGISTRY.items()) for i, ex in enumerate(op.examples)]


def _id(case: tuple[str, int, Example]) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_op_declares_an_example(kind):
    op = REGISTRY[kind]
    assert op.examples, f"op '{kind}' declares no examples: add at least one to its class"
    for ex in op.examples:
        op.complete(ex.attrs)  # each example's attributes are valid


def example_graph(kind: str, ex: Example) -> Graph:
    """input -> (an identity or a 1x1 conv per further operand) -> the op."""
    op = REGISTRY[kind]
    first = ex.inputs[0]
    g = Graph(f"example_{kind}")
    g.add(Node("input", "input", (), REGISTRY["input"].complete({"shape": "x".join(map(str, first))}), shape=first))
    g.root.input = "input"
    sources = ["input"]
    for j, shape in enumerate(ex.inputs[1:], 1):
        if shape == first:
            pre = Node(f"pre{j}", "identity", ("input",), {}, shape=shape)
        else:
            assert len(shape) == 4 and shape[:1] + shape[2:] == first[:1] + first[2:], "unreachable example operand"
            attrs = REGISTRY["conv"].complete({"out": shape[1], "kernel": 1, "bias": False})
            pre = Node(f"pre{j}", "conv", ("input",), attrs, shape=shape)
        g.add(pre, g.root)
        sources.append(pre.name)
    attrs = op.complete(ex.attrs)
    out = op.shape(attrs, list(ex.inputs))
    g.add(Node(OP, kind, tuple(sources), attrs, shape=out), g.root)
    g.root.output = OP
    lint(g)
    verify_shapes(g)
    return g


def _module(g: Graph):
    model = instantiate(emit_source(g), 0).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # BN statistics that are not the identity, so folding is exercised
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                buf.copy_(torch.randn(buf.shape, generator=gen))
    return model


def _owned(items, prefix: str) -> int:
    """Elements of the tensors under ``prefix`` (``layer.``), or named ``layer`` itself (a layer scale)."""
    return sum(t.numel() for n, t in items if n.startswith(prefix) or n == prefix.rstrip("."))


def _receptive_rows(model, shape, rows: int) -> tuple[int, int] | None:
    """The first and last input rows whose perturbation changes the central output element."""
    x = torch.zeros(shape)
    with torch.no_grad():
        base = model(x)
        centre = (0, 0, base.shape[2] // 2, base.shape[3] // 2)
        hit = []
        gen = torch.Generator().manual_seed(3)
        for r in range(rows):
            y = x.clone()
            # distinct values: a constant row would hide from a normalisation over the channels
            y[:, :, r, :] = 1.0 + torch.rand(y[:, :, r, :].shape, generator=gen)
            if model(y)[centre] != base[centre]:
                hit.append(r)
    return (hit[0], hit[-1]) if hit else None


@pytest.mark.parametrize("case", [c for c in CASES if REGISTRY[c[0]].arity != (0, 0)], ids=_id)
def test_example_agrees_everywhere(case):
    kind, _, ex = case
    g = example_graph(kind, ex)
    node = g[OP]
    a = analyze(g)
    layer = next(x for x in a.layers if x.name == OP)
    assert layer.output == node.shape

    model = _module(g)
    x = torch.randn(ex.inputs[0], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == node.shape
    assert _owned(model.named_parameters(), OP + ".") == layer.params
    assert _owned(model.named_buffers(), OP + ".") == layer.buffers
    assert sum(p.numel() for p in model.parameters()) == a.params

    # onnxruntime against torch, BN folded and kept
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    for fold in (True, False):
        exported = export_onnx(g, weights, fold_bn=fold)
        check_onnx(exported.model, g)
        sess = ort.InferenceSession(exported.model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input": x.numpy()})[0]
        assert got.shape == tuple(y.shape)
        scale = max(1.0, float(y.abs().max()))
        assert np.abs(got - y.numpy()).max() <= 1e-4 * scale, f"onnxruntime differs (fold_bn={fold})"
        assert all(n.name.split("/")[0] in g for n in exported.model.graph.node), "ONNX node names are IR names"

    # every installed counter is explained by the census with zero residual
    c = census(g, a)
    for tool, (package, run) in runners().items():
        if importlib.util.find_spec(package) is None:
            continue
        with torch.no_grad():
            total = run(_module(g), torch.zeros(ex.inputs[0]))
        assert explain(tool, total, c).residual == 0, tool


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if len(c[2].inputs) == 1 and len(c[2].inputs[0]) == 4 and REGISTRY[c[0]].arity != (0, 0)],
    ids=_id,
)
def test_receptive_field_matches_perturbation(case):
    kind, _, ex = case
    g = example_graph(kind, ex)
    if g.layout(OP) != "NCHW" or g.layout(g.input) != "NCHW":
        pytest.skip("the receptive field is defined on feature maps (N, C, H, W)")
    a = analyze(g)
    rf = next(x for x in a.layers if x.name == OP).receptive_field
    model = _module(g)
    with torch.no_grad():  # positive weights: no cancellation hides a row
        for p in model.parameters():
            p.copy_(p.abs() + 0.1)
    h = ex.inputs[0][2]
    span = _receptive_rows(model, ex.inputs[0], h)
    assert span is not None
    lo, hi = span
    seen = hi - lo + 1
    if kind == "pad_shortcut":
        assert seen == 1 == rf  # subsampling: one row per output
    elif lo > 0 and hi < h - 1:  # the window lies inside the input: it is exactly the field
        assert seen == rf
    else:  # clipped by the border: the field counts padding rows the input does not have
        assert seen <= rf


def test_input_examples_parse():
    op = REGISTRY["input"]
    for ex in op.examples:
        attrs = op.complete(ex.attrs)
        assert op.shape(attrs, []) == tuple(int(d) for d in attrs["shape"].split("x"))
