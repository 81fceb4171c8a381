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
from rescomp.errors import SpecError
from rescomp.spec.load import build_graph, load_spec_text


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


# --- the TensorRT calls, against a recording fake ---------------------------------------------------


class _Fake:
    """The slice of the TensorRT 10 Python API that build_engine uses, recording every call."""

    def __init__(self, parse_ok: bool = True) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.parse_ok = parse_ok
        fake = self

        class Logger:
            WARNING = "warning"

            def __init__(self, severity: str) -> None:
                fake.calls.append(("logger", severity))

        class Flag:
            STRONGLY_TYPED = 1

        class MemoryPoolType:
            WORKSPACE = "workspace"

        class Dims(list):  # type: ignore[type-arg]
            pass

        class Cache:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def serialize(self) -> bytes:
                return self.data + b"+timed"

        class Config:
            progress_monitor = None

            def set_memory_pool_limit(self, pool: str, size: int) -> None:
                fake.calls.append(("workspace", size))

            def add_optimization_profile(self, profile: Any) -> None:
                fake.calls.append(("profile", profile.shapes))

            def create_timing_cache(self, data: bytes) -> Cache:
                fake.calls.append(("cache_in", bytes(data)))
                self.cache = Cache(bytes(data))
                return self.cache

            def set_timing_cache(self, cache: Cache, ignore_mismatch: bool) -> bool:
                return True

            def get_timing_cache(self) -> Cache:
                return self.cache

        class Profile:
            def set_shape(self, name: str, lo: Dims, opt: Dims, hi: Dims) -> None:
                self.shapes = (name, list(lo), list(opt), list(hi))

        class Error:
            def node_name(self) -> str:
                return "stem"

            def node_operator(self) -> str:
                return "Conv"

            def desc(self) -> str:
                return "unsupported"

        class Parser:
            num_errors = 0 if parse_ok else 1

            def __init__(self, network: Any, logger: Any) -> None:
                pass

            def parse(self, data: bytes) -> bool:
                fake.calls.append(("parse", len(data)))
                return fake.parse_ok

            def get_error(self, i: int) -> Error:
                return Error()

        class Builder:
            def __init__(self, logger: Any) -> None:
                pass

            def create_network(self, flags: int) -> str:
                fake.calls.append(("network_flags", flags))
                return "network"

            def create_builder_config(self) -> Config:
                return Config()

            def create_optimization_profile(self) -> Profile:
                return Profile()

            def build_serialized_network(self, network: str, config: Config) -> bytes:
                return b"ENGINE"

        self.module = types.SimpleNamespace(
            Logger=Logger,
            Builder=Builder,
            OnnxParser=Parser,
            NetworkDefinitionCreationFlag=Flag,
            MemoryPoolType=MemoryPoolType,
            Dims=Dims,
            __version__="10.13.0",
        )


def _graph() -> Any:
    return build_graph(load_spec_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, name: stem, out: 4}\n"))


def test_build_engine_call_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Fake()
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
    r = trt_b.recipe("model.onnx", "model.engine", "fp16", trt_b.Profile(1, 4, 16), [3, 8, 8], 1 << 30)
    engine, cache = trt_b.build_engine(b"onnx-bytes", r, _graph(), b"old")
    assert engine == b"ENGINE" and cache == b"old+timed"
    calls = dict(fake.calls)
    assert calls["network_flags"] == 1 << 1  # strongly typed
    assert calls["workspace"] == 1 << 30 and calls["cache_in"] == b"old"
    assert calls["profile"] == ("input", [1, 3, 8, 8], [4, 3, 8, 8], [16, 3, 8, 8])


def test_build_engine_parser_error_names_node(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _Fake(parse_ok=False)
    monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
    r = trt_b.recipe("model.onnx", "model.engine", "fp32", trt_b.Profile(1, 1, 1), [3, 8, 8])
    with pytest.raises(SpecError, match="Conv node 'stem': unsupported") as info:
        trt_b.build_engine(b"x", r, _graph(), None)
    assert info.value.node == "stem"
