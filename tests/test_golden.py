"""Golden figures: torchvision's exact parameter counts and GFLOPS, and the ResNet paper's claims.

Every figure here is cited, with the table or section it comes from, in docs/sources.md."""

from __future__ import annotations

import pytest

from tests.helpers import run

# torchvision's weights metadata, IMAGENET1K_V1 meta["num_params"] (exact) and meta["_ops"] (GFLOPS, in fact
# multiply-adds, to three decimals): docs/sources.md, "torchvision's weights metadata"
TORCHVISION = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "vgg16": (138_357_544, 15.47),
    "vgg19": (143_667_240, 19.632),
    "resnext50_32x4d": (25_028_904, 4.23),
    "wide_resnet50_2": (68_883_240, 11.398),
}


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_params_and_gflops(name: str) -> None:
    params, gflops = TORCHVISION[name]
    a = run(name)
    assert a.params == params
    assert round(a.macs / 1e9, 3) == gflops


def test_vgg19_bn_matches_torchvision() -> None:
    a = run("vgg19", bn=True)  # VGG19_BN_Weights.IMAGENET1K_V1 (docs/sources.md)
    assert a.params == 143_678_248
    assert round(a.macs / 1e9, 3) == 19.632


# He et al. 2016, Table 1 "FLOPs" row, and Sections 3.3 and 4.1 for plain-34 and VGG-16/19 (docs/sources.md)
@pytest.mark.parametrize(
    ("name", "params", "paper_gmacs"),
    [
        ("resnet18", {}, 1.8),
        ("resnet34", {"shortcut": "none"}, 3.6),  # plain-34
        ("resnet34", {}, 3.6),
        ("resnet50", {"stride_in": "1x1"}, 3.8),
        ("resnet101", {"stride_in": "1x1"}, 7.6),
        ("resnet152", {"stride_in": "1x1"}, 11.3),
        ("vgg16", {}, 15.3),
        ("vgg19", {}, 19.6),
    ],
)
def test_paper_table1_within_2_percent(name: str, params: dict[str, str], paper_gmacs: float) -> None:
    a = run(name, **params)
    assert abs(a.macs / 1e9 - paper_gmacs) / paper_gmacs < 0.02


def test_resnet34_is_18_percent_of_vgg19() -> None:  # Section 3.3: "only 18% of VGG-19"
    ratio = run("resnet34").macs / run("vgg19").macs
    assert 0.18 <= ratio < 0.19


# He et al. 2016, Section 4.2 and Table 6 (docs/sources.md)
@pytest.mark.parametrize(
    ("n", "depth", "paper_params_m"),
    [(3, 20, 0.27), (5, 32, 0.46), (7, 44, 0.66), (9, 56, 0.85), (18, 110, 1.7), (200, 1202, 19.4)],
)
def test_cifar_table6(n: int, depth: int, paper_params_m: float) -> None:
    a = run("resnet_cifar", n=n)
    assert a.depth == depth == 6 * n + 2
    assert abs(a.params / 1e6 - paper_params_m) / paper_params_m < 0.02
    assert a.input == (1, 3, 32, 32) and a.output == (1, 10)


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("resnet18", 18),
        ("resnet34", 34),
        ("resnet50", 50),
        ("resnet101", 101),
        ("resnet152", 152),
        ("vgg11", 11),
        ("vgg13", 13),
        ("vgg16", 16),
        ("vgg19", 19),
    ],
)
def test_depth_is_weighted_layers(name: str, depth: int) -> None:
    assert run(name).depth == depth


def test_shortcut_options_order_resnet34() -> None:  # Section 3.3 and Table 3 (docs/sources.md)
    p = {s: run("resnet34", shortcut=s).params for s in ("A", "B", "C", "none")}
    assert p["A"] == p["none"]
    assert p["C"] > p["B"] > p["A"]
    # option B adds exactly three projections (conv 1x1 + BN) at conv3_1, conv4_1, conv5_1
    assert p["B"] - p["A"] == sum(cin * cout + 2 * cout for cin, cout in ((64, 128), (128, 256), (256, 512)))


def test_stride_placement_changes_resnet50_macs_as_documented() -> None:
    v15, v1 = run("resnet50").macs, run("resnet50", stride_in="1x1").macs
    assert round(v15 / 1e9, 2) == 4.09 and round(v1 / 1e9, 2) == 3.86
    assert run("resnet50").params == run("resnet50", stride_in="1x1").params
