"""A tiny, safe expression language for spec values: ``2 * n``, ``width * 4``,
``stride if stride_in == '1x1' else 1``, ``{18: [2, 2, 2, 2]}[depth][0]``.

Expressions are parsed with :mod:`ast` and interpreted node by node over a whitelist; nothing is ever
passed to ``eval``. Names resolve only to spec parameters. Results are bounded in size so that a
hostile spec cannot make the evaluator allocate without limit.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Mapping
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean

MAX_INT = 10**18  # beyond any sane size; keeps '10 ** 10 ** 10' from hanging the evaluator
MAX_LEN = 10_000  # longest list or string an expression may build

_BINOPS: dict[type[ast.operator], Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.Div: operator.truediv,
}
_CMPOPS: dict[type[ast.cmpop], Any] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCS: dict[str, Any] = {
    "min": min,
    "max": max,
    "int": int,
    "round": round,
    "len": len,
    "ceil_div": lambda a, b: -(-a // b),
}


class _Eval:
    def __init__(self, text: str, env: Mapping[str, Any], loc: Loc) -> None:
        self.text = text
        self.env = env
        self.loc = loc

    def fail(self, message: str, node: ast.AST | None = None, hint: str | None = None) -> SpecError:
        loc = self.loc
        if node is not None and hasattr(node, "col_offset") and self.loc.line > 0:
            # point into the expression; exact for plain scalars, close enough for quoted ones
            loc = Loc(self.loc.file, self.loc.line, self.loc.col + node.col_offset)
        return SpecError(f"in expression '{self.text}': {message}", loc, hint=hint)

    def check(self, value: Any, node: ast.AST) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise self.fail(f"value exceeds {MAX_INT:.0e}", node, hint="sizes this large are not real networks")
        if isinstance(value, (list, str, tuple)) and len(value) > MAX_LEN:
            raise self.fail(f"result longer than {MAX_LEN} items", node)
        return value

    def ev(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.ev(node.body)
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (int, float, str, bool)):
                return self.check(node.value, node)
            raise self.fail(f"constant {node.value!r} is not allowed", node)
        if isinstance(node, ast.Name):
            if node.id in ("true", "True"):
                return True
            if node.id in ("false", "False"):
                return False
            if node.id not in self.env:
                hint = did_you_mean(node.id, self.env) or "no parameters are defined here"
                raise self.fail(
                    f"unknown name '{node.id}'",
                    node,
                    hint=f"{hint}; a literal string needs quotes, e.g. \"'{node.id}'\"",
                )
            return self.env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left, right = self.ev(node.left), self.ev(node.right)
            if isinstance(node.op, ast.Pow) and isinstance(right, int) and abs(right) > 64:
                raise self.fail("exponent larger than 64", node)
            if isinstance(node.op, ast.Mult) and (isinstance(left, (str, list)) or isinstance(right, (str, list))):
                n = right if isinstance(left, (str, list)) else left
                if isinstance(n, int) and n > MAX_LEN:
                    raise self.fail(f"result longer than {MAX_LEN} items", node)
            try:
                return self.check(_BINOPS[type(node.op)](left, right), node)
            except ZeroDivisionError:
                raise self.fail("division by zero", node) from None
            except TypeError as exc:
                raise self.fail(str(exc), node) from None
        if isinstance(node, ast.UnaryOp):
            value = self.ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.UAdd):
                return +value
            if isinstance(node.op, ast.Not):
                return not value
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = self.ev(v)
                    if not result:
                        return result
                return result
            for v in node.values:
                result = self.ev(v)
                if result:
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self.ev(node.left)
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self.ev(comp)
                try:
                    if not _CMPOPS[type(op)](left, right):
                        return False
                except TypeError as exc:
                    raise self.fail(str(exc), node) from None
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.ev(e) for e in node.elts]
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.fail("'**' in a mapping is not allowed", node)
            return {self.ev(k): self.ev(v) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[arg-type]
        if isinstance(node, ast.Subscript):
            base, index = self.ev(node.value), self.ev(node.slice)
            try:
                return base[index]
            except (KeyError, IndexError, TypeError):
                keys = list(base) if isinstance(base, dict) else None
                keys_hint = f"valid keys: {', '.join(map(str, keys))}" if keys is not None else None
                raise self.fail(f"no entry {index!r}", node, hint=keys_hint) from None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = _FUNCS.get(node.func.id)
            if fn is None:
                raise self.fail(f"unknown function '{node.func.id}'", node, hint=did_you_mean(node.func.id, _FUNCS))
            try:
                return self.check(fn(*[self.ev(a) for a in node.args]), node)
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                raise self.fail(str(exc), node) from None
        raise self.fail(
            f"'{type(node).__name__}' syntax is not allowed",
            node,
            hint="expressions allow numbers, strings, parameter names, arithmetic, comparisons, "
            "'a if c else b', lists, mappings, indexing and min/max/int/round/len/ceil_div",
        )


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """Parse once per distinct text: a block instantiated 10,000 times evaluates the same strings."""
    return ast.parse(text.strip(), mode="eval")


def evaluate(text: str, env: Mapping[str, Any], loc: Loc) -> Any:
    """Evaluate one expression string against the parameters in ``env``."""
    if len(text) > 2000:
        raise SpecError("expression longer than 2000 characters", loc)
    try:
        tree = _parse(text)
    except SyntaxError:
        raise SpecError(
            f"in expression '{text}': invalid syntax",
            loc,
            hint="write Python-like arithmetic, e.g. '2 * n + 1'; quote string literals",
        ) from None
    except (ValueError, MemoryError, RecursionError):
        raise SpecError(f"in expression '{text}': cannot be parsed", loc) from None
    try:
        return _Eval(text, env, loc).ev(tree)
    except RecursionError:
        raise SpecError(f"in expression '{text}': nested too deeply", loc) from None


def interpolate(text: str, env: Mapping[str, Any], loc: Loc) -> Any:
    """Resolve a string field: ``${expr}`` as the whole value yields the expression's value;
    ``${expr}`` inside a longer string is substituted as text; anything else is a literal."""
    if "${" not in text:
        return text
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}") and stripped.count("${") == 1:
        return evaluate(stripped[2:-1], env, loc)
    out: list[str] = []
    rest = text
    while "${" in rest:
        head, _, tail = rest.partition("${")
        expr, sep, rest = tail.partition("}")
        if not sep:
            raise SpecError(f"unclosed '${{' in '{text}'", loc, hint="write ${name} or ${expression}")
        out.append(head)
        out.append(str(evaluate(expr, env, loc)))
    out.append(rest)
    return "".join(out)
