"""Safe YAML loading that remembers where every value came from.

PyYAML composes the document into nodes (which carry line and column), and we build plain Python
containers from them: :class:`LMap` and :class:`LList` are a dict and a list that also remember the
location of each key and item. Only the YAML core schema is accepted: any other tag (``!!python/...``
included) is an error, duplicate keys are an error, and alias expansion is bounded so that a
"billion laughs" document fails fast instead of eating memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rescomp.errors import Loc, SpecError

MAX_VALUES = 200_000  # values after alias expansion; real specs have a few hundred
MAX_DEPTH = 64  # nesting depth of mappings and lists

_CORE_TAGS = {"tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}
_MERGE = "tag:yaml.org,2002:merge"

try:  # libyaml is much faster; fall back to the pure-Python loader where it is missing
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


class LMap(dict[str, Any]):
    """A mapping loaded from YAML: ``loc`` is where it starts, ``locs[key]`` where each value is."""

    loc: Loc
    locs: dict[str, Loc]
    key_locs: dict[str, Loc]

    def loc_of(self, key: str) -> Loc:
        return self.locs.get(key, self.loc)


class LList(list[Any]):
    """A sequence loaded from YAML: ``loc`` is where it starts, ``locs[i]`` where each item is."""

    loc: Loc
    locs: list[Loc]

    def loc_of(self, index: int) -> Loc:
        return self.locs[index] if 0 <= index < len(self.locs) else self.loc


def _loc(file: str, node: yaml.Node) -> Loc:
    mark = node.start_mark
    return Loc(file, mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self._scalars = _Loader("")  # only its scalar constructors are used

    def build(self, node: yaml.Node, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise SpecError(
                f"document expands to more than {MAX_VALUES:,} values",
                _loc(self.file, node),
                hint="aliases (*name) are expanded on load; a spec never needs this many",
            )
        if depth > MAX_DEPTH:
            raise SpecError(
                f"nesting deeper than {MAX_DEPTH} levels",
                _loc(self.file, node),
                hint="flatten the spec; use blocks and stages instead of deep nesting",
            )
        if node.tag not in _CORE_TAGS:
            raise SpecError(
                f"YAML tag '{node.tag}' is not allowed",
                _loc(self.file, node),
                hint="specs are plain data: only strings, numbers, booleans, null, maps and lists",
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            out = LList(self.build(item, depth + 1) for item in node.value)
            out.loc = _loc(self.file, node)
            out.locs = [_loc(self.file, item) for item in node.value]
            return out
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, depth: int) -> LMap:
        out = LMap()
        out.loc = _loc(self.file, node)
        out.locs = {}
        out.key_locs = {}
        merged: list[LMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                value = self.build_merge(value_node, depth)
                merged.extend(value)
                continue
            key = self.build(key_node, depth + 1)
            if not isinstance(key, str):
                raise SpecError(
                    f"mapping key {key!r} is not a string",
                    _loc(self.file, key_node),
                    hint="quote the key",
                )
            if key in out:
                raise SpecError(
                    f"duplicate key '{key}'",
                    _loc(self.file, key_node),
                    hint=f"'{key}' is already set at line {out.key_locs[key].line}",
                )
            out[key] = self.build(value_node, depth + 1)
            out.locs[key] = _loc(self.file, value_node)
            out.key_locs[key] = _loc(self.file, key_node)
        for source in merged:  # YAML merge keys: explicit keys win, earlier sources win
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.locs[key] = source.loc_of(key)
                    out.key_locs[key] = source.key_locs.get(key, source.loc)
        return out

    def build_merge(self, node: yaml.Node, depth: int) -> list[LMap]:
        value = self.build(node, depth + 1)
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(s, LMap) for s in sources):
            raise SpecError(
                "a merge key '<<' needs a mapping or a list of mappings",
                _loc(self.file, node),
            )
        return sources


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into located containers; raise :class:`SpecError` on any problem."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", loc, hint="check indentation and quoting") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Loc(file)) from None
    if node is None:
        raise SpecError("the file is empty", Loc(file, 1, 1), hint="a spec needs at least 'name' and 'layers'")
    return _Builder(file).build(node, 0)


def load_yaml_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a spec file. A missing or unreadable file is a located :class:`SpecError`."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            "no such file", Loc(name), hint="give a path to a .yaml spec or a bundled name (rescomp list)"
        ) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", Loc(name)) from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text ({exc.reason})", Loc(name)) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", Loc(name)) from None
    return load_yaml(text, name)
