"""The lowering on its own: naming, the module tree, shapes on nodes and shortcut planning."""

from __future__ import annotations

import pytest

from rescomp.errors import SpecError
from rescomp.ir import Container, Graph, lint
from rescomp.lower import shortcut as sc
from rescomp.passes.shapes import verify_shapes
from rescomp.spec.load import build_graph, load_spec_text


def graph_of(text: str) -> Graph:
    return build_graph(load_spec_text(text, "test.yaml"))


NESTED = """
name: nested
input: [3, 16, 16]
defaults: {conv: {bias: false}}
blocks:
  inv:
    params: {out: null, t: 2}
    layers:
      - seq: conv
        layers:
          - {seq: expand, layers: [{op: conv, out: 8 * t, kernel: 1}, {op: bn}, {op: relu}]}
          - {op: conv, name: dw, out: 8 * t, groups: 8 * t}
          - {op: conv, out: out, kernel: 1}
          - {op: bn}
layers:
  - seq: features
    layers:
      - {seq: stem, layers: [{op: conv, out: 8, stride: 2}, {op: bn}, {op: relu}]}
      - {block: inv, out: 8}
      - {block: inv, out: 8, t: 3}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


def test_seq_children_are_named_by_position_and_explicit_names_kept():
    g = graph_of(NESTED)
    names = [n.name for n in g if n.name != "input"]
    assert names[:3] == ["features.stem.0", "features.stem.1", "features.stem.2"]
    # the block is features' second child (position 1) whatever its siblings are called
    assert "features.1.conv.expand.0" in names  # a seq is named by its seq: key
    assert "features.1.conv.dw" in names  # named explicitly
    assert "features.1.conv.2" in names and "features.1.conv.3" in names  # by position, after 'dw'
    assert "features.1.add" in names and "features.2.add" in names
    assert names[-3:] == ["adaptive_avgpool1", "flatten1", "linear1"]


def test_module_tree_mirrors_the_names():
    g = graph_of(NESTED)
    lint(g)  # includes the tree invariants
    features = g.containers["features"]
    assert features.kind == "seq" and [c.local for c in features.children] == ["stem", "1", "2"]
    block = g.containers["features.2"]
    assert block.kind == "block" and block.block == "inv" and dict(block.args) == {"out": 8, "t": 3}
    assert block.residual == sc.RESIDUAL and block.shortcut is None  # identity shortcut
    assert block.input == "features.1.add" and block.output == "features.2.add"
    assert [c.local for c in block.children] == ["conv", "add"]
    assert [c.kind for c in g.root.containers()] == [
        "model",
        "seq",
        "seq",
        "block",
        "seq",
        "seq",
        "block",
        "seq",
        "seq",
    ]
    nodes_under = [n.name for n in g.root.nodes()]
    assert nodes_under == [n.name for n in g][1:]  # every node but the input, in schedule order


def test_every_node_carries_its_shape():
    g = build_graph("resnet50")
    verify_shapes(g)
    assert g["input"].shape == (1, 3, 224, 224)
    assert g["layer1.0.downsample.0"].shape == (1, 256, 56, 56)
    assert g["fc"].shape == (1, 1000) and g.output == "fc"
    assert all(n.dtype == "float32" for n in g)


@pytest.mark.parametrize(
    ("policy", "kind", "local"),
    [("A", "pad", sc.PAD), ("B", "projection", sc.DOWNSAMPLE), ("C", "projection", sc.DOWNSAMPLE)],
)
def test_shortcut_policies_build_the_planned_member(policy, kind, local):
    text = f"""
name: s
input: [16, 8, 8]
shortcut: {policy}
defaults: {{conv: {{bias: false}}}}
blocks:
  b:
    params: {{w: null, s: 1}}
    layers: [{{op: conv, out: w, stride: s}}, {{op: bn}}]
layers:
  - {{block: b, w: 16}}
  - {{block: b, w: 32, s: 2}}
  - {{op: adaptive_avgpool}}
"""
    g = graph_of(text)
    first, second = g.containers["b1"], g.containers["b2"]
    assert first.shortcut == (sc.DOWNSAMPLE if policy == "C" else None)
    assert second.shortcut == local
    member = second.child(local)
    if kind == "projection":
        assert isinstance(member, Container) and member.kind == "shortcut"
        assert [n.op for n in member.nodes()] == ["conv", "bn"]
        assert g["b2.downsample.0"].attrs["stride"] == (2, 2)
    else:
        assert not isinstance(member, Container) and member.op == "pad_shortcut"
        assert member.attrs == {"stride": 2, "out": 32, "placement": "end"}
    assert g["b2.add"].inputs == ("b2.bn1", f"b2.{local}" if kind == "pad" else "b2.downsample.1")


def test_plan_shortcut():
    assert sc.plan_shortcut("B", "b", (1, 8, 8, 8), (1, 8, 8, 8)).kind == "identity"
    assert sc.plan_shortcut("C", "b", (1, 8, 8, 8), (1, 8, 8, 8)) == sc.Plan("projection", 1, 8)
    assert sc.plan_shortcut("A", "b", (1, 8, 7, 7), (1, 16, 4, 4)) == sc.Plan("pad", 2, 16)
    assert sc.plan_shortcut("B", "b", (1, 8, 9, 9), (1, 16, 3, 3)) == sc.Plan("projection", 3, 16)
    with pytest.raises(SpecError, match="no strided shortcut"):
        sc.plan_shortcut("B", "b", (1, 8, 8, 8), (1, 8, 5, 5))
    with pytest.raises(SpecError, match="cannot map"):
        sc.plan_shortcut("B", "b", (1, 8, 8, 8), (1, 10))


def test_generated_names_skip_reserved_and_explicit_names():
    g = graph_of(
        """
name: r
input: [4, 8, 8]
layers:
  - {op: relu}
  - {op: relu, name: relu2}
  - {repeat: 3, layers: [{op: relu}]}
"""
    )
    assert [n.name for n in g][1:] == ["relu1", "relu2", "relu3", "relu4", "relu5"]


def test_stage_blocks_are_numbered_and_first_overrides():
    g = build_graph("resnet18")
    layer2 = g.containers["layer2"]
    assert layer2.kind == "stage" and [c.local for c in layer2.children] == ["0", "1"]
    assert [dict(c.args) for c in layer2.children] == [{"width": 128, "stride": 2}, {"width": 128, "stride": 1}]
    assert layer2.input == "layer1.1.relu2" and layer2.output == "layer2.1.relu2"


def test_graph_rewrite_keeps_the_tree():
    g = build_graph("resnet18")
    alias = {"layer1.0.bn1": "layer1.0.conv1"}
    h = g.rewritten(alias, {"layer1.0.conv1": {**g["layer1.0.conv1"].attrs, "bias": True}})
    lint(h)
    assert "layer1.0.bn1" not in h and h["layer1.0.relu1"].inputs == ("layer1.0.conv1",)
    assert [c.local for c in h.containers["layer1.0"].children][:2] == ["conv1", "relu1"]
    assert len(h) == len(g) - 1
