"""Regressions found by reviewing the session's work: a layer named `output` in ONNX, counts above
10^18 in analysis JSON, DenseNet's drop rate out of range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("last", [False, True])
def test_a_layer_named_output_exports_to_onnx(cli, tmp_path: Path, precision: str, last: bool) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    layers = (
        ["{op: conv, out: 4}", "{op: flatten, name: output}"]
        if last
        else [
            "{op: relu, name: output}",
            "{op: conv, out: 4}",
            "{op: flatten}",
        ]
    )
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\nlayers:\n" + "".join(f"  - {x}\n" for x in layers))
    r = cli("build", str(spec), "--target", "onnx", "--precision", precision, "-o", str(tmp_path / "o"))
    assert r.code == 0, r.err


def test_check_reads_an_analysis_whose_counts_pass_10_to_the_18(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "big.yaml"
    spec.write_text("name: big\ninput: [3, 1000, 1000]\nlayers:\n  - {op: conv, out: 1000000000000}\n")
    r = cli("analyze", str(spec), "--json")
    assert r.code == 0 and json.loads(r.out)["models"][0]["macs"] > 10**18
    (tmp_path / "big.json").write_text(r.out)
    r = cli("check", str(tmp_path / "big.json"), "--max-params", "1")
    assert r.code == 1 and "exceed the budget" in r.out and "above the maximum" not in r.out + r.err


def test_densenet_refuses_a_negative_drop_rate(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "densenet121", "--set", "drop_rate=-1")
    assert r.code == 1 and "'p' must be at least 0" in r.err and len(r.err.strip().splitlines()) == 1
