"""Identifiers for generated code: one allocator (:class:`Namespace`) for every name the emitter
makes up, class names from spec names, and the check that no layer name can shadow a
torch.nn.Module attribute."""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable

from rescomp.errors import SpecError
from rescomp.ir import Container, Node

# torch.nn.Module's public attributes (torch 2.13): a layer with one of these names would replace a
# method of the module that holds it, so it is refused. Names starting with '_' are refused as well.
TORCH_MODULE_ATTRS = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)

#: names generated code relies on: a parameter or local variable with one of these names would
#: shadow what the code means (``nn.Conv2d``, ``super().__init__()``, ``torch.cat``)
RESERVED = frozenset({"self", "x", "nn", "torch", "super", "OrderedDict"}) | frozenset(dir(builtins))

_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "vgg": "VGG", "preact": "PreAct", "cifar": "Cifar"}
_ILLEGAL = re.compile(r"[^0-9A-Za-z_]+")
_ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")


class Namespace:
    """One scope of generated identifiers (module-level class names, one ``__init__``'s parameters,
    one ``forward``'s locals), after torch.fx's ``_Namespace``: every name it hands out is a legal
    identifier, unique in the scope, and clear of :data:`RESERVED`, keywords, dunder names and the
    names given in ``reserved`` (for instance the class names, in a method's scope).

    ``create`` turns a candidate into such a name: illegal characters become ``_``, a leading digit
    gets a ``_`` prefix, a reserved word or keyword gets a ``_`` suffix (``self`` -> ``self_``), a
    dunder name loses its underscores (``__class__`` -> ``class_``), and a taken name is numbered
    (``conv1_stride_2``). ``claim`` takes an exact name that must be free (``x``, an attribute).
    """

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self._reserved = RESERVED | frozenset(reserved)
        self._used: set[str] = set()
        self._count: dict[str, int] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._used

    def child(self) -> Namespace:
        """A namespace for an inner scope: clear of every name this one holds or keeps clear of."""
        return Namespace(self._reserved | self._used)

    def claim(self, name: str) -> str:
        """Take ``name`` exactly; it must be a legal identifier that is still free."""
        if not name.isidentifier() or keyword.iskeyword(name) or name in self._used:
            raise AssertionError(f"cannot claim the identifier {name!r}")  # a bug in the caller
        self._used.add(name)
        return name

    def create(self, candidate: str) -> str:
        """A fresh legal identifier as close to ``candidate`` as the rules allow."""
        name = _ILLEGAL.sub("_", candidate)
        if name.startswith("__"):
            name = name.strip("_")  # dunder and class-private (name-mangled) names
        if not name:
            name = "_unnamed"
        if name[0].isdigit():
            name = "_" + name
        if name in self._reserved or keyword.iskeyword(name) or keyword.issoftkeyword(name):
            name += "_"
        base, out = name, name
        k = self._count.get(base, 1)
        while out in self._used or out in self._reserved:
            k += 1
            out = f"{base}_{k}"
        self._count[base] = k
        self._used.add(out)
        return out


def check_attribute(name: str, node: Node | Container | None = None) -> str:
    """A module attribute name from the spec, or a located error if torch would misread it.

    An identifier, or identifier characters joined by single hyphens (torchvision's RegNet
    ``block1-0``): torch takes any name without a '.' through ``add_module``, and the emitter writes a
    name that is not an identifier with ``add_module("block1-0", ...)`` and ``getattr(self, ...)``."""
    where = node.loc if node is not None else None
    if not _ATTRIBUTE.fullmatch(name) or keyword.iskeyword(name):
        raise SpecError(f"layer name '{name}' is not a valid module attribute name", where)
    if name.startswith("_") or name in TORCH_MODULE_ATTRS:
        raise SpecError(
            f"layer name '{name}' clashes with torch.nn.Module.{name}",
            where,
            node=node.name if node is not None else None,
            hint="rename the layer; names starting with '_' and nn.Module's attributes are reserved",
        )
    return name


def class_name(name: str, names: Namespace, suffix: str = "") -> str:
    """'resnet50' -> 'ResNet50', 'resnext50_32x4d' -> 'ResNeXt50_32x4d', 'bottleneck' -> 'Bottleneck',
    made unique in the module's namespace ``names``."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    out = ""
    for part in parts:
        head = re.match(r"[A-Za-z]+", part)
        if head:
            word = head.group(0)
            out += _WORDS.get(word.lower(), word[:1].upper() + word[1:]) + part[len(word) :]
        else:
            out += ("_" if out else "") + part
    if not out or not out[0].isalpha():
        out = "Net" + out
    if suffix and not out.lower().endswith(suffix.lower()):
        out += suffix
    return names.create(out)
