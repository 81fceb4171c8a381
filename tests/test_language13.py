"""The language of issue 13: names for repeated children, ``in_channels``, float parameters with
``ceil``/``floor``/``make_divisible``, and option A's padding placement (tests/test_option_a.py checks
the placement numerically).

The DenseNet check builds a small DenseNet twice, once from a spec and once by hand in torch with
torchvision's module layout (``features.denseblock1.denselayer1.norm1`` ...), and requires equal
state_dict keys and shapes and, with the same weights, equal outputs."""

from __future__ import annotations

import itertools
import math
from typing import Any

import jsonschema
import pytest
import yaml

from rescomp.errors import Loc, SpecError
from rescomp.spec.expr import MAX_INT, evaluate
from rescomp.spec.load import build_graph, load_spec_text
from rescomp.spec.schema import spec_schema
from tests.helpers import run_text

VALIDATOR = jsonschema.Draft202012Validator(spec_schema())
HERE = Loc("<test>", 1, 1)


def graph_of(text: str, **params: Any) -> Any:
    from rescomp.lower import Overrides

    return build_graph(load_spec_text(text), Overrides({k: (v, HERE) for k, v in params.items()}))


def schema_ok(text: str) -> bool:
    return not list(VALIDATOR.iter_errors(yaml.safe_load(text)))


# ---------------------------------------------------------------------------------------------
# 1. names for repeated children


def _torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """A copy of torchvision.models._utils._make_divisible (torchvision 0.29)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


INDEXED = """
name: indexed
input: [3, 8, 8]
params: {n: 3}
layers:
  - repeat: n
    index: i
    layers:
      - {op: conv, name: "conv${i + 1}", out: "4 * (i + 1)", bias: false}
      - {op: relu, name: "relu${i + 1}"}
"""


def test_repeat_index_names_and_values() -> None:
    g = graph_of(INDEXED)
    names = [n.name for n in g if n.name != "input"]
    assert names == ["conv1", "relu1", "conv2", "relu2", "conv3", "relu3"]
    assert [g[f"conv{i}"].shape[1] for i in (1, 2, 3)] == [4, 8, 12]
    assert schema_ok(INDEXED)


def test_index_is_visible_in_when_and_nested_repeats() -> None:
    text = """
name: nested
input: [3, 8, 8]
layers:
  - repeat: 2
    index: i
    layers:
      - seq: "stage${i}"
        layers:
          - repeat: "i + 1"
            index: j
            layers: [{op: relu, name: "r${i}_${j}"}]
      - {op: relu, name: "odd${i}", when: "i % 2 == 1"}
"""
    g = graph_of(text)
    assert [n.name for n in g if n.name != "input"] == ["stage0.r0_0", "stage1.r1_0", "stage1.r1_1", "odd1"]
    assert schema_ok(text)


def test_stage_and_block_names_interpolate() -> None:
    text = """
name: stages
input: [3, 8, 8]
defaults: {conv: {bias: false}}
blocks:
  b:
    residual: false
    params: {w: null}
    layers: [{op: conv, name: conv, out: w}]
layers:
  - repeat: 2
    index: i
    layers:
      - {stage: "layer${i + 1}", block: b, repeat: 2, w: "8 * (i + 1)"}
      - {block: b, name: "extra${i}", w: 4}
"""
    g = graph_of(text)
    convs = [n.name for n in g if n.op == "conv"]
    assert convs == ["layer1.0.conv", "layer1.1.conv", "extra0.conv", "layer2.0.conv", "layer2.1.conv", "extra1.conv"]
    assert schema_ok(text)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ('"x${i}-"', "name 'x${i}-' gives 'x0-', which is not a valid layer name"),  # '-' only between parts
        ('"x${i}.y"', "name 'x${i}.y' gives 'x0.y', which is not a valid layer name"),
        ('"${i}"', "name '${i}' gives 0, which is not a valid layer name"),
        ("\"${'in' if i == 0 else 'ok'}\"", "gives 'in', which is not a valid layer name"),  # a keyword
        ("\"${'inp' + 'ut'}\"", "gives 'input', which is reserved"),
        ('"a${i"', "unclosed '${'"),
        ('"a${j}"', "unknown name 'j'"),
    ],
)
def test_bad_interpolated_names_are_located_errors(name: str, message: str) -> None:
    text = f"""name: t
input: [3, 8, 8]
layers:
  - repeat: 2
    index: i
    layers: [{{op: relu, name: {name}}}]
"""
    with pytest.raises(SpecError) as err:
        graph_of(text)
    assert message in str(err.value)
    assert err.value.loc is not None and err.value.loc.line == 6


def test_an_interpolated_clash_is_the_duplicate_name_error() -> None:
    text = """name: t
input: [3, 8, 8]
layers:
  - repeat: 2
    index: i
    layers: [{op: relu, name: "r${i // 2}"}]
"""
    with pytest.raises(SpecError, match="duplicate name 'r0' in this scope"):
        graph_of(text)
    # a literal name is reserved for itself, but a ${...} name is known only when built: a generated
    # name that takes it first is a clash too
    text = """name: t
input: [3, 8, 8]
layers:
  - {op: relu}
  - {op: relu, name: "relu${1}"}
"""
    with pytest.raises(SpecError, match="duplicate name 'relu1'"):
        graph_of(text)


def test_index_may_not_hide_a_name() -> None:
    text = """name: t
input: [3, 8, 8]
params: {n: 2}
layers:
  - {repeat: 2, index: n, layers: [{op: relu}]}
"""
    with pytest.raises(SpecError, match="repeat index 'n' hides a parameter"):
        graph_of(text)
    with pytest.raises(SpecError, match="not a valid identifier"):
        graph_of(text.replace("index: n", "index: '${n}'"))
    assert not schema_ok(text.replace("index: n", "index: '2x'"))


def test_repeat_without_index_still_refuses_literal_names() -> None:
    text = """name: t
input: [3, 8, 8]
layers:
  - {repeat: 2, layers: [{op: relu, name: r}]}
"""
    with pytest.raises(SpecError, match="duplicate name 'r'") as err:
        graph_of(text)
    assert "index" in (err.value.hint or "")


MBV2_LIKE = """
name: mbv2_features
input: [3, 16, 16]
defaults: {conv: {bias: false}}
layers:
  - seq: features
    layers:
      - {seq: null, layers: [{op: conv, out: 8, stride: 2}, {op: bn}, {op: relu6}]}
      - {seq: null, layers: [{op: conv, out: 8, groups: 8}, {op: bn}, {op: relu6}]}
      - {op: conv, out: 16, kernel: 1}
  - {seq: null, layers: [{op: adaptive_avgpool}, {op: flatten}]}
  - {seq: classifier, layers: [{op: dropout, p: 0.2}, {op: linear, out: 10}]}
"""


def test_a_null_seq_is_named_by_its_position() -> None:
    pytest.importorskip("torch")
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    g = graph_of(MBV2_LIKE)
    weighted = [n.name for n in g if n.op in ("conv", "bn", "linear")]
    assert weighted == ["features.0.0", "features.0.1", "features.1.0", "features.1.1", "features.2", "classifier.1"]
    assert "seq1.0" in g  # outside a seq or stage: named like any unnamed layer
    keys = set(instantiate(emit_source(g)).state_dict())
    assert {"features.0.0.weight", "features.1.1.running_mean", "features.2.weight", "classifier.1.bias"} <= keys
    assert schema_ok(MBV2_LIKE)


def test_schema_and_loader_agree_on_names() -> None:
    base = {"name": "t", "input": [3, 8, 8]}

    def both(layers: list[Any]) -> tuple[bool, bool]:
        doc = {**base, "layers": layers}
        try:
            load_spec_text(yaml.safe_dump(doc))
            loader = True
        except SpecError:
            loader = False
        return loader, not list(VALIDATOR.iter_errors(doc))

    relu = {"op": "relu"}
    assert both([{"op": "relu", "name": "a${1}"}]) == (True, True)
    assert both([{"op": "relu", "name": "1a"}]) == (False, False)
    assert both([{"seq": None, "layers": [relu]}]) == (True, True)
    assert both([{"seq": "s${1}", "layers": [relu]}]) == (True, True)
    assert both([{"stage": "l${1}", "block": "b", "repeat": 1}]) == (True, True)  # the block is looked up later
    assert both([{"repeat": 2, "index": "i", "layers": [relu]}]) == (True, True)
    assert both([{"repeat": 2, "index": "2i", "layers": [relu]}]) == (False, False)
    assert both([{"repeat": 2, "index": None, "layers": [relu]}]) == (False, False)
    assert both([{"op": "relu", "name": None}]) == (False, False)


# ---------------------------------------------------------------------------------------------
# 2. in_channels


IN_CHANNELS = """
name: in_ch
input: [6, 8, 8]
defaults: {conv: {bias: false}}
blocks:
  half:
    residual: false
    params: {out: 0}
    vars: {width: "out if out > 0 else in_channels // 2"}
    layers: [{op: conv, out: width, kernel: 1}]
  grow:
    residual: false
    vars: {w: "in_channels + 4"}
    layers:
      - {op: conv, out: w, kernel: 1}
      - {block: half}
layers:
  - {block: half}
  - {block: grow}
  - {block: half, out: 5}
"""


def test_in_channels_is_the_block_input_channel_count() -> None:
    g = graph_of(IN_CHANNELS)
    convs = [(n.name, n.shape[1]) for n in g if n.op == "conv"]
    # half: 6 -> 3; grow: 3 -> 7, its inner half 7 -> 3; half with an explicit out: 5
    assert convs == [("half1.conv1", 3), ("grow1.conv1", 7), ("grow1.half1.conv1", 3), ("half2.conv1", 5)]


def test_an_explicit_name_wins_over_in_channels() -> None:
    text = IN_CHANNELS.replace("params: {out: 0}", "params: {out: 0, in_channels: 100}")
    g = graph_of(text)
    assert [n.shape[1] for n in g if n.name.endswith("half1.conv1")] == [50, 50]  # the block parameter
    text = IN_CHANNELS.replace('vars: {width: "out', 'vars: {in_channels: 12, width: "out')
    g = graph_of(text)
    assert [n.shape[1] for n in g if n.name.endswith("half1.conv1")] == [6, 6]  # the block var
    spec_level = """
name: t
input: [6, 8, 8]
params: {in_channels: 9}
blocks:
  b: {residual: false, layers: [{op: conv, out: in_channels, kernel: 1}]}
layers: [{block: b}]
"""
    assert graph_of(spec_level)["b1.conv1"].shape[1] == 9


def test_in_channels_is_unknown_outside_blocks() -> None:
    text = """name: t
input: [6, 8, 8]
layers: [{op: conv, out: in_channels}]
"""
    with pytest.raises(SpecError, match="unknown name 'in_channels'"):
        graph_of(text)


DENSENET = """
name: mini_densenet
params:
  growth: 4
  blocks: [2, 3]
  bn_size: 2
input: [3, 16, 16]
defaults: {conv: {bias: false}}
blocks:
  dense_layer:
    residual: false
    layers:
      - {op: bn, name: norm1}
      - {op: relu, name: relu1}
      - {op: conv, name: conv1, out: bn_size * growth, kernel: 1}
      - {op: bn, name: norm2}
      - {op: relu, name: relu2}
      - {op: conv, name: conv2, out: growth, kernel: 3, padding: 1}
      - {op: concat, inputs: [input, conv2]}
  transition:
    residual: false
    layers:
      - {op: bn, name: norm}
      - {op: relu, name: relu}
      - {op: conv, name: conv, out: in_channels // 2, kernel: 1}
      - {op: avgpool, name: pool, kernel: 2, stride: 2}
layers:
  - seq: features
    layers:
      - {op: conv, name: conv0, out: 2 * growth, kernel: 3, padding: 1}
      - {op: bn, name: norm0}
      - {op: relu, name: relu0}
      - repeat: len(blocks)
        index: i
        layers:
          - seq: "denseblock${i + 1}"
            layers:
              - repeat: blocks[i]
                index: j
                layers: [{block: dense_layer, name: "denselayer${j + 1}"}]
          - {block: transition, name: "transition${i + 1}", when: i < len(blocks) - 1}
      - {op: bn, name: norm5}
  - {op: relu}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, name: classifier, out: 10}
"""


def _torch_densenet(growth: int, blocks: list[int], bn_size: int) -> Any:
    """torchvision's DenseNet layout, small: written here by hand (torchvision.models.densenet)."""
    import torch
    from torch import nn

    class DenseLayer(nn.Module):
        def __init__(self, cin: int) -> None:
            super().__init__()
            self.norm1 = nn.BatchNorm2d(cin)
            self.relu1 = nn.ReLU()
            self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth)
            self.relu2 = nn.ReLU()
            self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

        def forward(self, x: Any) -> Any:
            new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
            return torch.cat([x, new], 1)

    class Transition(nn.Sequential):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(cin)
            self.relu = nn.ReLU()
            self.conv = nn.Conv2d(cin, cout, 1, bias=False)
            self.pool = nn.AvgPool2d(2, 2)

    class DenseNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = 2 * growth
            self.features = nn.Sequential()
            self.features.add_module("conv0", nn.Conv2d(3, c, 3, padding=1, bias=False))
            self.features.add_module("norm0", nn.BatchNorm2d(c))
            self.features.add_module("relu0", nn.ReLU())
            for i, n in enumerate(blocks):
                block = nn.Sequential()
                for j in range(n):
                    block.add_module(f"denselayer{j + 1}", DenseLayer(c + j * growth))
                self.features.add_module(f"denseblock{i + 1}", block)
                c += n * growth
                if i < len(blocks) - 1:
                    self.features.add_module(f"transition{i + 1}", Transition(c, c // 2))
                    c //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(c))
            self.classifier = nn.Linear(c, 10)

        def forward(self, x: Any) -> Any:
            x = torch.relu(self.features(x))
            return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    return DenseNet()


@pytest.mark.parametrize(("growth", "blocks"), [(4, [2, 3]), (3, [1, 2, 2])])
def test_densenet_keys_and_outputs_equal_torchvision_layout(growth: int, blocks: list[int]) -> None:
    torch = pytest.importorskip("torch")
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    g = graph_of(DENSENET, growth=growth, blocks=blocks)
    ours = instantiate(emit_source(g), seed=0).eval()
    ref = _torch_densenet(growth, blocks, 2).eval()
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == theirs
    assert "features.denseblock1.denselayer1.norm1.weight" in theirs
    assert "features.transition1.conv.weight" in theirs
    with torch.no_grad():
        for p in ref.state_dict().values():  # non-trivial BN statistics
            if p.dtype.is_floating_point:
                p.copy_(torch.rand_like(p) * 0.5 + 0.5)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# 3. floats, ceil, floor, make_divisible


def ev(text: str, **env: Any) -> Any:
    return evaluate(text, env, HERE)


def test_make_divisible_equals_torchvision_on_a_grid() -> None:
    values = [0, 0.5, 1, 3, 7.9, 8, 11.9, 12, 15.99, 16, 24 * 0.35, 32 * 0.75, 37.2, 1000.1, 1280 * 1.4]
    values += [c * m for c in (16, 24, 32, 40, 64, 96, 160, 320, 1280) for m in (0.25, 0.35, 0.5, 0.75, 1.0, 1.4)]
    values += [x / 7 for x in range(0, 400)]
    for v, divisor, min_value in itertools.product(values, (1, 2, 3, 4, 8, 16), (None, 1, 8, 16)):
        expected = _torchvision_make_divisible(v, divisor, min_value)
        text = (
            f"make_divisible({v!r}, {divisor})" if min_value is None else f"make_divisible(v, {divisor}, {min_value})"
        )
        got = ev(text, v=v)
        assert got == expected and type(got) is type(expected), (v, divisor, min_value)


def test_make_divisible_in_a_width_multiplied_spec() -> None:
    text = """
name: width_mult
params:
  width_mult: {default: 1.0, doc: width multiplier}
input: [3, 16, 16]
defaults: {conv: {bias: false}}
layers:
  - {op: conv, out: "make_divisible(32 * width_mult, 8)", stride: 2}
  - {op: conv, out: "make_divisible(24 * width_mult, 8)"}
  - {op: conv, out: "int(ceil(10 * width_mult))", kernel: 1}
  - {op: conv, out: "floor(10 * width_mult)", kernel: 1}
"""
    for mult in (1.0, 0.75, 0.5, 0.35, 1.4, 2):
        g = graph_of(text, width_mult=mult) if mult != 1.0 else graph_of(text)
        widths = [n.shape[1] for n in g if n.op == "conv"]
        assert widths == [
            _torchvision_make_divisible(32 * mult, 8),
            _torchvision_make_divisible(24 * mult, 8),
            math.ceil(10 * mult),
            math.floor(10 * mult),
        ]
    # --set reads 0.75 as a float
    from rescomp.spec.expr import evaluate_override

    assert evaluate_override("0.75", HERE) == 0.75
    a = run_text(text, width_mult=0.75)
    assert a.output == (1, 7, 8, 8)


def test_a_float_width_must_become_an_integer() -> None:
    text = """name: t
params: {m: 0.5}
input: [3, 8, 8]
layers: [{op: conv, out: 32 * m}]
"""
    with pytest.raises(SpecError, match=r"'out' must be an integer, got 16\.0"):
        graph_of(text)
    with pytest.raises(SpecError, match=r"expects float like its default 0\.5"):
        graph_of(text, m="wide")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ceil(2.1)", 3),
        ("ceil(-2.1)", -2),
        ("floor(2.9)", 2),
        ("floor(-2.1)", -3),
        ("ceil(4)", 4),
        ("floor(7 / 2)", 3),
        ("ceil(1e18)", 10**18),
        ("floor(-1e18)", -(10**18)),
        ("make_divisible(0.75 * 32, 8)", 24),
        ("make_divisible(0.35 * 24, 8)", 8),
        ("make_divisible(5, 8, 0)", 8),  # 0 is a min_value (torchvision tests 'is None')
        ("make_divisible(3, 8, 0)", 8),  # 0 < 0.9 * 3: one divisor more
        ("make_divisible(0, 8, 0)", 0),
        ("make_divisible(0, 8)", 8),
    ],
)
def test_ceil_floor_make_divisible(text: str, value: int) -> None:
    out = ev(text)
    assert out == value and isinstance(out, int) and not isinstance(out, bool)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ceil('a')", "ceil() needs a number"),
        ("floor([1])", "floor() needs a number"),
        ("ceil(true)", "ceil() needs a number"),
        ("ceil(1, 2)", "takes 1 positional argument"),
        ("make_divisible('a', 8)", "make_divisible() needs a number"),
        ("make_divisible(10, 0)", "positive integer divisor"),
        ("make_divisible(10, 2.5)", "positive integer divisor"),
        ("make_divisible(10, 8, 1.5)", "integer min_value"),
        ("make_divisible(10)", "argument"),
        ("make_divisible(10 ** 18, 7 * 10 ** 17)", f"value exceeds {MAX_INT:.0e}"),
        ("make_divisible(1, 8, 10 ** 18 + 1)", f"value exceeds {MAX_INT:.0e}"),
        ("ceil(1e18) + 1", f"value exceeds {MAX_INT:.0e}"),
    ],
)
def test_bad_calls_are_located_errors(text: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        ev(text)
    assert message in str(err.value)
