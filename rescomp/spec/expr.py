"""A tiny, safe expression language for spec values: ``2 * n``, ``width * 4``,
``stride if stride_in == '1x1' else 1``, ``{18: [2, 2, 2, 2]}[depth][0]``.

Expressions are parsed with :mod:`ast` and interpreted node by node over a whitelist; nothing is ever
passed to ``eval``. Names resolve only to spec parameters.

Every value is bounded, and bounded *before* it is built: integers and floats stay within
``MAX_INT`` in magnitude (floats also finite), and a string, list or mapping holds at most
``MAX_LEN`` items counted through its nesting (:func:`weight`). Operations that can grow a value
(``*``, ``+``, ``**``, ``round``, ``int`` of a string) estimate the result from their operands
first; string formatting with ``%`` is refused. Any other failure of an operation (a type error, an
overflow) becomes a :class:`SpecError` at the expression's location, so no Python exception escapes.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from collections.abc import Mapping
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean

MAX_INT = 10**18  # beyond any sane size; keeps '10 ** 10 ** 10' from hanging the evaluator
MAX_LEN = 10_000  # most items (characters, list items, through nesting) an expression's value may hold
MAX_EXPONENT = 64  # largest exponent of '**' and largest |ndigits| of round()
MAX_TEXT = 2000  # longest expression text
MAX_INT_STRING = 64  # longest string int() converts (a number within MAX_INT needs 20 characters)

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
    "ceil_div": lambda a, b: _ceil_div(a, b),
    "ceil": lambda x: _rounded(math.ceil, "ceil", x),
    "floor": lambda x: _rounded(math.floor, "floor", x),
    "make_divisible": lambda *a: make_divisible(*a),
    "log": lambda x: _log(x),
}


def _ceil_div(a: Any, b: Any) -> Any:
    if not all(isinstance(x, (int, float)) for x in (a, b)):
        raise TypeError(f"ceil_div() needs numbers, got {_kind(a)} and {_kind(b)}")
    return -(-a // b)


def _log(x: Any) -> float:
    """The natural logarithm of a positive number (math.log), as RegNet's width quantization uses it."""
    if not _number(x):
        raise TypeError(f"log() needs a number, got {_kind(x)}")
    if x <= 0:
        raise ValueError(f"log() needs a positive number, got {x!r}")
    return math.log(x)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rounded(fn: Any, name: str, x: Any) -> int:
    """``ceil(x)`` or ``floor(x)`` of a number, as an integer (math.ceil and math.floor)."""
    if not _number(x):
        raise TypeError(f"{name}() needs a number, got {_kind(x)}")
    out: int = fn(x)
    return out


def make_divisible(v: Any, divisor: Any, min_value: Any = None) -> int:
    """torchvision's ``_make_divisible`` (torchvision/models/_utils.py), exactly: the multiple of
    ``divisor`` nearest to ``v`` (halves up), at least ``min_value`` (default ``divisor``), and one
    ``divisor`` more where rounding down lost more than 10 % of ``v``."""
    if not _number(v):
        raise TypeError(f"make_divisible() needs a number, got {_kind(v)}")
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 1:
        raise ValueError(f"make_divisible() needs a positive integer divisor, got {divisor!r}")
    if min_value is not None and (not isinstance(min_value, int) or isinstance(min_value, bool)):
        raise TypeError(f"make_divisible() needs an integer min_value, got {min_value!r}")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


_NESTED = frozenset({str, list, tuple, dict})
_MEMO: dict[int, tuple[Any, int]] = {}  # id -> (the value, kept alive so its id is not reused; its weight)


def weight(value: Any) -> int:
    """How many items a value holds, through its nesting: a string counts its characters, a list or
    mapping its entries plus the weight of each. Scalars weigh nothing.

    A spec evaluates the same parameter lists once per block instance, so the weight of a large
    container is remembered by identity: repeated use costs a lookup, not a walk."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, (list, tuple, dict)):
        return 0
    if len(value) <= 16:
        return _walk(value)
    hit = _MEMO.get(id(value))
    if hit is not None and hit[0] is value:
        return hit[1]
    out = _walk(value)
    if len(_MEMO) >= 4096:
        _MEMO.clear()
    _MEMO[id(value)] = (value, out)
    return out


def _walk(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(weight(k) + weight(v) for k, v in value.items())
    if _NESTED.isdisjoint(map(type, value)):  # flat: no per-item Python work
        return len(value)
    return len(value) + sum(weight(v) for v in value)


def bound_problem(value: Any) -> str | None:
    """Why ``value`` breaks the documented bounds (None if it does not). Containers are checked through
    their nesting with a budget, so a huge value is refused without being walked."""
    budget = [MAX_LEN]

    def visit(v: Any) -> str | None:
        if isinstance(v, bool) or v is None:
            return None
        if isinstance(v, int):
            return f"value exceeds {MAX_INT:.0e}" if abs(v) > MAX_INT else None
        if isinstance(v, float):
            if not math.isfinite(v):
                return f"value {v} is not a finite number"
            return f"value exceeds {MAX_INT:.0e}" if abs(v) > MAX_INT else None
        if isinstance(v, str):
            budget[0] -= len(v)
            return f"value longer than {MAX_LEN:,} items" if budget[0] < 0 else None
        if isinstance(v, (list, tuple, dict)):
            budget[0] -= len(v)
            if budget[0] < 0:
                return f"value longer than {MAX_LEN:,} items"
            items = [x for kv in v.items() for x in kv] if isinstance(v, dict) else v
            for x in items:
                problem = visit(x)
                if problem:
                    return problem
            return None
        return f"a {type(v).__name__} value is not allowed"

    return visit(value)


def check_bounds(value: Any, loc: Loc, what: str) -> Any:
    """Refuse a value (a literal, an override) that breaks the bounds expressions obey."""
    problem = bound_problem(value)
    if problem:
        raise SpecError(f"{what}: {problem}", loc, hint="sizes this large are not real networks")
    return value


def _is_seq(value: Any) -> bool:
    return isinstance(value, (str, list, tuple))


def _is_count(value: Any) -> bool:
    return isinstance(value, int)  # bool included: 'x' * True is 'x'


def _describe(exc: BaseException) -> str:
    """A one-line reason for an operation's failure."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, OverflowError):
        return "result out of range"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


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

    def check(self, value: Any, node: ast.AST, size: int | None = None) -> Any:
        """Refuse a result outside the bounds; ``size`` is a container's weight where the caller knew it."""
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                raise self.fail(f"value exceeds {MAX_INT:.0e}", node, hint="sizes this large are not real networks")
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("result is not a finite number", node)
            if abs(value) > MAX_INT:
                raise self.fail(f"value exceeds {MAX_INT:.0e}", node, hint="sizes this large are not real networks")
            return value
        if isinstance(value, (str, list, tuple, dict)):
            self.limit(weight(value) if size is None else size, node)
            return value
        raise self.fail(f"a {type(value).__name__} result is not allowed", node, hint="results are real numbers")

    def limit(self, size: int, node: ast.AST) -> None:
        if size > MAX_LEN:
            raise self.fail(f"result longer than {MAX_LEN:,} items", node, hint="no spec value needs this many")

    def ev(self, node: ast.AST) -> Any:
        try:
            return self._ev(node)
        except SpecError:
            raise
        except (
            ArithmeticError,
            TypeError,
            ValueError,
            LookupError,
            AttributeError,
            RecursionError,
            MemoryError,
        ) as exc:
            raise self.fail(_describe(exc), node) from None

    def _ev(self, node: ast.AST) -> Any:
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
            size = self.precheck(node, left, right)
            try:
                return self.check(_BINOPS[type(node.op)](left, right), node, size)
            except ZeroDivisionError:
                raise self.fail("division by zero", node) from None
            except TypeError as exc:
                raise self.fail(str(exc), node) from None
        if isinstance(node, ast.UnaryOp):
            value = self.ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                if not isinstance(value, (int, float)):
                    raise self.fail(
                        f"'{'-' if isinstance(node.op, ast.USub) else '+'}' needs a number, got {_kind(value)}", node
                    )
                return self.check(-value if isinstance(node.op, ast.USub) else +value, node)
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
            items = [self.ev(e) for e in node.elts]
            return self.check(items, node, len(items) + sum(weight(v) for v in items))
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise self.fail("'**' in a mapping is not allowed", node)
            out = {}
            for k, v in zip(node.keys, node.values, strict=True):
                key = self.ev(k)  # type: ignore[arg-type]
                if isinstance(key, (list, dict)):
                    raise self.fail(f"a mapping key must be a number, string or boolean, got {_kind(key)}", k)
                out[key] = self.ev(v)
            return self.check(out, node)
        if isinstance(node, ast.Subscript):
            base, index = self.ev(node.value), self.ev(node.slice)
            try:
                return base[index]
            except (KeyError, IndexError, TypeError):
                keys = list(base) if isinstance(base, dict) else None
                keys_hint = f"valid keys: {_short(', '.join(map(str, keys)))}" if keys is not None else None
                raise self.fail(f"no entry {_short(repr(index))}", node, hint=keys_hint) from None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            fn = _FUNCS.get(node.func.id)
            if fn is None:
                raise self.fail(f"unknown function '{node.func.id}'", node, hint=did_you_mean(node.func.id, _FUNCS))
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise self.fail("'*' arguments are not allowed", node)
            args = [self.ev(a) for a in node.args]
            self.precall(node, node.func.id, args)
            try:
                return self.check(fn(*args), node)
            except (TypeError, ValueError, ZeroDivisionError) as exc:  # named as the spec calls it
                raise self.fail(_describe(exc).replace("<lambda>()", f"{node.func.id}()"), node) from None
        raise self.fail(
            f"'{type(node).__name__}' syntax is not allowed",
            node,
            hint="expressions allow numbers, strings, parameter names, arithmetic, comparisons, "
            "'a if c else b', lists, mappings, indexing and "
            "min/max/int/round/len/ceil_div/ceil/floor/make_divisible/log",
        )

    def precheck(self, node: ast.BinOp, left: Any, right: Any) -> int | None:
        """Refuse an operation whose result would break the bounds, before it is computed.
        Returns the weight a sequence result will have."""
        op = node.op
        if isinstance(op, ast.Pow):
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise self.fail(f"exponent larger than {MAX_EXPONENT}", node)
            if isinstance(left, (int, float)) and isinstance(right, float) and left < 0 and not right.is_integer():
                raise self.fail("a negative number to a fractional power is not a real number", node)
        elif isinstance(op, ast.Mult):
            for seq, count in ((left, right), (right, left)):
                if _is_seq(seq) and _is_count(count):
                    size = weight(seq) * max(count, 0)
                    self.limit(size, node)
                    return size
        elif isinstance(op, ast.Add):
            if _is_seq(left) and _is_seq(right):
                size = weight(left) + weight(right)
                self.limit(size, node)
                return size
        elif isinstance(op, ast.Mod) and isinstance(left, str):
            raise self.fail(
                "'%' formatting of strings is not allowed", node, hint="substitute values with ${...} instead"
            )
        return None

    def precall(self, node: ast.Call, name: str, args: list[Any]) -> None:
        """Refuse a call whose result would break the bounds or whose work is unbounded."""
        if name == "round" and len(args) == 2:
            ndigits = args[1]
            if isinstance(ndigits, int) and abs(ndigits) > MAX_EXPONENT:
                raise self.fail(f"round() to more than {MAX_EXPONENT} digits", node)
        if name == "int" and args and isinstance(args[0], str) and len(args[0]) > MAX_INT_STRING:
            raise self.fail(f"int() of a string longer than {MAX_INT_STRING} characters", node)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (None)"
    return f"a {type(value).__name__}"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """Parse once per distinct text: a block instantiated 10,000 times evaluates the same strings."""
    return ast.parse(text.strip(), mode="eval")


def evaluate(text: str, env: Mapping[str, Any], loc: Loc) -> Any:
    """Evaluate one expression string against the parameters in ``env``.

    Any failure is a :class:`SpecError` at ``loc`` (or a column inside the expression)."""
    if len(text) > MAX_TEXT:
        raise SpecError(f"expression longer than {MAX_TEXT} characters", loc)
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
    except SpecError:
        raise
    except RecursionError:
        raise SpecError(f"in expression '{text}': nested too deeply", loc) from None
    except Exception as exc:  # a last line: whatever an operation raised is the expression's fault
        raise SpecError(f"in expression '{text}': {_describe(exc)}", loc) from None


def evaluate_override(text: str, loc: Loc) -> Any:
    """A command-line ``--set`` value: an expression without names (``3``, ``2 * 8``, ``true``,
    ``'B'``, ``[2, 2]``), bounded like any expression. A value that does not parse as one, or that
    names something (``A``, ``none``, ``1x1``, ``1:00``), is the plain string as written."""
    if not text.strip():
        return text
    if len(text) > MAX_TEXT:
        raise SpecError(f"value longer than {MAX_TEXT} characters", loc)
    try:
        tree = _parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return text
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}  # min, round, ...: not names
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
    if names - {"true", "True", "false", "False"}:
        return text
    return evaluate(text, {}, loc)


def interpolate(text: str, env: Mapping[str, Any], loc: Loc) -> Any:
    """Resolve a string field: ``${expr}`` as the whole value yields the expression's value;
    ``${expr}`` inside a longer string is substituted as text; anything else is a literal."""
    if "${" not in text:
        return text
    stripped = text.strip()
    if stripped.startswith("${") and stripped.endswith("}") and stripped.count("${") == 1:
        return evaluate(stripped[2:-1], env, loc)
    out: list[str] = []
    size = 0
    rest = text
    while "${" in rest:
        head, _, tail = rest.partition("${")
        expr, sep, rest = tail.partition("}")
        if not sep:
            raise SpecError(f"unclosed '${{' in '{text}'", loc, hint="write ${name} or ${expression}")
        piece = str(evaluate(expr, env, loc))
        size += len(head) + len(piece)
        if size > MAX_LEN:
            raise SpecError(f"'{text[:60]}...' substitutes to more than {MAX_LEN:,} characters", loc)
        out.append(head)
        out.append(piece)
    out.append(rest)
    return "".join(out)
