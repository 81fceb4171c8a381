"""Scopes and naming: how the lowering names the layers the spec leaves unnamed, and resolves the
names in ``inputs``.

A scope is the inside of one container of the module tree. In a ``seq`` or ``stage`` an unnamed
child is named by its position among the container's children (``0``, ``1``, ...), as in
``nn.Sequential``; elsewhere by its op and a counter (``relu1``, ``relu2``). Explicit names may hold
``${EXPR}`` (resolved by the builder before they reach :meth:`Scope.local`); generated names keep
clear of the literal explicit names of the scope only, since a ``${...}`` name is known when built. Naming is O(1)
amortised per layer: the smallest free counter of a base never decreases, so it is kept per base.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.ir import Container
from rescomp.spec.model import BlockItem, Item, OpItem, RepeatItem, SeqItem, StageItem, is_template


@dataclass
class Scope:
    """The inside of ``box`` while its children are lowered: the evaluation environment, the value it
    reads (``input``), the latest value (``last``) and the local names given so far."""

    box: Container
    env: Mapping[str, Any]
    input: str
    last: str
    reserved: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)  # local name -> the node name it stands for
    _next: dict[str, int] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.box.prefix()

    @property
    def indexed(self) -> bool:
        """A seq or stage: unnamed children are named by position."""
        return self.box.kind in ("seq", "stage")

    def local(self, explicit: str | None, base: str, loc: Loc) -> str:
        """The local name of the next child: ``explicit`` if given (unique in the scope), else a
        generated one that no explicit name of the scope can take later."""
        if explicit is not None:
            if explicit in self.names:
                raise SpecError(
                    f"duplicate name '{explicit}' in this scope",
                    loc,
                    hint="names must be unique per scope; inside 'repeat' leave layers unnamed, "
                    "or bind an 'index' and use it in the name, e.g. name: \"layer${i + 1}\"",
                )
            return explicit
        if self.indexed:
            return str(len(self.box.children))
        k = self._next.get(base, 1)
        while f"{base}{k}" in self.names or f"{base}{k}" in self.reserved:
            k += 1
        self._next[base] = k + 1
        return f"{base}{k}"

    def resolve(self, ref: str, has_node: Any, loc: Loc) -> str:
        """The node name an ``inputs`` entry stands for."""
        if ref == "input":
            return self.input
        if ref in self.names:
            return self.names[ref]
        if has_node(self.prefix + ref):
            return self.prefix + ref
        if ref in self.reserved:
            raise SpecError(
                f"layer '{ref}' is defined after the layer that reads it",
                loc,
                hint="inputs must name earlier layers; a network is acyclic",
            )
        raise SpecError(
            f"unknown layer '{ref}' in 'inputs'",
            loc,
            hint=did_you_mean(ref, [*self.names, "input"]) or "only earlier layers of the same scope can be inputs",
        )


def explicit_names(items: tuple[Item, ...]) -> frozenset[str]:
    """The names items give themselves (through ``repeat`` too): generated names keep clear of them."""
    names: set[str] = set()
    stack = list(items)
    while stack:
        it = stack.pop()
        if isinstance(it, (StageItem, SeqItem, OpItem, BlockItem)):
            if it.name is not None and not is_template(it.name):  # a ${...} name is known only when built
                names.add(it.name)
        elif isinstance(it, RepeatItem):
            stack.extend(it.layers)
    return frozenset(names)
