"""Options shared by the commands that read specs, and their parsing into library overrides."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from rescomp.errors import Loc, SpecError

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
