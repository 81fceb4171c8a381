"""ONNX from the IR: onnxruntime computes what the emitted torch module computes, for every bundled
spec, with BN folded and kept; onnx.checker and shape inference agree with rescomp."""

from __future__ import annotations

from typing import Any

import pytest

np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

import rescomp  # noqa: E402
from rescomp.backends import onnx_export  # noqa: E402
from rescomp.backends.onnx_export import check_onnx, export_onnx, needs_external_data, onnx_files, staged  # noqa: E402
from rescomp.backends.weights import expected_state, seeded_state  # noqa: E402
from rescomp.errors import SpecError  # noqa: E402
from rescomp.spec.library import ENTRIES  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402

FP16_TOLERANCE = 2e-3  # max |fp16 - fp32| relative to max |fp32| on these nets: see docs/backends.md


def randomized_state(graph: Any, seed: int = 0) -> dict[str, Any]:
    """Seeded weights with non-trivial BN statistics, so that folding BN is really exercised."""
    state = seeded_state(graph, seed)
    rng = np.random.default_rng(seed)
    for key, value in state.items():
        if key.endswith(("running_mean", ".bias")) and value.dtype == np.float32:
            state[key] = rng.uniform(-0.2, 0.2, value.shape).astype(np.float32)
        elif key.endswith("running_var") or (key.endswith(".weight") and value.ndim == 1):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    return state


def torch_output(graph: Any, state: dict[str, Any], x: Any) -> Any:
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    model = instantiate(emit_source(graph)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def ort_output(model: Any, x: Any) -> Any:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def checked_output(make: Any, graph: Any, x: Any) -> tuple[Any, bool]:
    """Check the model ``make()`` returns with check_onnx, then return onnxruntime's output and whether the
    model needed external data. A model whose weights exceed protobuf's 2 GiB goes through its files, as
    `rescomp build` writes them (model.onnx + model.onnx.data): the path-based checker and a session from
    the path; its memory is released as its weights move into the data file (no one else holds it)."""
    model = make()
    if not needs_external_data(model):
        check_onnx(model, graph)
        return ort_output(model, x), False
    files = onnx_files(model)
    del model
    assert sorted(files) == ["model.onnx", "model.onnx.data"] and len(files["model.onnx"]) < 1 << 20
    with staged(files) as path:
        check_onnx(path, graph)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"input": x})[0], True


def rel(a: Any, b: Any) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


#: the 2015 family runs at its default input; the modern families (large inputs up to 600 px) at
#: 64x64, which every one of them accepts: their counts at the default input are checked against
#: torchvision's fixture in tests/test_library_*.py
PAPER_FAMILY = ("resnet", "resnext", "wide_resnet", "vgg", "preact_resnet")


def bundled_graph(name: str) -> Any:
    return rescomp.graph(name, input_shape=None if name.startswith(PAPER_FAMILY) else (3, 64, 64))


def weight_bytes(graph: Any) -> int:
    return sum(int(np.prod(shape)) for shape in expected_state(graph).values()) * 4


def _over_the_limit(name: str) -> bool:
    try:
        return weight_bytes(bundled_graph(name)) > onnx_export.EXTERNAL_DATA_LIMIT
    except SpecError:  # the test of this spec reports it
        return False


#: the bundled specs whose fp32 weights exceed protobuf's 2 GiB (regnet_y_128gf: 2.58 GB), so their ONNX
#: keeps them as external data; each such case writes and reads several GB (85 s here): slow
EXTERNAL = {name for name in ENTRIES if _over_the_limit(name)}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in EXTERNAL else n for n in ENTRIES])
def test_onnxruntime_equals_torch_for_bundled_specs(name: str) -> None:
    graph = bundled_graph(name)
    state = randomized_state(graph)
    x = np.random.default_rng(1).standard_normal((2, *graph.shape(graph.input)[1:])).astype(np.float32)
    reference = torch_output(graph, state, x)
    for fold in (True, False):
        out, external = checked_output(lambda f=fold: export_onnx(graph, state, fold_bn=f).model, graph, x)
        assert external == (name in EXTERNAL), name
        assert rel(out, reference) <= 1e-4, (name, fold)


def test_regnet_y_128gf_needs_external_data_and_fp16_does_not() -> None:
    """The decision is by size: 644.8 M fp32 weights exceed protobuf's limit, the same in fp16 fit."""
    assert "regnet_y_128gf" in EXTERNAL
    n = weight_bytes(bundled_graph("regnet_y_128gf")) // 4
    assert 4 * n > onnx_export.PROTOBUF_LIMIT > onnx_export.EXTERNAL_DATA_LIMIT > 2 * n


VARIANTS = [
    ("resnet34", {"shortcut": "A"}, 64),
    ("resnet34", {"shortcut": "C"}, 64),
    ("preact_resnet_cifar", {"shortcut": "A"}, 32),
    ("vgg11", {"bn": True}, 224),
]


@pytest.mark.parametrize(("name", "params", "size"), VARIANTS)
def test_variants(name: str, params: dict[str, Any], size: int) -> None:
    graph = rescomp.graph(name, params, input_shape=(3, size, size))
    state = randomized_state(graph)
    x = np.random.default_rng(2).standard_normal((3, 3, size, size)).astype(np.float32)
    model = export_onnx(graph, state).model
    check_onnx(model, graph)
    assert rel(ort_output(model, x), torch_output(graph, state, x)) <= 1e-4


def test_graph_structure_names_and_dynamic_batch() -> None:
    graph = rescomp.graph("resnet18")
    model = export_onnx(graph, seeded_state(graph, 0)).model
    assert model.opset_import[0].version == 17
    names = {n.name for n in model.graph.node}
    ir_names = {n.name for n in graph if n.op != "input"}
    folded = {n.name for n in graph if n.op == "bn"}
    assert names == ir_names - folded  # node names are IR names; BN folded away
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    kept = export_onnx(graph, seeded_state(graph, 0), fold_bn=False).model
    assert {n.name for n in kept.graph.node} == ir_names
    x = np.zeros((5, 3, 224, 224), dtype=np.float32)
    assert ort_output(model, x).shape == (5, 1000)


def test_export_is_deterministic() -> None:
    graph = rescomp.graph("resnet_cifar")
    state = seeded_state(graph, 0)
    assert export_onnx(graph, state).model.SerializeToString() == export_onnx(graph, state).model.SerializeToString()


def test_fp16_within_tolerance_and_bf16_checked() -> None:
    graph = rescomp.graph("resnet18")
    state = randomized_state(graph)
    x = np.random.default_rng(3).standard_normal((2, 3, 224, 224)).astype(np.float32)
    fp32 = ort_output(export_onnx(graph, state).model, x)
    fp16 = export_onnx(graph, state, precision="fp16").model
    check_onnx(fp16, graph)
    assert fp16.graph.initializer[0].data_type == onnx.TensorProto.FLOAT16
    assert [n.op_type for n in fp16.graph.node][:1] == ["Cast"] and fp16.graph.node[-1].op_type == "Cast"
    assert rel(ort_output(fp16, x), fp32) <= FP16_TOLERANCE
    bf16 = export_onnx(graph, state, precision="bf16").model  # onnxruntime's CPU has no bf16 Conv
    check_onnx(bf16, graph)
    assert bf16.opset_import[0].version == 22
    # bf16 weights are raw bytes, 2 per value (not int32_data: 4 per value), rounded to nearest even
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from onnx import numpy_helper

    folded = {t.name: t for t in export_onnx(graph, state).model.graph.initializer}
    for init in bf16.graph.initializer:
        if init.data_type == onnx.TensorProto.BFLOAT16:
            assert not init.int32_data and len(init.raw_data) == 2 * int(np.prod(init.dims)), init.name
            want = numpy_helper.to_array(folded[init.name]).astype(ml_dtypes.bfloat16)
            assert np.array_equal(numpy_helper.to_array(init).view(np.uint16), want.view(np.uint16)), init.name
    sizes = {p: export_onnx(graph, state, precision=p).model.ByteSize() for p in ("fp16", "bf16")}
    assert abs(sizes["bf16"] - sizes["fp16"]) <= 0.05 * sizes["fp16"], sizes
    with pytest.raises(SpecError, match="bf16 needs opset 22"):
        export_onnx(graph, state, precision="bf16", opset=17)


def test_dag_and_option_a_ops() -> None:
    text = """
name: dag
input: [4, 9, 9]
shortcut: A
defaults: {conv: {bias: false}}
blocks:
  grow:
    params: {}
    layers: [{op: conv, out: 8, stride: 2}, {op: bn}]
layers:
  - {op: conv, name: a, out: 4, bias: true}
  - {op: conv, name: b, out: 2, kernel: 1, inputs: input}
  - {op: concat, name: cat, inputs: [a, b]}
  - {op: maxpool, kernel: 3, stride: 1, padding: 1, ceil_mode: true}
  - {op: avgpool, kernel: 2, stride: 1}
  - {block: grow}
  - {op: add, name: three, inputs: [grow1, grow1, grow1]}
  - {op: adaptive_avgpool, size: 2}
  - {op: flatten}
  - {op: dropout}
  - {op: linear, out: 3}
"""
    graph = build_graph(load_spec_text(text))
    state = randomized_state(graph)
    x = np.random.default_rng(4).standard_normal((2, 4, 9, 9)).astype(np.float32)
    model = export_onnx(graph, state).model
    check_onnx(model, graph)
    assert rel(ort_output(model, x), torch_output(graph, state, x)) <= 1e-4


def test_uneven_adaptive_pool_is_a_located_error() -> None:
    graph = build_graph(load_spec_text("name: t\ninput: [3, 5, 5]\nlayers:\n  - {op: adaptive_avgpool, size: 2}\n"))
    with pytest.raises(SpecError, match="unequal size") as info:
        export_onnx(graph, {})
    assert info.value.loc is not None and info.value.loc.line == 4
