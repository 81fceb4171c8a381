"""``rescomp crosscheck``: every installed counter's total is explained with a zero residual.

CI installs torch (FlopCounterMode) and torchinfo; fvcore, ptflops and thop run where installed
(`pip install 'rescomp[crosscheck]'`)."""

from __future__ import annotations

import importlib.util
import json

import pytest

pytest.importorskip("torch")

import rescomp
from rescomp.crosscheck import FORMULAS, census, crosscheck, explain

NETS = [
    ("resnet18", {}),
    ("resnet50", {}),
    ("resnet152", {}),
    ("vgg19", {}),
    ("vgg19", {"bn": True}),
    ("resnet_cifar", {"n": 9}),
]
PACKAGES = {
    "flopcounter": "torch",
    "fvcore": "fvcore",
    "ptflops": "ptflops",
    "ptflops-aten": "ptflops",
    "thop": "thop",
    "torchinfo": "torchinfo",
}
INSTALLED = [t for t in FORMULAS if importlib.util.find_spec(PACKAGES[t]) is not None]


@pytest.mark.parametrize(("name", "params"), NETS, ids=[f"{n}{'-bn' if p else ''}" for n, p in NETS])
def test_every_installed_peer_is_explained(name: str, params: dict[str, object]) -> None:
    graph = rescomp.graph(name, params)
    results = crosscheck(graph, rescomp.analyze(name, params), INSTALLED)
    for r in results:
        assert r.total is not None and r.residual == 0, (r.tool, r.total, r.predicted, r.explanation())


def test_resnet50_explanation_text() -> None:
    graph = rescomp.graph("resnet50")
    c = census(graph, rescomp.analyze("resnet50"))
    assert c["macs"] == 4_089_184_256 and c["bn"] == 11_113_984 and c["adaptive_in"] == 100_352
    fl = explain("flopcounter", 8_178_368_512, c)
    assert fl.residual == 0 and "MACs again" in fl.explanation()
    off = explain("fvcore", 4_111_512_577, c)
    assert off.residual == 1  # an unexplained unit is reported, never hidden


def test_cli_json_and_missing_tool(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("crosscheck", "resnet_cifar", "--set", "n=1", "--tools", "flopcounter,torchinfo", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["schema"] == "rescomp.crosscheck/1"
    assert all(t["residual"] == 0 for t in doc["tools"])
    assert cli("crosscheck", "resnet18", "--tools", "nosuch").code == 2
