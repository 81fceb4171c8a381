"""RegNetX and RegNetY (regnet_x_400mf ... regnet_y_128gf) against torchvision 0.29.1, from
tests/fixtures/torchvision_modern.json (tests/fixtures/README.md).

For each of the 15 torchvision names, rescomp/spec/library/regnet.yaml with its ``variant`` must
reproduce: the default input (the default weights' crop size: 224, and 384 for regnet_y_128gf), the
parameter and buffer counts, the conv + linear MACs at that input (and torchvision's published
GFLOPS to three decimals), and the state_dict keys (``trunk_output.block1.block1-0.f.a.0.weight``),
in order, with their shapes. The emitted module is counted by FlopCounterMode on the meta device at
the default input (2 x MACs, as the fixture was measured).

The spec computes the stage widths and depths in closed form; here torchvision's
BlockParams.from_init_params is redone step by step in plain Python, from the constants of
torchvision's regnet_* constructors, and compared with the lowered graph. The two 400MF nets run for
real at a small input: FlopCounterMode there, and onnxruntime against the emitted module with BN
folded and kept.

The logits against torchvision itself, with the same weights, are compared by
scripts/compare_torchvision_logits_regnet.py (it needs torchvision; docs/verification.md).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


import rescomp  # noqa: E402
from rescomp.ir import Graph  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import ENTRIES, LIBRARY_DIR, REGNET_VARIANTS  # noqa: E402
from tests.test_language13 import _torchvision_make_divisible  # noqa: E402  (torchvision's, copied once)
from tests.test_onnx import randomized_state  # noqa: E402  (one helper for every parity test)
from tests.torchvision_checks import assert_small_input_parity, assert_torchvision_layout_and_flops  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_modern.json").read_text())["models"]

#: torchvision 0.29.1's regnet_* constructors: BlockParams.from_init_params(depth, w_0, w_a, w_m,
#: group_width, se_ratio) (torchvision/models/regnet.py), copied here independently of the spec
TORCHVISION_INIT: dict[str, tuple[int, int, float, float, int, float | None]] = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None),
}
NAMES = sorted(TORCHVISION_INIT)
#: run for real at SMALL_SIZE
SMALL = ("regnet_x_400mf", "regnet_y_400mf")
SMALL_SIZE = 64


def graph(name: str, size: int | None = None) -> Graph:
    """The family file with torchvision's name's variant (loaded by path: independent of the library)."""
    shape = (3, size, size) if size is not None else None
    return rescomp.graph(LIBRARY_DIR / "regnet.yaml", {"variant": name.removeprefix("regnet_")}, input_shape=shape)


def torchvision_block_params(depth: int, w_0: int, w_a: float, w_m: float, group_width: int) -> dict[str, list[int]]:
    """torchvision's BlockParams.from_init_params, step by step, in plain Python (its torch.round
    rounds half to even, as Python's round does), with a bottleneck multiplier of 1."""
    quant = 8
    widths_cont = [j * w_a + w_0 for j in range(depth)]
    block_capacity = [round(math.log(w / w_0) / math.log(w_m)) for w in widths_cont]
    block_widths = [int(round(w_0 * w_m**c / quant) * quant) for c in block_capacity]
    after, before = [*block_widths, 0], [0, *block_widths]
    split_helper = zip(after, before, after, before, strict=True)  # widths and bottleneck ratios: both the widths here
    splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1], strict=True) if t]
    ends = [d for d, t in enumerate(splits) if t]
    stage_depths = [b - a for a, b in itertools.pairwise(ends)]
    # _adjust_widths_groups_compatibilty with bottleneck ratios 1.0
    group_widths = [min(group_width, w) for w in stage_widths]
    stage_widths = [_torchvision_make_divisible(w, g) for w, g in zip(stage_widths, group_widths, strict=True)]
    return {"depths": stage_depths, "widths": stage_widths, "group_widths": group_widths}


def test_the_family_is_registered_and_in_the_fixture() -> None:
    assert sorted(k for k in FIXTURE if k.startswith("regnet")) == NAMES
    assert sorted(f"regnet_{v}" for v in REGNET_VARIANTS) == NAMES
    for name in NAMES:
        assert "error" not in FIXTURE[name], name
        entry = ENTRIES[name]
        assert (entry.file, entry.fixed) == ("regnet.yaml", {"variant": name.removeprefix("regnet_")})


@pytest.mark.parametrize("name", NAMES)
def test_counts_and_state_dict_equal_torchvision(name: str) -> None:
    ref = FIXTURE[name]
    g = graph(name)
    a = analyze(g)
    size = int(ref["resolution"])
    default = next(w for w in ref["weights"] if w["name"] == ref["default_weights"])
    assert size == default["crop_size"]  # the default weights' crop size is the default input
    assert a.input == (1, 3, size, size)
    assert a.params == ref["params"] == ref["published"]["num_params"]
    assert a.buffers == ref["buffers"]
    assert a.macs == ref["macs"]
    assert round(a.macs / 1e9, 3) == ref["published"]["gflops"]
    assert_torchvision_layout_and_flops(g, a, ref, size)
    assert a.output == (1, 1000)


@pytest.mark.parametrize("name", [n for n in NAMES if len(FIXTURE[n]["flop_counter"]) > 1])
def test_macs_at_every_measured_resolution(name: str) -> None:
    # the SWAG weights of regnet_y_16gf/32gf/128gf are published at 384 (end to end) and 224 (linear)
    for side, measured in FIXTURE[name]["flop_counter"].items():
        assert analyze(graph(name, int(side))).macs == measured["conv_linear_macs"], (name, side)


@pytest.mark.parametrize("name", NAMES)
def test_stages_are_torchvisions_block_params(name: str) -> None:
    depth, w_0, w_a, w_m, group_width, se_ratio = TORCHVISION_INIT[name]
    want = torchvision_block_params(depth, w_0, w_a, w_m, group_width)
    g = graph(name, SMALL_SIZE)
    trunk = g.containers["trunk_output"]
    stages = [c for c in trunk.children if c.local.startswith("block")]
    assert [s.local for s in stages] == [f"block{i + 1}" for i in range(len(want["depths"]))]
    got: dict[str, list[int]] = {"depths": [], "widths": [], "group_widths": []}
    for i, stage in enumerate(stages, start=1):
        assert [b.local for b in stage.children] == [f"block{i}-{j}" for j in range(len(stage.children))]
        got["depths"].append(len(stage.children))
        got["widths"].append(g.shape(stage.output)[1])
        conv_b = g[f"{stage.name}.block{i}-0.f.b.0"]
        got["group_widths"].append(conv_b.shape[1] // conv_b.attrs["groups"])
        for j, block in enumerate(stage.children):
            width_in = g.shape(block.input)[1]
            se = g.containers.get(f"{block.name}.f.se")
            if se_ratio is None:
                assert se is None
            else:  # torchvision: int(round(se_ratio * width_in)), the block's input width
                assert se is not None
                assert g[f"{se.name}.fc1"].shape[1] == round(se_ratio * width_in)
            assert (block.child("proj") is not None) == (j == 0)  # every stage changes width and strides
    assert got == want
    assert sum(want["depths"]) == depth


@pytest.mark.parametrize("name", SMALL)
def test_small_input_flop_counter_and_onnxruntime(name: str) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    g = graph(name, SMALL_SIZE)
    assert_small_input_parity(g, analyze(g), randomized_state(g))


def test_variant_is_checked() -> None:
    from rescomp.errors import SpecError

    with pytest.raises(SpecError, match="y_400mf"):  # the error lists the choices
        rescomp.graph(LIBRARY_DIR / "regnet.yaml", {"variant": "z_400mf"})
