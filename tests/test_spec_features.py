"""Spec language features, each checked against numbers worked out by hand."""

from __future__ import annotations

import pytest

from rescomp.errors import SpecError
from rescomp.spec.load import build_graph, load_spec_text
from tests.helpers import run, run_text

BLOCK = """
name: t
input: [8, 16, 16]
shortcut: {policy}
defaults: {{conv: {{bias: false}}}}
blocks:
  basic:
    params: {{width: null, stride: 1}}
    layers:
      - {{op: conv, name: conv1, out: width, stride: stride}}
      - {{op: bn, name: bn1}}
      - {{op: relu}}
      - {{op: conv, name: conv2, out: width}}
      - {{op: bn, name: bn2}}
    post: [{{op: relu}}]
layers:
  - {{stage: layer1, block: basic, repeat: 2, width: 8}}
  - {{stage: layer2, block: basic, repeat: 1, width: 16, first: {{stride: 2}}}}
"""


def body_params(cin: int, w: int) -> int:
    return cin * w * 9 + 2 * w + w * w * 9 + 2 * w


@pytest.mark.parametrize("policy", ["A", "B", "C", "none"])
def test_shortcut_policies(policy: str) -> None:
    a = run_text(BLOCK.format(policy=policy))
    body = 2 * body_params(8, 8) + body_params(8, 16)
    proj = {"A": 0, "none": 0, "B": 8 * 16 + 32, "C": 2 * (8 * 8 + 16) + 8 * 16 + 32}[policy]
    assert a.params == body + proj
    names = [x.name for x in a.layers]
    ops = {x.name: x.op for x in a.layers}
    if policy == "A":
        assert ops["layer2.0.shortcut"] == "pad_shortcut"
        assert "layer1.0.shortcut" not in ops  # identity where the shape is unchanged
    if policy == "B":
        assert "layer2.0.downsample.0" in names and "layer1.0.downsample.0" not in names
    if policy == "none":
        assert not any(x.op == "add" for x in a.layers)
    assert a.output == (1, 16, 8, 8)


def test_torchvision_names() -> None:
    a = run("resnet50")
    names = {x.name for x in a.layers}
    for key in (
        "conv1",
        "bn1",
        "layer1.0.conv1",
        "layer1.0.downsample.0",
        "layer1.0.downsample.1",
        "layer4.2.bn3",
        "fc",
        "avgpool",
    ):
        assert key in names
    vgg = {x.name for x in run("vgg16", bn=True).layers}
    assert {"features.0", "features.1", "features.2", "classifier.0", "classifier.6"} <= vgg
    plain = {x.name: x.op for x in run("vgg16").layers}
    assert plain["features.0"] == "conv" and plain["features.1"] == "relu" and plain["features.4"] == "maxpool"


def test_dag_concat_and_add_same_input_twice() -> None:
    a = run_text("""
name: dag
input: [4, 8, 8]
layers:
  - {op: conv, name: left, out: 6, kernel: 1, bias: false}
  - {op: conv, name: right, out: 10, kernel: 3, bias: false, inputs: input}
  - {op: concat, name: cat, inputs: [left, right]}
  - {op: add, name: twice, inputs: [cat, cat]}
""")
    layers = {x.name: x for x in a.layers}
    assert layers["cat"].output == (1, 16, 8, 8)
    assert layers["twice"].flops == 16 * 64  # one add per element, even when both inputs are the same node
    assert a.macs == 64 * (6 * 4 + 10 * 4 * 9)


def test_groups_and_width_multiplier() -> None:
    resnext = run("resnext50_32x4d")
    conv2 = next(x for x in resnext.layers if x.name == "layer1.0.conv2")
    assert conv2.params == 128 * (128 // 32) * 9
    wide = run("resnet50", width_per_group=128)
    assert wide.params == 68_883_240


def test_preactivation_block_order() -> None:
    a = run("preact_resnet_cifar")
    names = [x.name for x in a.layers if x.name.startswith("layer2.0.")]
    assert names[:3] == ["layer2.0.bn1", "layer2.0.relu1", "layer2.0.conv1"]
    proj = next(x for x in a.layers if x.name == "layer2.0.downsample.0")
    assert proj.params == 16 * 32  # projection from the pre-activated input, without BN
    assert "layer2.0.downsample.1" not in {x.name for x in a.layers}
    assert a.depth == 20


def test_when_repeat_and_params_arithmetic() -> None:
    text = """
name: t
params: {n: 2, bn: false}
input: 3x8x8
layers:
  - seq: body
    layers:
      - {repeat: "2 * n + 1", layers: [{op: conv, out: 4}, {op: bn, when: bn}, {op: relu}]}
  - {op: flatten}
"""
    a = run_text(text)
    assert sum(x.op == "conv" for x in a.layers) == 5 and not any(x.op == "bn" for x in a.layers)
    b = run_text(text, n=1, bn=True)
    assert [x.name for x in b.layers][1:4] == ["body.0", "body.1", "body.2"]
    assert sum(x.op == "bn" for x in b.layers) == 3


def test_batch_scales_costs_not_params() -> None:
    a, b = run("resnet18"), run_text_batch("resnet18", 8)
    assert b.params == a.params and b.macs == 8 * a.macs and b.flops == 8 * a.flops
    assert b.input == (8, 3, 224, 224)
    assert b.activation_bytes_peak == 8 * a.activation_bytes_peak


def run_text_batch(name: str, batch: int):  # type: ignore[no-untyped-def]
    from rescomp.errors import Loc
    from rescomp.lower import Overrides
    from rescomp.passes import analyze

    return analyze(build_graph(name, Overrides({}, None, (batch, Loc("<test>")))))


def test_input_override_cifar_size_on_resnet() -> None:
    from rescomp.errors import Loc
    from rescomp.lower import Overrides
    from rescomp.passes import analyze

    a = analyze(build_graph("resnet18", Overrides({}, ((3, 32, 32), Loc("<test>")))))
    assert a.params == 11_689_512
    assert next(x for x in a.layers if x.name == "layer4.1.bn2").output == (1, 512, 1, 1)


def test_block_scope_is_lexical() -> None:
    # a block sees spec params and its own params, not the caller's block params
    with pytest.raises(SpecError, match="unknown name 'inner_only'"):
        build_graph(
            load_spec_text("""
name: t
input: [3, 8, 8]
blocks:
  a: {params: {inner_only: 4}, residual: false, layers: [{block: b}]}
  b: {residual: false, layers: [{op: conv, out: inner_only}]}
layers: [{block: a}]
""")
        )


def test_string_param_interpolation_in_block_name() -> None:
    text = """
name: t
params: {kind: small}
input: [3, 8, 8]
blocks:
  small: {residual: false, layers: [{op: conv, out: 4}]}
  large: {residual: false, layers: [{op: conv, out: 64}]}
layers: [{block: "${kind}"}]
"""
    assert run_text(text).output == (1, 4, 8, 8)
    assert run_text(text, kind="large").output == (1, 64, 8, 8)
