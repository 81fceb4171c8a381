"""Optional packages: the extras declare ranges, and every command either works or exits 3 with the
exact install line when an optional package is missing (never exit 4).

Each command runs in a fresh interpreter whose import system refuses the optional modules listed
(a meta-path finder, and importlib.util.find_spec answering None for them, as for a package that is
not installed), so the dev environment stands in for a user's core-only or single-extra install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rescomp.extras import EXTRAS, MissingPackage, extra_for, install_line, missing_package, needs

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OPTIONAL = sorted(set().union(*EXTRAS.values()))
#: distribution name in pyproject -> the module it installs
MODULE_OF = {"ml_dtypes": "ml_dtypes", "onnxruntime": "onnxruntime"}

PROBE = r"""
import importlib.util, json, sys
blocked = set(json.loads(sys.argv[1]))
extra_path = sys.argv[2]
if extra_path:
    sys.path.insert(0, extra_path)

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in blocked:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return None

sys.meta_path.insert(0, Block())
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split('.')[0] in blocked else real(name, *a)
sys.argv = ['rescomp', *sys.argv[3:]]
from rescomp.cli.main import main
main()
"""


def run_hidden(
    tmp_path: Path, blocked: list[str], *args: str, extra_path: str = ""
) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    return subprocess.run(
        [sys.executable, str(probe), json.dumps(blocked), extra_path, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},  # wide enough that no note wraps
    )


def _requirement(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", req)
    assert m, req
    return m.group(1).lower().replace("-", "_"), m.group(2)


def test_extras_declare_ranges_and_constraints_pin_torch() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    for name, reqs in extras.items():
        for req in reqs:
            dist, spec = _requirement(req)
            assert "==" not in spec, f"[{name}] pins {req}: extras declare ranges, constraints.txt pins"
            if dist == "torch":
                assert spec == ">=2.13", req  # the oldest torch the suite has run on
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins == ["torch==2.13.0"]


def test_extras_table_matches_pyproject() -> None:
    """rescomp.extras names, for each runtime extra, exactly the modules pyproject's extra installs."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(EXTRAS) == set(extras) - {"dev"}
    for name, modules in EXTRAS.items():
        installed = {MODULE_OF.get(d, d) for d, _ in map(_requirement, extras[name])}
        assert installed == set(modules), name
    assert EXTRAS["torch"] <= EXTRAS["onnx"] <= EXTRAS["tensorrt"]  # each target's extra suffices for it


def test_mapping() -> None:
    assert extra_for("torch.export") == "torch" and extra_for("graphviz") == "reports" and extra_for("yaml") is None
    exc = ModuleNotFoundError("No module named 'graphviz'", name="graphviz")
    found = missing_package(exc, "reports", "rescomp report")
    assert isinstance(found, MissingPackage) and found.exit_code == 3
    assert str(found) == (
        "error: rescomp report needs the Python package 'graphviz', which is not installed "
        "(hint: pip install 'rescomp[reports]')"
    )
    dep = missing_package(ModuleNotFoundError("x", name="tqdm"), "crosscheck", "fvcore")
    assert dep is not None and "'tqdm' (a dependency of an installed package)" in dep.message
    assert missing_package(ModuleNotFoundError("x", name="rescomp.nosuch")) is None  # a bug, never exit 3
    assert missing_package(ModuleNotFoundError("x", name="tomllib")) is None  # the standard library
    assert install_line("onnx") == "pip install 'rescomp[onnx]'"
    # raised deeper for the smaller extra (torch), re-aimed at the command's own (onnx)
    with pytest.raises(MissingPackage) as info, needs("onnx", "rescomp build --target onnx"), needs("torch", "x"):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")
    assert info.value.extra == "onnx" and info.value.hint == "pip install 'rescomp[onnx]'"
    with pytest.raises(ModuleNotFoundError), needs("torch", "x"):
        raise ModuleNotFoundError("No module named 'rescomp.gone'", name="rescomp.gone")


def _commands(out: Path) -> list[tuple[tuple[str, ...], str | None]]:
    """(arguments, the extra it needs or None) for every command."""
    return [
        (("analyze", "resnet18"), None),
        (("analyze", "resnet_cifar", "--json"), None),
        (("list",), None),
        (("schema",), None),
        (("emit", "resnet_cifar", "-o", str(out / "m.py")), None),
        (("check", "resnet50", "--max-params", "30M"), None),
        (("diff", "resnet18", "resnet34"), None),
        (("build", "resnet_cifar", "--set", "n=1", "--target", "torch", "-o", str(out / "t")), "torch"),
        (("build", "resnet_cifar", "--set", "n=1", "--target", "aoti", "-o", str(out / "a")), "torch"),
        (("build", "resnet_cifar", "--set", "n=1", "--target", "onnx", "-o", str(out / "o")), "onnx"),
        (("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt", "-o", str(out / "r")), "tensorrt"),
        (("bench", "resnet_cifar", "--set", "n=1", "--runs", "1", "--warmup", "0"), "torch"),
        (("bench", "resnet_cifar", "--set", "n=1", "--target", "onnx", "--runs", "1", "--warmup", "0"), "onnx"),
        (("report", "resnet_cifar", "--set", "n=1", "-o", str(out / "rep")), "reports"),
        (("crosscheck", "resnet_cifar", "--set", "n=1"), "crosscheck"),
    ]


@pytest.mark.parametrize(
    "index", range(len(_commands(Path("/x")))), ids=[" ".join(c[:2]) for c, _ in _commands(Path("/x"))]
)
def test_core_install_works_or_names_the_extra(tmp_path: Path, index: int) -> None:
    """Every optional module hidden (a `pip install rescomp` environment): exit 0, or exit 3 with the
    one-line error naming the command's extra, the install line printed verbatim."""
    args, extra = _commands(tmp_path)[index]
    proc = run_hidden(tmp_path, OPTIONAL, *args)
    if extra is None:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert proc.stderr.rstrip().endswith(f"(hint: pip install 'rescomp[{extra}]')"), proc.stderr
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ("torch", ("build", "resnet_cifar", "--set", "n=1", "--target", "torch", "-o", "t")),
        ("onnx", ("build", "resnet_cifar", "--set", "n=1", "--target", "onnx", "-o", "o")),
        ("reports", ("report", "resnet_cifar", "--set", "n=1", "-o", "rep")),
        ("crosscheck", ("crosscheck", "resnet_cifar", "--set", "n=1", "--tools", "flopcounter,torchinfo")),
    ],
)
def test_each_extra_is_enough_for_its_commands(tmp_path: Path, extra: str, args: tuple[str, ...]) -> None:
    """Only the extra's own modules visible: its commands work (exit 0)."""
    if extra == "reports":
        pytest.importorskip("matplotlib")
        import shutil

        if shutil.which("dot") is None:
            pytest.skip("Graphviz 'dot' is not installed")
    if extra in ("torch", "onnx", "crosscheck"):
        pytest.importorskip("torch")
    if extra == "onnx":
        pytest.importorskip("onnxruntime")
    if extra == "crosscheck":
        pytest.importorskip("torchinfo")
    visible = EXTRAS[extra] | _dependencies(EXTRAS[extra])  # matplotlib brings numpy with it
    proc = run_hidden(tmp_path, [m for m in OPTIONAL if m not in visible], *args)
    assert proc.returncode == 0, proc.stderr


def _dependencies(dists: frozenset[str]) -> set[str]:
    """Every distribution the given ones require, transitively (extras' requirements left out)."""
    from importlib import metadata

    seen: set[str] = set()
    todo = list(dists)
    while todo:
        name = todo.pop()
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req or "extra==" in req:
                continue
            dep = _requirement(req.split(";")[0].strip())[0]
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_a_peers_missing_dependency_is_a_skip_with_the_install_line(tmp_path: Path) -> None:
    """An installed peer whose own dependency is missing (fvcore without tqdm) is reported in its row,
    with the install line intact in the table (rich markup would eat '[crosscheck]'), and in --json."""
    pytest.importorskip("torch")
    fake = tmp_path / "site"
    (fake / "fvcore" / "nn").mkdir(parents=True)
    (fake / "fvcore" / "__init__.py").write_text("")
    (fake / "fvcore" / "nn" / "__init__.py").write_text("import tqdm\n")
    args = ("crosscheck", "resnet_cifar", "--set", "n=1", "--tools", "fvcore,flopcounter")
    table = run_hidden(tmp_path, ["tqdm"], *args, extra_path=str(fake))
    assert table.returncode == 0, table.stderr
    assert "'tqdm'" in table.stdout and "'rescomp[crosscheck]'" in table.stdout, table.stdout
    doc = json.loads(run_hidden(tmp_path, ["tqdm"], *args, "--json", extra_path=str(fake)).stdout)
    note = {t["tool"]: t["note"] for t in doc["tools"]}["fvcore"]
    assert "tqdm" in note and "pip install 'rescomp[crosscheck]'" in note
    missing = run_hidden(tmp_path, ["thop"], "crosscheck", "resnet_cifar", "--set", "n=1", "--tools", "thop")
    assert missing.returncode == 0 and "(pip install 'rescomp[crosscheck]')" in missing.stdout, missing.stdout
