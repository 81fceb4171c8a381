"""The ``rescomp`` command: a thin typer front end over the library.

The library raises typed errors; only this module prints them and chooses the exit code:
0 ok, 1 user input or budget failure, 2 usage, 3 backend or hardware unavailable, 4 internal error,
5 a backend that is there rejected or failed the work (TensorRT).
Heavy modules are imported inside the commands, so ``rescomp --help`` starts fast.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import NoReturn

import typer

from rescomp import __version__

app = typer.Typer(
    name="rescomp",
    help="Static-graph compiler and analyzer for residual networks.",
    no_args_is_help=True,
    add_completion=True,  # rescomp --install-completion: bash, zsh, fish, PowerShell
    rich_markup_mode=None,  # help texts are plain text: brackets such as 'rescomp[onnx]' stay as written
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rescomp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Static-graph compiler and analyzer for residual networks."""


def _register() -> None:
    from rescomp.cli import analyze, bench, compare, crosscheck, emit, library, report

    app.command("analyze")(analyze.analyze)
    app.command("emit")(emit.emit)
    app.command("build")(emit.build)
    app.command("bench")(bench.bench)
    app.command("report")(report.report)
    app.command("check")(compare.check)
    app.command("diff")(compare.diff)
    app.command("crosscheck")(crosscheck.crosscheck)
    app.command("list")(library.list_specs)
    app.command("schema")(library.schema)


_register()


# library API chatter (torch's and onnx's deprecations): for rescomp's developers, not its users
_QUIET = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _show_warnings(caught: list[warnings.WarningMessage], failed: bool) -> None:
    """Python warnings raised during a command (torch and onnx print several lines each): with
    RESCOMP_DEBUG=1 every one with its source; otherwise, after a success, one prefixed line each
    (deprecations left out), and after a failure none, so that an error stays one line."""
    debug = bool(os.environ.get("RESCOMP_DEBUG"))
    if failed and not debug:
        return
    from rescomp.errors import one_line

    seen: set[tuple[str, str]] = set()
    for w in caught:
        if not debug and issubclass(w.category, _QUIET):
            continue
        text = one_line(str(w.message))
        if (w.category.__name__, text) in seen:
            continue
        seen.add((w.category.__name__, text))
        where = f" ({w.filename}:{w.lineno})" if debug else ""
        sys.stderr.write(f"warning: {w.category.__name__}: {text[:300]}{where}\n")


def main() -> None:
    """Console-script entry point: run the app, turning rescomp's errors into one line and an exit code.
    Python warnings are held back while the command runs and shown by :func:`_show_warnings`."""
    with warnings.catch_warnings(record=True) as caught:
        if not os.environ.get("RESCOMP_DEBUG"):
            warnings.simplefilter("default")  # never "error" from PYTHONWARNINGS: that would be exit 4
        failed = True
        try:
            _main()
        except SystemExit as exc:
            failed = exc.code not in (0, None)
            raise
        finally:
            _show_warnings(caught, failed)


def _main() -> None:
    from rescomp.errors import RescompError

    try:
        code = app(standalone_mode=False)  # click returns the exit code of --help and typer.Exit here
        sys.exit(code if isinstance(code, int) else 0)
    except RescompError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except ImportError as exc:
        from rescomp.extras import missing_package

        found = missing_package(exc)  # an optional package no command-level check named: still exit 3
        if found is None:
            _internal(exc)
        sys.stderr.write(f"{found}\n")
        sys.exit(found.exit_code)
    except Exception as exc:
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()  # click's usage errors (matched by shape, whichever click typer brings): exit code 2
            sys.exit(code)
        _internal(exc)


def _internal(exc: BaseException) -> NoReturn:
    """An exception rescomp did not raise on purpose: exit 4 (a bug), with the traceback on request."""
    if os.environ.get("RESCOMP_DEBUG"):
        raise exc
    from rescomp.errors import one_line

    sys.stderr.write(
        f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
        "(hint: this is a rescomp bug; rerun with RESCOMP_DEBUG=1 for a traceback and report it)\n"
    )
    sys.exit(4)


if __name__ == "__main__":
    main()
