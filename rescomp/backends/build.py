"""``rescomp build``: one entry point for every target, each an independent backend.

Every target writes its files into the output folder at once (temporary names, then renames), with a
``build.json`` manifest renamed into place last (see :mod:`rescomp.fsutil` for every rule). The output
folder is checked before any work starts: each file the target writes must be absent or a regular file.
A target the host cannot complete (TensorRT without TensorRT or a GPU) writes what it can (the checked
ONNX and a recipe) and raises :class:`BackendUnavailable` (exit code 3).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rescomp.backends.manifest import MANIFEST, build_manifest, spec_hash
from rescomp.backends.onnx_export import EXTERNAL_DATA_SUFFIX
from rescomp.errors import BackendUnavailable
from rescomp.fsutil import preflight, write_files
from rescomp.ir import Graph

TARGETS = ("torch", "onnx", "tensorrt", "aoti")
ONNX_FILE = "model.onnx"
ONNX_DATA = ONNX_FILE + EXTERNAL_DATA_SUFFIX  # its weights, where they exceed protobuf's 2 GiB (external data)
# every file each target may write (its manifest included); all are checked before a build starts
OUTPUTS = {
    "torch": ("model.py", "model.safetensors", MANIFEST),
    "onnx": (ONNX_FILE, ONNX_DATA, MANIFEST),
    "tensorrt": (
        ONNX_FILE,
        ONNX_DATA,
        "tensorrt_recipe.json",
        "model.engine",
        "model.json",
        "timing.cache",
        MANIFEST,
    ),
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


def _manifest(graph: Graph, opts: BuildOptions, files: Mapping[str, bytes | bytearray], **extra: Any) -> bytes:
    return build_manifest(graph, opts.target, files, origin=opts.origin, seed=opts.seed, weights=opts.weights, **extra)


def _write(out_dir: Path, files: Mapping[str, bytes | bytearray]) -> dict[str, str]:
    """Write the files (all or none, the manifest last), then return their digests. Leftover temporaries
    of any target's files (from a killed build) are removed first, and so is an earlier build's
    model.onnx.data where the new model.onnx holds its weights itself."""
    obsolete = [ONNX_DATA] if ONNX_FILE in files and ONNX_DATA not in files else []
    write_files(out_dir, files, create=True, manifest=MANIFEST, stale=ALL_OUTPUTS, remove=obsolete)
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
        return _build_aoti(graph, out_dir, opts, source, state, step)

    from rescomp.backends.onnx_export import check_onnx, export_onnx, needs_external_data, onnx_files, staged

    step(f"writing ONNX ({opts.precision}, BN {'folded' if opts.fold_bn else 'kept'})")
    exported = export_onnx(graph, state, opset=opts.opset, fold_bn=opts.fold_bn, precision=opts.precision)
    external = needs_external_data(exported.model)
    onnx_info: dict[str, Any] = {
        "opset": exported.model.opset_import[0].version,
        "precision": opts.precision,
        "fold_bn": opts.fold_bn,
        "bn_folded": len(exported.folded),
        "onnx_checker": "passed (full_check)",
        "shapes": "onnx shape inference equals rescomp",
    }
    if external:  # over protobuf's 2 GiB: the weights go to model.onnx.data, checked from files
        onnx_info["external_data"] = ONNX_DATA
        step(f"moving the weights to {ONNX_DATA} (ONNX external data: they exceed protobuf's 2 GiB)")
    else:
        step("checking with onnx.checker (full) and shape inference")
        check_onnx(exported.model, graph)
    files_onnx = onnx_files(exported.model, ONNX_FILE)
    del exported  # its weights now live in files_onnx alone
    with contextlib.ExitStack() as stack:
        onnx_path = None
        if external:
            step("checking with onnx.checker (full, from the files) and shape inference")
            onnx_path = stack.enter_context(staged(files_onnx, ONNX_FILE))
            check_onnx(onnx_path, graph)
        if opts.target != "onnx":  # the staged copy stays for TensorRT's parser, which reads files
            return _build_tensorrt(graph, out_dir, opts, state, files_onnx, onnx_path, onnx_info, step)
    written = {**files_onnx, MANIFEST: _manifest(graph, opts, files_onnx, **onnx_info)}
    summary = f"opset {onnx_info['opset']}, {onnx_info['bn_folded']} BN folded"
    return BuildReport(_write(out_dir, written), summary + (f", weights in {ONNX_DATA}" if external else ""))


def _chw(graph: Graph) -> list[int]:
    return [int(d) for d in graph[graph.input].attrs["shape"].split("x")[1:]]


def _parity_batch(profile: Any) -> int:
    """The batch the parity check runs: the profile's optimum, at most 8 (the fp32 reference runs on the
    CPU), at least its minimum."""
    return max(profile.min, min(profile.opt, 8))


def _build_aoti(
    graph: Graph,
    out_dir: Path,
    opts: BuildOptions,
    source: Any,
    state: dict[str, Any],
    step: Callable[[str], None],
) -> BuildReport:
    """The package, written with its manifest before parity; then parity against the fp32 eager module on
    the CPU, recorded in build.json (a miss is a note)."""
    import numpy as np
    import torch

    from rescomp.backends import aoti_build
    from rescomp.backends.tensorrt_build import Profile, error_stats, parity_note

    profile = Profile.parse(opts.profile)
    aoti_build.torch_dtype(opts.precision)  # an unknown precision fails before the long compile
    chw = _chw(graph)
    step(f"torch.export and AOTInductor compile ({opts.precision}) for {opts.device} (this takes a while)")
    files = {
        "model.pt2": aoti_build.compile_aoti(
            source,
            state,
            tuple(chw),
            max_batch=profile.max,
            opt_batch=profile.opt,
            device=opts.device,
            precision=opts.precision,
        )
    }
    extra: dict[str, Any] = {
        "torch": torch.__version__.split("+")[0],
        "device": opts.device,
        "precision": opts.precision,
        "min_batch": 1,
        "max_batch": profile.max,
        "batch_check": "rescomp's load_aoti refuses a batch outside 1..max_batch",
    }
    files["build.json"] = _manifest(graph, opts, files, **extra, parity={"status": "not run yet"})
    _write(out_dir, files)  # the package is on disk before anything runs it

    step("checking the package against the fp32 eager module (CPU) on the same input")
    n = _parity_batch(profile)
    x = np.random.default_rng(0).standard_normal((n, *chw)).astype(np.float32)
    reference = aoti_build.typed_module(source, state, "fp32", "cpu")
    runner = aoti_build.load_aoti(out_dir / "model.pt2")
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
        got = runner(torch.from_numpy(x).to(opts.device)).float().cpu().numpy()
    stats = error_stats(want, got)
    tolerance = aoti_build.PARITY_TOLERANCE[opts.precision]
    notes = [note] if (note := parity_note(stats, tolerance, "the fp32 eager module")) else []
    parity = {"against": "fp32 eager torch module, CPU", "batch": n, "tolerance_max_rel": tolerance, **stats}
    manifest = _manifest(graph, opts, {"model.pt2": files["model.pt2"]}, **extra, parity=parity, notes=notes)
    _write(out_dir, {"build.json": manifest})
    summary = (
        f"AOTInductor {opts.precision} package for {opts.device}; parity vs fp32 eager: max rel {stats['max_rel']:.2e}"
    )
    return BuildReport(
        _digests(files, manifest), summary + "".join(f"; note: {text}" for text in notes), {"notes": notes}
    )


def _digests(files: Mapping[str, bytes | bytearray], manifest: bytes) -> dict[str, str]:
    return {k: hashlib.sha256(manifest if k == MANIFEST else v).hexdigest() for k, v in files.items()}


def _build_tensorrt(
    graph: Graph,
    out_dir: Path,
    opts: BuildOptions,
    state: dict[str, Any],
    onnx_files: Mapping[str, bytes | bytearray],
    onnx_path: Path | None,
    onnx_info: dict[str, Any],
    step: Callable[[str], None],
) -> BuildReport:
    """The ONNX and recipe always; where TensorRT and a GPU exist, the engine, model.json and timing cache,
    written before parity; then parity against fp32 onnxruntime, recorded in build.json (a miss is a
    note). A host without TensorRT is exit 3, a build TensorRT refuses is exit 5: both leave the ONNX and
    recipe. ``onnx_path``: where the ONNX has external data, a staged copy of its files, which TensorRT's
    parser reads (the data file beside the model)."""
    from rescomp.backends import tensorrt_build as trt_b
    from rescomp.errors import BackendFailed, SpecError

    unsupported = trt_b.preflight(graph)
    if unsupported:
        raise SpecError(f"no TensorRT mapping for: {', '.join(unsupported)}", hint="see docs/backends.md")
    profile = trt_b.Profile.parse(opts.profile)
    chw = _chw(graph)
    workspace = opts.workspace_mib << 20
    data = ONNX_DATA if ONNX_DATA in onnx_files else None
    recipe = trt_b.recipe(ONNX_FILE, "model.engine", opts.precision, profile, chw, workspace, onnx_data=data)
    command = trt_b.trtexec_command(recipe)
    recipe["trtexec"] = command
    files = {**onnx_files, "tensorrt_recipe.json": (json.dumps(recipe, indent=2) + "\n").encode()}

    def not_built(reason: str) -> None:
        files["build.json"] = _manifest(graph, opts, files, **onnx_info, tensorrt=f"not built: {reason}")
        _write(out_dir, files)

    host = trt_b.probe_host()
    if host.missing:
        not_built("; ".join(host.missing))
        raise BackendUnavailable(
            trt_b.unavailable_message(host, out_dir, command, [*onnx_files, "tensorrt_recipe.json"])
        )
    cache_path = out_dir / "timing.cache"
    cache = cache_path.read_bytes() if cache_path.is_file() else None
    step(f"building the TensorRT engine (TensorRT {host.tensorrt}, {host.gpu})")
    try:
        trt_b.check_host(host, opts.precision, workspace)
        model = onnx_path if data is not None else onnx_files[ONNX_FILE]
        if model is None:
            raise AssertionError(f"the ONNX has external data ({ONNX_DATA}) but no staged copy for TensorRT")
        engine, new_cache = trt_b.build_engine(model, recipe, graph, cache, cache_name=str(cache_path))
    except BackendFailed as exc:
        not_built(exc.message)
        raise
    manifest = trt_b.manifest(host, recipe, onnx_files[ONNX_FILE], spec_hash(graph), onnx_files.get(ONNX_DATA))
    files.update(
        {
            "model.engine": engine,
            "model.json": (json.dumps(manifest, indent=2) + "\n").encode(),
            "timing.cache": new_cache,
        }
    )
    hashed = {k: v for k, v in files.items() if k != "timing.cache"}  # the cache changes with every build
    info = {**onnx_info, "tensorrt": host.tensorrt, "gpu": host.gpu, "compute_capability": host.capability}
    files["build.json"] = _manifest(graph, opts, hashed, **info, parity={"status": "not run yet"})
    _write(out_dir, files)  # the engine is on disk before anything runs it

    n = _parity_batch(profile)
    step(f"checking the engine against fp32 onnxruntime (CPU) on a batch of {n}")
    tolerance = trt_b.PARITY_TOLERANCE[opts.precision]
    try:
        stats = _tensorrt_parity(graph, state, opts, onnx_files, engine, [n, *chw])
    except BackendFailed as exc:
        failed = {"status": f"failed: {exc.message}"}
        _write(out_dir, {"build.json": _manifest(graph, opts, hashed, **info, parity=failed)})
        raise
    notes = [note] if (note := trt_b.parity_note(stats, tolerance, "fp32 onnxruntime")) else []
    parity = {"against": "fp32 onnxruntime, CPU", "batch": n, "tolerance_max_rel": tolerance, **stats}
    final = _manifest(graph, opts, hashed, **info, parity=parity, notes=notes)
    _write(out_dir, {"build.json": final})
    summary = (
        f"engine for {host.gpu}; parity vs fp32 onnxruntime: max rel {stats['max_rel']:.2e}, "
        f"mean abs {stats['mean_abs']:.2e}, p99 abs {stats['p99_abs']:.2e}"
    )
    return BuildReport(
        _digests(files, final),
        summary + "".join(f"; note: {text}" for text in notes),
        {"parity": stats, "notes": notes},
    )


def _tensorrt_parity(
    graph: Graph,
    state: dict[str, Any],
    opts: BuildOptions,
    files: Mapping[str, bytes | bytearray],
    engine: bytes,
    shape: list[int],
) -> dict[str, float]:
    """The engine's output against onnxruntime's fp32 output of the same network and weights (the fp32
    ONNX, whatever the engine's precision: onnxruntime's CPU provider has no bf16 convolution)."""
    import numpy as np

    from rescomp.backends.onnx_export import export_onnx, onnx_files, ort_session
    from rescomp.backends.tensorrt_build import EngineRunner, error_stats

    if opts.precision != "fp32":
        files = onnx_files(export_onnx(graph, state, fold_bn=opts.fold_bn, precision="fp32").model, ONNX_FILE)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    session = ort_session(files, ONNX_FILE, providers=["CPUExecutionProvider"])
    reference = session.run(None, {"input": x})[0]
    del session
    return error_stats(reference, EngineRunner(engine)(x))
