"""Options shared by the commands that read specs, and their parsing into library overrides."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from rescomp.errors import Loc, SpecError, did_you_mean

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override a spec parameter (repeatable)."),
]
InputOpt = Annotated[
    str | None, typer.Option("--input", metavar="CxHxW", help="Override the input shape, e.g. 3x32x32.")
]
BatchOpt = Annotated[int | None, typer.Option("--batch", min=1, help="Batch size (default: the spec's, else 1).")]


def parse_overrides(sets: list[str] | None, input_: str | None, batch: int | None):  # type: ignore[no-untyped-def]
    """Turn command-line strings into :class:`rescomp.lower.Overrides`.

    A ``--set`` value is read as an expression without names (``9``, ``2 * 8``, ``true``, ``[2, 2]``),
    bounded like every spec expression; anything else (``A``, ``none``, ``3x3``) is the string as
    written. YAML 1.1 scalar rules (``1:00`` as 60, ``010`` as 8, ``yes`` as true) do not apply."""
    from rescomp.lower import Overrides
    from rescomp.spec.expr import MAX_INT, evaluate_override

    params = {}
    for text in sets or []:
        where = f"<--set {text}>"
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise SpecError(
                f"cannot read --set '{text}'", Loc(where, 1, 1), hint="write --set key=value, e.g. --set n=9"
            )
        loc = Loc(where, 1, len(key) + 2)
        params[key] = (evaluate_override(raw, loc), loc)
    shape = None
    if input_ is not None:
        where = f"<--input {input_}>"
        if not re.fullmatch(r"[0-9]+(x[0-9]+)*", input_.strip()):
            raise SpecError(
                f"cannot read --input '{input_}'",
                Loc(where, 1, 1),
                hint="write dimensions without the batch, e.g. --input 3x224x224",
            )
        dims = []
        col = 1 + len(input_) - len(input_.lstrip())
        for digits in input_.strip().split("x"):
            # checked on the text: int() of 4,300 digits or more raises, and such a size is absurd anyway
            significant = digits.lstrip("0") or "0"
            if len(significant) > len(str(MAX_INT)) or int(significant) > MAX_INT:
                raise SpecError(
                    f"input dimension {digits[:30]}{'...' if len(digits) > 30 else ''} exceeds {MAX_INT:.0e}",
                    Loc(where, 1, col),
                    hint="sizes this large are not real inputs",
                )
            dims.append(int(significant))
            col += len(digits) + 1
        shape = (tuple(dims), Loc(where, 1, 1))
    return Overrides(params, shape, (batch, Loc("<--batch>", 1, 1)) if batch is not None else None)


def for_each_spec(specs: list[str], overrides):  # type: ignore[no-untyped-def]
    """Each spec with the overrides that apply to it.

    With one spec every ``--set`` applies to it (a parameter it does not declare is its error). With
    several, a ``--set`` applies to the specs that declare the parameter (and do not fix it by their
    bundled name), so ``analyze resnet18 resnet_cifar --set n=3`` sets ``n`` of resnet_cifar alone; a
    parameter that none of them declares is an error of the first spec, as it would be alone.
    ``--input`` and ``--batch`` apply to every spec. A spec that is an analysis JSON file (check and
    diff read them) takes no overrides."""
    from rescomp.lower import Overrides
    from rescomp.reports.compare import is_analysis_file
    from rescomp.spec.load import load_spec

    if len(specs) <= 1 or not overrides.params:
        return [(s, overrides) for s in specs]
    declared: dict[str, set[str]] = {}
    fixed_by: dict[str, str] = {}  # parameter -> a spec whose bundled name fixes it
    for s in specs:
        if is_analysis_file(s):
            declared[s] = set()
            continue
        spec, fixed = load_spec(s)
        declared[s] = set(spec.params) - set(fixed)
        for key in fixed:
            fixed_by.setdefault(key, s)
    given: dict[str, dict[str, Any]] = {s: {} for s in specs}
    for key, value in overrides.params.items():
        users = [s for s in specs if key in declared[s]]
        if not users and key in fixed_by:
            users = [fixed_by[key]]  # that spec's error says which bundled name fixes it
        if not users:
            names = sorted({p for d in declared.values() for p in d})
            raise SpecError(
                f"no spec given declares the parameter '{key}'",
                value[1],
                hint=did_you_mean(key, names) or "see rescomp list",
            )
        for s in users:
            given[s][key] = value
    return [(s, Overrides(given[s], overrides.input, overrides.batch)) for s in specs]


def titled(name: str, overrides) -> str:  # type: ignore[no-untyped-def]
    """A model's display title: its name, with the parameters set on the command line,
    ``resnet50 (width_per_group=128)``."""
    if not overrides.params:
        return name
    shown = ", ".join(f"{k}={_value(v)}" for k, (v, _) in overrides.params.items())
    return f"{name} ({shown})"


def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)
