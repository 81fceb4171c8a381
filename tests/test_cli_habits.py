"""The CLI fits terminals, pipes and CI: numbers never cut, COLUMNS and NO_COLOR honoured, text never
read as rich markup, --json everywhere, and flags that mean one thing for every command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[")


def piped(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed entry point with stdout and stderr piped, as in CI or `| less`."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR")}
    return subprocess.run(
        [sys.executable, "-m", "rescomp.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **env},
        cwd=ROOT,
    )


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_numbers_are_never_cut(columns: int) -> None:
    r = piped("analyze", "resnet18", "resnet50", COLUMNS=str(columns))
    assert r.returncode == 0, r.stderr
    assert "…" not in r.stdout
    for model in json.loads(piped("analyze", "resnet18", "resnet50", "--json").stdout)["models"]:
        for key in ("params", "buffers", "macs", "flops"):
            assert f"{model[key]:,}" in r.stdout, (columns, key, model[key])
    if columns >= 60:  # the table fits: labels are shortened and wrapped, not the numbers
        assert max(len(line) for line in r.stdout.splitlines()) <= columns


def test_piped_output_honours_columns_and_has_no_styling() -> None:
    wide = piped("analyze", "resnet18", "--per-layer", "--by", "stage")
    assert max(len(line) for line in wide.stdout.splitlines()) <= 120  # piped without COLUMNS: 120
    narrow = piped("analyze", "resnet18", "--by", "stage", COLUMNS="90")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 90
    assert "1,814,073,344" in narrow.stdout and "layer4" in narrow.stdout
    # the layer table's numbers alone need more than 40 columns: printed wider, every digit kept
    layers = piped("analyze", "resnet18", "--per-layer", COLUMNS="40")
    assert "…" not in layers.stdout and "2,359,296" in layers.stdout and "115,605,504" in layers.stdout
    for env in ({}, {"FORCE_COLOR": "1"}, {"NO_COLOR": "1"}):
        assert not ANSI.search(piped("analyze", "resnet18", "resnet34", **env).stdout), env


def test_readme_shows_what_the_default_command_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("The first command prints (`rescomp analyze`, no arguments):\n\n```text\n", 1)[1]
    shown = block.split("```", 1)[0]
    printed = piped("analyze").stdout
    assert [line.rstrip() for line in shown.splitlines()] == [line.rstrip() for line in printed.splitlines()]


def test_set_applies_to_the_specs_that_declare_it(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet18", "resnet_cifar", "--set", "n=3", "--json")
    assert r.code == 0, r.err
    a, b = json.loads(r.out)["models"]
    assert "n" not in a["settings"] and b["settings"]["n"] == 3 and b["depth"] == 20
    both = json.loads(cli("analyze", "resnet18", "resnet_cifar", "--set", "num_classes=7", "--json").out)["models"]
    assert [m["output"] for m in both] == [[1, 7], [1, 7]]
    none = cli("analyze", "resnet18", "resnet_cifar", "--set", "nn=3")
    assert none.code == 1 and "no spec given declares the parameter 'nn'" in none.err and "did you mean 'n'" in none.err
    fixed = cli("analyze", "resnet18", "resnet50", "--set", "depth=34")
    assert fixed.code == 1 and "fixed to 18 by the bundled name 'resnet18'" in fixed.err
    one = cli("analyze", "resnet18", "--set", "n=3")  # one spec: its own error, as always
    assert one.code == 1 and "unknown parameter 'n' for spec 'resnet18'" in one.err


def test_overridden_models_are_titled_with_their_settings(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet50", "--set", "width_per_group=128")
    assert "resnet50 (width_per_group=128)" in r.out
    assert (
        json.loads(cli("analyze", "resnet50", "--set", "width_per_group=128", "--json").out)["models"][0]["name"]
        == "resnet50"
    )  # the JSON keeps the spec's name; its settings say the rest
    d = cli("diff", "resnet50", "resnet50", "--set", "se=true", "--json")
    assert json.loads(d.out)["b"] == "resnet50 (se=true)"
    c = cli("check", "resnet50", "--set", "stride_in=1x1", "--max-macs", "4G")
    assert c.code == 0 and c.out.startswith("resnet50 (stride_in=1x1): within budget")


def test_report_library_refuses_overrides(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for extra in (["--set", "n=3"], ["--input", "3x32x32"], ["--batch", "2"]):
        r = cli("report", "--library", *extra, "-o", str(tmp_path / "r"))
        assert r.code == 2 and "--library reports every bundled spec at its own settings" in r.err
        assert r.err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_family_names(cli) -> None:  # type: ignore[no-untyped-def]
    a = json.loads(cli("analyze", "resnet", "--json").out)["models"][0]
    b = json.loads(cli("analyze", "resnet50", "--json").out)["models"][0]
    assert a["name"] == "resnet" and (a["params"], a["macs"]) == (b["params"], b["macs"])  # defaults: depth 50
    deep = json.loads(cli("analyze", "resnet", "--set", "depth=101", "--json").out)["models"][0]
    assert deep["depth"] == 101
    rows = {row["name"]: row for row in json.loads(cli("list", "--json").out)}
    assert rows["resnet"]["family"] and "depth" in rows["resnet"]["params"] and not rows["resnet50"]["family"]
    typo = cli("analyze", "resnt")
    assert typo.code == 1 and "did you mean 'resnet'?" in typo.err


def test_check_reads_analysis_json_and_writes_every_result_to_stdout(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "resnet50.json"
    saved.write_text(cli("analyze", "resnet50", "--json").out)
    r = cli("check", str(saved), "--max-macs", "4.2G", "--json")
    assert r.code == 0 and r.err == ""
    doc = json.loads(r.out)
    assert doc["schema"] == "rescomp.check/1" and doc["passed"] is True
    assert doc["budgets"] == [
        {"key": "macs", "label": "MACs", "value": 4_089_184_256, "limit": 4_200_000_000, "passed": True, "over": None}
    ]
    bad = cli("check", str(saved), "--max-macs", "4G", "--max-params", "30M", "--json")
    assert bad.code == 1 and bad.err == "" and json.loads(bad.out)["passed"] is False
    md = cli("check", str(saved), "--max-macs", "4G", "--markdown")
    assert md.code == 1 and "| MACs | 4,089,184,256 | 4,000,000,000 | FAIL (+2.2%) |" in md.out
    no_suffix = tmp_path / "analysis"  # recognised by its content, not only by a .json suffix
    no_suffix.write_text(saved.read_text())
    assert cli("check", str(no_suffix), "--max-macs", "4.2G").code == 0
    refused = cli("check", str(saved), "--max-macs", "4.2G", "--set", "n=3")
    assert refused.code == 2 and "analysis JSON" in refused.err


def test_diff_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("diff", "resnet50", "resnet50", "--set", "stride_in=1x1", "--json")
    doc = json.loads(r.out)
    assert doc["schema"] == "rescomp.diff/1"
    assert doc["totals"]["macs"] == {
        "a": 3_857_973_248,
        "b": 3_857_973_248,
        "change": 0,
        "relative": 0.0,
    }  # --set applies to both specs: both declare stride_in
    saved = tmp_path / "main.json"
    saved.write_text(cli("analyze", "resnet50", "--json").out)
    doc = json.loads(cli("diff", str(saved), "resnet50", "--set", "stride_in=1x1", "--json").out)
    assert doc["totals"]["macs"]["change"] == -231_211_008 and doc["totals"]["macs"]["relative"] == -0.056542
    layer2 = next(s for s in doc["stages"] if s["name"] == "layer2")
    assert layer2["macs"]["change"] == -77_070_336


def test_json_names_are_never_read_as_markup(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(cli("analyze", "resnet18", "--json").out)
    doc["models"][0]["name"] = "net[bold]x[/bold] rescomp[onnx]"
    saved = tmp_path / "odd.json"
    saved.write_text(json.dumps(doc))
    r = cli("diff", str(saved), "resnet18")
    assert r.code == 0 and "net[bold]x[/bold] rescomp[onnx]" in r.out


def test_build_progress_prints_no_source_locations(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "torch", "-o", str(tmp_path / "a" / "b"))
    assert r.code == 0, r.err
    assert "[1] initialising weights" in r.err
    assert not re.search(r"\w+\.py:\d+", r.err), r.err  # console.log's 'emit.py:121' is gone
    assert (tmp_path / "a" / "b" / "build.json").is_file()  # -o made the missing folders
    j = cli("build", "resnet_cifar", "--set", "n=1", "--target", "torch", "-o", str(tmp_path / "c"), "--json")
    doc = json.loads(j.out)
    assert doc["schema"] == "rescomp.build/1" and sorted(doc["files"]) == [
        "build.json",
        "model.py",
        "model.safetensors",
    ]


def test_shell_completion(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "rescomp"
    shown = subprocess.run([str(exe), "--show-completion", "bash"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "_rescomp_completion" in shown.stdout
    env = {**os.environ, "_RESCOMP_COMPLETE": "complete_bash", "COMP_WORDS": "rescomp ana", "COMP_CWORD": "1"}
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env)
    assert "analyze" in done.stdout.split()
