"""The paper's option-A shortcut against an independent, hand-written torch reference.

Option A (He et al. 2016, Section 3.3) subsamples the input and appends zero channels. rescomp writes
the subsampling and padding twice, in the emitted torch helper and in the ONNX exporter, so agreement
between those two proves nothing about where the zeros go: the reference below is written here by hand
(``x[:, :, ::s, ::s]``, then ``torch.cat`` with zeros at the END of the channel dimension), and both
emitters are compared with it, on an odd spatial size and with weights copied across."""

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


class RefBlock(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.stride, self.width, self.cin = stride, width, cin

    def forward(self, x: Any) -> Any:
        body = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        changes = self.stride != 1 or self.cin != self.width
        shortcut = option_a_reference(x, self.stride, self.width) if changes else x
        return torch.relu(body + shortcut)


class RefNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.layer1 = nn.Sequential(RefBlock(4, 10, 2), RefBlock(10, 10, 1))

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
