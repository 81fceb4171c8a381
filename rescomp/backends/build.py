"""``rescomp build``: one entry point for every target, each an independent backend.

Every target writes its files into the output folder at once (temporary names, then renames), with a
``build.json`` manifest renamed into place last (see :mod:`rescomp.fsutil` for every rule). The output
folder is checked before any work starts: each file the target writes must be absent or a regular file.
A target the host cannot complete (TensorRT without TensorRT or a GPU) writes what it can (the checked
ONNX and a recipe) and raises :class:`BackendUnavailable` (exit code 3).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rescomp.backends.manifest import MANIFEST, build_manifest, spec_hash
from rescomp.errors import BackendUnavailable
from rescomp.fsutil import preflight, write_files
from rescomp.ir import Graph

TARGETS = ("torch", "onnx", "tensorrt", "aoti")
# every file each target may write (its manifest included); all are checked before a build starts
OUTPUTS = {
    "torch": ("model.py", "model.safetensors", MANIFEST),
    "onnx": ("model.onnx", MANIFEST),
    "tensorrt": ("model.onnx", "tensorrt_recipe.json", "model.engine", "model.json", "timing.cache", MANIFEST),
    "aoti": ("model.pt2", MANIFEST),
}
ALL_OUTPUTS = tuple(sorted({name for names in OUTPUTS.values() for name in names}))


@dataclass
class BuildOptions:
    target: str = "torch"
    seed: int = 0
    weights: Path | None = None
    precision: str = "fp32"
    opset: int | None = None
    fold_bn: bool = True
    profile: str = "1:8:32"
    workspace_mib: int = 4096
    device: str = "cpu"
    origin: str = ""
    command: str = ""


@dataclass
class BuildReport:
    files: dict[str, str]  # name -> sha256
    summary: str
    extra: dict[str, Any] = field(default_factory=dict)


def _manifest(graph: Graph, opts: BuildOptions, files: dict[str, bytes], **extra: Any) -> bytes:
    return build_manifest(graph, opts.target, files, origin=opts.origin, seed=opts.seed, weights=opts.weights, **extra)


def _write(out_dir: Path, files: dict[str, bytes]) -> dict[str, str]:
    """Write the files (all or none, the manifest last), then return their digests. Leftover temporaries
    of any target's files (from a killed build) are removed first."""
    write_files(out_dir, files, create=True, manifest=MANIFEST, stale=ALL_OUTPUTS)
    return {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}


def build(graph: Graph, out_dir: Path, opts: BuildOptions, step: Callable[[str], None] = lambda s: None) -> BuildReport:
    """Build ``opts.target`` for ``graph`` into ``out_dir``."""
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import require_memory

    preflight(out_dir, OUTPUTS.get(opts.target, (MANIFEST,)), create=True)
    require_memory(graph, f"building '{graph.name}'")
    source = emit_source(graph, origin=opts.origin, command=opts.command)
    if opts.target == "torch":
        from rescomp.backends.torch_build import build_torch

        step("initialising weights and writing model.py and model.safetensors")
        made = build_torch(source, seed=opts.seed, weights=opts.weights)
        files = dict(made.files)
        files["build.json"] = _manifest(
            graph, opts, made.files, torch=made.torch, **{"class": source.class_name}, params=made.params
        )
        return BuildReport(_write(out_dir, files), f"{made.params:,} parameters")

    from rescomp.backends.weights import load_weights

    step("loading weights" if opts.weights else f"initialising weights (seed {opts.seed})")
    state = load_weights(graph, opts.weights, opts.seed)
    if opts.target == "aoti":
        from rescomp.backends.aoti_build import compile_aoti
        from rescomp.backends.tensorrt_build import Profile

        profile = Profile.parse(opts.profile)
        step(f"torch.export and AOTInductor compile for {opts.device} (this takes a while)")
        import torch

        chw = tuple(int(d) for d in graph[graph.input].attrs["shape"].split("x")[1:])
        blob = compile_aoti(source, state, chw, max_batch=profile.max, opt_batch=profile.opt, device=opts.device)
        files = {"model.pt2": blob}
        extra = {"torch": torch.__version__.split("+")[0], "device": opts.device, "max_batch": profile.max}
        files["build.json"] = _manifest(graph, opts, files, **extra)
        return BuildReport(_write(out_dir, files), f"AOTInductor package for {opts.device}")

    from rescomp.backends.onnx_export import check_onnx, export_onnx

    step(f"writing ONNX ({opts.precision}, BN {'folded' if opts.fold_bn else 'kept'})")
    exported = export_onnx(graph, state, opset=opts.opset, fold_bn=opts.fold_bn, precision=opts.precision)
    step("checking with onnx.checker (full) and shape inference")
    check_onnx(exported.model, graph)
    onnx_bytes = exported.model.SerializeToString()
    onnx_info = {
        "opset": exported.model.opset_import[0].version,
        "precision": opts.precision,
        "fold_bn": opts.fold_bn,
        "bn_folded": len(exported.folded),
        "onnx_checker": "passed (full_check)",
        "shapes": "onnx shape inference equals rescomp",
    }
    if opts.target == "onnx":
        files = {"model.onnx": onnx_bytes}
        files["build.json"] = _manifest(graph, opts, files, **onnx_info)
        return BuildReport(_write(out_dir, files), f"opset {onnx_info['opset']}, {len(exported.folded)} BN folded")
    return _build_tensorrt(graph, out_dir, opts, onnx_bytes, onnx_info, step)


def _build_tensorrt(
    graph: Graph,
    out_dir: Path,
    opts: BuildOptions,
    onnx_bytes: bytes,
    onnx_info: dict[str, Any],
    step: Callable[[str], None],
) -> BuildReport:
    from rescomp.backends import tensorrt_build as trt_b
    from rescomp.errors import SpecError

    unsupported = trt_b.preflight(graph)
    if unsupported:
        raise SpecError(f"no TensorRT mapping for: {', '.join(unsupported)}", hint="see docs/backends.md")
    profile = trt_b.Profile.parse(opts.profile)
    chw = [int(d) for d in graph[graph.input].attrs["shape"].split("x")[1:]]
    recipe = trt_b.recipe("model.onnx", "model.engine", opts.precision, profile, chw, opts.workspace_mib << 20)
    command = trt_b.trtexec_command(recipe)
    recipe["trtexec"] = command
    files = {"model.onnx": onnx_bytes, "tensorrt_recipe.json": (json.dumps(recipe, indent=2) + "\n").encode()}
    host = trt_b.probe_host()
    if host.missing:
        files["build.json"] = _manifest(
            graph, opts, files, **onnx_info, tensorrt="not built: " + "; ".join(host.missing)
        )
        _write(out_dir, files)
        raise BackendUnavailable(trt_b.unavailable_message(host, out_dir, command))
    cache_path = out_dir / "timing.cache"
    cache = cache_path.read_bytes() if cache_path.is_file() else None
    step(f"building the TensorRT engine (TensorRT {host.tensorrt}, {host.gpu})")
    engine, new_cache = trt_b.build_engine(onnx_bytes, recipe, graph, cache)
    manifest = trt_b.manifest(host, recipe, onnx_bytes, spec_hash(graph))
    files.update(
        {
            "model.engine": engine,
            "model.json": (json.dumps(manifest, indent=2) + "\n").encode(),
            "timing.cache": new_cache,
        }
    )
    step("checking the engine against onnxruntime on the same input")
    stats = _parity(onnx_bytes, engine, [profile.opt, *chw])
    files["build.json"] = _manifest(
        graph,
        opts,
        {k: v for k, v in files.items() if k != "timing.cache"},
        **onnx_info,
        tensorrt=host.tensorrt,
        gpu=host.gpu,
        parity=stats,
    )
    return BuildReport(
        _write(out_dir, files),
        f"engine for {host.gpu}; parity vs onnxruntime: max rel {stats['max_rel']:.2e}, "
        f"mean abs {stats['mean_abs']:.2e}, p99 abs {stats['p99_abs']:.2e}",
        {"parity": stats},
    )


def _parity(onnx_bytes: bytes, engine: bytes, shape: list[int]) -> dict[str, float]:
    import numpy as np
    import onnxruntime as ort

    from rescomp.backends.tensorrt_build import error_stats, run_engine

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    reference = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    return error_stats(reference, run_engine(engine, x))
