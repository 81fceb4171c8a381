"""``rescomp emit`` (PyTorch source) and ``rescomp build`` (artifacts for a target)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides

TARGETS = ("torch",)


def _command(
    name: str, spec: str, set_: list[str] | None, input_: str | None, batch: int | None, out: Path | None
) -> str:
    args = ["rescomp", name, spec]
    for s in set_ or []:
        args += ["--set", s]
    if input_:
        args += ["--input", input_]
    if batch:
        args += ["--batch", str(batch)]
    if out is not None:
        args += ["-o", out.name if name == "emit" else str(out)]
    return shlex.join(args)


def emit(
    spec: Annotated[str, typer.Argument(help="Bundled spec name or YAML path.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (default: stdout).")] = None,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Write the spec as a self-contained PyTorch module (imports torch only)."""
    from rescomp.backends.torch_source import emit_source
    from rescomp.spec.load import build_graph

    graph = build_graph(spec, parse_overrides(set_, input_, batch))
    source = emit_source(graph, origin=_origin(spec), command=_command("emit", spec, set_, input_, batch, output))
    if output is None:
        sys.stdout.write(source.text)
        return
    from rescomp.fsutil import write_atomic

    write_atomic(output, source.text)
    sys.stderr.write(f"wrote {output} (class {source.class_name})\n")


def build(
    spec: Annotated[str, typer.Argument(help="Bundled spec name or YAML path.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write the artifacts into.")],
    target: Annotated[str, typer.Option("--target", help=f"What to build: {', '.join(TARGETS)}.")] = "torch",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weight initialisation.")] = 0,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Checkpoint to carry through (safetensors or torch state_dict).")
    ] = None,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Build deployable artifacts: for 'torch', model.py + model.safetensors + build.json."""
    from rescomp.errors import UsageError

    if target not in TARGETS:
        raise UsageError(
            f"error: unknown target '{target}' (hint: this version builds {', '.join(TARGETS)}; "
            "onnx, tensorrt and aoti are planned)"
        )
    from rescomp.backends.torch_build import build_torch
    from rescomp.backends.torch_source import emit_source
    from rescomp.spec.load import build_graph

    graph = build_graph(spec, parse_overrides(set_, input_, batch))
    source = emit_source(
        graph, origin=_origin(spec), command=_command("emit", spec, set_, input_, batch, Path("model.py"))
    )
    manifest = {"spec": graph.name, "source": _origin(spec), "settings": graph.params}
    result = build_torch(source, output, seed=seed, weights=weights, manifest=manifest)
    sys.stderr.write(
        f"built {graph.name} for torch in {result.directory}: "
        f"{', '.join(sorted([*result.files, 'build.json']))} ({result.params:,} parameters)\n"
    )


def _origin(spec: str) -> str:
    from rescomp.spec.library import ENTRIES

    return f"bundled spec {spec}" if spec in ENTRIES else spec
