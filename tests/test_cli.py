"""The CLI end to end: output contracts, exit codes, and a lean import path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRED_MODEL_KEYS = {
    "name",
    "input",
    "output",
    "depth",
    "params",
    "buffers",
    "macs",
    "flops",
    "weights_bytes",
    "activation_bytes_peak",
    "layers",
}
REQUIRED_LAYER_KEYS = {"name", "op", "output", "params", "macs", "flops"}


def test_analyze_json_schema(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet50", "--json")
    assert r.code == 0 and r.err == ""
    doc = json.loads(r.out)
    assert doc["schema"] == "rescomp.analysis/1"
    (model,) = doc["models"]
    assert set(model) >= REQUIRED_MODEL_KEYS
    assert model["input"] == [1, 3, 224, 224] and model["output"] == [1, 1000]
    assert model["params"] == 25_557_032 and model["depth"] == 50
    assert all(set(x) >= REQUIRED_LAYER_KEYS for x in model["layers"])
    assert sum(x["macs"] for x in model["layers"]) == model["macs"]
    assert sum(x["params"] for x in model["layers"]) == model["params"]


def test_json_is_deterministic(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("analyze", "resnet_cifar", "vgg11", "--json", "--set", "n=5").out
    assert first == cli("analyze", "resnet_cifar", "vgg11", "--json", "--set", "n=5").out


def test_default_is_paper_comparison(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze")
    assert r.code == 0
    assert "resnet34" in r.out and "vgg19" in r.out
    assert "18.7% of VGG-19" in r.out and "3.66 G" in r.out and "19.63 G" in r.out


def test_side_by_side_ratios(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet18", "resnet34")
    assert r.code == 0
    assert "/ resnet18" in r.out
    assert "202.0%" in r.out  # MACs 3.664 G / 1.814 G


def test_per_layer_and_by_stage(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet18", "--per-layer", "--by", "stage")
    assert r.code == 0
    assert "layer1.0.conv1" in r.out and "by stage" in r.out and "layer4" in r.out


def test_set_input_batch(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet_cifar", "--set", "n=9", "--batch", "4", "--input", "3x64x64", "--json")
    model = json.loads(r.out)["models"][0]
    assert model["input"] == [4, 3, 64, 64] and model["depth"] == 56
    assert model["settings"]["n"] == 9


def test_list_and_schema(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("list", "--json")
    rows = {row["name"]: row for row in json.loads(r.out)}
    assert {"resnet18", "resnet152", "vgg11", "vgg19", "resnet_cifar"} <= set(rows)
    assert rows["resnet34"]["params"]["shortcut"]["choices"] == ["A", "B", "C", "none"]
    assert "depth" not in rows["resnet34"]["params"]  # fixed by the bundled name
    assert cli("list").code == 0
    schema = json.loads(cli("schema").out)
    assert schema["$schema"].endswith("2020-12/schema")


def test_schema_written_atomically(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "spec.schema.json"
    assert cli("schema", "-o", str(out)).code == 0
    assert json.loads(out.read_text())["title"] == "rescomp spec"
    assert [p.name for p in tmp_path.iterdir()] == ["spec.schema.json"]
    made = cli("schema", "-o", str(tmp_path / "missing" / "deeper" / "x.json"))  # missing folders are made
    assert made.code == 0 and json.loads((tmp_path / "missing" / "deeper" / "x.json").read_text())
    bad = cli("schema", "-o", str(tmp_path / "spec.schema.json" / "x.json"))
    assert bad.code == 1 and "is a regular file, not a folder" in bad.err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("analyze", "nosuch.yaml"), 1),
        (("analyze", "--by", "layer"), 2),
        (("nosuchcommand",), 2),
        (("analyze", "resnet34", "--set", "shortcut=D"), 1),
        (("analyze", "--batch", "0"), 2),
    ],
)
def test_exit_codes(cli, args: tuple[str, ...], code: int) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == code
    assert "Traceback" not in r.err and r.out == ""


def test_analyze_imports_no_heavy_modules(tmp_path: Path) -> None:
    """Run the real CLI in a fresh interpreter where importing torch, onnx, tensorrt, networkx or any
    other heavy package fails loudly: `analyze` must need none of them."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'onnx', 'onnxruntime', 'tensorrt', 'numpy', 'jsonschema',\n"
        "                                  'networkx', 'pydantic', 'matplotlib', 'graphviz'}:\n"
        "            raise ImportError('blocked heavy import: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['rescomp', 'analyze', 'resnet152', '--json']\n"
        "from rescomp.cli.main import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as e:\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'onnx', 'tensorrt'})\n"
        "    sys.stderr.write(f'exit={e.code} heavy={heavy}\\n')\n"
    )
    proc = subprocess.run([sys.executable, str(probe)], capture_output=True, text=True, timeout=120)
    assert "exit=0 heavy=[]" in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["models"][0]["params"] == 60_192_808


def _without_repo_on_path() -> dict[str, str]:
    """The environment of a fresh interpreter that sees only what is installed: no PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONSTARTUP", "PYTHONSAFEPATH"}}


def test_console_script_installed(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "rescomp"
    proc = subprocess.run(
        [str(exe), "analyze", "resnet18", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_without_repo_on_path(),
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["models"][0]["params"] == 11_689_512


def test_cli_package_is_not_top_level(tmp_path: Path) -> None:
    """The installed distribution provides the CLI as rescomp.cli and no top-level 'cli' package.

    Checked in a fresh interpreter started in an empty directory without PYTHONPATH: in this process
    pytest has put the repository root on sys.path, and from the root the folder cli/ is importable as
    'cli' whatever the packaging does, so an in-process check cannot fail."""
    probe = (
        "import importlib.util, json\n"
        "import rescomp.cli.main\n"
        "print(json.dumps({'cli': importlib.util.find_spec('cli') is not None,\n"
        "                  'main': rescomp.cli.main.__file__}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=_without_repo_on_path(),
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["cli"] is False, "a top-level 'cli' package is importable from the installed environment"
    assert Path(found["main"]).parent.name == "cli"  # the sources live in cli/, installed as rescomp.cli


def test_packaging_lists_every_package() -> None:
    """pyproject.toml names the packages one by one: every package folder must be listed (a missing one
    is absent from the wheel, which only an editable install hides), and none is installed as 'cli'."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = tool["package-dir"]
    assert package_dir == {"rescomp": "rescomp", "rescomp.cli": "cli"}
    on_disk = {
        ".".join(("rescomp", *init.parent.relative_to(root / "rescomp").parts))
        for init in root.glob("rescomp/**/__init__.py")
    }
    on_disk |= {
        ".".join(("rescomp.cli", *init.parent.relative_to(root / "cli").parts))
        for init in root.glob("cli/**/__init__.py")
    }
    assert sorted(on_disk - set(tool["packages"])) == []
    assert all(p == "rescomp" or p.startswith("rescomp.") for p in tool["packages"])


def test_streamed_json_equals_the_document() -> None:
    import io

    import rescomp
    from rescomp.passes import to_document
    from rescomp.passes.analyze import write_document

    models = [rescomp.analyze("resnet18").analysis, rescomp.analyze("resnet_cifar", {"n": 2}).analysis]
    buf = io.StringIO()
    write_document(models, buf)
    assert json.loads(buf.getvalue()) == json.loads(json.dumps(to_document(models)))
