"""The op reference (docs/ops.md), rendered from the registry: ``scripts/gen_docs.py`` writes it, and
a test fails when the committed file differs from :func:`ops_markdown`."""

from __future__ import annotations

import json
from typing import Any

from rescomp.errors import SpecError
from rescomp.ops.base import CATEGORIES, LAYOUTS, REGISTRY, Attr, OnnxNode, Op

HEADER = "<!-- generated from the op registry (rescomp/ops/) by scripts/gen_docs.py: do not edit -->"


def _default(attr: Attr) -> str:
    if attr.required:
        return "required"
    d = attr.default
    return f"`{json.dumps(list(d) if isinstance(d, tuple) else d)}`"


def _arity(op: Op) -> str:
    lo, hi = op.arity
    if hi is None:
        return f"{lo} or more"
    return "none" if hi == 0 else str(lo) if lo == hi else f"{lo} to {hi}"


def _ordered(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _torch(op: Op) -> str:
    """The torch module(s) or expression the op's examples emit."""
    if op.functional:  # an expression in forward(); its first example shows it
        ex = op.examples[0]
        text = f"expression `{op.torch_expr(op.complete(ex.attrs), [f'x{i}' for i in range(len(ex.inputs))])}`"
    else:
        made = [op.torch_module(op.complete(ex.attrs), ex.inputs) for ex in op.examples]
        text = ", ".join(_ordered([f"`{m[0]}`" for m in made if m is not None]))
    if op.torch_helper is not None:
        text += ", a helper module written into the emitted file"
    return text


def _onnx(op: Op) -> str:
    """The ONNX operators the op's examples emit at its minimum opset."""
    types: list[str] = []
    for ex in op.examples:
        a = op.complete(ex.attrs)
        names = [f"x{i}" for i in range(len(ex.inputs))]
        try:
            emitted = op.onnx(a, ex.inputs, names, "y", op.kind, op.min_opset)
        except SpecError:  # an example ONNX cannot express; not expected, but not the docs' concern
            continue
        types += [f"`{n.op_type}`" for n in emitted if isinstance(n, OnnxNode)]
    text = (", ".join(_ordered(types)) or "none") + f" (opset {op.min_opset}+)"
    return f"{text}; {op.onnx_note}" if op.onnx_note else text


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _example_item(op: Op, attrs: dict[str, Any]) -> str:
    parts = [f"op: {op.kind}"] + [f"{k}: {json.dumps(v)}" for k, v in attrs.items()]
    return "{" + ", ".join(parts) + "}"


def _layouts(op: Op) -> str:
    """The input layouts the op takes (with attributes, where they decide it: layer_norm's 'over')."""
    if op.layouts is None and type(op).accepts is Op.accepts:
        return "any"
    seen: dict[tuple[str, ...], None] = {}
    for ex in op.examples:
        accepted = op.accepts(op.complete(ex.attrs))
        if accepted is not None:
            seen[accepted] = None
    if len(seen) == 1:
        return ", ".join(f"`{x}`" for x in next(iter(seen)))
    return " or ".join(", ".join(f"`{x}`" for x in k) for k in seen) + ", by its attributes"


def _section(op: Op) -> list[str]:
    lines = [f"## `{op.kind}`", "", op.doc, ""]
    if not op.public:
        lines += ["Internal: created by the lowering, not written in specs.", ""]
    rows = [
        ("category", op.category + (" (counts towards the depth)" if op.weighted else "")),
        ("inputs", _arity(op)),
        ("layouts taken", _layouts(op)),
        ("FLOPs counted", op.flops_rule),
        ("census terms", ", ".join(f"`{t}`: {d}" for t, d in op.census_terms.items()) or "none"),
        ("PyTorch", _torch(op)),
        ("ONNX", _onnx(op)),
        ("TensorRT", op.tensorrt_layer or "no mapping"),
    ]
    lines += ["| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), ""]
    if op.attrs:
        lines += ["| attribute | type | default | range | meaning |", "| --- | --- | --- | --- | --- |"]
        for name, attr in op.attrs.items():
            rng = attr.range_text() + (", finite" if attr.type == "float" else "")
            null = " (null allowed)" if attr.optional or (not attr.required and attr.default is None) else ""
            lines.append(f"| `{name}` | {attr.type} | {_default(attr)}{null} | {rng} | {attr.doc} |")
        lines.append("")
    lines += ["Examples (input and output shapes include the batch):", ""]
    for ex in op.examples:
        out = op.shape(op.complete(ex.attrs), ex.inputs)
        ins = ", ".join(_shape(s) for s in ex.inputs) or "no input"
        note = f" ({ex.note})" if ex.note else ""
        item = _example_item(op, ex.attrs) if op.public else f"`{op.kind}` node"
        lines.append(f"- `{item}` on {ins} -> {_shape(out)}{note}" if op.public else f"- {item} -> {_shape(out)}{note}")
    lines.append("")
    return lines


def ops_markdown() -> str:
    """docs/ops.md: a summary table, then one section per op, in registry order."""
    lines = [
        HEADER,
        "",
        "# Ops",
        "",
        "Every op rescomp knows, as its registry holds it (`rescomp/ops/`, one module per op or op family).",
        "FLOPs follow docs/conventions.md; census terms are what `rescomp crosscheck` counts to explain",
        "the peer tools' totals; ONNX operators are those the op's examples emit. Categories set the",
        "colours of the architecture drawings.",
        "",
        "| op | category | weighted | FLOPs counted | PyTorch | ONNX | TensorRT |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, op in REGISTRY.items():
        weighted = "yes" if op.weighted else "no"
        torch = _torch(op).split(", a helper")[0]
        onnx = _onnx(op).split(" (opset")[0]
        trt = op.tensorrt_layer or "no mapping"
        lines.append(
            f"| [`{kind}`](#{kind}) | {op.category} | {weighted} | {op.flops_rule} | {torch} | {onnx} | {trt} |"
        )
    lines += ["", "Categories: " + ", ".join(f"{c} (`{CATEGORIES[c]}`)" for c in CATEGORIES) + ".", ""]
    lines += ["Layouts: " + "; ".join(f"`{k}` {v}" for k, v in LAYOUTS.items()) + ".", ""]
    for op in REGISTRY.values():
        lines += _section(op)
    return "\n".join(lines).rstrip("\n") + "\n"
