"""Analysis passes on small graphs worked out by hand."""

from __future__ import annotations

from rescomp.ir import Graph, Node
from rescomp.ops import REGISTRY
from rescomp.passes.depth import count_depth
from rescomp.passes.memory import estimate_memory
from tests.helpers import run_text


def _graph(*nodes: tuple[str, str, tuple[str, ...], dict]) -> Graph:  # type: ignore[type-arg]
    g = Graph("t")
    g.add(Node("input", "input", (), REGISTRY["input"].complete({"shape": "1x2x4x4"}), shape=(1, 2, 4, 4)))
    for name, op, ins, attrs in nodes:
        a = REGISTRY[op].complete(attrs)
        g.add(Node(name, op, ins, a, shape=REGISTRY[op].shape(a, [g.shape(i) for i in ins])), g.root)
    return g


def test_memory_liveness_branch() -> None:
    # input(32) -> a(conv 2ch, 32) ; b(relu of a, 32) ; c(add a, b) : a stays alive until c
    g = _graph(("a", "conv", ("input",), {"out": 2}), ("b", "relu", ("a",), {}), ("c", "add", ("a", "b"), {}))
    m = estimate_memory(g, g.shapes(), 4)
    elems = 2 * 4 * 4
    assert m.total_bytes == 4 * elems * 4
    # while c runs: a, b and c are alive (input was freed after a)
    assert m.peak_bytes == 3 * elems * 4 and m.peak_at == "c"


def test_memory_chain_frees_inputs() -> None:
    g = _graph(("a", "relu", ("input",), {}), ("b", "relu", ("a",), {}), ("c", "relu", ("b",), {}))
    m = estimate_memory(g, g.shapes(), 2)
    assert m.peak_bytes == 2 * 32 * 2  # one input and one output at a time


def test_depth_longest_weighted_path() -> None:
    g = _graph(
        ("a", "conv", ("input",), {"out": 2}),
        ("b", "conv", ("a",), {"out": 2}),
        ("skip", "relu", ("input",), {}),
        ("c", "add", ("b", "skip"), {}),
    )
    assert count_depth(g) == 2


def test_flops_convention_per_op() -> None:
    a = run_text("""
name: t
input: [3, 8, 8]
layers:
  - {op: conv, name: c, out: 4, kernel: 3, bias: true}
  - {op: bn, name: n}
  - {op: relu, name: r}
  - {op: maxpool, name: m, kernel: 2}
  - {op: avgpool, name: p, kernel: 2}
  - {op: adaptive_avgpool, name: g}
  - {op: flatten, name: f}
  - {op: linear, name: fc, out: 5, bias: true}
""")
    f = {x.name: x.flops for x in a.layers}
    macs = 4 * 64 * 3 * 9
    assert f["c"] == 2 * macs + 4 * 64
    assert f["n"] == 2 * 4 * 64
    assert f["r"] == 4 * 64
    assert f["m"] == 4 * 16 * 3  # 4x4 outputs, 3 comparisons each
    assert f["p"] == 4 * 4 * 4  # 2x2 outputs, 4 per window
    assert f["g"] == 4 * 4  # global average over 2x2 per channel
    assert f["f"] == 0
    assert f["fc"] == 2 * 4 * 5 + 5
    assert a.macs == macs + 20
    assert a.params == 4 * 27 + 4 + 8 + 4 * 5 + 5
    assert a.buffers == 2 * 4 + 1


def test_adaptive_pool_uneven_windows() -> None:
    a = run_text("""
name: t
input: [1, 5, 5]
layers: [{op: adaptive_avgpool, name: g, size: 2}]
""")
    # torch's windows over 5 -> 2 are [0,3) and [2,5): 3 + 3 per axis
    assert a.layers[-1].flops == 6 * 6


def test_ten_thousand_blocks_without_deep_recursion() -> None:
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_scale import spec_text

    from rescomp.passes import analyze
    from rescomp.spec.load import build_graph, load_spec_text

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # the lowering and passes iterate; depth must not grow with the graph
    try:
        a = analyze(build_graph(load_spec_text(spec_text(10_000))))
    finally:
        sys.setrecursionlimit(limit)
    assert a.depth == 20_002 and len(a.layers) == 70_005


def test_receptive_field_through_a_broadcast_gate() -> None:
    # conv3x3 (r=3) -> squeeze-and-excitation gate (global pool of the 8x8 map, r = 3 + 7 = 10) ->
    # mul -> conv3x3: the gate sees everything (r = 10) but does not stretch the grid (j stays 1)
    a = run_text(
        """
name: se
input: [4, 8, 8]
layers:
  - {op: conv, name: c1, out: 4}
  - {op: adaptive_avgpool, name: pool}
  - {op: conv, name: fc, out: 4, kernel: 1}
  - {op: sigmoid, name: gate}
  - {op: mul, name: scaled, inputs: [c1, gate]}
  - {op: conv, name: c2, out: 4}
"""
    )
    rf = {x.name: x.receptive_field for x in a.layers}
    assert (rf["c1"], rf["pool"], rf["gate"], rf["scaled"], rf["c2"]) == (3, 10, 10, 10, 12)
