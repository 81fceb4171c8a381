"""``rescomp crosscheck``: every peer counter's total is explained with a zero residual.

One case per tool. FlopCounterMode (torch) and torchinfo are in the dev extra, so CI always runs and
asserts them: for those a missing package is a failure, not a skip. fvcore, ptflops (both backends) and
thop come with `pip install 'rescomp[crosscheck]'`, which CI does not install; where they are missing
their cases are reported as skips that name the package."""

from __future__ import annotations

import functools
import importlib.util
import json
from typing import Any

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
CI_TOOLS = {"flopcounter", "torchinfo"}  # installed by the dev extra: never skipped


def test_every_formula_row_has_a_case() -> None:
    assert set(PACKAGES) == set(FORMULAS) and set(CI_TOOLS) <= set(PACKAGES)


@functools.cache
def _net(index: int) -> tuple[Any, Any]:
    name, params = NETS[index]
    return rescomp.graph(name, params), rescomp.analyze(name, params)


@pytest.mark.parametrize("tool", sorted(PACKAGES))
def test_peer_is_explained(tool: str) -> None:
    package = PACKAGES[tool]
    if importlib.util.find_spec(package) is None:
        if tool in CI_TOOLS:
            pytest.fail(f"{package} is in the dev extra and must be installed to check {tool}")
        pytest.skip(f"{tool}: {package} is not installed (pip install 'rescomp[crosscheck]')")
    for index, (name, params) in enumerate(NETS):
        graph, analysis = _net(index)
        (r,) = crosscheck(graph, analysis, [tool])
        assert r.tool == tool and r.total is not None, (name, params, r.explanation())
        assert r.residual == 0, (name, params, r.total, r.predicted, r.explanation())


def test_missing_peer_is_reported_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """crosscheck itself names a missing package rather than silently leaving the tool out."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "thop" else real(n, *a))
    graph, analysis = _net(len(NETS) - 1)
    (r,) = crosscheck(graph, analysis, ["thop"])
    assert r.tool == "thop" and r.total is None and r.residual is None and "thop is not installed" in r.note


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
