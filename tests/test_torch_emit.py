"""PyTorch emission: the emitted module is exactly the analysed network.

For every bundled spec (and its shortcut and stride variants) and for 200 random specs from
hypothesis: parameter and buffer counts equal the analyzer's, torch's FlopCounterMode counts exactly
2 x the analyzer's MACs, and the output shape equals the inferred shape. State-dict keys and shapes
of the torchvision-layout specs equal torchvision's, pinned in tests/fixtures/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import rescomp  # noqa: E402
from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import ENTRIES  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402
from tests.helpers import run_text  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_state_dicts.json").read_text())["models"]


def check_equal(graph: Any, meta: bool = False) -> None:
    """Emit, build and run the module; compare params, buffers, FLOPs and output shape with analysis."""
    a = analyze(graph)
    source = emit_source(graph)
    if meta:  # no weight initialisation or arithmetic: shapes and FLOP counts only
        with torch.device("meta"):
            model = instantiate(source)
    else:
        model = instantiate(source, seed=0)
    model.eval()
    assert sum(p.numel() for p in model.parameters()) == a.params
    assert sum(b.numel() for b in model.buffers()) == a.buffers
    x = torch.zeros(a.input, device="meta" if meta else "cpu")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(x)
    assert counter.get_total_flops() == 2 * a.macs
    assert tuple(y.shape) == a.output


VARIANTS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in ENTRIES] + [
    ("resnet34", {"shortcut": "A"}),
    ("resnet34", {"shortcut": "C"}),
    ("resnet34", {"shortcut": "none"}),
    ("resnet50", {"stride_in": "1x1"}),
    ("resnet_cifar", {"shortcut": "B"}),
    ("preact_resnet_cifar", {"shortcut": "A"}),
    ("vgg11", {"bn": True}),
]


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=[f"{n}-{p}" if p else n for n, p in VARIANTS])
def test_bundled_specs_emit_the_analysed_network(name: str, params: dict[str, Any]) -> None:
    big = name.startswith(("resnet1", "resnet5", "vgg", "wide", "resnext")) and name != "resnet18"
    modern = not name.startswith(("resnet", "vgg", "wide", "resnext", "preact"))
    graph = rescomp.graph(name, params)
    # the modern families on the meta device: shapes, parameters and FLOP counts at the default input
    check_equal(graph, meta=big or (modern and rescomp.analyze(name, params).params > 4_000_000))


def test_bundled_small_nets_run_on_cpu() -> None:
    for name in ("resnet18", "resnet_cifar", "preact_resnet_cifar"):
        check_equal(rescomp.graph(name))


TV = {
    f"{n}_bn" if bn else n: (n, {"bn": True} if bn else {})
    for n in ("vgg11", "vgg13", "vgg16", "vgg19")
    for bn in (False, True)
}
TV.update(
    {
        n: (n, {})
        for n in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2")
    }
)


@pytest.mark.parametrize("tv_name", sorted(TV))
def test_state_dict_equals_torchvision(tv_name: str) -> None:
    spec, params = TV[tv_name]
    with torch.device("meta"):
        model = instantiate(emit_source(rescomp.graph(spec, params)))
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == list(FIXTURE[tv_name].items())  # same keys, same shapes, same order


def test_emit_is_deterministic_and_self_contained(tmp_path: Path) -> None:
    first = rescomp.to_source("resnet50", {"stride_in": "1x1"})
    assert first == rescomp.to_source("resnet50", {"stride_in": "1x1"})
    (tmp_path / "model.py").write_text(first)
    ruff = Path(sys.executable).parent / "ruff"
    lint = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "E,F,W,B", "--line-length", "100", "model.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    probe = (
        "import sys, torch, model\n"
        "m = model.ResNet50()\n"
        "assert not any(k.startswith('rescomp') for k in sys.modules)\n"
        "print(tuple(m(torch.zeros(1, *m.input_shape)).shape))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(1, 1000)"


def test_to_torch_is_the_emitted_source() -> None:
    import inspect

    model = rescomp.to_torch("resnet_cifar")
    assert inspect.getsource(type(model)) in rescomp.to_source("resnet_cifar")


def test_hostile_layer_names_become_harmless_identifiers() -> None:
    # names that collide with what forward() uses itself are legal layer names and stay harmless
    text = """
name: names
input: [3, 8, 8]
layers:
  - {op: conv, name: self, out: 4}
  - {op: relu, name: x}
  - {op: conv, name: out, out: 4, inputs: self}
  - {op: conv, name: torch, out: 4, inputs: self}
  - {op: add, name: nn, inputs: [x, out, torch]}
  - {op: flatten, name: identity}
"""
    graph = build_graph(load_spec_text(text))
    source = emit_source(graph).text
    assert "self.self = nn.Conv2d" in source and "self_ = self.self(x)" in source
    check_equal(graph)


@pytest.mark.parametrize("name", ["forward", "training", "state_dict", "_private"])
def test_layer_names_that_shadow_module_attributes_are_errors(name: str) -> None:
    from rescomp.errors import SpecError

    graph = build_graph(load_spec_text(f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {{op: conv, name: {name}, out: 4}}\n"))
    with pytest.raises(SpecError, match=r"clashes with torch\.nn\.Module"):
        emit_source(graph)


def test_header_cannot_be_escaped() -> None:
    text = "name: t\nparams: {tag: x}\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4}\n"
    graph = build_graph(
        load_spec_text(text),
        __import__("rescomp.lower").lower.Overrides({"tag": ("x\nimport os; os.system('echo pwned')", None)}),
    )  # type: ignore[dict-item]
    source = emit_source(graph, origin="spec\nimport os").text
    code = [line for line in source.splitlines() if "import os" in line]
    assert code and all(line.startswith("#") for line in code)
    compile(source, "<test>", "exec")


# --- random specs ---------------------------------------------------------------------------------

BLOCKS = """
blocks:
  basic:
    params: {width: null, stride: 1}
    layers:
      - {op: conv, name: conv1, out: width, stride: stride}
      - {op: bn, name: bn1}
      - {op: relu}
      - {op: conv, name: conv2, out: width}
      - {op: bn, name: bn2}
    post: [{op: relu}]
  bottleneck:
    params: {width: null, stride: 1}
    layers:
      - {op: conv, name: conv1, out: width * mult, kernel: 1}
      - {op: bn, name: bn1}
      - {op: relu}
      - {op: conv, name: conv2, out: width * mult, stride: stride, groups: groups}
      - {op: bn, name: bn2}
      - {op: relu}
      - {op: conv, name: conv3, out: width * 4, kernel: 1}
      - {op: bn, name: bn3}
    post: [{op: relu}]
  preact:
    params: {width: null, stride: 1}
    projection_from: relu1
    projection_bn: false
    layers:
      - {op: bn, name: bn1}
      - {op: relu, name: relu1}
      - {op: conv, name: conv1, out: width, stride: stride}
      - {op: bn, name: bn2}
      - {op: relu, name: relu2}
      - {op: conv, name: conv2, out: width}
"""


def shape_keeping_ops() -> list[str]:
    """Public ops that need no attribute and keep their input's shape on every example (the
    activations, bn, identity, dropout, ...), read from the registry: a new activation is drawn
    here without editing this test."""
    from rescomp.ops import REGISTRY

    out = []
    for kind, op in REGISTRY.items():
        examples = getattr(op, "examples", ())
        if not op.public or op.arity != (1, 1) or any(a.required for a in op.attrs.values()) or not examples:
            continue
        layouts = op.accepts(op.complete({}))
        if layouts is not None and "NCHW" not in layouts:
            continue  # the blocks are feature maps: layer_norm over the last dimension is not for them
        if all(op.shape(op.complete({}), ex.inputs) == ex.inputs[0] for ex in examples):
            out.append(kind)
    assert "relu" in out
    return out


SHAPE_KEEPING = shape_keeping_ops()


@st.composite
def random_spec(draw: st.DrawFn) -> str:
    block = draw(st.sampled_from(["basic", "bottleneck", "preact"]))
    act = draw(st.sampled_from(SHAPE_KEEPING))  # in place of each relu of the blocks
    groups = draw(st.sampled_from([1, 2, 4])) if block == "bottleneck" else 1
    n = draw(st.integers(1, 3))
    widths = sorted(draw(st.lists(st.sampled_from([4, 8, 12, 16]), min_size=n, max_size=n)))
    w0 = draw(st.sampled_from([4, 8, 16]))
    policy = draw(st.sampled_from(["A", "B", "C", "none"]))
    if policy == "A" and w0 > widths[0] * (4 if block == "bottleneck" else 1):
        w0 = widths[0]
    dag = draw(st.booleans())
    stem = [f"  - {{op: conv, name: stem, out: {w0}, bias: {str(draw(st.booleans())).lower()}}}"]
    if dag:  # two branches merged by concat, then by add with the stem
        stem += [
            f"  - {{op: conv, name: left, out: {w0 // 2}, kernel: 1, inputs: stem}}",
            f"  - {{op: conv, name: right, out: {w0 - w0 // 2}, kernel: {draw(st.sampled_from([3, 5]))}, "
            "inputs: stem}",
            "  - {op: concat, name: merged, inputs: [left, right]}",
            "  - {op: add, name: fused, inputs: [merged, stem]}",
        ]
    stem.append("  - {op: bn, name: bn1}" if block != "preact" else "  - {op: identity, name: pre}")
    stages = [
        f"  - {{stage: layer{i + 1}, block: {block}, repeat: {draw(st.integers(1, 2))}, width: {w}, "
        f"first: {{stride: {draw(st.sampled_from([1, 2]))}}}}}"
        for i, w in enumerate(widths)
    ]
    pool = draw(st.sampled_from(["{op: adaptive_avgpool, name: avgpool}", "{op: maxpool, kernel: 1}"]))
    head = [f"  - {pool}", "  - {op: flatten}", f"  - {{op: linear, name: fc, out: {draw(st.integers(1, 12))}}}"]
    h = draw(st.integers(4, 16))
    return "\n".join(
        [
            "name: random",
            f"params: {{mult: {draw(st.sampled_from([1, 2]))}, groups: {groups}}}",
            f"input: [{draw(st.integers(1, 4))}, {h}, {h}]",
            f"batch: {draw(st.integers(1, 2))}",
            f"shortcut: {policy}",
            "defaults: {conv: {bias: false}}",
            BLOCKS.replace("op: relu", f"op: {act}"),
            "layers:",
            *stem,
            *stages,
            *head,
        ]
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_spec())
def test_random_specs_emit_the_analysed_network(text: str) -> None:
    run_text(text)  # analysable
    check_equal(build_graph(load_spec_text(text)))
