"""Pooling's ONNX emission against torch, run by ONNX Runtime, over a grid of windows and inputs.

Torch's ceil mode drops a last window that would start in the right padding; ONNX's keeps it
(issue 11, bug 5). The op's ONNX must give torch's output shape and values everywhere, or refuse with
a located error where ONNX cannot express torch's result.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rescomp.errors import SpecError
from rescomp.ops import REGISTRY, Shape
from rescomp.ops.base import OnnxNode

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

OPSET = 17


def _onnx_run(kind: str, a: dict[str, Any], x: Any) -> Any:
    from onnx import TensorProto, helper

    shape: Shape = tuple(x.shape)
    out = REGISTRY[kind].shape(a, [shape])
    emitted = REGISTRY[kind].onnx(a, [shape], ["x"], "y", "pool", OPSET)
    nodes = [
        helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attrs)
        for n in emitted
        if isinstance(n, OnnxNode)
    ]
    graph = helper.make_graph(
        nodes,
        "pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)  # ONNX's own shape rule agrees
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _torch_run(kind: str, a: dict[str, Any], x: Any) -> Any:
    cls = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
    m = cls(kernel_size=a["kernel"], stride=a["stride"] or a["kernel"], padding=a["padding"], ceil_mode=a["ceil_mode"])
    return m(torch.from_numpy(x)).numpy()


GRID = list(
    itertools.product(
        ((2, 2), (3, 3), (3, 2)),  # kernel
        ((1, 1), (2, 2), (3, 2), (2, 3), (1000, 1000)),  # stride
        ((0, 0), (1, 1), (0, 1)),  # padding
        (False, True),  # ceil_mode
        ((7, 7), (5, 6), (6, 8), (5, 5)),  # input size
    )
)


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_pool_onnx_matches_torch_over_a_grid(kind: str) -> None:
    op = REGISTRY[kind]
    rng = np.random.default_rng(0)
    checked = refused = 0
    for kernel, stride, padding, ceil_mode, (h, w) in GRID:
        a = op.complete(
            {"kernel": list(kernel), "stride": list(stride), "padding": list(padding), "ceil_mode": ceil_mode}
        )
        shape = (1, 2, h, w)
        try:
            out = op.shape(a, [shape])
        except SpecError:
            continue  # torch refuses these windows too
        x = rng.standard_normal(shape).astype(np.float32)
        expected = _torch_run(kind, a, x)
        assert tuple(expected.shape) == out, (a, shape)
        try:
            got = _onnx_run(kind, a, x)
        except SpecError as e:
            assert kind == "avgpool" and "ONNX cannot express" in str(e), (a, shape)
            refused += 1
            continue
        assert got.shape == expected.shape, (a, shape, got.shape, expected.shape)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"{a} on {shape}")
        checked += 1
    assert checked > 300
    assert refused < checked // 10


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_ceil_mode_window_starting_in_the_padding_is_dropped(kind: str) -> None:
    """Issue 11 bug 5: kernel 3, stride 1000, padding 1, ceil mode on 7x7 is 1x1 in torch and in ONNX."""
    op = REGISTRY[kind]
    a = op.complete({"kernel": 3, "stride": 1000, "padding": 1, "ceil_mode": True})
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    assert op.shape(a, [x.shape]) == (2, 3, 1, 1)
    (node,) = op.onnx(a, [x.shape], ["x"], "y", "pool", OPSET)
    assert node.attrs["ceil_mode"] == 0  # type: ignore[union-attr]
    np.testing.assert_allclose(_onnx_run(kind, a, x), _torch_run(kind, a, x), rtol=1e-5, atol=1e-6)


def test_axes_that_round_differently() -> None:
    # kernel 2, stride 2, padding (0, 1), ceil mode on 5x5: torch keeps the last window along the
    # height and drops it along the width (it would start in the padding)
    attrs = {"kernel": 2, "stride": 2, "padding": [0, 1], "ceil_mode": True}
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 5)).astype(np.float32)
    a = REGISTRY["maxpool"].complete(attrs)
    (node,) = REGISTRY["maxpool"].onnx(a, [x.shape], ["x"], "y", "pool", OPSET)
    assert node.attrs["ceil_mode"] == 0 and node.attrs["pads"] == [0, 1, 1, 1]  # type: ignore[union-attr]
    np.testing.assert_allclose(_onnx_run("maxpool", a, x), _torch_run("maxpool", a, x))
    b = REGISTRY["avgpool"].complete(attrs)
    with pytest.raises(SpecError, match="ONNX cannot express"):
        REGISTRY["avgpool"].onnx(b, [x.shape], ["x"], "y", "pool", OPSET)
