"""One naming: analysis layer names, emitted state_dict prefixes and ONNX node names agree.

The state_dict side is checked against the emitted module in tests/test_torch_emit_regressions.py;
here the ONNX side, for every bundled spec, BN folded and kept.
"""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("onnx")

from rescomp.backends.onnx_export import export_onnx  # noqa: E402
from rescomp.backends.weights import expected_state  # noqa: E402
from rescomp.ops import REGISTRY  # noqa: E402
from rescomp.passes import analyze  # noqa: E402
from rescomp.spec.library import ENTRIES  # noqa: E402
from rescomp.spec.load import build_graph  # noqa: E402


def _prefixed(key: str, prefixes: set[str]) -> bool:
    """Whether some prefix of a state_dict key, up to a dot, is a layer name with its dot."""
    return any(key[: i + 1] in prefixes for i, ch in enumerate(key) if ch == ".")


def _huge(name: str) -> bool:
    """Over 1 GiB of fp32 weights: the check builds them all (ones) for two ONNX exports."""
    return sum(int(np.prod(s)) for s in expected_state(build_graph(name)).values()) * 4 > 2**30


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if _huge(n) else n for n in sorted(ENTRIES)])
def test_onnx_node_names_are_analysis_layer_names(name: str) -> None:
    g = build_graph(name)
    layers = [x.name for x in analyze(g).layers if x.name != g.input]
    state = expected_state(g)
    # state_dict prefixes are layer names (a layer scale's key is its layer name itself; an attention
    # layer's suffixes are nn.MultiheadAttention's, 'in_proj_weight' and 'out_proj.weight')
    prefixes = {x + "." for x in layers}
    assert all(k in layers or _prefixed(k, prefixes) for k in state)
    weights = {k: np.ones(shape, dtype=np.float32) for k, shape in state.items()}
    for fold in (False, True):
        exported = export_onnx(g, weights, fold_bn=fold)
        owners = [n.name.split("/")[0] for n in exported.model.graph.node]
        assert set(owners) <= set(layers), sorted(set(owners) - set(layers))[:3]
        # every layer is an ONNX node of its own name, except the BNs folded into their convolution
        assert set(layers) - set(owners) == set(exported.folded)
        affine = any(REGISTRY[g[x].op].affine_foldable for x in layers)
        assert bool(exported.folded) == (fold and affine)
