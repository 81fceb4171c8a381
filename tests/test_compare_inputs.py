"""Hostile analysis JSON for ``rescomp diff`` and ``rescomp check`` (issue 12, item 10): every file
gives a correct answer or exit 1 with one located line naming the JSON path of the first problem.
At the end, the CLI's handling of Python warnings (item 11): an error stays one line."""

from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rescomp.reports.compare import ANALYSIS_SCHEMA, validate

SPEC = """\
name: small
input: [3, 16, 16]
layers:
  - {op: conv, out: 8, kernel: 3}
  - {op: bn}
  - {op: relu}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


@pytest.fixture
def doc(cli) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = cli("analyze", "resnet_cifar", "--set", "n=1", "--json")
    assert r.code == 0
    return dict(json.loads(r.out))


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _both(cli, path: Path) -> list[Any]:  # type: ignore[no-untyped-def]
    """``diff FILE resnet_cifar`` and ``check FILE``: the same answer from both."""
    return [cli("diff", str(path), "resnet_cifar", "--set", "n=1"), cli("check", str(path), "--max-params", "1G")]


def _edit(doc: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    change(out)
    return out


CHANGES: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("no macs", lambda d: d["models"][0].pop("macs"), "models[0].macs: required field missing"),
    ("no name", lambda d: d["models"][0].pop("name"), "models[0].name: required field missing"),
    ("stages null", lambda d: d["models"][0].update(stages=None), "models[0].stages: expected an array, got null"),
    (
        "params lots",
        lambda d: d["models"][0].update(params="lots"),
        'models[0].params: expected an integer, got "lots"',
    ),
    ("params float", lambda d: d["models"][0].update(params=1.5), "models[0].params: expected an integer, got 1.5"),
    ("params bool", lambda d: d["models"][0].update(params=True), "models[0].params: expected an integer, got true"),
    ("params < 0", lambda d: d["models"][0].update(params=-1), "models[0].params: -1 is below the minimum 0"),
    (
        "params huge",
        lambda d: d["models"][0].update(params=10**301),
        "models[0].params: 1" + "0" * 36 + "... is above the maximum 1,000,000,000,000,000,000,",
    ),
    (
        "stage name",
        lambda d: d["models"][0]["stages"][1].pop("name"),
        "models[0].stages[1].name: required field missing",
    ),
    ("stage item", lambda d: d["models"][0]["stages"].append(3), "models[0].stages[9]: expected an object, got 3"),
    (
        "stage macs",
        lambda d: d["models"][0]["stages"][0].update(macs={}),
        "models[0].stages[0].macs: expected an integer, got an object",
    ),
    ("models empty", lambda d: d.update(models=[]), "models: expected at least 1 item(s), got 0"),
    ("models dict", lambda d: d.update(models={}), "models: expected an array, got an object"),
    ("no models", lambda d: d.pop("models"), "models: required field missing"),
    ("model null", lambda d: d.update(models=[None]), "models[0]: expected an object, got null"),
    (
        "schema 2",
        lambda d: d.update(schema="rescomp.analysis/2"),
        'schema: expected "rescomp.analysis/1", got "rescomp.analysis/2"',
    ),
    (
        "by dtype",
        lambda d: d["models"][0]["weights_bytes_by_dtype"].update(float32="x"),
        "models[0].weights_bytes_by_dtype.float32: expected an integer",
    ),
]


@pytest.mark.parametrize(("label", "change", "message"), CHANGES, ids=[c[0] for c in CHANGES])
def test_schema_problems_name_the_json_path(cli, doc, tmp_path, label, change, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(_edit(doc, change)))
    for r in _both(cli, path):
        assert r.code == 1, (label, r.err)
        assert _one_line(r.err).startswith(f"{path}: error: {message}"), r.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000, "not an analysis document: nested too deeply"),
        ("[" * 100_000 + "]" * 100_000, "not an analysis document: nested too deeply"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "not an analysis document: nested too deeply"),
        ('{"schema": "rescomp.analysis/1", "models": [' + "9" * 5000 + "]}", "a number of more than 4,300 digits"),
        ("{}", "not a rescomp analysis document (schema rescomp.analysis/1)"),
        ("[]", "not a rescomp analysis document (schema rescomp.analysis/1)"),
        ("null", "not a rescomp analysis document (schema rescomp.analysis/1)"),
        ("", "not JSON: Expecting value"),
    ],
    ids=["deep-open", "deep-closed", "deep-objects", "long-int", "empty-object", "array", "null", "empty"],
)
def test_malformed_json_is_one_line(cli, tmp_path, content, message) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.json"
    path.write_text(content)
    for r in _both(cli, path):
        assert r.code == 1 and message in _one_line(r.err) and str(path) in r.err


def test_utf16_and_other_encodings(cli, doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = json.dumps(doc)
    for name, data in [("le", text.encode("utf-16")), ("be", b"\xfe\xff" + text.encode("utf-16-be"))]:
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        for r in _both(cli, path):
            assert r.code == 1 and "the file is UTF-16" in _one_line(r.err)
    latin = tmp_path / "latin.json"
    latin.write_bytes(('{\n "x": "caf\xe9"}').encode("latin-1"))
    for r in _both(cli, latin):
        assert r.code == 1 and f"{latin}:2:11: error: not UTF-8 text (byte 0xe9)" in _one_line(r.err)
    bom = tmp_path / "bom.json"  # a UTF-8 byte-order mark is harmless: read as UTF-8
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    for r in _both(cli, bom):
        assert r.code == 0, r.err


def test_only_regular_files_are_read(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)  # opening it for reading must not wait for a writer
    folder = tmp_path / "d.json"
    folder.mkdir()
    for path in (fifo, folder):
        for r in _both(cli, path):
            assert (
                r.code == 1
                and _one_line(r.err) == f"{path}: error: not a regular file (hint: give an analysis JSON file)"
            )
    for r in _both(cli, tmp_path / "missing.json"):
        assert r.code == 1 and _one_line(r.err) == f"{tmp_path / 'missing.json'}: error: no such file"


def test_size_limit(doc: dict[str, Any], tmp_path: Path) -> None:
    from rescomp.errors import SpecError
    from rescomp.reports.compare import read_json

    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    assert read_json(str(path)) == doc
    with pytest.raises(SpecError, match="the limit is 100"):
        read_json(str(path), limit=100)


def test_names_are_shown_as_given(cli, doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A name read from JSON is never rich markup, and never breaks a one-line message."""
    odd = _edit(doc, lambda d: d["models"][0].update(name="[/bold]\nx[red]"))
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(odd))
    r = cli("diff", str(path), "resnet_cifar", "--set", "n=1")
    assert r.code == 0 and "[/bold]" in r.out and "x[red]" in r.out
    r = cli("check", str(path), "--max-params", "1k")  # every result on stdout, one line each
    assert r.code == 1 and r.err == "" and _one_line(r.out).startswith("[/bold]\\nx[red]: parameters")


def test_a_valid_file_answers_like_its_spec(cli, doc, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    from_json = cli("check", str(path), "--max-params", "1M")
    from_spec = cli("check", "resnet_cifar", "--set", "n=1", "--max-params", "1M")
    # the same line, but for the title: the spec's says what --set changed, the file knows only its name
    assert from_json.code == from_spec.code == 0
    assert from_json.out == from_spec.out.replace("resnet_cifar (n=1)", "resnet_cifar")
    r = cli("diff", str(path), "resnet_cifar", "--set", "n=1", "--markdown")
    assert r.code == 0 and "| parameters | 75,290 | 75,290 | +0 | = |" in r.out
    two = _edit(doc, lambda d: d["models"].append(d["models"][0]))
    path.write_text(json.dumps(two))
    for r in _both(cli, path):
        assert r.code == 1 and "the file holds 2 models; compare one at a time" in _one_line(r.err)


def test_budgets_beyond_the_count_limit_are_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("check", "resnet_cifar", "--max-params", "9" * 400)
    assert r.code == 2 and "is above the largest budget" in _one_line(r.err)


def test_every_bundled_analysis_fits_the_schema(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The hand validator and jsonschema (a dev dependency) agree that real output is valid."""
    names = [row["name"] for row in json.loads(cli("list", "--json").out)]
    spec = tmp_path / "small.yaml"
    spec.write_text(SPEC)
    r = cli("analyze", *names, str(spec), "--json")
    assert r.code == 0, r.err
    full = json.loads(r.out)
    assert validate(full, ANALYSIS_SCHEMA) is None
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(ANALYSIS_SCHEMA)
    jsonschema.validate(full, ANALYSIS_SCHEMA)
    broken = _edit(full, lambda d: d["models"][0].pop("macs"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ANALYSIS_SCHEMA)


def test_analysis_start_up_does_not_import_jsonschema() -> None:
    import subprocess
    import sys

    code = "import sys; from rescomp.cli import main, compare; assert 'jsonschema' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- Python warnings (torch's multi-line UserWarnings) never turn an error into three lines ---


@pytest.fixture
def warns(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Make ``rescomp analyze`` warn as torch does (several lines), then succeed or fail."""
    import rescomp.passes
    from rescomp.errors import SpecError

    real = rescomp.passes.analyze

    def setup(fail: bool) -> None:
        def fake(graph: Any) -> Any:
            warnings.warn(
                "Casting complex values to real discards the imaginary part\n  param.copy_(x)",
                UserWarning,
                stacklevel=1,
            )
            warnings.warn("`LeafSpec` is deprecated", FutureWarning, stacklevel=1)
            if fail:
                raise SpecError("broken on purpose")
            return real(graph)

        monkeypatch.setattr(rescomp.passes, "analyze", fake)

    return setup


def test_warnings_are_hidden_after_an_error(cli, warns, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RESCOMP_DEBUG", raising=False)
    warns(True)
    r = cli("analyze", "resnet_cifar")
    assert r.code == 1 and _one_line(r.err) == "error: broken on purpose"


def test_warnings_are_one_line_each_after_a_success(cli, warns, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("RESCOMP_DEBUG", raising=False)
    warns(False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as PYTHONWARNINGS=error would: still no exit 4
        r = cli("analyze", "resnet_cifar", "--json")
    assert r.code == 0 and json.loads(r.out)["models"][0]["name"] == "resnet_cifar"
    assert r.err.splitlines() == [
        "warning: UserWarning: Casting complex values to real discards the imaginary part\\n  param.copy_(x)"
    ]


def test_debug_shows_every_warning_with_its_source(cli, warns, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RESCOMP_DEBUG", "1")
    warns(True)
    r = cli("analyze", "resnet_cifar")
    assert r.code == 1
    lines = r.err.splitlines()
    assert lines[0] == "error: broken on purpose"
    assert lines[1].startswith("warning: UserWarning: Casting complex") and "test_compare_inputs.py:" in lines[1]
    assert lines[2].startswith("warning: FutureWarning: `LeafSpec` is deprecated")
