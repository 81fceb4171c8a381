"""Identifiers for generated code: class names from spec names, and checks that no spec name can
shadow a torch.nn.Module attribute or a name the generated code relies on."""

from __future__ import annotations

import builtins
import keyword
import re

from rescomp.errors import SpecError
from rescomp.ir import Node

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

# names the generated forward() uses itself
RESERVED_VARS = frozenset({"self", "x", "out", "identity", "torch", "nn"}) | frozenset(dir(builtins))

_WORDS = {"resnet": "ResNet", "resnext": "ResNeXt", "vgg": "VGG", "preact": "PreAct", "cifar": "Cifar"}


def check_attribute(name: str, node: Node | None = None) -> str:
    """A module attribute name from the spec, or a located error if torch would misread it."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or keyword.iskeyword(name):
        raise SpecError(f"layer name '{name}' is not a Python identifier", node.loc if node else None)
    if name.startswith("_") or name in TORCH_MODULE_ATTRS:
        raise SpecError(
            f"layer name '{name}' clashes with torch.nn.Module.{name}",
            node.loc if node else None,
            node=node.name if node else None,
            hint="rename the layer; names starting with '_' and nn.Module's attributes are reserved",
        )
    return name


def variable(name: str, taken: set[str]) -> str:
    """A local variable for a layer's output in forward(): the layer's name unless it is reserved."""
    base = name if name not in RESERVED_VARS and not keyword.iskeyword(name) else f"{name}_"
    out, k = base, 2
    while out in taken or out in RESERVED_VARS:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def class_name(name: str, taken: set[str], suffix: str = "") -> str:
    """'resnet50' -> 'ResNet50', 'resnext50_32x4d' -> 'ResNeXt50_32x4d', 'bottleneck' -> 'Bottleneck'."""
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
    base, k = out, 2
    while out in taken or out in RESERVED_VARS or keyword.iskeyword(out) or out == "PadShortcut":
        out, k = f"{base}{k}", k + 1
    taken.add(out)
    return out
