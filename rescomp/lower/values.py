"""Typed evaluation of spec values: parameters after ``--set``, expressions, and the input shape.

A spec value is a literal or a string holding an expression (``2 * n + 1``); the context decides the
type it must have. Every function here raises a located :class:`SpecError` on a wrong type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.ir import Shape
from rescomp.spec.expr import check_bounds, evaluate, interpolate
from rescomp.spec.model import Spec, Value


@dataclass
class Overrides:
    """What the user changed on the command line: ``--set``, ``--input`` and ``--batch``."""

    params: dict[str, tuple[Any, Loc]] = field(default_factory=dict)
    input: tuple[tuple[int, ...], Loc] | None = None
    batch: tuple[int, Loc] | None = None


def eval_untyped(raw: Any, env: Mapping[str, Any], loc: Loc) -> Any:
    """A value whose type the context does not fix: strings are expressions, containers recurse."""
    if isinstance(raw, str):
        return evaluate(raw, env, loc)
    if isinstance(raw, list):
        return [eval_untyped(x, env, loc) for x in raw]
    if isinstance(raw, dict):
        return {k: eval_untyped(v, env, loc) for k, v in raw.items()}
    return raw


def string(value: Value, env: Mapping[str, Any]) -> str:
    """A string value; ``${...}`` inside it is interpolated."""
    out = interpolate(value.raw, env, value.loc) if isinstance(value.raw, str) else value.raw
    if not isinstance(out, str):
        raise SpecError(f"expected a string, got {out!r}", value.loc)
    return out


def integer(value: Value, env: Mapping[str, Any], what: str, minimum: int = 0) -> int:
    out = eval_untyped(value.raw, env, value.loc)
    if not isinstance(out, int) or isinstance(out, bool):
        raise SpecError(f"{what} must be an integer, got {out!r}", value.loc)
    if out < minimum:
        raise SpecError(f"{what} must be at least {minimum}, got {out}", value.loc)
    return out


def boolean(value: Value | None, env: Mapping[str, Any], what: str) -> bool:
    """A condition; an absent one is true."""
    if value is None:
        return True
    out = eval_untyped(value.raw, env, value.loc)
    if not isinstance(out, bool):
        raise SpecError(f"{what} must be true or false, got {out!r}", value.loc)
    return out


def argument(value: Value, default: Value, caller_env: Mapping[str, Any]) -> Any:
    """A block argument, evaluated in the caller's scope: where the parameter's default is a string
    and the argument is not a number, the argument is a string with ``${...}`` interpolation."""
    typed_str = isinstance(default.raw, str) and not isinstance(value.raw, (int, float))
    if typed_str and isinstance(value.raw, str):
        return interpolate(value.raw, caller_env, value.loc)
    return eval_untyped(value.raw, caller_env, value.loc)


def _plain(value: Any) -> type:
    """The Python type a parameter value is compared by: the YAML loader's located list, mapping and
    string subclasses count as list, dict and str (a list from the API overrides a list default)."""
    for t in (bool, int, float, str, list, dict):
        if isinstance(value, t):
            return t
    return type(value)


def resolve_params(spec: Spec, overrides: Overrides) -> dict[str, Any]:
    """Parameter values after ``--set``, type-checked against their defaults and choices."""
    values = {name: p.default for name, p in spec.params.items()}
    for key, (value, loc) in overrides.params.items():
        param = spec.params.get(key)
        if param is None:
            hint = did_you_mean(key, spec.params) if spec.params else f"spec '{spec.name}' has no parameters"
            raise SpecError(f"unknown parameter '{key}' for spec '{spec.name}'", loc, hint=hint)
        check_bounds(value, loc, f"parameter '{key}'")  # the bounds expressions obey, for the API too
        default = param.default
        ok = isinstance(value, bool) == isinstance(default, bool) and (
            _plain(value) is _plain(default) or (isinstance(default, float) and isinstance(value, int))
        )
        if not ok:
            raise SpecError(
                f"parameter '{key}' expects {type(default).__name__} like its default {default!r}, got {value!r}",
                loc,
            )
        if param.choices is not None and value not in param.choices:
            raise SpecError(
                f"parameter '{key}' must be one of {', '.join(map(str, param.choices))}; got {value!r}",
                loc,
                hint=did_you_mean(str(value), [str(c) for c in param.choices]),
            )
        values[key] = value
    return values


def input_shape(spec: Spec, env: Mapping[str, Any], overrides: Overrides) -> tuple[Shape, Loc]:
    """The input shape with the batch dimension, after ``--input`` and ``--batch``."""
    if overrides.input is not None:
        dims, loc = overrides.input
    else:
        raw, loc = spec.input.raw, spec.input.loc
        if isinstance(raw, str) and "x" in raw and "${" not in raw:
            raw = raw.split("x")
        if not isinstance(raw, list) or not raw:
            raise SpecError("'input' must be a list like [3, 224, 224] or a string like 3x224x224", loc)
        dims = tuple(eval_untyped(d.strip() if isinstance(d, str) else d, env, loc) for d in raw)
    for d in dims:
        check_bounds(d, loc, "input dimension")  # first: the message below prints the dimensions
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise SpecError(f"input dimensions must be positive integers, got {list(dims)}", loc)
    if overrides.batch is not None:
        batch, bloc = overrides.batch
    else:
        batch, bloc = eval_untyped(spec.batch.raw, env, spec.batch.loc), spec.batch.loc
    check_bounds(batch, bloc, "batch")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}", bloc)
    return (batch, *dims), loc
