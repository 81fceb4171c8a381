"""ONNX straight from the IR with ``onnx.helper``: no torch, no tracing.

Node names equal IR names; tensors are named after the IR node that writes them (the graph's input is
``input`` and its output ``output``). The batch dimension is dynamic. BatchNorm that directly follows a
convolution is folded into that convolution's weights (the ``fold_bn`` pass) unless ``fold_bn`` is
off; the export itself is a pure mapping of the (folded) graph, one op's ``onnx()`` per node. For fp16 and bf16
the weights are stored in that type and the graph casts its fp32 input in and its output back to fp32,
so the precision lives in the file: TensorRT 10.12+ builds it strongly typed as written.

A model whose weights exceed protobuf's 2 GiB is saved with ONNX external data (:func:`onnx_files`:
``model.onnx`` and ``model.onnx.data``), checked from files (:func:`check_onnx` with a path) and run
from files (:func:`ort_session`, TensorRT's ``parse_from_file``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
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

# ONNX external data (onnx/docs/ExternalData.md): protobuf cannot serialize a message of 2 GiB or more,
# so a model whose initializers come near that keeps its weights in one file beside the model
PROTOBUF_LIMIT = 2**31 - 1  # bytes: google.protobuf refuses to serialize a larger message
EXTERNAL_DATA_MARGIN = 64 << 20  # bytes left for the nodes, names and protobuf framing besides the weights
#: initializers of more bytes than this (in all) go to external data; tests lower it
EXTERNAL_DATA_LIMIT = PROTOBUF_LIMIT - EXTERNAL_DATA_MARGIN
EXTERNAL_DATA_SUFFIX = ".data"  # model.onnx -> model.onnx.data
EXTERNAL_MIN_BYTES = 1024  # smaller tensors (scalars, shapes) stay in the model, as onnx.save_model's default
# tensors of at least 1 MiB start on a 64 KiB boundary of the data file, for memory mapping: the
# alignment onnxruntime's and onnx_ir's (torch.onnx's) writers use
ALIGN_MIN_BYTES = 1 << 20
ALIGNMENT = 1 << 16


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
    for node in graph:
        if REGISTRY[node.op].parameter and node.name in ("input", "output"):
            raise SpecError(
                f"a '{node.op}' layer named '{node.name}' cannot be exported to ONNX: its weight would take "
                f"the name of the graph's {node.name} tensor",
                node.loc,
                node=node.name,
                hint="rename the layer (layer scales are usually named layer_scale)",
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
        doc_string=f"{graph.name} ({precision}, BN {'folded' if fold_bn else 'kept'}), generated by rescomp",
    )
    model = helper.make_model(
        g, producer_name="rescomp", producer_version=__version__, opset_imports=[helper.make_opsetid("", opset)]
    )
    del g
    # the initializers go straight into the model, each released as it is copied: the weights are held
    # once, not three times (here, in a graph and in the model that copies it); protobuf writes fields in
    # field-number order, so the bytes are those of make_graph(initializer=...)
    for name in list(inits):
        model.graph.initializer.append(inits.pop(name))
    model.ir_version = min(model.ir_version, 10)  # readable by onnxruntime and TensorRT 10
    return OnnxResult(model, folded)


def initializer_bytes(model: Any) -> int:
    """The bytes of the data of ``model``'s initializers, from their element types and shapes: known
    before anything is serialized."""
    from onnx import helper

    total = 0
    for t in model.graph.initializer:
        total += _data_bytes(t, helper)
    return total


def _data_bytes(t: Any, helper: Any) -> int:
    count = 1
    for d in t.dims:
        count *= d
    return count * int(helper.tensor_dtype_to_np_dtype(t.data_type).itemsize)


def needs_external_data(model: Any) -> bool:
    """Whether ``model``'s initializers exceed :data:`EXTERNAL_DATA_LIMIT`, so that :func:`onnx_files`
    writes them to a data file beside the model."""
    return initializer_bytes(model) > EXTERNAL_DATA_LIMIT


def onnx_files(model: Any, name: str = "model.onnx") -> dict[str, bytes | bytearray]:
    """The files of ``model`` saved as ``name``, deterministic for the same model.

    Where the initializers fit protobuf's limit (:func:`needs_external_data` is false) that is one file,
    ``{name: model.SerializeToString()}``. Otherwise the weights go to ONNX external data, one file
    ``name + ".data"`` beside the model, as ``onnx.save_model(model, name, save_as_external_data=True,
    all_tensors_to_one_file=True, location=name + ".data", size_threshold=1024)`` writes them: every
    initializer of at least :data:`EXTERNAL_MIN_BYTES` moves there, in graph order (those of
    :data:`ALIGN_MIN_BYTES` or more start on an :data:`ALIGNMENT` boundary, zero-padded), and the model
    refers to it by location, offset and length. Like ``onnx.save_model``, this moves the weights out of
    ``model`` itself (a copy would hold them twice in memory); the result is ``{name: the model,
    name + ".data": the weights}``."""
    from onnx import TensorProto, helper
    from onnx.external_data_helper import set_external_data

    if not needs_external_data(model):
        return {name: model.SerializeToString()}
    location = name + EXTERNAL_DATA_SUFFIX
    plan: list[tuple[Any, int, int]] = []
    end = 0
    for t in model.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL:
            raise ValueError(f"initializer '{t.name}' already refers to external data")
        size = _data_bytes(t, helper)
        if not t.HasField("raw_data") or size < EXTERNAL_MIN_BYTES:
            continue  # small tensors, and data in typed fields (never written by export_onnx), stay inline
        if size >= ALIGN_MIN_BYTES:
            end = -(-end // ALIGNMENT) * ALIGNMENT
        plan.append((t, end, size))
        end += size
    data = bytearray(end)  # one allocation; zero where alignment pads
    for t, offset, size in plan:
        raw = t.raw_data
        if len(raw) != size:
            raise ValueError(f"initializer '{t.name}' holds {len(raw)} bytes, its type and shape say {size}")
        data[offset : offset + size] = raw
        set_external_data(t, location, offset, size)
        t.ClearField("raw_data")
    return {name: model.SerializeToString(), location: data}


@contextlib.contextmanager
def staged(files: Mapping[str, bytes | bytearray], name: str = "model.onnx") -> Iterator[Path]:
    """Write ``files`` (from :func:`onnx_files`) into a private temporary folder (under ``TMPDIR``) and
    yield the path of the model ``name`` in it; the folder is removed afterwards. For the tools that read
    a model with external data from a file: onnx's path-based checker and shape inference, onnxruntime
    and TensorRT's ONNX parser, which read the data file beside the model."""
    from rescomp.errors import Loc

    if name not in files:
        raise ValueError(f"no file '{name}' among {sorted(files)}")
    current = Path(tempfile.gettempdir())
    with contextlib.ExitStack() as stack:
        try:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rescomp-onnx-")))
            for file, data in files.items():
                current = tmp / file
                with open(current, "wb") as fh:
                    fh.write(data)
        except OSError as exc:
            raise SpecError(
                f"cannot write a temporary copy of the ONNX model: {exc.strerror or type(exc).__name__}",
                Loc(str(current)),
                hint="free space there, or set TMPDIR to a folder with room for the model's weights",
            ) from None
        yield tmp / name


def ort_session(files: Mapping[str, bytes | bytearray], name: str = "model.onnx", **options: Any) -> Any:
    """An onnxruntime ``InferenceSession`` (``options`` passed on) of the files :func:`onnx_files`
    returned: from the bytes where the model is one file, else from the model's path in a
    :func:`staged` folder (onnxruntime reads the external data beside the model), which stays until the
    session is garbage-collected."""
    import onnxruntime as ort

    if len(files) == 1:
        return ort.InferenceSession(bytes(files[name]), **options)
    stack = contextlib.ExitStack()
    try:
        path = stack.enter_context(staged(files, name))
        session = ort.InferenceSession(str(path), **options)
    except BaseException:
        stack.close()
        raise
    weakref.finalize(session, stack.close)
    return session


def _infer_from_path(path: Path) -> Any:
    """onnx's path-based checker (full check) and shape inference, for a model with external data: the
    model and its inferred copy go through files, never through one protobuf message of the weights."""
    import onnx

    onnx.checker.check_model(os.fspath(path), full_check=True)
    with tempfile.TemporaryDirectory(prefix="rescomp-onnx-shapes-") as tmp:
        out = os.path.join(tmp, "inferred.onnx")
        onnx.shape_inference.infer_shapes_path(os.fspath(path), out, check_type=True, strict_mode=True)
        inferred = onnx.load(out, load_external_data=False)
    # the checker finds a missing data file, not a short one: every tensor's bytes must be in it
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    sizes: dict[str, int] = {}
    for t in inferred.graph.initializer:
        if uses_external_data(t):
            info = ExternalDataInfo(t)
            if info.location not in sizes:
                sizes[info.location] = os.path.getsize(path.parent / info.location)
            end = (info.offset or 0) + (info.length if info.length is not None else _data_bytes(t, onnx.helper))
            if end > sizes[info.location]:
                raise onnx.checker.ValidationError(
                    f"initializer '{t.name}' needs bytes up to {end} of {info.location}, which has "
                    f"{sizes[info.location]}"
                )
    return inferred


def check_onnx(model: Any, graph: Graph) -> dict[str, tuple[Any, ...]]:
    """onnx.checker (full check) and shape inference; every IR tensor's inferred shape must equal
    rescomp's. Returns the inferred shapes by tensor name.

    ``model`` is a ModelProto or the path of a model file, whose external data lies beside it (checked
    with onnx's path-based checker and shape inference). A ModelProto whose initializers exceed
    :data:`EXTERNAL_DATA_LIMIT` is checked that way too, from a copy :func:`staged` in a temporary folder."""
    import onnx

    if isinstance(model, (str, os.PathLike)):
        inferred = _infer_from_path(Path(model))
    elif needs_external_data(model):
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        files = onnx_files(copy)
        del copy
        with staged(files) as path:
            inferred = _infer_from_path(path)
    else:
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
