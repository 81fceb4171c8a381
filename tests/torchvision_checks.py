"""Checks shared by the bundled-family tests (tests/test_library_*.py): the emitted module against
torchvision's fixture entry, and the small-input FlopCounterMode and onnxruntime parity. They need
torch (and onnx/onnxruntime for the parity); the family tests skip without them before importing this."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import emit_source
from rescomp.backends.weights import expected_state
from rescomp.ir import Graph
from rescomp.passes import Analysis


def assert_torchvision_layout_and_flops(g: Graph, a: Analysis, ref: dict[str, Any], size: int) -> None:
    """On the meta device (nothing allocated): the emitted state_dict's keys, order and shapes equal the
    fixture's and the analysis names; FlopCounterMode counts exactly 2 x rescomp's MACs, as it did on
    torchvision's own module at ``size``."""
    with torch.device("meta"):
        model = instantiate(emit_source(g))
    model.eval()
    state = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert state == [(k, shape) for k, (shape, _dtype) in ref["state_dict"].items()]  # keys, order, shapes
    assert dict((k, tuple(s)) for k, s in state) == expected_state(g)  # the analysis names
    assert sum(b.numel() for b in model.buffers()) == a.buffers
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        y = model(torch.zeros(a.input, device="meta"))
    assert tuple(y.shape) == a.output
    assert counter.get_total_flops() == 2 * a.macs == ref["flop_counter"][str(size)]["total"]


def assert_small_input_parity(g: Graph, a: Analysis, state: dict[str, Any]) -> None:
    """On CPU at the graph's (small) input, batch 2: FlopCounterMode counts 2 x the MACs, and
    onnxruntime equals the emitted module within 1e-4 of the largest logit, BN folded and kept."""
    import onnxruntime as ort

    from rescomp.backends.onnx_export import check_onnx, export_onnx

    model = instantiate(emit_source(g)).eval()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    x = np.random.default_rng(1).standard_normal((2, *a.input[1:])).astype(np.float32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    assert counter.get_total_flops() == 2 * 2 * a.macs  # batch 2
    for fold in (True, False):
        onnx_model = export_onnx(g, state, fold_bn=fold).model
        check_onnx(onnx_model, g)
        session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
        out = session.run(None, {"input": x})[0]
        assert float(np.abs(out - reference).max() / np.abs(reference).max()) <= 1e-4, fold
