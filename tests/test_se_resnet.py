"""SE-ResNet-50 and SE-ResNeXt-50 32x4d: resnet.yaml with ``se: true``.

Squeeze-and-excitation (Hu et al. 2018) after the last BN of every block, before the residual add,
on torchvision's ResNet (v1.5: the stride in the 3x3), as timm's ``seresnet50`` and
``seresnext50_32x4d``. The SE module is ``se_module`` (Cadene's name) with ``avg_pool``, ``fc1``
(1x1 conv with bias), ``relu``, ``fc2``, ``sigmoid``. Checked here: the counts against a hand count
over torchvision's ResNet-50 / ResNeXt-50 (pinned in tests/fixtures/torchvision_state_dicts.json)
and timm's published parameter counts, the state_dict (torchvision's keys with the SE's inserted
after each block's bn3), the emitted module (parameters, FlopCounterMode = 2 x MACs on the meta
device at 224x224), and onnxruntime against it at 64x64 with BN folded and kept. The logits against
timm's own modules are in docs/verification.md (scripts/compare_timm_se_resnet.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rescomp
from rescomp.passes import analyze
from rescomp.spec.library import ENTRIES, LIBRARY_DIR

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_state_dicts.json").read_text())["models"]

#: bundled name -> (torchvision base in the fixture, fixed parameters of resnet.yaml)
NAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "se_resnet50": ("resnet50", {"depth": 50, "se": True}),
    "se_resnext50_32x4d": ("resnext50_32x4d", {"depth": 50, "groups": 32, "width_per_group": 4, "se": True}),
}
#: timm 1.0.31's parameter counts of seresnet50 and seresnext50_32x4d (num_classes 1000)
TIMM_PARAMS = {"se_resnet50": 28_088_024, "se_resnext50_32x4d": 27_559_896}
#: conv + linear MACs of the bases at 224x224, batch 1 (torchvision's published GFLOPS: 4.089, 4.23)
TV_MACS = {"resnet50": 4_089_184_256, "resnext50_32x4d": 4_230_479_872}
TV_GFLOPS = {"resnet50": 4.089, "resnext50_32x4d": 4.23}

#: output channels of every ResNet-50 bottleneck, stage by stage
BLOCK_CHANNELS = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3


def se_params(c: int, reduction: int = 16) -> int:
    return 2 * c * (c // reduction) + c // reduction + c  # fc1 and fc2 weights, their biases


def se_macs(c: int, reduction: int = 16) -> int:
    return 2 * c * (c // reduction)  # two 1x1 convs on a 1x1 map, batch 1


def fixture_params(name: str) -> int:
    """Trainable parameters of a torchvision model from its pinned state_dict shapes."""
    total = 0
    for key, shape in FIXTURE[name].items():
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


def graph(name: str, size: int | None = None, **extra: Any) -> Any:
    shape = (3, size, size) if size is not None else None
    return rescomp.graph(LIBRARY_DIR / "resnet.yaml", {**NAMES[name][1], **extra}, input_shape=shape)


def test_registered_as_bundled_names() -> None:
    for name, (_base, fixed) in NAMES.items():
        assert ENTRIES[name].file == "resnet.yaml"
        assert ENTRIES[name].fixed == fixed


def test_se_false_is_the_plain_resnet() -> None:
    """The default leaves every ResNet as it was: no SE node, torchvision's counts."""
    for name in ("resnet18", "resnet50", "resnext50_32x4d"):
        g = rescomp.graph(name)
        assert not [n for n in g if "se_module" in n.name or n.op in ("sigmoid", "mul")]
        assert [n.name for n in rescomp.graph(name, {"se": False})] == [n.name for n in g]
    a = analyze(rescomp.graph("resnet50"))
    assert a.params == fixture_params("resnet50") == 25_557_032
    assert a.macs == TV_MACS["resnet50"]
    for base, gflops in TV_GFLOPS.items():
        assert round(TV_MACS[base] / 1e9, 3) == gflops


@pytest.mark.parametrize("name", sorted(NAMES))
def test_params_and_macs_are_the_base_plus_the_se_modules(name: str) -> None:
    base = NAMES[name][0]
    a = analyze(graph(name))
    hand = fixture_params(base) + sum(se_params(c) for c in BLOCK_CHANNELS)
    assert sum(se_params(c) for c in BLOCK_CHANNELS) == 2_530_992
    assert a.params == hand == TIMM_PARAMS[name]
    assert a.macs == TV_MACS[base] + sum(se_macs(c) for c in BLOCK_CHANNELS)
    assert sum(se_macs(c) for c in BLOCK_CHANNELS) == 2_514_944
    assert a.output == (1, 1000)


def test_reduction_is_a_parameter() -> None:
    a8 = analyze(graph("se_resnet50", reduction=8))
    hand = fixture_params("resnet50") + sum(se_params(c, 8) for c in BLOCK_CHANNELS)
    assert a8.params == hand
    assert a8.macs == TV_MACS["resnet50"] + sum(se_macs(c, 8) for c in BLOCK_CHANNELS)


def test_se_sits_after_bn3_before_the_add_with_cadenes_names() -> None:
    g = graph("se_resnet50", 64)
    names = [n.name for n in g if n.name.startswith("layer2.0.")]
    i = names.index("layer2.0.bn3")
    assert names[i + 1 : i + 7] == [
        "layer2.0.se_module.avg_pool",
        "layer2.0.se_module.fc1",
        "layer2.0.se_module.relu",
        "layer2.0.se_module.fc2",
        "layer2.0.se_module.sigmoid",
        "layer2.0.se_module.mul1",
    ]
    mul = g["layer2.0.se_module.mul1"]
    assert list(mul.inputs) == ["layer2.0.bn3", "layer2.0.se_module.sigmoid"]
    add = g["layer2.0.add"]
    assert "layer2.0.se_module.mul1" in add.inputs
    fc1 = g["layer2.0.se_module.fc1"]
    assert fc1.attrs["bias"] is True and g.shape(fc1.name)[1:] == (512 // 16, 1, 1)
    assert len([n for n in g if n.op == "sigmoid"]) == 16


def test_basic_blocks_take_se_too() -> None:
    """SE-ResNet-18/34 (timm's seresnet18/34): SE after bn2 of every basic block."""
    a = analyze(rescomp.graph("resnet18", {"se": True}))
    channels = [64] * 2 + [128] * 2 + [256] * 2 + [512] * 2
    assert a.params == fixture_params("resnet18") + sum(se_params(c) for c in channels)


torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.backends.weights import expected_state  # noqa: E402
from tests.test_onnx import randomized_state  # noqa: E402  (one helper for every parity test)


def expected_keys(name: str) -> list[tuple[str, list[int]]]:
    """torchvision's state_dict with each block's SE keys after its bn3 (timm's order, ``se``
    renamed ``se_module``)."""
    out: list[tuple[str, list[int]]] = []
    for key, shape in FIXTURE[NAMES[name][0]].items():
        out.append((key, shape))
        if key.startswith("layer") and key.endswith(".bn3.num_batches_tracked"):
            block = key.removesuffix(".bn3.num_batches_tracked")
            c = FIXTURE[NAMES[name][0]][f"{block}.bn3.weight"][0]
            out += [
                (f"{block}.se_module.fc1.weight", [c // 16, c, 1, 1]),
                (f"{block}.se_module.fc1.bias", [c // 16]),
                (f"{block}.se_module.fc2.weight", [c, c // 16, 1, 1]),
                (f"{block}.se_module.fc2.bias", [c]),
            ]
    return out


@pytest.mark.parametrize("name", sorted(NAMES))
def test_emitted_module_state_dict_params_and_flops(name: str) -> None:
    g = graph(name)
    a = analyze(g)
    with torch.device("meta"):
        model = instantiate(emit_source(g))
    model.eval()
    state = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert state == expected_keys(name)
    assert dict((k, tuple(s)) for k, s in state) == expected_state(g)
    assert sum(p.numel() for p in model.parameters()) == a.params == TIMM_PARAMS[name]
    assert sum(b.numel() for b in model.buffers()) == a.buffers
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(torch.zeros(a.input, device="meta"))
    assert tuple(y.shape) == a.output == (1, 1000)
    assert counter.get_total_flops() == 2 * a.macs


@pytest.mark.parametrize("name", sorted(NAMES))
def test_small_input_flop_counter_and_onnxruntime(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from rescomp.backends.onnx_export import check_onnx, export_onnx

    size = 64
    g = graph(name, size)
    a = analyze(g)
    state = randomized_state(g)
    model = instantiate(emit_source(g)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    assert counter.get_total_flops() == 2 * 2 * a.macs  # batch 2
    assert float(np.abs(reference - reference.mean(0)).max()) > 0  # the logits depend on the input
    for fold in (True, False):
        onnx_model = export_onnx(g, state, fold_bn=fold).model
        check_onnx(onnx_model, g)
        session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        out = session.run(None, {"input": x})[0]
        assert float(np.abs(out - reference).max() / np.abs(reference).max()) <= 1e-4, (name, fold)
