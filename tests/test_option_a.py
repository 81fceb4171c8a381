"""The paper's option-A shortcut against an independent, hand-written torch reference.

Option A (He et al. 2016, Section 3.3) subsamples the input and appends zero channels. rescomp writes
the subsampling and padding twice, in the emitted torch helper and in the ONNX exporter, so agreement
between those two proves nothing about where the zeros go: the reference below is written here by hand
(``x[:, :, ::s, ::s]``, then ``torch.cat`` with zeros at the END of the channel dimension), and both
emitters are compared with it, on an odd spatial size and with weights copied across.

The block definition's ``pad: split`` puts half the zero channels before the input's and half after (the
odd one after), as the common CIFAR port does with
``F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))``; that port's own line is the
reference where it applies (channels doubling), and a hand-written ``torch.cat`` where the count is odd."""

from __future__ import annotations

from typing import Any

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from torch import nn  # noqa: E402

from rescomp.backends.onnx_export import export_onnx  # noqa: E402
from rescomp.backends.torch_module import instantiate  # noqa: E402
from rescomp.backends.torch_source import emit_source  # noqa: E402
from rescomp.backends.weights import seeded_state  # noqa: E402
from rescomp.spec.load import build_graph, load_spec_text  # noqa: E402

# conv1 -> one basic block that doubles channels (4 -> 10, not a multiple, so a shifted copy cannot
# line up by accident) and subsamples by 2 on a 9x9 map (odd: ::2 keeps rows 0, 2, 4, 6, 8).
SPEC = """
name: option_a
input: [3, 9, 9]
shortcut: A
defaults: {conv: {bias: false}}
blocks:
  basic:
    params: {width: null, stride: 1}
    layers:
      - {op: conv, name: conv1, out: width, stride: stride}
      - {op: bn, name: bn1}
      - {op: relu, name: relu}
      - {op: conv, name: conv2, out: width}
      - {op: bn, name: bn2}
    post: [{op: relu}]
layers:
  - {op: conv, name: conv1, out: 4}
  - {stage: layer1, block: basic, repeat: 2, width: 10, first: {stride: 2}}
"""

# the shortcut alone, as a spec layer
PAD_ONLY = """
name: pad_only
input: [3, 7, 7]
layers:
  - {op: pad_shortcut, stride: 2, out: 8}
"""


def option_a_reference(x: Any, stride: int, out_channels: int) -> Any:
    """Option A by hand: subsample by `stride`, then append zero channels after the input's channels."""
    x = x[:, :, ::stride, ::stride]
    zeros = torch.zeros(x.shape[0], out_channels - x.shape[1], x.shape[2], x.shape[3], dtype=x.dtype)
    return torch.cat([x, zeros], dim=1)


def split_reference(x: Any, stride: int, out_channels: int) -> Any:
    """Option A split by hand: (extra // 2) zero channels, the input's, then the rest (the odd one after)."""
    x = x[:, :, ::stride, ::stride]
    extra = out_channels - x.shape[1]
    n, _, h, w = x.shape
    before = torch.zeros(n, extra // 2, h, w, dtype=x.dtype)
    after = torch.zeros(n, extra - extra // 2, h, w, dtype=x.dtype)
    return torch.cat([before, x, after], dim=1)


def common_port_reference(x: Any, stride: int, out_channels: int) -> Any:
    """The line of the common CIFAR ResNet port (planes = out_channels, channels doubling, stride 2)."""
    planes = out_channels
    assert stride == 2 and x.shape[1] * 2 == planes
    return nn.functional.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0)


class RefBlock(nn.Module):
    def __init__(self, cin: int, width: int, stride: int, reference: Any = option_a_reference) -> None:
        super().__init__()
        self.reference = reference
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.stride, self.width, self.cin = stride, width, cin

    def forward(self, x: Any) -> Any:
        body = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        changes = self.stride != 1 or self.cin != self.width
        shortcut = self.reference(x, self.stride, self.width) if changes else x
        return torch.relu(body + shortcut)


class RefNet(nn.Module):
    def __init__(self, width: int = 10, reference: Any = option_a_reference) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.layer1 = nn.Sequential(RefBlock(4, width, 2, reference), RefBlock(width, width, 1, reference))

    def forward(self, x: Any) -> Any:
        return self.layer1(self.conv1(x))


def _state(graph: Any) -> dict[str, Any]:
    """Seeded weights with non-trivial BN statistics (BN in eval mode is then not the identity)."""
    state = seeded_state(graph, 0)
    rng = np.random.default_rng(0)
    for key, value in state.items():
        if key.endswith(("running_mean", "bn1.bias", "bn2.bias")):
            state[key] = rng.uniform(-0.3, 0.3, value.shape).astype(np.float32)
        elif key.endswith("running_var") or (key.endswith(".weight") and value.ndim == 1):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    return state


def _emitted(graph: Any, state: dict[str, Any]) -> Any:
    model = instantiate(emit_source(graph)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    return model


def _ort(graph: Any, state: dict[str, Any], x: Any, fold_bn: bool) -> Any:
    model = export_onnx(graph, state, fold_bn=fold_bn).model
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def test_reference_puts_the_zeros_at_the_end() -> None:
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5) + 1
    y = option_a_reference(x, 2, 7)
    assert tuple(y.shape) == (2, 7, 3, 3)
    assert torch.equal(y[:, :3], x[:, :, ::2, ::2]) and not y[:, 3:].any()


def test_pad_shortcut_layer_equals_the_reference() -> None:
    graph = build_graph(load_spec_text(PAD_ONLY))
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7)).astype(np.float32)
    expected = option_a_reference(torch.from_numpy(x), 2, 8).numpy()
    with torch.no_grad():
        got = _emitted(graph, {})(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape == (2, 8, 4, 4)
    assert np.array_equal(got, expected)
    assert np.array_equal(_ort(graph, {}, x, fold_bn=False), expected)


def test_option_a_block_equals_the_reference_in_torch_and_onnx() -> None:
    graph = build_graph(load_spec_text(SPEC))
    ops = {node.name: node.op for node in graph}
    assert ops.get("layer1.0.shortcut") == "pad_shortcut"  # the block really has an option-A shortcut
    state = _state(graph)
    reference = RefNet().eval()
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 9)).astype(np.float32)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
        got = _emitted(graph, state)(torch.from_numpy(x)).numpy()
    assert expected.shape == (2, 10, 5, 5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    for fold_bn in (False, True):
        np.testing.assert_allclose(_ort(graph, state, x, fold_bn), expected, rtol=1e-4, atol=1e-4)


def test_split_references_agree_where_both_apply() -> None:
    x = torch.arange(2 * 4 * 5 * 5, dtype=torch.float32).reshape(2, 4, 5, 5) + 1
    y = split_reference(x, 2, 8)
    assert torch.equal(y, common_port_reference(x, 2, 8))
    assert not y[:, :2].any() and torch.equal(y[:, 2:6], x[:, :, ::2, ::2]) and not y[:, 6:].any()
    odd = split_reference(x, 2, 9)  # 5 zero channels: 2 before, 3 after
    assert not odd[:, :2].any() and torch.equal(odd[:, 2:6], x[:, :, ::2, ::2]) and not odd[:, 6:].any()


def _with_pad(placement: str | None, width: int) -> str:
    """SPEC with the block's 'pad' (None: not written, the default) and another width."""
    text = SPEC.replace("repeat: 2, width: 10", f"repeat: 2, width: {width}")
    if placement is not None:
        text = text.replace(
            "    params: {width: null, stride: 1}", f"    pad: {placement}\n    params: {{width: null, stride: 1}}"
        )
    return text


# (placement written in the spec, width, the hand-written reference): 4 -> 8 channels is the common
# port's case (planes // 4 = 2 zero channels each side), 4 -> 9 the odd case, 4 -> 10 the default
PLACEMENTS = [
    (None, 10, option_a_reference),
    ("end", 9, option_a_reference),
    ("split", 8, common_port_reference),
    ("split", 9, split_reference),
    ("split", 10, split_reference),
]


@pytest.mark.parametrize(("placement", "width", "reference"), PLACEMENTS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_both_placements_equal_their_references(placement: str | None, width: int, reference: Any) -> None:
    graph = build_graph(load_spec_text(_with_pad(placement, width)))
    node = graph["layer1.0.shortcut"]
    assert node.op == "pad_shortcut" and node.attrs["placement"] == (placement or "end")
    state = _state(graph)
    ref = RefNet(width, reference).eval()
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 9)).astype(np.float32)
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
        got = _emitted(graph, state)(torch.from_numpy(x)).numpy()
    assert expected.shape == (2, width, 5, 5)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    for fold_bn in (False, True):
        np.testing.assert_allclose(_ort(graph, state, x, fold_bn), expected, rtol=1e-4, atol=1e-4)


def test_the_placements_differ() -> None:
    """The two placements give different outputs (so the comparisons above can tell them apart)."""
    x = np.random.default_rng(4).standard_normal((1, 3, 9, 9)).astype(np.float32)
    outs = []
    for placement in ("end", "split"):
        graph = build_graph(load_spec_text(_with_pad(placement, 8)))
        with torch.no_grad():
            outs.append(_emitted(graph, _state(graph))(torch.from_numpy(x)).numpy())
    assert not np.allclose(outs[0], outs[1])


@pytest.mark.parametrize(("out", "before"), [(3, 0), (4, 0), (5, 1), (8, 2), (9, 3)])
def test_split_pad_shortcut_layer(out: int, before: int) -> None:
    """The op alone (placement: split) in torch and onnxruntime: zeros, the input, zeros."""
    text = PAD_ONLY.replace("stride: 2, out: 8", f"stride: 2, out: {out}, placement: split")
    graph = build_graph(load_spec_text(text))
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 7)).astype(np.float32)
    expected = split_reference(torch.from_numpy(x), 2, out).numpy()
    assert not expected[:, :before].any() and np.array_equal(expected[:, before : before + 3], x[:, :, ::2, ::2])
    with torch.no_grad():
        got = _emitted(graph, {})(torch.from_numpy(x)).numpy()
    assert np.array_equal(got, expected)
    assert np.array_equal(_ort(graph, {}, x, fold_bn=False), expected)


def test_unknown_placement_is_a_located_error() -> None:
    from rescomp.errors import SpecError

    with pytest.raises(SpecError, match="unknown pad placement 'middle'") as err:
        build_graph(load_spec_text(_with_pad("middle", 8)))
    assert err.value.loc is not None and (err.value.loc.line, err.value.loc.col) == (8, 10)  # at the value
    with pytest.raises(SpecError, match="unknown placement 'middle'"):
        build_graph(load_spec_text(PAD_ONLY.replace("out: 8", "out: 8, placement: middle")))
