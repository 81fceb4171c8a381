"""The TensorRT backend without TensorRT: everything around the TensorRT calls, and the calls
themselves against a recording fake of the TensorRT 10 Python API."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from rescomp.backends import tensorrt_build as trt_b
from rescomp.errors import BackendFailed, BackendUnavailable, SpecError
from rescomp.spec.load import build_graph, load_spec_text
from tests.fake_tensorrt import FakeTensorRT


def test_profile_parsing() -> None:
    assert trt_b.Profile.parse("1:8:32") == trt_b.Profile(1, 8, 32)
    assert trt_b.Profile.parse("16") == trt_b.Profile(1, 16, 16)
    for bad in ("8:1:32", "a:b:c", "0:1:2", "1:2"):
        with pytest.raises(SpecError, match="batch profile"):
            trt_b.Profile.parse(bad)


def test_recipe_and_trtexec_line() -> None:
    r = trt_b.recipe("model.onnx", "model.engine", "fp16", trt_b.Profile(1, 8, 32), [3, 224, 224], 2 << 30)
    assert r["profile"]["max"] == [32, 3, 224, 224] and r["strongly_typed"]
    assert trt_b.trtexec_command(r) == (
        "trtexec --onnx=model.onnx --saveEngine=model.engine --minShapes=input:1x3x224x224 "
        "--optShapes=input:8x3x224x224 --maxShapes=input:32x3x224x224 --memPoolSize=workspace:2048M "
        "--timingCacheFile=timing.cache --stronglyTyped"
    )


def test_engine_mismatch_is_explained() -> None:
    built = {"tensorrt": "10.13.0", "gpu": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"}
    same = trt_b.Host(tensorrt="10.13.0", gpu="NVIDIA H100 80GB HBM3", capability="9.0")
    assert trt_b.engine_problems(built, same) == []
    other = trt_b.engine_problems(built, trt_b.Host(tensorrt="10.9.0", gpu="NVIDIA A100-SXM4-80GB", capability="8.0"))
    assert "built with TensorRT 10.13.0 and this host has 10.9.0" in other[0]
    assert "compute capability 9.0" in other[1] and "compute capability 8.0" in other[1]
    cousin = trt_b.engine_problems(built, trt_b.Host(tensorrt="10.13.0", gpu="NVIDIA H200", capability="9.0"))
    assert "same architecture" in cousin[0]
    assert trt_b.engine_problems(built, trt_b.Host()) == [
        "TensorRT is not installed here",
        "no CUDA device is visible here",
    ]


def test_parser_errors_name_the_ir_node() -> None:
    graph = build_graph(load_spec_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: stem, out: 4}\n"))
    err = trt_b.parser_errors_to_nodes([("stem", "Conv", "kernel weights has count 0"), ("x", "?", "?")], graph)
    assert isinstance(err, BackendFailed) and err.exit_code == 5
    assert err.node == "stem" and err.loc is not None and err.loc.line == 4
    assert "Conv node 'stem'" in str(err) and "and 1 more" in str(err)


def test_error_stats() -> None:
    np = pytest.importorskip("numpy")
    a = np.array([[1.0, 2.0, 4.0], [0.0, 1.0, 0.5]])
    b = a + np.array([[0.0, 0.1, -0.2], [0.0, 0.0, 0.0]])
    s = trt_b.error_stats(a, b)
    assert s["max_abs"] == pytest.approx(0.2) and s["max_rel"] == pytest.approx(0.05)
    assert s["mean_abs"] == pytest.approx(0.05) and s["top1_agreement"] == 1.0


def test_preflight_lists_unmapped_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    from rescomp.ops import REGISTRY

    graph = build_graph(load_spec_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4}\n  - {op: relu}\n"))
    assert trt_b.preflight(graph) == []
    monkeypatch.setattr(type(REGISTRY["relu"]), "tensorrt_layer", None)
    assert trt_b.preflight(graph) == ["relu1 (relu)"]


def test_stubs_alone_do_not_count_as_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))  # like the stubs' namespace
    host = trt_b.probe_host()
    assert host.tensorrt is None and any("TensorRT" in m for m in host.missing)


def test_cli_without_tensorrt_exits_3_with_onnx_and_recipe(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    out = tmp_path / "out"
    r = cli("build", "resnet_cifar", "--target", "tensorrt", "--precision", "fp16", "-o", str(out))
    assert r.code == 3
    assert "TensorRT engine not built" in r.err and "trtexec --onnx=model.onnx" in r.err and "Traceback" not in r.err
    assert sorted(p.name for p in out.iterdir()) == ["build.json", "model.onnx", "tensorrt_recipe.json"]
    recipe = json.loads((out / "tensorrt_recipe.json").read_text())
    assert recipe["precision"] == "fp16" and recipe["trtexec"].startswith("trtexec ")
    import onnx

    model = onnx.load(str(out / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.initializer[0].data_type == onnx.TensorProto.FLOAT16


# --- the TensorRT calls, against a recording fake (tests/fake_tensorrt.py) ---------------------------

GPU = trt_b.Host(
    tensorrt="10.13.0.35",
    cuda="12.9",
    gpu="NVIDIA H200",
    capability="9.0",
    free_memory=130 << 30,
    total_memory=140 << 30,
)


def _graph() -> Any:
    return build_graph(load_spec_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: stem, out: 4}\n"))


def _recipe(precision: str = "fp16", profile: tuple[int, int, int] = (1, 4, 16)) -> dict[str, Any]:
    return trt_b.recipe("model.onnx", "model.engine", precision, trt_b.Profile(*profile), [3, 8, 8], 1 << 30)


@pytest.fixture
def fake_trt(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Install a FakeTensorRT (configured by calling the fixture) as ``tensorrt`` with its fake CUDA calls."""

    def install(**options: Any) -> FakeTensorRT:
        fake = FakeTensorRT(**options)
        monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
        monkeypatch.setattr(trt_b, "cuda_ops", lambda: fake.cuda)
        return fake

    return install


def _failure(call: Any) -> BackendFailed:
    with pytest.raises(BackendFailed) as info:
        call()
    err = info.value
    assert err.exit_code == 5 and "\n" not in str(err) and str(err).startswith(("error:", "<string>"))
    return err


def test_build_engine_call_sequence(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake = fake_trt()
    engine, cache = trt_b.build_engine(b"onnx-bytes", _recipe(), _graph(), b"old")
    assert engine.startswith(b"FAKE-ENGINE ") and cache == b"old+timed"
    calls = dict(fake.calls)
    assert calls["network_flags"] == 1 << 1  # strongly typed
    assert calls["workspace"] == 1 << 30 and calls["cache_in"] == b"old" and calls["set_cache"] is False
    assert calls["profile"] == ("input", [1, 3, 8, 8], [4, 3, 8, 8], [16, 3, 8, 8])
    assert [c[0] for c in fake.calls].index("set_cache") < [c[0] for c in fake.calls].index("build")


def test_parser_error_names_the_node_and_is_exit_5(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(parse_errors=[("stem", "Conv", "unsupported"), ("stem/extra", "Conv", "again")])
    err = _failure(lambda: trt_b.build_engine(b"x", _recipe("fp32", (1, 1, 1)), _graph(), None))
    assert err.node == "stem" and err.loc is not None and err.loc.line == 4
    assert "ONNX parser rejected Conv node 'stem': unsupported (and 1 more errors)" in str(err)


def test_parser_failure_without_errors_carries_the_log(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(parse_fails_silently=True)
    err = _failure(lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None))
    assert "parser failed without naming a node: TensorRT says ModelImporter: failed to read the model" in str(err)


def test_builder_that_cannot_start_cuda(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(builder_fails=True)
    err = _failure(lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None))
    assert "could not create a builder: TensorRT says CUDA initialization failure with error: 35" in str(err)
    assert "nvidia-smi" in str(err)


def test_build_failure_carries_tensorrt_errors_and_a_fitting_hint(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(build_error="Insufficient memory for tactic: needs 6442450944 bytes of workspace")
    err = _failure(lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None))
    assert str(err).startswith("error: TensorRT failed to build the engine: TensorRT says Insufficient memory")
    assert "a tactic was skipped" not in str(err)  # errors first; warnings only when no error was logged
    assert "builder created" not in str(err)  # INFO is never kept
    assert "larger --workspace" in str(err)
    fake_trt(build_error="Could not find any implementation for node conv1 [Convolution]")
    err = _failure(lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None))
    assert "Could not find any implementation" in str(err) and "--workspace" not in str(err)
    assert "RESCOMP_DEBUG=1" in str(err)


def test_timing_cache_mismatch_is_its_own_error(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(cache_mismatch=True)
    err = _failure(
        lambda: trt_b.build_engine(b"x", _recipe(), _graph(), b"cache-from-an-A100", cache_name="out/timing.cache")
    )
    assert "cannot use out/timing.cache: it was written by another TensorRT version or another GPU" in str(err)
    assert "different device" in str(err) and "delete out/timing.cache" in str(err)
    _, cache = trt_b.build_engine(b"x", _recipe(), _graph(), None)  # no cache yet: nothing to mismatch
    assert cache == b"+timed"


def test_bf16_before_ampere_and_too_little_memory_are_refused(fake_trt) -> None:  # type: ignore[no-untyped-def]
    t4 = trt_b.Host(tensorrt="10.13.0", gpu="Tesla T4", capability="7.5", free_memory=14 << 30, total_memory=15 << 30)
    err = _failure(lambda: trt_b.check_host(t4, "bf16", 4 << 30))
    assert "bf16 needs a GPU of compute capability 8.0 or newer (Ampere and later); Tesla T4 has 7.5" in str(err)
    assert "--precision fp16" in str(err)
    trt_b.check_host(t4, "fp16", 4 << 30)  # fp16 is fine there
    trt_b.check_host(GPU, "bf16", 4 << 30)
    busy = trt_b.Host(
        tensorrt="10.13.0", gpu="NVIDIA A10", capability="8.6", free_memory=3 << 30, total_memory=24 << 30
    )
    err = _failure(lambda: trt_b.check_host(busy, "fp16", 4 << 30))
    assert "workspace limit is 4096 MiB but only 3072 MiB of NVIDIA A10's 24576 MiB are free" in str(err)
    assert "--workspace 1024" in str(err)


def test_old_or_unreadable_tensorrt_counts_as_missing(fake_trt) -> None:  # type: ignore[no-untyped-def]
    fake_trt(version="10.8.0.43")
    assert any(
        "TensorRT 10.8.0.43 is installed and rescomp needs 10.12 or newer" in m for m in trt_b.probe_host().missing
    )
    fake_trt(version="unknown")
    assert any("cannot read the installed TensorRT's version 'unknown'" in m for m in trt_b.probe_host().missing)
    fake_trt(version="11.0.0.1")
    assert not any("TensorRT" in m for m in trt_b.probe_host().missing)


def test_runner_deserialises_once_preallocates_and_follows_the_batch(fake_trt) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    fake = fake_trt()
    engine, _ = trt_b.build_engine(b"x", _recipe(profile=(1, 4, 16)), _graph(), None)
    runner = trt_b.EngineRunner(engine)
    assert (runner.min_batch, runner.max_batch, runner.chw) == (1, 16, (3, 8, 8))
    assert fake.cuda.calls.count(("alloc", (16, 3, 8, 8))) == 1 and ("alloc", (16, 10)) in fake.calls
    rng = np.random.default_rng(0)
    for n in (2, 2, 5, 16, 1):
        x = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
        assert np.allclose(runner(x), fake.compute(x), atol=1e-6)
    assert fake.count("deserialize") == 1 and fake.count("create_execution_context") == 1
    assert fake.count("alloc") == 2 and fake.count("stream") == 1 and fake.count("set_tensor_address") == 2
    shapes = [c[1] for c in fake.calls if c[0] == "set_input_shape"]
    assert shapes == [(16, 3, 8, 8), (2, 3, 8, 8), (5, 3, 8, 8), (16, 3, 8, 8), (1, 3, 8, 8)]  # only on a change
    assert all(c[1] == 4242 for c in fake.calls if c[0] == "execute")  # on the runner's own stream
    with pytest.raises(SpecError, match=r"batch 17 is outside the engine's profile \(1 to 16\)"):
        runner(np.zeros((17, 3, 8, 8), np.float32))
    with pytest.raises(SpecError, match="takes input 3x8x8 per image"):
        runner(np.zeros((2, 3, 9, 9), np.float32))


def test_runner_times_only_execute(fake_trt) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    from rescomp.backends.bench import measure, tensorrt_prepared

    fake = fake_trt()
    engine, _ = trt_b.build_engine(b"x", _recipe(profile=(4, 4, 4)), _graph(), None)
    runner = trt_b.EngineRunner(engine)
    prepared = tensorrt_prepared(runner, np.ones((4, 3, 8, 8), np.float32))
    timing = measure(prepared.call, prepared.block, warmup=2, runs=5)
    assert len(timing.samples_ms) == 5 and timing.median_ms == 0.25
    assert runner.time_execute() == 0.25
    assert len(fake.cuda.windows) == 8 and all(w == [("execute", 4242)] for w in fake.cuda.windows)
    assert fake.count("copy_in") == 1 and fake.count("deserialize") == 1


def test_engine_none_context_none_and_failed_execute(fake_trt) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    fake_trt()
    engine, _ = trt_b.build_engine(b"x", _recipe(), _graph(), None)
    fake_trt(engine_none=True)
    err = _failure(lambda: trt_b.EngineRunner(engine))
    assert "could not deserialise the engine: TensorRT says IRuntime::deserializeCudaEngine" in str(err)
    assert "Version tag does not match" in str(err) and "rebuild it here from model.onnx" in str(err)
    fake_trt(context_none=True)
    err = _failure(lambda: trt_b.EngineRunner(engine))
    assert "could not create an execution context for the engine (its activations need 96 MiB)" in str(err)
    assert "could not be allocated" in str(err) and "free GPU memory" in str(err)
    fake_trt(execute_fails=True)
    runner = trt_b.EngineRunner(engine)
    err = _failure(lambda: runner(np.zeros((2, 3, 8, 8), np.float32)))
    assert "failed to run the engine: TensorRT says IExecutionContext::enqueueV3" in str(err)
    fake_trt(output_dtype="HALF")
    err = _failure(lambda: trt_b.EngineRunner(engine))
    assert "'output' tensor is HALF, not FLOAT" in str(err)


def test_each_failure_has_its_own_message(fake_trt) -> None:  # type: ignore[no-untyped-def]
    """The acceptance list: None engine, None context, parser error, build failure, timing cache
    mismatch, bf16 before Ampere: six distinct one-line messages, all exit 5, none like 'missing'."""
    np = pytest.importorskip("numpy")
    fake_trt()
    engine, _ = trt_b.build_engine(b"x", _recipe(), _graph(), None)
    t4 = trt_b.Host(tensorrt="10.13.0", gpu="Tesla T4", capability="7.5", free_memory=14 << 30, total_memory=15 << 30)
    cases = {
        "engine": ({"engine_none": True}, lambda: trt_b.EngineRunner(engine)),
        "context": ({"context_none": True}, lambda: trt_b.EngineRunner(engine)),
        "parser": (
            {"parse_errors": [("stem", "Conv", "bad")]},
            lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None),
        ),
        "build": ({"build_error": "boom"}, lambda: trt_b.build_engine(b"x", _recipe(), _graph(), None)),
        "cache": ({"cache_mismatch": True}, lambda: trt_b.build_engine(b"x", _recipe(), _graph(), b"c")),
        "bf16": ({}, lambda: trt_b.check_host(t4, "bf16", 1 << 30)),
    }
    messages = {}
    for name, (options, call) in cases.items():
        fake_trt(**options)
        messages[name] = _failure(call).message
    assert len(set(messages.values())) == len(cases), messages
    assert not any("not installed" in m or "missing" in m for m in messages.values())
    assert np is not None


# --- rescomp build --target tensorrt, end to end on the fakes --------------------------------------


@pytest.fixture
def gpu_host(monkeypatch: pytest.MonkeyPatch, fake_trt):  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    monkeypatch.setattr(trt_b, "probe_host", lambda: trt_b.Host(**{**GPU.__dict__, "missing": []}))
    return fake_trt


def _exact(spec: str, params: dict[str, Any] | None = None) -> Any:
    """A fake engine computation equal to fp32 onnxruntime on the spec's seeded weights."""
    import onnxruntime as ort

    import rescomp
    from rescomp.backends.onnx_export import export_onnx
    from rescomp.backends.weights import seeded_state

    graph = rescomp.graph(spec, params)
    session = ort.InferenceSession(export_onnx(graph, seeded_state(graph, 0)).model.SerializeToString())
    return lambda x: session.run(None, {"input": x})[0]


def test_cli_build_writes_engine_then_records_parity(cli, gpu_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = gpu_host(compute=_exact("resnet_cifar", {"n": 1}))
    out = tmp_path / "out"
    args = ("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt", "--batch", "1:4:8", "-o", str(out))
    r = cli(*args, "--precision", "bf16")
    assert r.code == 0, r.err
    assert "parity vs fp32 onnxruntime: max rel" in r.err and "note" not in r.err
    assert sorted(p.name for p in out.iterdir()) == [
        "build.json",
        "model.engine",
        "model.json",
        "model.onnx",
        "tensorrt_recipe.json",
        "timing.cache",
    ]
    info = json.loads((out / "build.json").read_text())
    assert info["precision"] == "bf16" and info["gpu"] == "NVIDIA H200" and info["tensorrt"] == "10.13.0.35"
    assert info["parity"]["against"] == "fp32 onnxruntime, CPU" and info["parity"]["batch"] == 4
    assert info["parity"]["max_rel"] < 1e-6 and info["notes"] == []
    assert set(info["files"]) == {"model.engine", "model.json", "model.onnx", "tensorrt_recipe.json"}
    from rescomp.backends.manifest import verify

    assert verify(out) == []
    # a rebuild reuses the timing cache the first build wrote
    assert cli(*args, "--precision", "bf16").code == 0
    assert [c[1] for c in fake.calls if c[0] == "cache_in"][-1] == b"+timed"


def test_cli_parity_miss_is_a_note_not_a_failure(cli, gpu_host, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gpu_host()  # computes something else entirely
    out = tmp_path / "out"
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt", "--precision", "fp16", "-o", str(out))
    assert r.code == 0, r.err
    info = json.loads((out / "build.json").read_text())
    assert info["notes"][0].startswith("parity miss against fp32 onnxruntime: max abs error")
    assert "tolerance 0.01" in info["notes"][0] and info["parity"]["max_rel"] > 0.01
    assert "note: parity miss" in r.err


def test_cli_tensorrt_failures_are_exit_5_and_keep_the_onnx(cli, gpu_host, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt")
    gpu_host(parse_errors=[("layer1.0.conv1", "Conv", "unsupported weights")])
    r = cli(*args, "-o", str(tmp_path / "a"))
    assert r.code == 5 and len(r.err.strip().splitlines()) == 1
    assert "resnet_cifar.yaml:" in r.err and "[node layer1.0.conv1]" in r.err, r.err
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["build.json", "model.onnx", "tensorrt_recipe.json"]
    assert (
        "not built: TensorRT's ONNX parser rejected"
        in json.loads((tmp_path / "a" / "build.json").read_text())["tensorrt"]
    )
    # bf16 on a Turing GPU: refused before building, exit 5, not 3
    t4 = trt_b.Host(
        tensorrt="10.13.0", cuda="12.9", gpu="Tesla T4", capability="7.5", free_memory=14 << 30, total_memory=15 << 30
    )
    monkeypatch.setattr(trt_b, "probe_host", lambda: t4)
    fake = gpu_host()
    r = cli(*args, "--precision", "bf16", "-o", str(tmp_path / "b"))
    assert r.code == 5 and "bf16 needs a GPU of compute capability 8.0" in r.err and fake.count("build") == 0
    # an engine that will not run after the build: the artifacts stay, build.json says why, exit 5
    monkeypatch.setattr(trt_b, "probe_host", lambda: trt_b.Host(**{**GPU.__dict__, "missing": []}))
    gpu_host(context_none=True)
    r = cli(*args, "-o", str(tmp_path / "c"))
    assert r.code == 5 and "execution context" in r.err
    info = json.loads((tmp_path / "c" / "build.json").read_text())
    assert info["parity"]["status"].startswith("failed: TensorRT could not create an execution context")
    assert (tmp_path / "c" / "model.engine").is_file()


def test_bench_tensorrt_target_on_the_fakes(gpu_host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    np = pytest.importorskip("numpy")
    import rescomp
    from rescomp.backends import bench
    from rescomp.backends.weights import seeded_state

    fake = gpu_host()
    graph = rescomp.graph("resnet_cifar", {"n": 1})
    x = np.ones((2, 3, 32, 32), np.float32)
    prepared = bench.prepare("tensorrt", graph, seeded_state(graph, 0), x, "cuda", "fp16", Path("."))
    timing = bench.measure(prepared.call, prepared.block, warmup=1, runs=None, min_time=0, min_runs=4)
    assert all(set(w) == {("execute", 4242)} for w in fake.cuda.windows)
    assert timing.block > 1  # 0.25 ms per call: timed in blocks, like blocked_autorange
    assert fake.count("deserialize") == 1 and fake.count("copy_in") == 1
    with pytest.raises(BackendUnavailable, match="pass --device cuda"):
        bench.prepare("tensorrt", graph, seeded_state(graph, 0), x, "cpu", "fp16", Path("."))
