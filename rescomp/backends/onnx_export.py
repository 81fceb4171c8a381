"""ONNX straight from the IR with ``onnx.helper``: no torch, no tracing.

Node names equal IR names; tensors are named after the IR node that writes them (the graph's input is
``input`` and its output ``output``). The batch dimension is dynamic. BatchNorm that directly follows a
convolution is folded into that convolution's weights (the ``fold_bn`` pass) unless ``fold_bn`` is
off; the export itself is a pure mapping of the (folded) graph, one op's ``onnx()`` per node. For fp16 and bf16
the weights are stored in that type and the graph casts its fp32 input in and its output back to fp32,
so the precision lives in the file: TensorRT 10.12+ builds it strongly typed as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rescomp import __version__
from rescomp.errors import SpecError
from rescomp.ir import Graph, Node
from rescomp.ops import REGISTRY
from rescomp.ops.base import OnnxConst, OnnxNode
from rescomp.passes.fold_bn import fold_bn as _fold

DEFAULT_OPSET = 17  # TensorRT 10.x parses up to 24, 11.x up to 25; onnx 1.23 would write 28
PRECISIONS = ("fp32", "fp16", "bf16")
BF16_OPSET = 22  # Conv, Gemm, Relu and pooling accept bfloat16 from opset 22


@dataclass(frozen=True)
class OnnxResult:
    model: Any  # onnx.ModelProto
    folded: tuple[str, ...]  # BN nodes folded into their convolution


def _tensor(node: Node) -> str:
    """The ONNX tensor a node writes: its own name, except that the graph's output tensor is "output",
    so a layer that is itself named "output" writes "output/layer", and that a parameter op's name is
    its weight's (layer scale), so it writes "<name>/out"."""
    if node.name == "output":
        return "output/layer"
    return f"{node.name}/out" if REGISTRY[node.op].parameter else node.name


def export_onnx(
    graph: Graph,
    weights: dict[str, Any],
    *,
    opset: int | None = None,
    fold_bn: bool = True,
    precision: str = "fp32",
) -> OnnxResult:
    """Build the ONNX model of ``graph`` with ``weights`` (state_dict key -> NumPy array)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    if precision not in PRECISIONS:
        raise SpecError(f"unknown precision '{precision}'", hint=f"use one of {', '.join(PRECISIONS)}")
    if opset is None:
        opset = BF16_OPSET if precision == "bf16" else DEFAULT_OPSET
    if precision == "bf16" and opset < BF16_OPSET:
        raise SpecError(
            f"bf16 needs opset {BF16_OPSET} or newer, got {opset}",
            hint=f"ONNX's Conv and Gemm accept bfloat16 from opset {BF16_OPSET}: pass --opset {BF16_OPSET}",
        )
    if not 13 <= opset <= 25:
        raise SpecError(f"opset {opset} is outside 13..25", hint="TensorRT 10 parses up to 24, 11 up to 25")
    elem = {"fp32": TensorProto.FLOAT, "fp16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}[precision]
    for node in graph:
        need = REGISTRY[node.op].min_opset
        if opset < need:
            raise SpecError(
                f"op '{node.op}' needs ONNX opset {need} or newer, got {opset}",
                node.loc,
                node=node.name,
                hint=f"pass --opset {max(need, DEFAULT_OPSET)}",
            )
    folded: tuple[str, ...] = ()
    if fold_bn:
        result = _fold(graph, weights)
        graph, weights, folded = result.graph, result.weights, result.folded
    tensor = {graph.input: "input"}
    nodes: list[Any] = []
    inits: dict[str, Any] = {}

    def initializer(name: str, array: Any) -> None:
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
            if elem == TensorProto.FLOAT16:
                array = array.astype(np.float16)
            elif elem == TensorProto.BFLOAT16:
                import ml_dtypes

                # raw little-endian bytes, 2 per value (make_tensor from a list would store each value
                # in an int32_data entry: 4 bytes and more on the wire); ml_dtypes rounds to nearest
                # even, as onnx's own float32 -> bfloat16 conversion does
                array = array.astype(ml_dtypes.bfloat16)
        inits[name] = numpy_helper.from_array(array.copy(order="C"), name)  # keeps 0-d scalars 0-d

    if precision != "fp32":
        nodes.append(helper.make_node("Cast", ["input"], ["input.cast"], name="input/cast", to=elem))
        tensor[graph.input] = "input.cast"
    for node in graph:
        if node.name == graph.input:
            continue
        out = "output" if (node.name == graph.output and precision == "fp32") else _tensor(node)
        try:
            emitted = REGISTRY[node.op].onnx(
                node.attrs, graph.input_shapes(node), [tensor[i] for i in node.inputs], out, node.name, opset
            )
        except SpecError as exc:
            raise exc.with_context(loc=node.loc, node=node.name) from None
        for item in emitted:
            if isinstance(item, OnnxConst):
                dtype = np.int64 if item.dtype == "int64" else np.float32
                value = np.asarray(item.values, dtype=dtype).reshape(item.shape)
                if item.dtype == "int64":
                    inits[item.name] = numpy_helper.from_array(value, item.name)
                else:
                    initializer(item.name, value)
                continue
            assert isinstance(item, OnnxNode)
            for name in item.inputs:
                if name not in inits and name in weights:
                    initializer(name, weights[name])
            nodes.append(helper.make_node(item.op_type, item.inputs, item.outputs, name=item.name, **item.attrs))
        tensor[node.name] = out
    assert graph.output is not None
    if precision != "fp32":
        nodes.append(
            helper.make_node("Cast", [tensor[graph.output]], ["output"], name="output/cast", to=TensorProto.FLOAT)
        )
    in_shape, out_shape = graph.shape(graph.input), graph.shape(graph.output)
    g = helper.make_graph(
        nodes,
        graph.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *in_shape[1:]])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", *out_shape[1:]])],
        initializer=list(inits.values()),
        doc_string=f"{graph.name} ({precision}, BN {'folded' if fold_bn else 'kept'}), generated by rescomp",
    )
    model = helper.make_model(
        g, producer_name="rescomp", producer_version=__version__, opset_imports=[helper.make_opsetid("", opset)]
    )
    model.ir_version = min(model.ir_version, 10)  # readable by onnxruntime and TensorRT 10
    return OnnxResult(model, folded)


def check_onnx(model: Any, graph: Graph) -> dict[str, tuple[Any, ...]]:
    """onnx.checker (full check) and shape inference; every IR tensor's inferred shape must equal
    rescomp's. Returns the inferred shapes by tensor name."""
    import onnx

    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    found: dict[str, tuple[Any, ...]] = {}
    for vi in [*inferred.graph.value_info, *inferred.graph.output]:
        dims = tuple(d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim)
        found[vi.name] = dims
    for node in graph:
        # the graph output is "output" (after the cast back to fp32 in fp16 and bf16 models)
        name = "output" if node.name == graph.output else _tensor(node)
        if name in found:
            want = ("batch", *node.shape[1:])
            if found[name] != want:
                raise AssertionError(f"ONNX shape of {node.name} is {found[name]}, rescomp says {want}")
    return found
