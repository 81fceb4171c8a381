"""``analyze``: compose the passes into one frozen record that the CLI and reports consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rescomp.ir import Container, Graph
from rescomp.ops import Shape
from rescomp.passes.counts import count_buffers, count_flops, count_macs, count_params
from rescomp.passes.depth import count_depth
from rescomp.passes.memory import estimate_memory
from rescomp.passes.receptive import receptive_fields
from rescomp.passes.roofline import GPUS, roofline
from rescomp.spec.model import DTYPES

SCHEMA = "rescomp.analysis/1"
CONVENTIONS = {
    "macs": "multiply-accumulates of conv, linear and attention layers (every matrix product), bias excluded "
    "(the ResNet paper's 'FLOPs', torchvision's 'GFLOPS', fvcore's 'flops')",
    "flops": "2 per MAC, plus bias adds, BN (2/element), ReLU (1/element), residual adds and pooling; "
    "see docs/conventions.md",
    "params": "trainable parameters; BN running statistics are counted under 'buffers'",
    "activation_bytes_peak": "most activation bytes alive at once in inference, by liveness over the schedule",
    "receptive_field": "input rows one output element can see (height axis, theoretical, padding included)",
    "roofline": "ESTIMATE, not a measurement: per layer max(FLOPs / peak, bytes / bandwidth) in fp16, "
    "tensor-core peak for conv and linear, summed over layers with no fusion or launch overhead",
}


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    op: str
    output: Shape
    params: int
    buffers: int
    macs: int
    flops: int
    activation_bytes: int
    receptive_field: int
    intensity: float
    roofline_s: dict[str, float]
    memory_bound: dict[str, bool]


@dataclass(frozen=True)
class Stage:
    """Totals over the nodes whose name starts with one top-level component (``layer2``, ``fc``)."""

    name: str
    output: Shape
    layers: int
    params: int
    macs: int
    flops: int
    receptive_field: int


@dataclass(frozen=True)
class Analysis:
    name: str
    settings: dict[str, Any]
    dtype: str
    input: Shape
    output: Shape
    depth: int
    params: int
    buffers: int
    macs: int
    flops: int
    weights_bytes: int
    activation_bytes_total: int
    activation_bytes_peak: int
    activation_peak_at: str
    layers: tuple[Layer, ...]
    #: layer name -> the top-level child of the module tree it belongs to
    stage_of: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def batch(self) -> int:
        return self.input[0]

    def weights_bytes_by_dtype(self) -> dict[str, int]:
        return {dtype: self.params * size for dtype, size in DTYPES.items()}

    def stages(self) -> tuple[Stage, ...]:
        """Totals per top-level child of the module tree (a stage, a seq, a block or a single layer),
        in model order; ``stage_of`` maps every layer to its top-level child."""
        groups: dict[str, list[Layer]] = {}
        for layer in self.layers:
            top = self.stage_of.get(layer.name)
            if top is not None:
                groups.setdefault(top, []).append(layer)
        return tuple(
            Stage(
                k,
                v[-1].output,
                len(v),
                sum(x.params for x in v),
                sum(x.macs for x in v),
                sum(x.flops for x in v),
                v[-1].receptive_field,
            )
            for k, v in groups.items()
        )

    @property
    def receptive_field(self) -> int:
        return self.layers[-1].receptive_field

    def roofline_ms(self) -> dict[str, float]:
        """Estimated inference time per GPU profile (see CONVENTIONS['roofline'])."""
        return {g.name: sum(x.roofline_s[g.name] for x in self.layers) * 1000 for g in GPUS}

    def to_json(self, layers: bool = True) -> dict[str, Any]:
        """The model's entry in the ``rescomp.analysis/1`` JSON document (``layers=False``: without the
        per-layer list)."""
        times = self.roofline_ms()
        return {
            "name": self.name,
            "settings": self.settings,
            "dtype": self.dtype,
            "input": list(self.input),
            "output": list(self.output),
            "depth": self.depth,
            "params": self.params,
            "buffers": self.buffers,
            "macs": self.macs,
            "flops": self.flops,
            "weights_bytes": self.weights_bytes,
            "weights_bytes_by_dtype": self.weights_bytes_by_dtype(),
            "activation_bytes_total": self.activation_bytes_total,
            "activation_bytes_peak": self.activation_bytes_peak,
            "activation_peak_at": self.activation_peak_at,
            "receptive_field": self.receptive_field,
            "roofline": {
                "estimate": CONVENTIONS["roofline"],
                "precision": "fp16",
                "gpus": {
                    g.name: {
                        "time_ms": round(times[g.name], 6),
                        "memory_bound_layers": sum(x.memory_bound[g.name] for x in self.layers[1:]),  # not the input
                        "tensor_tflops": g.tensor_tflops,
                        "vector_tflops": g.vector_tflops,
                        "bandwidth_gbs": g.bandwidth_gbs,
                        "source": g.source,
                    }
                    for g in GPUS
                },
            },
            "stages": [
                {
                    "name": s.name,
                    "output": list(s.output),
                    "layers": s.layers,
                    "params": s.params,
                    "macs": s.macs,
                    "flops": s.flops,
                    "receptive_field": s.receptive_field,
                }
                for s in self.stages()
            ],
            **({"layers": [_layer_json(x) for x in self.layers]} if layers else {}),
        }


def analyze(graph: Graph) -> Analysis:
    """Run every analysis pass over a linted graph."""
    shapes = graph.shapes()
    params = count_params(graph, shapes)
    buffers = count_buffers(graph, shapes)
    macs = count_macs(graph, shapes)
    flops = count_flops(graph, shapes)
    itemsize = DTYPES[graph.dtype]
    memory = estimate_memory(graph, shapes, itemsize)
    fields = receptive_fields(graph, shapes)
    roof = roofline(graph, shapes, flops, params)
    layers = tuple(
        Layer(
            n.name,
            n.op,
            shapes[n.name],
            params[n.name],
            buffers[n.name],
            macs[n.name],
            flops[n.name],
            _numel(shapes[n.name]) * itemsize,
            fields[n.name],
            roof[n.name].intensity,
            roof[n.name].seconds,
            roof[n.name].memory_bound,
        )
        for n in graph
    )
    assert graph.output is not None
    total_params = sum(params.values())
    return Analysis(
        name=graph.name,
        settings=dict(graph.params),
        dtype=graph.dtype,
        input=shapes[graph.input],
        output=shapes[graph.output],
        depth=count_depth(graph),
        params=total_params,
        buffers=sum(buffers.values()),
        macs=sum(macs.values()),
        flops=sum(flops.values()),
        weights_bytes=total_params * itemsize,
        activation_bytes_total=memory.total_bytes,
        activation_bytes_peak=memory.peak_bytes,
        activation_peak_at=memory.peak_at,
        layers=layers,
        stage_of=_stage_of(graph),
    )


def _stage_of(graph: Graph) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in graph.root.children:
        if isinstance(child, Container):
            out.update((n.name, child.local) for n in child.nodes())
        else:
            out[child.name] = child.local
    return out


def _numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _layer_json(x: Layer) -> dict[str, Any]:
    return {
        "name": x.name,
        "op": x.op,
        "output": list(x.output),
        "params": x.params,
        "buffers": x.buffers,
        "macs": x.macs,
        "flops": x.flops,
        "receptive_field": x.receptive_field,
        "arithmetic_intensity": round(x.intensity, 4),
        "roofline_us": {g: round(t * 1e6, 4) for g, t in x.roofline_s.items()},
    }


def write_document(analyses: list[Analysis], out: Any) -> None:
    """Stream the ``--json`` document to a text file: the same data as :func:`to_document`, with one
    compact line per stage and per layer, written as it is made (a 10,000-block net never holds the
    whole text, and the big lists never go through the indenting encoder, which is pure Python)."""
    import json

    out.write('{\n  "schema": ' + json.dumps(SCHEMA) + ',\n  "conventions": ')
    out.write(json.dumps(CONVENTIONS, indent=2).replace("\n", "\n  ") + ',\n  "models": [')
    for i, a in enumerate(analyses):
        model = a.to_json(layers=False)
        stages = model.pop("stages")
        head = json.dumps(model, indent=2).replace("\n", "\n    ")
        out.write(("," if i else "") + "\n    " + head[:-6] + ',\n      "stages": [')
        for j, stage in enumerate(stages):
            out.write(("," if j else "") + "\n        " + json.dumps(stage))
        out.write('\n      ],\n      "layers": [')
        for j, layer in enumerate(a.layers):
            out.write(("," if j else "") + "\n        " + json.dumps(_layer_json(layer)))
        out.write("\n      ]\n    }")
    out.write("\n  ]\n}\n")


def to_document(analyses: list[Analysis]) -> dict[str, Any]:
    """The whole ``--json`` document for one or more models."""
    return {"schema": SCHEMA, "conventions": CONVENTIONS, "models": [a.to_json() for a in analyses]}
