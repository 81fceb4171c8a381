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
    """Turn command-line strings into :class:`rescomp.lower.Overrides` (values parsed as YAML scalars)."""
    import yaml

    from rescomp.lower import Overrides

    params = {}
    for text in sets or []:
        where = f"<--set {text}>"
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise SpecError(
                f"cannot read --set '{text}'", Loc(where, 1, 1), hint="write --set key=value, e.g. --set n=9"
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (dict, list)) or value is None:
            value = raw  # a plain string, e.g. --set stride_in=3x3
        params[key] = (value, Loc(where, 1, len(key) + 2))
    shape = None
    if input_ is not None:
        if not re.fullmatch(r"\d+(x\d+)*", input_.strip()):
            raise SpecError(
                f"cannot read --input '{input_}'",
                Loc(f"<--input {input_}>", 1, 1),
                hint="write dimensions without the batch, e.g. --input 3x224x224",
            )
        shape = (tuple(int(d) for d in input_.strip().split("x")), Loc(f"<--input {input_}>", 1, 1))
    return Overrides(params, shape, (batch, Loc("<--batch>", 1, 1)) if batch is not None else None)
