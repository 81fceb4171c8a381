"""Regressions found by reviewing the session's work: a layer named `output` in ONNX, counts above
10^18 in analysis JSON, DenseNet's drop rate out of range."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rescomp.errors import SpecError


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


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        # concat joins dimension 1: on a channels-last map that would be H, silently
        (
            "  - {op: permute, dims: [0, 2, 3, 1]}\n  - {op: relu}\n  - {op: concat, inputs: [permute1, relu1]}\n",
            "concat takes a feature map (N, C, H, W) or a vector (N, F); got a channels-last map",
        ),
        # the attribute is named before any layout complaint
        ("  - {op: layer_norm, over: foo}\n", "layer_norm's over must be 'last' or 'channels', got 'foo'"),
    ],
)
def test_layout_mistakes_name_the_real_problem(layers: str, message: str) -> None:
    from rescomp.spec.load import build_graph, load_spec_text

    with pytest.raises(SpecError, match=re.escape(message)):
        build_graph(load_spec_text("name: t\ninput: [3, 4, 4]\nlayers:\n" + layers))


def test_api_input_shape_must_be_integers() -> None:
    import rescomp

    with pytest.raises(SpecError, match="input_shape must be a list of integers"):
        rescomp.analyze("resnet18", input_shape=5)  # type: ignore[arg-type]


def test_a_family_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch) -> None:
    import rescomp

    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet").mkdir()
    assert rescomp.analyze("resnet").params > 0
