"""Shortcut planning: which branch a residual block adds to its body, under the spec's policy.

One function decides, from the policy and the shapes of the block's input and body, whether the
shortcut is the identity, the paper's option A (subsample and zero-pad channels) or a projection
(1x1 convolution, optionally with BN: options B and C). The local names it gives the shortcut and
the residual add are the constants below; the lowering reserves them in every block scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from rescomp.errors import SpecError
from rescomp.ir import Shape
from rescomp.ops.base import layout_words

#: local name of a projection shortcut (a container holding conv ``0`` and BN ``1``), as torchvision
DOWNSAMPLE = "downsample"
#: local name of an option-A shortcut node
PAD = "shortcut"
#: local name of the node adding the shortcut to the body
RESIDUAL = "add"
RESERVED = frozenset({DOWNSAMPLE, PAD, RESIDUAL})


@dataclass(frozen=True)
class Plan:
    """What to build: ``kind`` is ``identity``, ``pad`` (option A) or ``projection``; ``stride`` the
    spatial subsampling and ``out`` the channels it produces."""

    kind: str
    stride: int = 1
    out: int = 0


def plan_shortcut(
    policy: str, block: str, src: Shape, body: Shape, layouts: tuple[str, str] = ("NCHW", "NCHW")
) -> Plan:
    """The shortcut from a block input of shape ``src`` to a body output of shape ``body``, laid out
    as ``layouts`` (input, body).

    Option B (and A) keep the identity where the shapes agree; C always projects. Where they differ,
    the stride is the integer factor that maps the input's size onto the body's.
    """
    if src == body and layouts[0] == layouts[1] and policy != "C":
        return Plan("identity")
    if layouts != ("NCHW", "NCHW"):
        if src == body and layouts[0] == layouts[1]:  # option C on tokens or a channels-last map
            what = f"shortcut C (always a projection), but its input is {layout_words(layouts[0], src)}"
        else:
            what = f"a shortcut from {layout_words(layouts[0], src)} to {layout_words(layouts[1], body)}"
        raise SpecError(
            f"block '{block}' needs {what}; projection and padding shortcuts work only on feature maps (N, C, H, W)",
            hint="keep the block's shape and layout (an identity residual), or set residual: false and add explicitly",
        )
    if len(src) != 4 or len(body) != 4:
        raise SpecError(f"residual shortcut cannot map {src} to {body}")
    stride = _stride_between(src[2:], body[2:])
    if stride is None:
        raise SpecError(
            f"block '{block}' changes the feature map from {src[2]}x{src[3]} to {body[2]}x{body[3]}, "
            "which no strided shortcut reproduces",
            hint="residual blocks may keep the size or divide it by an integer stride",
        )
    return Plan("pad" if policy == "A" else "projection", stride, body[1])


def _stride_between(a: tuple[int, ...], b: tuple[int, ...]) -> int | None:
    if b[0] < 1 or b[1] < 1 or b[0] > a[0]:
        return None
    s = max(1, round(a[0] / b[0]))
    for cand in (s, s + 1, s - 1):
        if cand >= 1 and all(-(-x // cand) == y for x, y in zip(a, b, strict=True)):
            return cand
    return None
