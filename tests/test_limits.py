"""Documented limits hold for every way a value enters: spec files, literals, --set, --input and --batch.

Each case here once hung, exhausted memory, escaped as exit 4 or silently passed a documented bound
(issue 12); each must now be one located line and exit 1 (or 2 for command-line usage), quickly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from rescomp.errors import SpecError
from rescomp.spec.yamlsrc import MAX_FILE_BYTES, load_yaml, load_yaml_file

BASE = """name: t
input: [3, 32, 32]
layers:
  - {op: conv, out: 16}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 10}
"""


def _one_error(result, source: str, fragment: str, code: int = 1) -> str:  # type: ignore[no-untyped-def]
    assert result.code == code, result.err
    assert result.out == ""
    assert "Traceback" not in result.err and "internal error" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith(f"{source}"), lines[0]
    assert ": error: " in lines[0] and fragment in lines[0], lines[0]
    return lines[0]


def _spec(tmp_path: Path, layer0: str = "{op: conv, out: 16}", name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(BASE.replace("{op: conv, out: 16}", layer0, 1))
    return path


# --- files: regular, bounded, refused before they are read -------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_is_refused_without_blocking(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)  # nobody ever writes: reading it would block forever
    _one_error(cli("analyze", str(fifo)), f"{fifo}: error:", "is a FIFO (named pipe), not a spec file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_refused(device: str, cli) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    _one_error(cli("analyze", device), f"{device}: error:", "is a character device, not a spec file")


def test_directory_is_refused(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _one_error(cli("analyze", str(tmp_path)), f"{tmp_path}: error:", "is a directory")


def test_oversized_file_is_refused_before_reading(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "big.yaml"
    with path.open("wb") as f:  # sparse: 1 GiB on paper, nothing on disk and nothing read
        f.truncate(2**30)
    _one_error(cli("analyze", str(path)), f"{path}: error:", "larger than the limit of 8 MiB")


def test_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "pad.yaml"
    text = BASE + "#" * (MAX_FILE_BYTES - len(BASE) - 1) + "\n"
    path.write_text(text)
    assert load_yaml_file(path)["name"] == "t"
    path.write_text(text + "#")
    with pytest.raises(SpecError, match="larger than the limit"):
        load_yaml_file(path)


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(SpecError, match="larger than the limit"):
        load_yaml("a: 1\n" + "#" * MAX_FILE_BYTES, "t.yaml")


# --- documents: a plain large document is told apart from an alias bomb -------------------------------


def test_plain_large_document_names_no_aliases(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "wide.yaml"
    path.write_text("name: t\ninput: [3, 32, 32]\nlayers:\n" + "  - {op: relu}\n" * 150_000)
    line = _one_error(cli("analyze", str(path)), f"{path}:", "document has more than 200,000 values")
    assert "alias" not in line and "repeat" in line


def test_alias_bomb_still_names_aliases() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SpecError, match=r"expands to more than 200,000 values.*aliases"):
        load_yaml("\n".join(lines) + "\n", "bomb.yaml")


def test_nul_byte_is_located() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("a: 1\nname: éé\x00b\n", "n.yaml")
    assert str(info.value).startswith("n.yaml:2:9: error: invalid YAML: unacceptable character #x0000")


# --- literals: the same bounds as expression results --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("9" * 5000, "number literal of 5,000 characters"),
        ("0x" + "f" * 100_000, "number literal of 100,002 characters"),
        ("1000000000000000000000000000000", "exceeds 1e+18"),
        ("-1000000000000000001", "exceeds 1e+18"),
        ("0x1000000000000000", "exceeds 1e+18"),
        ("1" + ":00" * 30, "base-60"),
    ],
    ids=["5000-nines", "hex-100000", "1e30", "minus-1e18-1", "hex-2^60", "base60"],
)
def test_literals_are_bounded(tmp_path: Path, cli, value: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    path = _spec(tmp_path, f"{{op: conv, out: {value}}}")
    _one_error(cli("analyze", str(path)), f"{path}:4:21: error: ", fragment)


def test_literal_at_the_bound_is_a_value(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    doc = load_yaml("a: 1000000000000000000\nb: 1_000\nc: 0x10\n", "t.yaml")
    assert (doc["a"], doc["b"], doc["c"]) == (10**18, 1000, 16)


# --- overrides and inputs -----------------------------------------------------------------------------


def test_set_with_5000_digits(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    digits = "9" * 5000
    _one_error(
        cli("analyze", "resnet_cifar", "--set", f"n={digits}"), f"<--set n={digits}>:1:3: error: ", "longer than"
    )


def test_input_with_5000_digits(cli) -> None:  # type: ignore[no-untyped-def]
    text = f"3x{'9' * 5000}x32"
    _one_error(cli("analyze", "resnet_cifar", "--input", text), f"<--input {text}>:1:3: error: ", "exceeds 1e+18")


def test_input_with_5000_leading_zeros(cli) -> None:  # type: ignore[no-untyped-def]
    """int() refuses 4,300 characters even when most are leading zeros: the value is 32, an answer."""
    result = cli("analyze", "resnet_cifar", "--json", "--input", f"3x{'0' * 5000}32x32")
    assert result.code == 0, result.err
    assert result.out == cli("analyze", "resnet_cifar", "--json", "--input", "3x32x32").out


def test_batch_with_5000_digits_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("analyze", "resnet_cifar", "--batch", "9" * 5000)
    assert result.code == 2 and "Traceback" not in result.err


def test_batch_above_the_bound(cli) -> None:  # type: ignore[no-untyped-def]
    _one_error(cli("analyze", "resnet_cifar", "--batch", str(10**19)), "<--batch>:1:1: error: ", "exceeds 1e+18")


@pytest.mark.parametrize(
    ("arg", "fragment"),
    [
        ("n=10**24", "value exceeds 1e+18"),
        ("n=1:00", "expects int like its default"),
        ("n=010", "expects int like its default"),
        ("n=yes", "expects int like its default"),
        ("n='%3900000000d' % 1", "formatting of strings is not allowed"),
        ("n=round(16, -100000000)", "round() to more than 64 digits"),
        ("n=-'a'", "needs a number"),
    ],
)
def test_set_is_read_as_a_bounded_expression(cli, arg: str, fragment: str) -> None:  # type: ignore[no-untyped-def]
    _one_error(cli("analyze", "resnet_cifar", "--set", arg), f"<--set {arg}>:1:", fragment)


def test_set_expression_equals_its_value(cli) -> None:  # type: ignore[no-untyped-def]
    assert (
        cli("analyze", "resnet_cifar", "--json", "--set", "n=2*4").out
        == cli("analyze", "resnet_cifar", "--json", "--set", "n=8").out
    )


@pytest.mark.parametrize(
    ("spec", "arg"),
    [("resnet34", "shortcut=A"), ("resnet34", "shortcut=none"), ("resnet50", "stride_in=1x1"), ("vgg19", "bn=true")],
)
def test_documented_set_values_still_work(cli, spec: str, arg: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("analyze", spec, "--set", arg)
    assert result.code == 0, result.err


def test_api_params_are_bounded() -> None:
    from rescomp.api import graph

    with pytest.raises(SpecError, match="parameter 'n': value exceeds 1e\\+18"):
        graph("resnet_cifar", {"n": 10**24})
    with pytest.raises(SpecError, match="input dimension: value exceeds"):
        graph("resnet_cifar", input_shape=(3, 10**19, 32))
    with pytest.raises(SpecError, match="value exceeds"):  # too long to print: refused before any message repr()s it
        graph("resnet_cifar", {"n": 10**5000})
    with pytest.raises(SpecError, match="value exceeds"):
        graph("resnet_cifar", input_shape=(3, 10**5000, 32))
    with pytest.raises(SpecError, match="batch: value exceeds"):
        graph("resnet_cifar", batch=10**5000)


def test_int_digit_limit_is_never_reached() -> None:
    """Python refuses int <-> str conversions of 4,300 digits or more; no input may get there."""
    assert sys.get_int_max_str_digits() in (0, 4300) or sys.get_int_max_str_digits() > 100
