"""The modern bundled specs against torchvision (issue 13, Build item 3), from
tests/fixtures/torchvision_modern.json (tests/fixtures/README.md):

- params equal torchvision's, and its published ``num_params``;
- conv + linear MACs at torchvision's default resolution equal the fixture's ``macs`` (and its
  published GFLOPS to three decimals);
- the emitted module's state_dict keys, order and shapes equal torchvision's (built on the meta
  device: no memory, no initialisation);
- torch's FlopCounterMode on the emitted module, at the default resolution on the meta device, counts
  exactly 2 x rescomp's MACs (and the fixture's FlopCounterMode total);
- onnxruntime equals the emitted module at a small input, BN folded and kept, with randomised BN
  statistics.

The logits against torchvision itself, with the same weights, are compared by
scripts/compare_torchvision_logits.py (it needs torchvision; docs/verification.md).
To cover another bundled torchvision name, add it to NAMES (and to SMALL if 64 px is too small for it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import rescomp  # noqa: E402
from rescomp.spec.library import ENTRIES  # noqa: E402
from tests.torchvision_checks import assert_torchvision_layout_and_flops  # noqa: E402

#: bundled names checked against the fixture (each must be a torchvision name in it)
NAMES: list[str] = [
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "mnasnet0_5",
    "mnasnet0_75",
    "mnasnet1_0",
    "mnasnet1_3",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]
#: input side for the ONNX parity run (default 64: fast, and every net here still ends at 2x2)
SMALL: dict[str, int] = {}

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_modern.json").read_text())["models"]


def test_names_are_bundled_and_in_the_fixture() -> None:
    for name in NAMES:
        assert name in ENTRIES, name
        assert name in FIXTURE and "error" not in FIXTURE[name], name


@pytest.mark.parametrize("name", NAMES)
def test_counts_equal_torchvision(name: str) -> None:
    tv = FIXTURE[name]
    a = rescomp.analyze(name)
    size = tv["resolution"]
    assert a.input == (1, 3, size, size)  # torchvision's default resolution is the spec's input
    assert a.params == tv["params"] == tv["published"]["num_params"]
    assert a.macs == tv["macs"]
    assert round(a.macs / 1e9, 3) == tv["published"]["gflops"]


@pytest.mark.parametrize("name", NAMES)
def test_emitted_module_equals_torchvision_layout_and_flops(name: str) -> None:
    tv = FIXTURE[name]
    graph = rescomp.graph(name)
    a = rescomp.analyze(name)
    assert a.buffers == tv["buffers"]
    assert_torchvision_layout_and_flops(graph, a, tv, int(tv["resolution"]))


@pytest.mark.parametrize("name", NAMES)
def test_onnxruntime_equals_emitted_module(name: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import numpy as np

    from rescomp.backends.onnx_export import check_onnx, export_onnx
    from tests.test_onnx import ort_output, randomized_state, rel, torch_output

    size = SMALL.get(name, 64)
    graph = rescomp.graph(name, input_shape=(3, size, size))
    state = randomized_state(graph)
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    reference = torch_output(graph, state, x)
    for fold in (True, False):
        model = export_onnx(graph, state, fold_bn=fold).model
        check_onnx(model, graph)
        assert rel(ort_output(model, x), reference) <= 1e-4, (name, fold)
