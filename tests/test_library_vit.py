"""Vision transformers (issue 14): vit_b_16, vit_b_32, vit_l_16, vit_l_32 and vit_h_14 against
torchvision 0.29.1, from tests/fixtures/torchvision_modern.json (tests/fixtures/README.md).

For each name, rescomp/spec/library/vit.yaml with its fixed parameters must reproduce: the default
input (the default weights' crop size: 224, and 518 for vit_h_14), the parameters (torchvision's
``num_params`` to the integer), the MACs at that input (the fixture's, and torchvision's published
GFLOPS to three decimals; every other published resolution too) and the state_dict keys, in order,
with their shapes. The counting convention is written out here independently of the ops: every
multiply-accumulate of the patch-embedding conv, the Q/K/V and output projections, Q K^T, the scores
times V, the MLP and the head.

torch's FlopCounterMode on the meta device, where nn.MultiheadAttention computes Q K^T and the scores
times V with bmm, counts 2 x MACs (the fixture was measured so). On the CPU, in eval mode without
autograd, nn.MultiheadAttention takes its fused fast path, which FlopCounterMode (and torchinfo) do
not see into: ``rescomp crosscheck`` explains both with zero residual, checked here (the other peers
are checked when installed). vit_b_16 and vit_b_32 run for real at a small input (2 x 2 patches and
the class token: the position embedding follows the input): onnxruntime equals the emitted module.

The logits against torchvision itself, with the same weights, are compared by
scripts/compare_torchvision_logits.py (it needs torchvision; docs/verification.md).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.backends.weights import expected_state  # noqa: E402
from rescomp.crosscheck import census, crosscheck, explain, runners  # noqa: E402
from rescomp.errors import Loc, SpecError  # noqa: E402
from rescomp.ir import Graph  # noqa: E402
from rescomp.lower import Overrides  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import ENTRIES, LIBRARY_DIR, VIT_VARIANTS  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402
from tests.torchvision_checks import assert_torchvision_layout_and_flops  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "torchvision_modern.json").read_text())["models"]
NAMES = sorted(VIT_VARIANTS)
#: input side of the real runs: 2 x 2 patches, so 5 tokens with the class token
SMALL = {"vit_b_16": 32, "vit_b_32": 64}
HERE = Loc("<test>")


def graph(name: str, side: int | None = None, **params: Any) -> Graph:
    shape = ((3, side, side), HERE) if side is not None else None
    return build_graph(name, Overrides({k: (v, HERE) for k, v in params.items()}, shape))


def by_hand(patch: int, width: int, depth: int, heads: int, mlp: int, side: int, classes: int = 1000) -> int:
    """The MACs of a torchvision ViT, from the convention alone (heads change nothing)."""
    patches = (side // patch) ** 2
    tokens = patches + 1
    embed = width * patches * 3 * patch * patch
    attention = 4 * tokens * width * width + 2 * tokens * tokens * width
    return embed + depth * (attention + 2 * tokens * width * mlp) + width * classes


def test_the_family_is_registered_and_in_the_fixture() -> None:
    assert sorted(k for k in FIXTURE if k.startswith("vit")) == NAMES
    keys = ("patch", "width", "depth", "heads", "mlp_dim", "resolution")
    for name, values in VIT_VARIANTS.items():
        assert "error" not in FIXTURE[name], name
        entry = ENTRIES[name]
        assert (entry.file, entry.fixed) == ("vit.yaml", dict(zip(keys, values, strict=True)))


@pytest.mark.parametrize("name", NAMES)
def test_counts_and_state_dict_equal_torchvision(name: str) -> None:
    ref = FIXTURE[name]
    g = graph(name)
    a = analyze(g)
    size = int(ref["resolution"])
    default = next(w for w in ref["weights"] if w["name"] == ref["default_weights"])
    assert size == default["crop_size"] == VIT_VARIANTS[name][5]  # 518 for vit_h_14 (SWAG, end to end)
    assert a.input == (1, 3, size, size)
    assert a.params == ref["params"] == ref["published"]["num_params"]
    assert a.buffers == ref["buffers"] == 0
    assert a.macs == ref["macs"] == by_hand(*VIT_VARIANTS[name])
    assert round(a.macs / 1e9, 3) == ref["published"]["gflops"]
    # on the meta device nn.MultiheadAttention misses its fast path (a CPU/GPU kernel) and computes
    # Q K^T and the scores times V with bmm, which FlopCounterMode counts: all of rescomp's MACs
    assert_torchvision_layout_and_flops(g, a, ref, size)
    assert a.output == (1, 1000)


@pytest.mark.parametrize("name", [n for n in NAMES if len(FIXTURE[n]["flop_counter"]) > 1])
def test_every_published_resolution(name: str) -> None:
    # vit_b_16's SWAG weights at 384, vit_l_16's at 512, vit_h_14's linear-probe weights at 224: the
    # position embedding has one vector per token, so the parameters follow the input too
    ref = FIXTURE[name]
    for side, measured in ref["flop_counter"].items():
        a = analyze(graph(name, int(side)))
        assert a.macs == measured["conv_linear_macs"] == by_hand(*VIT_VARIANTS[name][:5], int(side)), side
        for weights in (w for w in ref["weights"] if w["crop_size"] == int(side)):
            assert a.params == weights["num_params"], (side, weights["name"])
            assert round(a.macs / 1e9, 3) == weights["gflops"], (side, weights["name"])


def test_attention_layer_counts_and_memory() -> None:
    """One encoder layer of vit_b_16, by hand: N = 1, L = 197 tokens, C = 768, H = 12 heads."""
    n, length, c, heads = 1, 197, 768, 12
    a = analyze(graph("vit_b_16"))
    layers = {x.name: x for x in a.layers}
    attention = layers["encoder.layers.encoder_layer_0.self_attention"]
    assert attention.params == 4 * c * c + 4 * c == 2_362_368  # in_proj (3C, C) + (3C,), out_proj (C, C) + (C,)
    assert attention.macs == 4 * length * c * c + 2 * length * length * c
    scores = n * heads * length * length
    assert attention.flops == 2 * attention.macs + 4 * length * c + length * c + 5 * scores
    assert layers["encoder.pos_embedding"].params == length * c and layers["class_token"].params == c
    assert layers["encoder.layers.encoder_layer_0.attention_add"].flops == length * c
    # every output, plus per attention layer its Q, K, V and joined heads (4 L C) and its scores (H L^2)
    outputs = sum(x.activation_bytes for x in a.layers)
    assert a.activation_bytes_total == outputs + 12 * 4 * (4 * length * c + scores)
    assert a.activation_bytes_peak >= 4 * (heads * length * length + 5 * length * c)  # in, out and workspace
    # a token sees its patch (16 rows) until attention mixes them all: then the whole image
    assert layers["encoder.pos_embedding"].receptive_field == 16
    assert attention.receptive_field == a.receptive_field == 224


def test_emitted_encoder_layer_is_torchvisions() -> None:
    text = emit_source(graph("vit_b_32")).text
    assert "self.self_attention = nn.MultiheadAttention(768, 12, batch_first=True)" in text
    assert "out = self.self_attention(out, out, out, need_weights=False)[0]" in text
    assert "x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)" in text
    assert "x = x + self.pos_embedding" in text and "x = x[:, 0]" in text
    assert "LayerNorm2d" not in text  # only the helpers the model uses are written


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_input_onnxruntime_equals_emitted_module(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from rescomp.backends.onnx_export import check_onnx, export_onnx
    from tests.test_onnx import randomized_state  # one helper for every parity test

    side = SMALL[name]
    g = graph(name, side)
    assert expected_state(g)["encoder.pos_embedding"] == (1, 5, 768)  # 2 x 2 patches and the class token
    state = randomized_state(g)
    rng = np.random.default_rng(5)
    for key in state:  # zeros at initialisation, which would hide a wrong placement
        if key == "class_token" or key.endswith("in_proj_bias"):
            state[key] = rng.uniform(-1, 1, state[key].shape).astype(np.float32)
    model = instantiate(emit_source(g)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(1).standard_normal((2, 3, side, side)).astype(np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    exported = export_onnx(g, state).model
    check_onnx(exported, g)
    assert exported.opset_import[0].version == 17
    assert {n.op_type for n in exported.graph.node} >= {"Softmax", "MatMul", "Reshape", "Transpose"}
    session = ort.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch in (2, 1):  # the batch stays dynamic
        out = session.run(None, {"input": x[:batch]})[0]
        assert float(np.abs(out - reference[:batch]).max() / np.abs(reference).max()) <= 1e-4, (name, batch)


def test_crosscheck_explains_flop_counter_and_torchinfo_on_vit_b_16() -> None:
    """FlopCounterMode misses the fused fast path of every attention layer (on the CPU, in eval mode
    without autograd): 2 x (MACs - attention MACs), about a third below. torchinfo misses attention
    too, and counts each linear layer at one token per sample."""
    pytest.importorskip("torchinfo")
    g = graph("vit_b_16")
    a = analyze(g)
    c = census(g, a)
    assert c["attention_macs"] == 12 * (4 * 197 * 768 * 768 + 2 * 197 * 197 * 768)
    results = {r.tool: r for r in crosscheck(g, a, ["flopcounter", "torchinfo"])}
    assert {tool: r.residual for tool, r in results.items()} == {"flopcounter": 0, "torchinfo": 0}
    assert results["flopcounter"].total == 2 * (a.macs - c["attention_macs"]) == 22_542_249_984
    assert "MACs of attention layers" in results["flopcounter"].explanation()


def test_crosscheck_off_the_fast_path_deit_tiny() -> None:
    """Three heads (DeiT-Ti) miss torch's fast path: FlopCounterMode then counts the projections,
    not Q K^T or the scores times V (the CPU's fused scaled_dot_product_attention). Every installed
    peer is explained with zero residual."""
    g = graph("vit", 32, width=192, heads=3, mlp_dim=768)
    a = analyze(g)
    c = census(g, a)
    assert c["attention_slow_path_projection_macs"] == 12 * 4 * 5 * 192 * 192
    model = instantiate(emit_source(g), 0).eval()
    for tool, (package, run) in runners().items():
        if importlib.util.find_spec(package) is None:
            continue
        with torch.no_grad():
            total = run(model, torch.zeros(a.input))
        assert explain(tool, total, c).residual == 0, tool


def test_deit_small_by_set() -> None:
    """DeiT-S (Touvron et al. 2021) is the ViT family with width 384, 6 heads and an MLP of 1536:
    22.05 M parameters (the paper's 22 M) and 4.60 G MACs at 224 (docs/spec.md)."""
    a = analyze(graph("vit", width=384, heads=6, mlp_dim=1536))
    assert a.params == 22_050_664
    assert a.macs == by_hand(16, 384, 12, 6, 1536, 224) == 4_598_882_304


def test_family_file_defaults_to_vit_b_16() -> None:
    a, b = analyze(build_graph(LIBRARY_DIR / "vit.yaml")), analyze(graph("vit_b_16"))
    assert (a.params, a.macs, a.flops) == (b.params, b.macs, b.flops)


TEXT = """name: t
input: [3, 32, 32]
layers:
  - {op: conv, out: 12, kernel: 8, stride: 8, padding: 0}
"""


@pytest.mark.parametrize(
    ("layers", "message", "hint"),
    [
        ("  - {op: tokens}\n  - {op: attention, heads: 5}\n", "cannot split into 5 heads", "such as 4"),
        ("  - {op: attention, heads: 4}\n", "attention needs its features last: tokens (N, L, C); got a feature map",
         "{op: tokens}"),
        ("  - {op: tokens}\n  - {op: select_token, index: 16}\n", "index 16 is past the last of 16 tokens", "0 to 15"),
        ("  - {op: tokens}\n  - {op: tokens}\n", "tokens needs a feature map (N, C, H, W), got tokens", "not tokens"),
        ("  - {op: flatten}\n  - {op: class_token}\n",
         "class_token needs its features last: tokens (N, L, C); got a vector", None),
    ],
)  # fmt: skip
def test_token_mistakes_are_located_errors(layers: str, message: str, hint: str | None) -> None:
    with pytest.raises(SpecError) as info:
        build_graph(load_spec_text(TEXT + layers, "t.yaml"))
    err = info.value
    line = 4 + layers.count("\n")  # the last layer's, the one at fault
    assert message in str(err) and f"t.yaml:{line}:5" in str(err), str(err)
    if hint is not None:
        assert hint in (err.hint or ""), err.hint


def test_in_channels_of_tokens_is_their_width() -> None:
    text = """name: t
input: [3, 32, 32]
blocks:
  mlp:
    layers: [{op: layer_norm}, {op: linear, out: 2 * in_channels}, {op: gelu}, {op: linear, out: in_channels}]
layers:
  - {op: conv, out: 12, kernel: 8, stride: 8, padding: 0}
  - {op: tokens}
  - {block: mlp}
  - {op: mean_tokens}
"""
    g = build_graph(load_spec_text(text, "t.yaml"))
    assert g.shape("mlp1.linear1") == (1, 16, 24) and g.shape(g.output) == (1, 12)


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_token_ops_onnx_at_every_opset(opset: int) -> None:
    """The conformance test exports at the default opset; ReduceMean takes its axes as an input from
    opset 18. A class token, a position embedding, attention off and on torch's fast path (3 and 2
    heads), the mean over tokens, with random weights (the class token and the Q/K/V bias are zeros
    at initialisation)."""
    ort = pytest.importorskip("onnxruntime")
    from rescomp.backends.onnx_export import check_onnx, export_onnx
    from tests.test_onnx import randomized_state

    text = """name: t
input: [3, 16, 16]
layers:
  - {op: conv, out: 12, kernel: 4, stride: 4, padding: 0}
  - {op: tokens}
  - {op: class_token, name: cls}
  - {op: pos_embedding, name: pos}
  - {op: attention, heads: 3}
  - {op: attention, heads: 2}
  - {op: mean_tokens}
  - {op: linear, out: 5}
"""
    g = build_graph(load_spec_text(text, "t.yaml"))
    state = randomized_state(g)
    rng = np.random.default_rng(3)
    for key in state:
        if key == "cls" or key.endswith("in_proj_bias"):
            state[key] = rng.uniform(-1, 1, state[key].shape).astype(np.float32)
    model = instantiate(emit_source(g)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    exported = export_onnx(g, state, opset=opset).model
    check_onnx(exported, g)
    session = ort.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})[0]
    assert float(np.abs(got - want).max() / np.abs(want).max()) <= 1e-5


def test_attention_in_a_seq_is_not_an_nn_sequential() -> None:
    """nn.Sequential calls each member with one argument; attention needs (x, x, x), so a seq holding
    one is a class of its own whose forward() calls it as torchvision does."""
    text = """name: t
input: [3, 16, 16]
layers:
  - {op: conv, out: 8, kernel: 4, stride: 4, padding: 0}
  - {op: tokens}
  - seq: block
    layers: [{op: layer_norm}, {op: attention, heads: 2}, {op: linear, out: 8}]
  - {op: select_token}
"""
    g = build_graph(load_spec_text(text, "t.yaml"))
    source = emit_source(g)
    assert "class Block(nn.Module):" in source.text and "self.block = Block()" in source.text
    model = instantiate(source).eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(2, 3, 16, 16)).shape) == (2, 8)
    assert [k for k in model.state_dict() if k.startswith("block.1.")] == [
        "block.1.in_proj_weight",
        "block.1.in_proj_bias",
        "block.1.out_proj.weight",
        "block.1.out_proj.bias",
    ]
