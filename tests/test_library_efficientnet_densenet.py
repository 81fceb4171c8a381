"""EfficientNet B0..B7, EfficientNetV2 S/M/L and DenseNet-121/161/169/201 against torchvision 0.29.1.

For each of the 15 torchvision names, the family file with its parameter fixed (loaded by path, so
the test does not depend on the library's registration) must reproduce, from
tests/fixtures/torchvision_modern.json: the default input (the published crop size), the parameter
and buffer counts, the conv + linear MACs at that input, and the state_dict keys, in order, with
their shapes. The emitted module is counted by FlopCounterMode on the meta device at the default
input (2 x MACs, as the fixture was measured), and run for real at a small input on one size per
family: FlopCounterMode there, and onnxruntime against it with BN folded and kept.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


import rescomp  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import LIBRARY_DIR  # noqa: E402
from tests.test_onnx import randomized_state  # noqa: E402  (one helper for every parity test)
from tests.torchvision_checks import assert_small_input_parity, assert_torchvision_layout_and_flops  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_modern.json").read_text())["models"]

#: torchvision name -> (family file, fixed parameters): what rescomp/spec/library.py registers
NAMES: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"efficientnet_b{k}": ("efficientnet.yaml", {"variant": f"b{k}"}) for k in range(8)},
    **{f"efficientnet_v2_{k}": ("efficientnet_v2.yaml", {"variant": k}) for k in "sml"},
    **{f"densenet{d}": ("densenet.yaml", {"depth": d}) for d in (121, 161, 169, 201)},
}
#: one size per family, run for real at a small input
SMALL = ("efficientnet_b0", "efficientnet_v2_s", "densenet121")
SMALL_SIZE = 64


def graph(name: str, size: int | None = None, **extra: Any) -> Any:
    file, fixed = NAMES[name]
    shape = (3, size, size) if size is not None else None
    return rescomp.graph(LIBRARY_DIR / file, {**fixed, **extra}, input_shape=shape)


def test_the_fixture_covers_exactly_these_families() -> None:
    assert sorted(k for k in FIXTURE if k.startswith(("efficientnet", "densenet"))) == sorted(NAMES)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_counts_and_state_dict_equal_torchvision(name: str) -> None:
    ref = FIXTURE[name]
    g = graph(name)
    a = analyze(g)
    assert a.input == (1, 3, int(ref["resolution"]), int(ref["resolution"]))
    assert a.params == ref["params"] == ref["published"]["num_params"]
    assert a.buffers == ref["buffers"]
    assert a.macs == ref["macs"]
    assert round(a.macs / 1e9, 3) == ref["published"]["gflops"]
    assert_torchvision_layout_and_flops(g, a, ref, int(ref["resolution"]))
    assert a.output == (1, 1000)


def torchvision_sd_probs(name: str) -> list[float]:
    """The stochastic-depth probability of every block, as torchvision's EfficientNet computes it
    (stochastic_depth_prob * stage_block_id / total_stage_blocks), with its stage tables."""
    if name.startswith("efficientnet_b"):
        depth_mult = (1.0, 1.1, 1.2, 1.4, 1.8, 2.2, 2.6, 3.1)[int(name[-1])]  # torchvision's efficientnet_bN
        counts = [math.ceil(n * depth_mult) for n in (1, 2, 2, 3, 3, 4, 1)]
    else:
        counts = {"s": [2, 4, 4, 6, 9, 15], "m": [3, 5, 5, 7, 14, 18, 5], "l": [4, 7, 7, 10, 19, 25, 7]}[name[-1]]
    total = sum(counts)
    return [0.2 * float(k) / total for k in range(total)]


@pytest.mark.parametrize("name", [n for n in sorted(NAMES) if n.startswith("efficientnet")])
def test_stochastic_depth_per_block_is_torchvisions(name: str) -> None:
    g = graph(name)
    nodes = [n for n in g if n.op == "stochastic_depth"]
    expected = torchvision_sd_probs(name)
    assert len(nodes) == len(expected)
    for node, p in zip(nodes, expected, strict=True):
        block = node.name.rsplit(".", 1)[0]
        residual = g.containers[block].residual is not None
        # torchvision calls it only before the residual add; elsewhere p 0 is the same identity
        assert node.attrs["p"] == (p if residual else 0.0), node.name
        assert node.attrs["mode"] == "row"


def test_bn_eps_follows_torchvision() -> None:
    def eps(name: str) -> set[tuple[float, float]]:
        return {(n.attrs["eps"], n.attrs["momentum"]) for n in graph(name, 64) if n.op == "bn"}

    assert eps("efficientnet_b4") == {(1e-5, 0.1)}
    assert eps("efficientnet_b5") == {(1e-3, 0.01)}
    assert eps("efficientnet_v2_s") == {(1e-3, 0.1)}
    assert eps("densenet121") == {(1e-5, 0.1)}


def test_densenet_dropout_is_optional_and_weightless() -> None:
    plain, dropped = graph("densenet121", 64), graph("densenet121", 64, drop_rate=0.2)
    assert analyze(plain).params == analyze(dropped).params
    assert analyze(plain).macs == analyze(dropped).macs
    assert not [n for n in plain if n.op == "dropout"]
    drops = [n for n in dropped if n.op == "dropout"]
    assert len(drops) == 6 + 12 + 24 + 16 and drops[0].name == "features.denseblock1.denselayer1.dropout"


@pytest.mark.parametrize("name", SMALL)
def test_small_input_flop_counter_and_onnxruntime(name: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    g = graph(name, SMALL_SIZE)
    assert_small_input_parity(g, analyze(g), randomized_state(g))
