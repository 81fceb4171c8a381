"""Prepare the tensorrt-stubs package for mypy: copy its .pyi files into .typings/ (on mypy_path)
and repair the few lines that are not valid Python in the published stubs.

tensorrt-stubs 10.13.0.35.1 installs `tensorrt/__init__.pyi` and `tensorrt_bindings/tensorrt.pyi`
straight into site-packages without a py.typed marker, so mypy skips them; and four signatures use
`in` as a parameter name and one puts a parameter without default after defaulted ones, so mypy
cannot parse them. Install the stubs without dependencies (their dependency is TensorRT itself, which
downloads from NVIDIA's index):

    .venv/bin/pip install --no-deps tensorrt-stubs==10.13.0.35.1
    .venv/bin/python scripts/tensorrt_stubs.py
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
import sysconfig
from pathlib import Path

PACKAGES = ("tensorrt", "tensorrt_bindings")


def _repair_signature(line: str) -> str:
    line = re.sub(r"([(,]\s*)in(\s*:)", r"\1in_\2", line)  # 'in' is a keyword
    head, sep, rest = line.partition("(")
    if not head.lstrip().startswith("def ") or not sep:
        return line
    params, close, tail = rest.rpartition(")")
    seen_default, fixed = False, []
    for p in params.split(", "):
        name = p.strip()
        if "=" in name:
            seen_default = True
        elif seen_default and name and not name.startswith("*"):
            p = f"{p} = ..."
        fixed.append(p)
    return f"{head}({', '.join(fixed)}{close}{tail}"


def repair(text: str) -> str:
    lines = text.splitlines()
    for _ in range(50):
        try:
            ast.parse("\n".join(lines))
            return "\n".join(lines) + "\n"
        except SyntaxError as exc:
            i = (exc.lineno or 1) - 1
            fixed = _repair_signature(lines[i])
            if fixed == lines[i]:
                raise
            lines[i] = fixed
    raise RuntimeError("too many syntax errors in the stubs")


def main() -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".typings")
    for package in PACKAGES:
        src = site / package
        if not any(src.glob("*.pyi")):
            raise SystemExit(f"no stubs in {src}: pip install --no-deps tensorrt-stubs==10.13.0.35.1")
        dst = out / package
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for stub in src.glob("*.pyi"):
            (dst / stub.name).write_text(repair(stub.read_text()))
    print(f"tensorrt stubs ready in {out}/")


if __name__ == "__main__":
    main()
