"""Property-based fuzzing.

1. Mutated specs (random edits of the bundled specs and doc examples, at the YAML-object level and at
   the text level) give a result or one located error line, exit 0 or 1, never a traceback or an
   internal error.
2. Random valid specs: analysis, the emitted module (tests/test_torch_emit.py) and ONNX agree on
   parameters, MACs and output shapes.

CI runs a bounded number of examples; set RESCOMP_FUZZ_EXAMPLES for a longer local run, e.g.
``RESCOMP_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py``. Every run is seeded
(``RESCOMP_FUZZ_SEED``, default 20261130), so a failure reproduces with the same command.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rescomp.spec.library import LIBRARY_DIR

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("RESCOMP_FUZZ_EXAMPLES", "300"))
SEED = int(os.environ.get("RESCOMP_FUZZ_SEED", "20261130"))
DOC_EXAMPLES = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "spec.md").read_text(), re.S)
BASES = [p.read_text() for p in sorted(LIBRARY_DIR.glob("*.yaml"))] + DOC_EXAMPLES
HOSTILE = [
    -1,
    0,
    1,
    10**12,
    2.5,
    True,
    None,
    "abc",
    "x *",
    "1/0",
    "10**99",
    "${zzz}",
    "__import__('os')",
    [],
    {},
    [1, 2, 3],
    {"op": "conv"},
    "input",
    "class",
    "3x3",
    "",
    "\n",
    "é",
    "!!python/none",
]


def run_cli(*args: str) -> tuple[int, str, str]:
    from rescomp.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["rescomp", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
    finally:
        sys.argv = old
    return code, out.getvalue(), err.getvalue()


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += _paths(v, (*prefix, i))
    return found


def _get(obj: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        obj = obj[p]
    return obj


@st.composite
def mutated(draw: st.DrawFn, base: str | None = None) -> str:
    """A bundled spec or docs example (or ``base``) with one to three random edits."""
    text = base if base is not None else draw(st.sampled_from(BASES))
    doc = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "add_key", "dup_item"]))
        if not path:
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if kind == "replace":
            parent[key] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif kind == "delete":
            del parent[key]
        elif kind == "add_key" and isinstance(parent, dict):
            new_key = draw(st.sampled_from(["zzz", "op", "inputs", "name", "repeat", "when", "layers"]))
            parent[new_key] = copy.deepcopy(draw(st.sampled_from(HOSTILE)))
        elif kind == "dup_item" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
    out = yaml.safe_dump(doc, sort_keys=False)
    if draw(st.booleans()):  # text-level damage too
        i = draw(st.integers(0, max(0, len(out) - 1)))
        out = out[:i] + draw(st.sampled_from(["", ":", "- ", "\t", "[", "{", "&a ", "*a", "'", "#"])) + out[i + 1 :]
    return out


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_specs_give_an_answer_or_a_located_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.yaml"
        path.write_text(text)
        code, out, err = run_cli("analyze", str(path), "--json")
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1), (code, err)
    if code == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{path}:") and "error: " in lines[0], err
    else:
        assert out.startswith("{")


# --- analysis, emitted module and ONNX agree on random valid specs ---------------------------------------


def onnx_counts(model: Any) -> tuple[int, int]:
    """Float initializer elements (tensors of rank 1 or more: an op's scalar constants, such as Clip's
    bounds, are not weights) and MACs of Conv and Gemm, read from the ONNX graph itself."""
    import onnx
    from onnx import numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
        for v in [*inferred.graph.value_info, *inferred.graph.output]
    }
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    floats = sum(a.size for a in inits.values() if a.dtype.kind == "f" and a.ndim >= 1)
    macs = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = inits[node.input[1]]
            out = shapes[node.output[0]]
            macs += int(__import__("numpy").prod(out)) * int(w[0].size)
        elif node.op_type == "Gemm":
            w = inits[node.input[1]]
            macs += w.shape[0] * w.shape[1]
    return floats, macs


def _random_spec() -> Any:
    try:
        from tests.test_torch_emit import random_spec
    except pytest.skip.Exception:  # torch missing: the emit tests (and their generator) are skipped
        return st.nothing()
    return random_spec()


@seed(SEED)
@settings(max_examples=min(EXAMPLES, 100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_random_spec())
def test_random_specs_agree_across_analysis_and_onnx(text: str) -> None:
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    from rescomp.backends.onnx_export import check_onnx, export_onnx
    from rescomp.backends.weights import seeded_state
    from rescomp.passes import analyze
    from rescomp.spec.load import build_graph, load_spec_text

    graph = build_graph(load_spec_text(text))
    a = analyze(graph)
    model = export_onnx(graph, seeded_state(graph, 0), fold_bn=False).model
    check_onnx(model, graph)
    floats, macs = onnx_counts(model)
    bn = sum(1 for x in a.layers if x.op == "bn")
    assert floats == a.params + a.buffers - bn  # BN's num_batches_tracked is not an ONNX tensor
    assert macs == a.macs // a.batch
    x = np.zeros(a.input, dtype=np.float32)
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert y.shape == a.output
