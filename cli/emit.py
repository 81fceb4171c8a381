"""``rescomp emit`` (PyTorch source) and ``rescomp build`` (artifacts for a target)."""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides


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
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write this regular file (default: stdout).")
    ] = None,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Write the spec as a self-contained PyTorch module (imports torch only)."""
    from rescomp.backends.torch_source import emit_source
    from rescomp.spec.load import build_graph

    out = None if output is None else _output_file(output)
    graph = build_graph(spec, parse_overrides(set_, input_, batch))
    source = emit_source(graph, origin=_origin(spec), command=_command("emit", spec, set_, input_, batch, out))
    if out is None:
        sys.stdout.write(source.text)
        return
    from rescomp.fsutil import write_atomic

    write_atomic(out, source.text, create=True)
    sys.stderr.write(f"wrote {out} (class {source.class_name})\n")


def _output_file(text: str) -> Path:
    """The -o of emit: a file path, checked before any work (absent or a regular file; missing folders
    are made); devices, FIFOs, sockets, directories and links to them are refused."""
    from rescomp.errors import Loc, SpecError
    from rescomp.fsutil import output_path, preflight

    path = output_path(text)
    if text.endswith(("/", "/.", "/..")) or path.name in ("", ".", ".."):
        raise SpecError(
            "names a folder, but emit writes one file", Loc(text), hint="give a file path such as out/model.py"
        )
    preflight(path.parent, [path.name], create=True)  # missing folders are made when writing
    return path


def build(
    spec: Annotated[str, typer.Argument(help="Bundled spec name or YAML path.")],
    output: Annotated[str, typer.Option("-o", "--output", help="Folder to write the artifacts into.")],
    target: Annotated[str, typer.Option("--target", help="torch, onnx, tensorrt or aoti.")] = "torch",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the weight initialisation.")] = 0,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="Checkpoint to carry through (safetensors or torch state_dict).")
    ] = None,
    precision: Annotated[str, typer.Option("--precision", help="onnx/tensorrt/aoti: fp32, fp16 or bf16.")] = "fp32",
    opset: Annotated[int | None, typer.Option("--opset", help="ONNX opset (default 17; 22 for bf16).")] = None,
    fold_bn: Annotated[bool, typer.Option("--fold-bn/--no-fold-bn", help="Fold BN into convolutions.")] = True,
    batch: Annotated[
        str, typer.Option("--batch", metavar="MIN:OPT:MAX", help="tensorrt profile / aoti dynamic batch range.")
    ] = "1:8:32",
    workspace: Annotated[int, typer.Option("--workspace", help="tensorrt workspace limit in MiB.")] = 4096,
    device: Annotated[str, typer.Option("--device", help="aoti: cpu or cuda.")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print what was built as JSON on stdout.")] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
) -> None:
    """Build deployable artifacts for a target, each with a build.json manifest.

    torch: model.py + model.safetensors. onnx: model.onnx (checked). tensorrt: model.engine from that
    ONNX, or, on a host without TensorRT or a GPU, the ONNX and a recipe with the trtexec line (exit 3).
    aoti: an AOTInductor package model.pt2. tensorrt and aoti check their output against fp32 and record it
    in build.json; a TensorRT that rejects or fails the build is exit 5.
    """
    from rescomp.backends.build import TARGETS, BuildOptions
    from rescomp.backends.build import build as run_build
    from rescomp.errors import UsageError
    from rescomp.fsutil import output_path

    out_dir = output_path(output)
    if target not in TARGETS:
        raise UsageError(f"error: unknown target '{target}' (hint: choose one of {', '.join(TARGETS)})")
    if device not in ("cpu", "cuda"):
        raise UsageError(f"error: unknown device '{device}' (hint: cpu or cuda)")
    from rescomp.spec.load import build_graph

    graph = build_graph(spec, parse_overrides(set_, input_, None))
    opts = BuildOptions(
        target=target,
        seed=seed,
        weights=weights,
        precision=precision,
        opset=opset,
        fold_bn=fold_bn,
        profile=batch,
        workspace_mib=workspace,
        device=device,
        origin=_origin(spec),
        command=_command("emit", spec, set_, input_, None, Path("model.py")),
    )
    from rescomp.extras import needs

    with needs(BUILD_EXTRA[target], f"rescomp build --target {target}"), _progress() as step:
        report = run_build(graph, out_dir, opts, step)
    sys.stderr.write(
        f"built {graph.name} for {target} in {out_dir}: {', '.join(sorted(report.files))} ({report.summary})\n"
    )
    if as_json:
        import json

        doc = {
            "schema": "rescomp.build/1",
            "name": graph.name,
            "target": target,
            "output": str(out_dir),
            "files": dict(sorted(report.files.items())),
            "summary": report.summary,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A rich status line on a terminal; silent in CI and pipes."""
    if not sys.stderr.isatty():
        yield lambda text: None
        return
    from rescomp.cli.render import console as make_console
    from rich.text import Text

    console = make_console(stderr=True)
    count = [0]
    with console.status("building") as status:

        def step(text: str) -> None:
            # print, not log: log() would add the time and this file's line number to every step
            count[0] += 1
            console.print(Text(f"[{count[0]}] {text}"))
            status.update(Text(text))

        yield step


#: the extra each build target needs (rescomp.extras; onnx includes torch for the seeded weights)
BUILD_EXTRA = {"torch": "torch", "onnx": "onnx", "tensorrt": "tensorrt", "aoti": "torch"}


def _origin(spec: str) -> str:
    from rescomp.spec.library import ENTRIES

    return f"bundled spec {spec}" if spec in ENTRIES else spec
