"""Reports: files, determinism, the staleness check, and the paper reproduction's figures."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
pytest.importorskip("matplotlib")


@needs_dot
def test_report_files_and_determinism(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for d in ("a", "b"):
        assert cli("report", "resnet_cifar", "--set", "n=2", "-o", str(tmp_path / d)).code == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"resnet_cifar.{x}" for x in ("graph.svg", "html", "json", "md", "rf.svg", "stages.svg")]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    doc = json.loads((tmp_path / "a" / "resnet_cifar.json").read_text())
    assert doc["schema"] == "rescomp.analysis/1" and doc["models"][0]["depth"] == 14
    assert doc == json.loads(cli("analyze", "resnet_cifar", "--set", "n=2", "--json").out)  # same schema and numbers
    html = (tmp_path / "a" / "resnet_cifar.html").read_text()
    assert html.count("<svg") == 3 and "<script" not in html and "http://" not in html.split("<svg", 1)[0]
    graph = (tmp_path / "a" / "resnet_cifar.graph.svg").read_text()
    assert "×2" in graph and "stroke-dasharray" in graph  # collapsed runs, dashed skip connections


@needs_dot
def test_stale_reports_fail_the_check(tmp_path: Path) -> None:
    copy = tmp_path / "reports"
    shutil.copytree(ROOT / "reports", copy)
    script = ROOT / "scripts" / "check_reports.sh"
    assert subprocess.run(["bash", str(script), str(copy)], capture_output=True).returncode == 0
    md = copy / "resnet18.md"
    md.write_text(md.read_text().replace("11,689,512", "11,689,513"))
    stale = subprocess.run(["bash", str(script), str(copy)], capture_output=True, text=True)
    assert stale.returncode == 1 and "stale reports" in stale.stderr and "resnet18.md" in stale.stderr


def test_paper_reproduction_is_within_2_percent() -> None:
    text = (ROOT / "reports" / "README.md").read_text()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("| ")]
    claims = [c for c in cells if len(c) == 6 and c[3][:1] in "+-" and c[3][1:2].isdigit()]
    assert len(claims) == 15  # Table 1 (8 + the 18% share) and Table 6 (6)
    assert all(c[4] == "yes" for c in claims), [c for c in claims if c[4] != "yes"]
    for explained in ("v1 vs v1.5", "Option B's projections", "conv-only vs conv+fc"):
        assert explained in text


def test_check_budgets(cli) -> None:  # type: ignore[no-untyped-def]
    ok = cli("check", "resnet50", "--max-params", "30M", "--max-macs", "4.1G", "--max-activation-bytes", "16Mi")
    assert ok.code == 0 and "within budget" in ok.out
    bad = cli("check", "resnet50", "--max-params", "25M", "--max-macs", "4G", "--max-flops", "9G")
    assert bad.code == 1 and bad.err == ""  # every result on stdout, so >> $GITHUB_STEP_SUMMARY keeps failures
    assert bad.out.splitlines() == [
        "resnet50: parameters 25,557,032 exceed the budget of 25,000,000 by 2.2%",
        "resnet50: MACs 4,089,184,256 exceed the budget of 4,000,000,000 by 2.2%",
        "resnet50: within budget (FLOPs 8,217,431,528 <= 9,000,000,000)",
    ]
    assert cli("check", "resnet50", "--max-params", "lots").code == 2
    assert cli("check", "resnet50").code == 2


def test_diff_spec_against_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "main.json"
    saved.write_text(cli("analyze", "resnet50", "--json").out)
    r = cli("diff", str(saved), "resnet50", "--set", "stride_in=1x1", "--markdown")
    assert r.code == 0
    assert "| MACs | 4,089,184,256 | 3,857,973,248 | -231,211,008 | -5.7% |" in r.out
    assert "| layer2 MACs | 1,027,604,480 | 950,534,144 | -77,070,336 | -7.5% |" in r.out
    assert cli("diff", "resnet18", "resnet34").code == 0
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = cli("diff", str(bad), "resnet18")
    assert r.code == 1 and "not a rescomp analysis document" in r.err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [
            "bash",
            str(ROOT / "scripts" / "screenshot_report.sh"),
            str(ROOT / "reports" / "resnet_cifar.html"),
            str(shot),
            "1600",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_attention_and_mlp_side_by_side_for_transformers_only() -> None:
    import rescomp.passes
    from rescomp.reports.document import attention_rows
    from rescomp.spec.load import build_graph

    rows = attention_rows(rescomp.passes.analyze(build_graph("vit_b_16")))
    assert [r[0] for r in rows] == [f"encoder.layers.encoder_layer_{i}" for i in range(12)]
    tokens, width, mlp = 197, 768, 3072  # 14 x 14 patches and the class token
    attention_macs = 4 * tokens * width**2 + 2 * tokens**2 * width  # Q, K, V, out; QK^T and weights x V
    assert rows[0][2] == f"{attention_macs:,}" and rows[0][5] == f"{2 * tokens * width * mlp:,}"
    assert rows[0][1] == f"{4 * width * width + 4 * width:,}"  # in_proj and out_proj, with biases
    assert attention_rows(rescomp.passes.analyze(build_graph("resnet18"))) == []
