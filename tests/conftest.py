"""Shared test helpers: run the real CLI entry point in-process and capture what it prints."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Call ``rescomp ARGS...`` through the console-script entry point; return code, stdout, stderr."""
    from rescomp.cli.main import main

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["rescomp", *args])
        with pytest.raises(SystemExit) as info:
            main()
        captured = capsys.readouterr()
        code = info.value.code
        return Result(code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err)

    return run


def pytest_configure(config: pytest.Config) -> None:
    # a plain `pytest` leaves slow tests out (pyproject's addopts); CI (.ci/run, the README's test
    # command) runs them too with -m 'slow or not slow'
    config.addinivalue_line("markers", "slow: over ~30 s on a 2-core machine (torch.compile, AOTInductor compiles)")
