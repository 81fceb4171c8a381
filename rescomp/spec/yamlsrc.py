"""Safe YAML loading that remembers where every value came from.

PyYAML composes the document into nodes (which carry line and column), and we build plain Python
containers from them: :class:`LMap` and :class:`LList` are a dict and a list that also remember the
location of each key and item. Only the YAML core schema is accepted: any other tag (``!!python/...``
included) is an error, duplicate keys are an error, and alias expansion is bounded so that a
"billion laughs" document fails fast instead of eating memory.

What is read is bounded too: a spec file must be a regular file (never a FIFO or a device, which are
refused before they are read) of at most ``MAX_FILE_BYTES``; a document may hold at most
``MAX_VALUES`` values, counted on the parser's event stream before any node is built; numeric
scalars are at most ``MAX_NUMBER_TEXT`` characters long and integers are within the expression
language's bound (10^18), whether written in decimal, hex, octal, binary or YAML 1.1 base 60.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from rescomp.errors import Loc, SpecError
from rescomp.spec.expr import MAX_INT

MAX_VALUES = 200_000  # values after alias expansion; real specs have a few hundred
MAX_DEPTH = 64  # nesting depth of mappings and lists
MAX_FILE_BYTES = 8 * 1024 * 1024  # a spec file; real specs are a few kilobytes
MAX_NUMBER_TEXT = 100  # longest int or float scalar; 10^18 needs 19 digits, or 64 in binary
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

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
        # the document itself holds at most MAX_VALUES values (checked on its events by load_yaml),
        # so going past the budget here means aliases or merge keys expanded it
        self.count += 1
        if self.count > MAX_VALUES:
            raise SpecError(
                f"document expands to more than {MAX_VALUES:,} values",
                _loc(self.file, node),
                hint="aliases (*name) and merge keys (<<) are expanded on load; a spec never needs this many",
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
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag in (_INT, _FLOAT) and len(node.value) > MAX_NUMBER_TEXT:
            raise SpecError(
                f"number literal of {len(node.value):,} characters",
                _loc(self.file, node),
                hint=f"numbers in a spec are at most {MAX_INT:.0e}; quote the value if it is a string",
            )
        try:
            value = self._scalars.construct_object(node, deep=True)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:
            raise SpecError(f"cannot read the value {node.value[:40]!r}: {exc}", _loc(self.file, node)) from None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise SpecError(
                f"integer {node.value[:40]} exceeds {MAX_INT:.0e}",
                _loc(self.file, node),
                hint="sizes this large are not real networks"
                + (
                    "; YAML 1.1 reads 'a:b:c' as a base-60 number, quote it if it is a string"
                    if ":" in node.value
                    else ""
                ),
            )
        return value

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


def _position(text: str, index: int, file: str) -> Loc:
    """The line and column of a character index in ``text``."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return Loc(file, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _char_index(text: str, position: int) -> int:
    """libyaml reports a byte offset into the UTF-8 text; the pure-Python reader a character index."""
    if _Loader is getattr(yaml, "CSafeLoader", None):
        return len(text.encode("utf-8", "surrogatepass")[:position].decode("utf-8", "ignore"))
    return position


def _count_values(text: str, file: str) -> None:
    """Refuse a document of more than MAX_VALUES values from the parser's events, before any node is
    built (composing a few million nodes would take a minute and gigabytes)."""
    count = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent, yaml.AliasEvent)):
            count += 1
            if count > MAX_VALUES:
                mark = event.start_mark
                raise SpecError(
                    f"document has more than {MAX_VALUES:,} values",
                    Loc(file, mark.line + 1, mark.column + 1) if mark is not None else Loc(file),
                    hint="real specs have a few hundred; write repeated layers once, with 'repeat' or a stage",
                )


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into located containers; raise :class:`SpecError` on any problem."""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(
            f"document of {len(text):,} characters is larger than the limit of {MAX_FILE_BYTES // 2**20} MiB",
            Loc(file),
            hint="real specs are a few kilobytes",
        )
    try:
        _count_values(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", loc, hint="check indentation and quoting") from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, e.g. NUL: no mark, only an index
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise SpecError(
            f"invalid YAML: unacceptable character {what} ({exc.reason})",
            _position(text, _char_index(text, exc.position), file),
            hint='remove it, or write it as an escape inside double quotes, e.g. "\\t"',
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Loc(file)) from None
    except (RecursionError, MemoryError):
        raise SpecError("invalid YAML: the document is nested too deeply", Loc(file)) from None
    if node is None:
        raise SpecError("the file is empty", Loc(file, 1, 1), hint="a spec needs at least 'name' and 'layers'")
    return _Builder(file).build(node, 0)


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _check_regular(mode: int, path: Path, name: str) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not stat.S_ISREG(mode):
        raise SpecError(
            f"is {_file_kind(mode)}, not a spec file", Loc(name), hint="give the path of a regular .yaml file"
        )


def read_text_file(path: Path, name: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes. The file is opened without blocking
    (a FIFO would wait for a writer forever) and checked on the open descriptor, so a device, a FIFO or a
    directory is refused before anything is read, and no more than ``limit + 1`` bytes are ever read."""
    _check_regular(os.stat(path).st_mode, path, name)  # opening a device can itself have effects
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)  # the path may have been swapped since the stat
        _check_regular(info.st_mode, path, name)
        if info.st_size > limit:
            raise SpecError(
                f"file of {info.st_size:,} bytes is larger than the limit of {limit // 2**20} MiB",
                Loc(name),
                hint="real specs are a few kilobytes",
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:  # the file grew after fstat
        raise SpecError(
            f"file is larger than the limit of {limit // 2**20} MiB", Loc(name), hint="real specs are a few kilobytes"
        )
    return b"".join(chunks).decode("utf-8")


def load_yaml_file(path: Path, display: str | None = None) -> Any:
    """Read and parse a spec file. A missing or unreadable file is a located :class:`SpecError`."""
    name = display or str(path)
    try:
        text = read_text_file(path, name)
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
