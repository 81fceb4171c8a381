"""Regressions of torch emission (issue 11): each spec here once emitted a module that was invalid
Python, did not run, or named its state differently from the analysis.

Each test lowers the spec, emits it, executes exactly that source (rescomp.backends.torch_module)
and checks the module against the analysis: parameters, buffers, output shape, and the state_dict
keys and shapes, which must be the IR's node names plus the op's state suffixes and nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import rescomp  # noqa: E402
from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import Source, emit_source  # noqa: E402
from rescomp.backends.weights import expected_state  # noqa: E402
from rescomp.ir import Graph  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import ENTRIES  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402


def emit_and_check(graph: Graph, *, meta: bool = False) -> Source:
    """Emit ``graph``, build the module from that source and compare it with the analysis."""
    a = analyze(graph)
    source = emit_source(graph)
    compile(source.text, source.filename, "exec")  # valid Python, whatever the spec's names
    if meta:  # no initialisation or arithmetic: the big bundled nets, shapes only
        with torch.device("meta"):
            model = instantiate(source)
    else:
        model = instantiate(source, seed=0)
    model.eval()
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert state == expected_state(graph)  # "<node name>.<suffix>" for every node with state, nothing else
    assert sum(p.numel() for p in model.parameters()) == a.params
    assert sum(b.numel() for b in model.buffers()) == a.buffers
    with torch.no_grad():
        y = model(torch.zeros(a.input, device="meta" if meta else "cpu"))
    assert tuple(y.shape) == a.output
    # the docstrings name block instances by their tree names, as the analysis does
    for name in re.findall(r"in the model: ([^)]*)\)", source.text):  # a long list wraps: join its lines
        for instance in " ".join(name.split()).replace(", ...", "").split(", "):
            assert instance in graph.containers
    return source


def lowered(text: str) -> Graph:
    return build_graph(load_spec_text(text))


# --- bug 1: an expression inside a seq of a block that differs between instances --------------------

MIN2 = """
name: min2
input: [8, 16, 16]
defaults: {conv: {bias: false}}
blocks:
  b:
    params: {t: 6}
    residual: false
    layers:
      - {seq: body, layers: [{op: conv, out: 8 * t, kernel: 1}, {op: conv, out: 8, kernel: 1}]}
layers:
  - {block: b, t: 2}
  - {block: b, t: 3}
"""


def test_varying_number_inside_a_seq_of_a_block_is_a_legal_argument() -> None:
    source = emit_and_check(lowered(MIN2)).text
    assert source.count("class BBlock(") == 1  # the two instances share their class
    init = re.search(r"class BBlock\(nn\.Module\):.*?def __init__\((.*?)\) -> None:", source, re.S)
    assert init is not None
    args = [a.strip().split(":")[0] for a in init.group(1).split(",") if a.strip()]
    assert args == ["self", "body_0_out_channels"]  # one argument for both convs' channels
    assert all(a.isidentifier() for a in args)


# --- bug 3: block parameters named like what the generated code relies on -------------------------

HOSTILE = """
name: hostile
input: [4, 8, 8]
blocks:
  b:
    params: {{{p}: 4, stride: 1}}
    layers:
      - {{op: conv, name: conv1, out: {p}, stride: stride}}
      - {{op: relu}}
      - {{op: conv, name: conv2, out: {p}}}
layers:
  - {{block: b, {p}: 4}}
  - {{block: b, {p}: 8, stride: 2}}
  - {{seq: tail, layers: [{{block: b, {p}: 8}}, {{op: conv, out: 3}}]}}
  - {{op: adaptive_avgpool}}
"""

NAMES = ["nn", "super", "torch", "__class__", "self", "x", "OrderedDict", "downsample", "int", "in_channels"]


@pytest.mark.parametrize("param", NAMES)
def test_block_parameter_named_like_generated_code(param: str) -> None:
    graph = lowered(HOSTILE.format(p=param))
    source = emit_and_check(graph).text
    assert source.count("class BBlock(") == 1  # one class, the parameter is its argument
    head = re.search(r"class BBlock.*?def __init__\((.*?)\) -> None:", source, re.S)
    assert head is not None
    args = re.findall(r"(\w+):", head.group(1))  # the annotated parameters: all but self
    assert not set(args) & {"nn", "super", "torch", "self", "x", "OrderedDict", "int", "__class__"}


# --- bug 2: nested seqs; one naming for analysis and the module ----------------------------------

NESTED = """
name: mbv2_like
input: [3, 32, 32]
defaults: {conv: {bias: false}}
blocks:
  inverted:
    params: {out: null, t: 6, stride: 1}
    layers:
      - seq: conv
        layers:
          - {seq: pw, layers: [{op: conv, out: 16 * t, kernel: 1}, {op: bn}, {op: relu}]}
          - {seq: dw, layers: [{op: conv, out: 16 * t, stride: stride, groups: 16 * t}, {op: bn}, {op: relu}]}
          - {op: conv, out: out, kernel: 1}
          - {op: bn}
layers:
  - seq: features
    layers:
      - {seq: stem, layers: [{op: conv, out: 16, stride: 2}, {op: bn}, {op: relu}]}
      - {block: inverted, out: 16, t: 1}
      - {block: inverted, out: 16, t: 6}
      - {block: inverted, name: last, out: 24, t: 6, stride: 2}
      - {op: conv, out: 32, kernel: 1}
      - {op: bn, name: norm}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


def test_nested_seqs_name_state_as_the_analysis() -> None:
    graph = lowered(NESTED)
    names = {layer for layer in expected_state(graph)}
    assert "features.1.conv.dw.0.weight" in names and "features.last.conv.2.weight" in names
    assert "features.stem.0.weight" in names and "features.norm.running_mean" in names
    source = emit_and_check(graph).text
    assert "from collections import OrderedDict" in source


NONCHAIN = """
name: nonchain
input: [3, 16, 16]
layers:
  - seq: stem
    layers:
      - {op: conv, out: 8}
      - {op: conv, out: 4, kernel: 1}
      - {op: conv, name: right, out: 4, inputs: "0"}
      - {op: concat, inputs: ["1", right]}
      - {op: relu}
  - {op: conv, name: x, out: 8}
  - {op: add, name: out, inputs: [stem, x]}
  - {op: adaptive_avgpool}
"""


def test_numbered_members_of_a_container_that_is_not_a_chain() -> None:
    emit_and_check(lowered(NONCHAIN))


BIG = ("resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2", "vgg")


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_bundled_state_dict_keys_are_the_analysis_names(name: str) -> None:
    params: dict[str, Any] = {}
    emit_and_check(rescomp.graph(name, params), meta=name.startswith(BIG))
