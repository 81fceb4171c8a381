"""Every YAML example in docs/spec.md analyses to the figures computed here by hand.

docs/spec.md quotes no figures next to its examples, so each example's parameters and MACs are
counted below layer by layer from the example's text (conv: cin*cout*k*k weights and that many MACs per
output pixel; BN: 2 parameters per channel; linear: in*out + out parameters, in*out MACs), independently
of rescomp's op code. A new example must get its own count here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_text

DOC = Path(__file__).resolve().parent.parent / "docs" / "spec.md"
EXAMPLES = {
    re.search(r"^name: (\S+)", t, re.M).group(1): t  # type: ignore[union-attr]
    for t in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
}


class Count:
    """Parameters and MACs, added up one layer at a time."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0

    def conv(self, cin: int, cout: int, k: int, hw: int) -> None:
        """A bias-free k x k convolution producing an hw x hw map."""
        self.params += cin * cout * k * k
        self.macs += cin * cout * k * k * hw * hw

    def bn(self, c: int) -> None:
        self.params += 2 * c

    def linear(self, cin: int, cout: int) -> None:
        self.params += cin * cout + cout
        self.macs += cin * cout


def tiny_resnet(n: int = 2, width: int = 16) -> Count:
    c = Count()
    c.conv(3, width, 3, 32)
    c.bn(width)
    for _ in range(n):  # layer1: 32x32, width channels, identity shortcuts
        c.conv(width, width, 3, 32), c.bn(width), c.conv(width, width, 3, 32), c.bn(width)
    w2 = 2 * width  # layer2: stride 2 to 16x16; block 0 changes shape, so shortcut B projects (1x1 conv + BN)
    c.conv(width, w2, 3, 16), c.bn(w2), c.conv(w2, w2, 3, 16), c.bn(w2)
    c.conv(width, w2, 1, 16), c.bn(w2)
    for _ in range(n - 1):
        c.conv(w2, w2, 3, 16), c.bn(w2), c.conv(w2, w2, 3, 16), c.bn(w2)
    c.linear(w2, 10)
    return c


def two_branches() -> Count:
    c = Count()
    c.conv(3, 32, 3, 32)  # stem
    c.conv(32, 16, 1, 32)  # left
    c.conv(32, 16, 5, 32)  # right; concat gives 32 channels, added to the stem
    c.linear(32, 10)
    return c


def preact_demo() -> Count:
    c = Count()
    c.conv(3, 16, 3, 32)
    for _ in range(2):  # layer1: bn, conv, bn, conv at 16 channels
        c.bn(16), c.conv(16, 16, 3, 32), c.bn(16), c.conv(16, 16, 3, 32)
    c.bn(16), c.conv(16, 32, 3, 16), c.bn(32), c.conv(32, 32, 3, 16)  # layer2.0
    c.conv(16, 32, 1, 16)  # its projection, from relu1, without BN (projection_bn: false)
    c.bn(32), c.conv(32, 32, 3, 16), c.bn(32), c.conv(32, 32, 3, 16)  # layer2.1
    c.bn(32)
    c.linear(32, 10)
    return c


def wide_cifar(k: int = 2, n: int = 2, mode: str = "plain") -> Count:
    c = Count()
    c.conv(3, 16, 3, 32)
    cin = 16
    for width, hw in ((16 * k, 32), (32 * k, 16), (64 * k, 8)):
        for i in range(n):
            c.conv(cin if i == 0 else width, width, 3, hw), c.bn(width), c.conv(width, width, 3, hw), c.bn(width)
        if mode == "residual":  # shortcut B: block 0 of every stage changes channels, so it projects
            c.conv(cin, width, 1, hw), c.bn(width)
        cin = width
    c.linear(cin, 10)
    return c


def dense_demo(growth: int = 8, layers_per_block: tuple[int, ...] = (2, 2)) -> Count:
    c = Count()
    cin, hw = 2 * growth, 32
    c.conv(3, cin, 3, hw)  # conv0
    for i, n in enumerate(layers_per_block):
        for _ in range(n):  # a dense layer: bn, 1x1 conv to 4 * growth, bn, 3x3 conv to growth, concat
            c.bn(cin), c.conv(cin, 4 * growth, 1, hw), c.bn(4 * growth), c.conv(4 * growth, growth, 3, hw)
            cin += growth
        if i + 1 < len(layers_per_block):  # transition: bn, 1x1 conv halving the channels, 2x2 average pool
            c.bn(cin), c.conv(cin, cin // 2, 1, hw)
            cin, hw = cin // 2, hw // 2
    c.bn(cin)  # norm5
    c.linear(cin, 10)
    return c


def se_demo(width_mult: float = 1.0) -> Count:
    def divisible(v: float) -> int:  # make_divisible(v, 8), worked out for the widths below
        return {16.0: 16, 24.0: 24, 4.0: 8, 8.0: 8, 6.0: 8, 12.0: 16}[v]

    c = Count()
    w = divisible(16 * width_mult)
    c.conv(3, w, 3, 32), c.bn(w)  # features.0

    def se(ch: int) -> None:  # on a 1x1 map: fc1 and fc2 are 1x1 convolutions with biases
        squeeze = divisible(ch / 4)
        c.conv(ch, squeeze, 1, 1), c.conv(squeeze, ch, 1, 1)
        c.params += squeeze + ch

    for cin, width, hw in ((w, w, 32), (w, 2 * w, 16)):
        c.conv(cin, width, 3, hw), c.bn(width), c.conv(width, width, 3, hw), c.bn(width)
        se(width)
        if cin != width:  # features.2 changes shape: shortcut B projects
            c.conv(cin, width, 1, hw), c.bn(width)
    c.linear(2 * w, 10)
    return c


def mbconv_demo(expand: int = 4) -> Count:
    c = Count()
    c.conv(3, 16, 3, 16), c.bn(16)  # the stem, stride 2

    def depthwise(ch: int, hw: int) -> None:  # a 3x3 conv with groups == channels
        c.params += ch * 9
        c.macs += ch * 9 * hw * hw

    for cin, out, hw_in, hw in ((16, 16, 16, 16), (16, 24, 16, 8)):
        mid = cin * expand
        c.conv(cin, mid, 1, hw_in), c.bn(mid)
        depthwise(mid, hw), c.bn(mid)
        squeeze = max(1, cin // 4)  # SE on a 1x1 map: two 1x1 convolutions with biases
        c.conv(mid, squeeze, 1, 1), c.conv(squeeze, mid, 1, 1)
        c.params += squeeze + mid
        c.conv(mid, out, 1, hw), c.bn(out)
    c.linear(24, 10)
    return c


def convnext_demo(dim: int = 16) -> Count:
    c = Count()

    def ln(ch: int) -> None:  # a LayerNorm's scale and shift
        c.params += 2 * ch

    def conv_bias(cin: int, cout: int, k: int, hw: int) -> None:
        c.conv(cin, cout, k, hw)
        c.params += cout

    def block(ch: int, hw: int) -> None:
        c.params += ch * 49 + ch  # 7x7 depthwise conv with a bias
        c.macs += ch * 49 * hw * hw
        ln(ch)
        for cin, cout in ((ch, 4 * ch), (4 * ch, ch)):  # linear layers at every one of hw * hw positions
            c.params += cin * cout + cout
            c.macs += cin * cout * hw * hw
        c.params += ch  # layer scale

    conv_bias(3, dim, 4, 8), ln(dim)
    block(dim, 8), block(dim, 8)
    ln(dim), conv_bias(dim, 2 * dim, 2, 4)
    block(2 * dim, 4)
    ln(2 * dim), c.linear(2 * dim, 10)
    return c


def vit_demo(width: int = 32, heads: int = 4) -> Count:
    c = Count()
    c.conv(3, width, 8, 4)  # the patch embedding: 8x8 patches of a 32x32 image, a 4x4 map
    c.params += width  # its bias
    tokens = 4 * 4 + 1  # the patches and the class token
    c.params += width + tokens * width  # the class token, the position embedding
    for _ in range(2):
        c.params += 2 * width  # ln_1
        c.params += 4 * width * width + 4 * width  # Q/K/V and output projections with biases
        c.macs += 4 * tokens * width * width + 2 * tokens * tokens * width  # projections, QK^T, scores x V
        c.params += 2 * width  # ln_2
        for cin, cout in ((width, 4 * width), (4 * width, width)):  # the MLP, at every token
            c.params += cin * cout + cout
            c.macs += cin * cout * tokens
    c.params += 2 * width  # ln
    c.linear(width, 10)  # the head, on the class token
    return c


CASES: list[tuple[str, dict[str, Any], Count]] = [
    ("tiny_resnet", {}, tiny_resnet()),
    ("tiny_resnet", {"n": 3}, tiny_resnet(n=3)),  # the doc's `--set n=3`
    ("two_branches", {}, two_branches()),
    ("preact_demo", {}, preact_demo()),
    ("wide_cifar", {}, wide_cifar()),
    ("wide_cifar", {"k": 1, "n": 3}, wide_cifar(k=1, n=3)),
    ("wide_cifar", {"mode": "residual"}, wide_cifar(mode="residual")),
    ("dense_demo", {}, dense_demo()),
    ("dense_demo", {"growth": 4, "layers_per_block": [1, 2, 3]}, dense_demo(4, (1, 2, 3))),
    ("se_demo", {}, se_demo()),
    ("se_demo", {"width_mult": 1.5}, se_demo(1.5)),  # the doc's `--set width_mult=1.5`
    ("mbconv_demo", {}, mbconv_demo()),
    ("mbconv_demo", {"expand": 6}, mbconv_demo(6)),
    ("convnext_demo", {}, convnext_demo()),
    ("convnext_demo", {"dim": 24}, convnext_demo(24)),
    ("vit_demo", {}, vit_demo()),
    ("vit_demo", {"width": 48, "heads": 3}, vit_demo(48, 3)),
]


def test_every_example_is_counted() -> None:
    assert sorted(EXAMPLES) == sorted({name for name, _, _ in CASES})


@pytest.mark.parametrize(
    ("name", "settings", "count"), CASES, ids=[n + "".join(f"-{k}={v}" for k, v in s.items()) for n, s, _ in CASES]
)
def test_example_figures(name: str, settings: dict[str, Any], count: Count) -> None:
    a = run_text(EXAMPLES[name], **settings)
    assert a.input == (1, 3, 32, 32) and a.output == (1, 10)
    assert (a.params, a.macs) == (count.params, count.macs)
