"""A recording fake of the slice of the TensorRT 10/11 Python API that rescomp calls, and a fake of the
CUDA calls of ``EngineRunner`` (``rescomp.backends.tensorrt_build.TorchCuda``), so that the TensorRT
backend's logic runs on the CPU.

Like TensorRT, the fake reports failures through return values (None, False, a negative index) and
through the logger it was given (``ILogger.log`` with a severity), never through exceptions, except where
TensorRT's Python bindings raise (``Builder`` when CUDA cannot start). Every call is recorded in
``calls``, in order, as (name, argument).
"""

from __future__ import annotations

import enum
import json
import os
import types
from collections.abc import Callable
from typing import Any

import numpy as np


class Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class FakeCuda:
    """Buffers are NumPy arrays, their addresses the arrays' data pointers; ``timed`` records which
    calls happened between its two events."""

    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls
        self.buffers: dict[int, np.ndarray] = {}
        self.windows: list[list[tuple[str, Any]]] = []

    def empty(self, shape: Any) -> np.ndarray:
        buf = np.zeros(tuple(shape), np.float32)
        self.buffers[buf.ctypes.data] = buf
        self.calls.append(("alloc", tuple(shape)))
        return buf

    def address(self, buf: np.ndarray) -> int:
        return int(buf.ctypes.data)

    def stream(self) -> str:
        self.calls.append(("stream", None))
        return "own-stream"

    def handle(self, stream: str) -> int:
        assert stream == "own-stream"
        return 4242

    def copy_in(self, buf: np.ndarray, x: Any, stream: str) -> None:
        x = np.asarray(x, dtype=np.float32)
        self.calls.append(("copy_in", x.shape[0]))
        buf[: x.shape[0]] = x

    def copy_out(self, buf: np.ndarray, n: int, stream: str) -> np.ndarray:
        self.calls.append(("copy_out", n))
        return buf[:n].copy()

    def to_numpy(self, tensor: np.ndarray) -> np.ndarray:
        return tensor

    def timed(self, stream: str, fn: Callable[[], None]) -> float:
        start = len(self.calls)
        fn()
        self.windows.append(self.calls[start:])
        return 0.25 * len(self.calls[start:])

    def synchronize(self, stream: str) -> None:
        pass


def default_compute(x: np.ndarray, features: int) -> np.ndarray:
    return x.reshape(len(x), -1).mean(1, keepdims=True) * np.arange(1, features + 1, dtype=np.float32)


class FakeTensorRT:
    """``module`` stands in for ``import tensorrt``; the keyword arguments choose which call fails."""

    def __init__(
        self,
        *,
        version: str = "10.13.0.35",
        parse_errors: list[tuple[str, str, str]] | None = None,
        parse_fails_silently: bool = False,
        builder_fails: bool = False,
        build_error: str | None = None,
        cache_mismatch: bool = False,
        engine_none: bool = False,
        context_none: bool = False,
        execute_fails: bool = False,
        output_dtype: str = "FLOAT",
        features: int = 10,
        compute: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.cuda = FakeCuda(self.calls)
        self.compute = compute or (lambda x: default_compute(x, features))
        fake = self

        class ILogger:
            def __init__(self) -> None:
                fake.calls.append(("logger", type(self).__name__))

            def log(self, severity: Any, msg: str) -> None:  # real TensorRT's base prints; subclasses override
                raise AssertionError("rescomp must override ILogger.log")

        ILogger.Severity = Severity  # type: ignore[attr-defined]

        class Flag:
            STRONGLY_TYPED = 1

        class MemoryPoolType:
            WORKSPACE = "workspace"

        class DataType(enum.Enum):
            FLOAT = "float"
            HALF = "half"
            BF16 = "bf16"

        class Dims(list):  # type: ignore[type-arg]
            pass

        class Cache:
            def __init__(self, data: bytes) -> None:
                self.data = data

            def serialize(self) -> bytes:
                return self.data + b"+timed"

        class Config:
            progress_monitor = None

            def __init__(self, logger: Any) -> None:
                self.logger = logger

            def set_memory_pool_limit(self, pool: str, size: int) -> None:
                fake.calls.append(("workspace", size))

            def add_optimization_profile(self, profile: Any) -> int:
                fake.calls.append(("profile", profile.shapes))
                fake.profile = profile.shapes
                return 0

            def create_timing_cache(self, data: bytes) -> Cache:
                fake.calls.append(("cache_in", bytes(data)))
                self.cache = Cache(bytes(data))
                return self.cache

            def set_timing_cache(self, cache: Cache, ignore_mismatch: bool) -> bool:
                fake.calls.append(("set_cache", ignore_mismatch))
                if fake.cache_mismatch and cache.data:
                    self.logger.log(Severity.ERROR, "Timing cache was created with a different device: skipped")
                    return False
                return True

            def get_timing_cache(self) -> Cache:
                return self.cache

        class Profile:
            def set_shape(self, name: str, lo: Dims, opt: Dims, hi: Dims) -> None:
                self.shapes = (name, list(lo), list(opt), list(hi))

        class Error:
            def __init__(self, node: str, op: str, desc: str) -> None:
                self._node, self._op, self._desc = node, op, desc

            def node_name(self) -> str:
                return self._node

            def node_operator(self) -> str:
                return self._op

            def desc(self) -> str:
                return self._desc

        class Parser:
            def __init__(self, network: Any, logger: Any) -> None:
                self.logger = logger
                self.errors: list[Error] = []

            @property
            def num_errors(self) -> int:
                return len(self.errors)

            def parse(self, data: bytes) -> bool:
                fake.calls.append(("parse", len(data)))
                return self._result()

            def parse_from_file(self, path: str) -> bool:
                import onnx

                # like TensorRT's parser: external data is read from the model's folder
                model = onnx.load(path)
                size = sum(len(t.raw_data) for t in model.graph.initializer)
                fake.calls.append(("parse_from_file", (os.path.basename(path), size)))
                return self._result()

            def _result(self) -> bool:
                if fake.parse_fails_silently:
                    self.logger.log(Severity.ERROR, "ModelImporter: failed to read the model")
                    return False
                if fake.parse_errors:
                    self.errors = [Error(*e) for e in fake.parse_errors]
                    return False
                return True

            def get_error(self, i: int) -> Error:
                return self.errors[i]

        class Builder:
            def __init__(self, logger: Any) -> None:
                if fake.builder_fails:
                    logger.log(Severity.ERROR, "CUDA initialization failure with error: 35")
                    raise TypeError("pybind11::init(): factory function returned nullptr")
                self.logger = logger
                logger.log(Severity.INFO, "builder created")  # below WARNING: never in an error

            def create_network(self, flags: int) -> str:
                fake.calls.append(("network_flags", flags))
                return "network"

            def create_builder_config(self) -> Config:
                return Config(self.logger)

            def create_optimization_profile(self) -> Profile:
                return Profile()

            def build_serialized_network(self, network: str, config: Config) -> bytes | None:
                fake.calls.append(("build", None))
                if fake.build_error is not None:
                    self.logger.log(Severity.WARNING, "a tactic was skipped")
                    self.logger.log(Severity.ERROR, fake.build_error)
                    return None
                _, lo, opt, hi = fake.profile
                return b"FAKE-ENGINE " + json.dumps({"min": lo, "opt": opt, "max": hi}).encode()

        class Context:
            def __init__(self, engine: Engine) -> None:
                self.engine = engine
                self.input_shape: tuple[int, ...] | None = None
                self.addresses: dict[str, int] = {}

            def set_input_shape(self, name: str, shape: Any) -> bool:
                fake.calls.append(("set_input_shape", tuple(shape)))
                lo, hi = self.engine.profile["min"], self.engine.profile["max"]
                if name != "input" or not lo[0] <= shape[0] <= hi[0] or list(shape[1:]) != lo[1:]:
                    self.engine.logger.log(Severity.ERROR, f"setInputShape: {list(shape)} is outside the profile")
                    return False
                self.input_shape = tuple(shape)
                return True

            def get_tensor_shape(self, name: str) -> Dims:
                assert name == "output" and self.input_shape is not None
                return Dims([self.input_shape[0], features])

            def set_tensor_address(self, name: str, address: int) -> bool:
                fake.calls.append(("set_tensor_address", name))
                self.addresses[name] = address
                return True

            def execute_async_v3(self, stream_handle: int) -> bool:
                fake.calls.append(("execute", stream_handle))
                if fake.execute_fails:
                    self.engine.logger.log(Severity.ERROR, "IExecutionContext::enqueueV3: Error Code 1: Cuda Runtime")
                    return False
                assert self.input_shape is not None
                n = self.input_shape[0]
                x = fake.cuda.buffers[self.addresses["input"]][:n]
                fake.cuda.buffers[self.addresses["output"]][:n] = fake.compute(x)
                return True

        class Engine:
            num_io_tensors = 2
            device_memory_size_v2 = 96 << 20

            def __init__(self, profile: dict[str, list[int]], logger: Any) -> None:
                self.profile = profile
                self.logger = logger

            def get_tensor_name(self, i: int) -> str:
                return ("input", "output")[i]

            def get_tensor_dtype(self, name: str) -> DataType:
                return DataType.FLOAT if name == "input" else DataType[output_dtype]

            def get_tensor_profile_shape(self, name: str, index: int) -> list[Dims]:
                assert name == "input" and index == 0
                return [Dims(self.profile[k]) for k in ("min", "opt", "max")]

            def create_execution_context(self) -> Context | None:
                fake.calls.append(("create_execution_context", None))
                if fake.context_none:
                    self.logger.log(
                        Severity.ERROR, "Requested amount of GPU memory (100663296 bytes) could not be allocated"
                    )
                    return None
                return Context(self)

        class Runtime:
            def __init__(self, logger: Any) -> None:
                self.logger = logger

            def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
                fake.calls.append(("deserialize", len(data)))
                if fake.engine_none or not bytes(data).startswith(b"FAKE-ENGINE "):
                    self.logger.log(
                        Severity.ERROR,
                        "IRuntime::deserializeCudaEngine: Error Code 1: Serialization (Version tag does not match)",
                    )
                    return None
                return Engine(json.loads(bytes(data)[len(b"FAKE-ENGINE ") :]), self.logger)

        self.parse_errors = parse_errors
        self.parse_fails_silently = parse_fails_silently
        self.builder_fails = builder_fails
        self.build_error = build_error
        self.cache_mismatch = cache_mismatch
        self.engine_none = engine_none
        self.context_none = context_none
        self.execute_fails = execute_fails
        self.profile: tuple[str, list[int], list[int], list[int]] = ("input", [], [], [])
        self.module = types.SimpleNamespace(
            ILogger=ILogger,
            Builder=Builder,
            OnnxParser=Parser,
            Runtime=Runtime,
            NetworkDefinitionCreationFlag=Flag,
            MemoryPoolType=MemoryPoolType,
            DataType=DataType,
            Dims=Dims,
            __version__=version,
        )

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c[0] == name)
