"""Property tests: random residual nets analysed by rescomp agree with closed-form counts.

The generator writes real YAML specs (stem, stages of basic blocks with random widths, repeats,
strides and shortcut policies, head); the oracle counts the same network by hand-derived formulas.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import run_text

SPEC = """
name: random
input: [3, {h}, {h}]
batch: {batch}
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
  - {{op: conv, name: conv1, out: {w0}}}
  - {{op: bn, name: bn1}}
  - {{op: relu}}
{stages}
  - {{op: adaptive_avgpool, name: avgpool}}
  - {{op: flatten}}
  - {{op: linear, name: fc, out: 10}}
"""


@st.composite
def nets(draw: st.DrawFn) -> dict:  # type: ignore[type-arg]
    n = draw(st.integers(1, 4))
    widths = sorted(draw(st.lists(st.integers(1, 48), min_size=n + 1, max_size=n + 1)))  # option A needs growth
    return {
        "h": draw(st.integers(4, 40)),
        "batch": draw(st.integers(1, 4)),
        "policy": draw(st.sampled_from(["A", "B", "C", "none"])),
        "w0": widths[0],
        "stages": [(widths[i + 1], draw(st.integers(1, 3)), draw(st.sampled_from([1, 2]))) for i in range(n)],
    }


def oracle(net: dict) -> tuple[int, int, int]:  # type: ignore[type-arg]
    h, w0, policy = net["h"], net["w0"], net["policy"]
    params, macs = 27 * w0 + 2 * w0, h * h * 27 * w0
    cin = w0
    for width, repeat, stride in net["stages"]:
        for i in range(repeat):
            s = stride if i == 0 else 1
            h_in, h = h, -(-h // s)
            params += 9 * cin * width + 9 * width * width + 4 * width
            macs += h * h * 9 * (cin * width + width * width)
            changes = h != h_in or cin != width  # option B projects only where the shape changes
            if policy == "C" or (policy == "B" and changes):
                params += cin * width + 2 * width
                macs += h * h * cin * width
            cin = width
    params += cin * 10 + 10
    macs += cin * 10
    depth = 2 + 2 * sum(r for _, r, _ in net["stages"])
    return params, macs * net["batch"], depth


@settings(max_examples=200, deadline=None)
@given(nets())
def test_random_residual_nets_match_closed_form(net: dict) -> None:  # type: ignore[type-arg]
    stages = "\n".join(
        f"  - {{stage: layer{i + 1}, block: basic, repeat: {r}, width: {w}, first: {{stride: {s}}}}}"
        for i, (w, r, s) in enumerate(net["stages"])
    )
    a = run_text(SPEC.format(stages=stages, **{k: v for k, v in net.items() if k != "stages"}))
    params, macs, depth = oracle(net)
    assert (a.params, a.macs, a.depth) == (params, macs, depth)
    assert a.output == (net["batch"], 10)
    assert a.activation_bytes_peak <= a.activation_bytes_total
