"""``rescomp bench``: the table, the JSON, and honest notes for targets this host cannot run."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


def test_bench_json_and_unavailable_target(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        "bench",
        "resnet_cifar",
        "--target",
        "eager,onnx",
        "--target",
        "tensorrt",
        "--batch",
        "2",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--json",
    )
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    results = {x["target"]: x for x in doc["results"]}
    assert results["eager"]["median_ms"] > 0 and results["onnx"]["throughput_per_s"] > 0
    assert results["eager"]["p90_ms"] >= results["eager"]["median_ms"]
    assert results["tensorrt"]["median_ms"] is None and results["tensorrt"]["note"].startswith("unavailable:")
    eager = results["eager"]
    assert eager["runs"] == 3 and eager["block"] == 1 and eager["status"] == "ok"
    assert eager["p25_ms"] <= eager["median_ms"] <= eager["p75_ms"] <= eager["p90_ms"]
    assert eager["iqr_ms"] == pytest.approx(eager["p75_ms"] - eager["p25_ms"])
    import torch

    env = doc["environment"]
    assert env["threads"]["torch_intra_op"] == torch.get_num_threads() == env["threads"]["onnxruntime_intra_op"]
    assert env["versions"]["torch"] == torch.__version__ and env["versions"]["onnxruntime"] and env["cpus"] >= 1
    assert isinstance(doc["warnings"], list)


def test_bench_markdown_and_all_unavailable(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("bench", "resnet_cifar", "--target", "eager,onnx", "--runs", "2", "--warmup", "0", "--markdown")
    assert r.code == 0 and "| eager |" in r.out and "1.00x" in r.out
    r = cli("bench", "resnet_cifar", "--target", "tensorrt", "--runs", "1")
    assert r.code == 3
    assert cli("bench", "resnet_cifar", "--target", "tpu").code == 2


def test_cuda_without_a_gpu_is_exit_3(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    spec = tmp_path / "t.yaml"
    spec.write_text("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4}\n  - {op: adaptive_avgpool}\n")
    r = cli("bench", str(spec), "--device", "cuda")
    assert r.code == 3 and len(r.err.strip().splitlines()) == 1 and "needs a CUDA GPU" in r.err


def test_bf16_onnx_is_a_note_and_eager_is_kept(cli) -> None:  # type: ignore[no-untyped-def]
    """onnxruntime's CPU provider has no bf16 Conv: the onnx row says so, the eager row stays, exit 0."""
    r = cli(
        "bench",
        "resnet_cifar",
        "--set",
        "n=1",
        "--target",
        "eager,onnx",
        "--precision",
        "bf16",
        "--runs",
        "2",
        "--json",
    )
    assert r.code == 0, r.err
    results = {x["target"]: x for x in json.loads(r.out)["results"]}
    assert results["eager"]["median_ms"] > 0 and results["eager"]["precision"] == "bf16"
    onnx = results["onnx"]
    assert onnx["status"] == "unavailable" and onnx["median_ms"] is None
    assert "CPUExecutionProvider cannot run this bf16 model" in onnx["note"] and "Conv(22)" in onnx["note"]


def test_measure_adapts_like_blocked_autorange() -> None:
    from rescomp.backends.bench import measure

    now = [0.0]

    def fake(ms_per_call: float):  # type: ignore[no-untyped-def]
        def block(k: int) -> float:
            now[0] += k * ms_per_call / 1000
            return k * ms_per_call

        return block

    clock = lambda: now[0]  # noqa: E731
    fast = measure(lambda: None, fake(0.1), warmup=0, min_time=1.0, min_runs=10, clock=clock)
    assert fast.block == 10 and fast.median_ms == pytest.approx(0.1)  # 0.1 ms calls: blocks of 10
    assert fast.total_s >= 1.0 and len(fast.samples_ms) >= 10
    now[0] = 0.0
    slow = measure(lambda: None, fake(400), warmup=0, min_time=1.0, min_runs=10, max_time=30, clock=clock)
    assert slow.block == 1 and len(slow.samples_ms) == 10  # min_runs before min_time
    now[0] = 0.0
    huge = measure(lambda: None, fake(20_000), warmup=0, min_time=1.0, min_runs=10, max_time=30, clock=clock)
    assert len(huge.samples_ms) == 3  # max_time passed: at least 3 samples, no more
    calls = []
    fixed = measure(lambda: calls.append(1), fake(0.1), warmup=4, runs=7, clock=clock)
    assert len(calls) == 4 and len(fixed.samples_ms) == 7 and fixed.block == 1


def test_busy_host_is_warned_and_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import rescomp
    from rescomp.backends import bench

    @contextlib.contextmanager
    def others():  # type: ignore[no-untyped-def]
        yield [float(bench.usable_cpus())]  # every CPU busy with other work

    monkeypatch.setattr(bench, "other_cpu_use", others)
    monkeypatch.setattr(bench.os, "getloadavg", lambda: (64.0, 32.0, 16.0))
    report = bench.bench(rescomp.graph("resnet_cifar", {"n": 1}), ["eager"], runs=2, warmup=0)
    assert report.results[0].note.startswith("host busy: other processes used")
    assert report.results[0].other_cpu == bench.usable_cpus()
    assert any(w.startswith("the host is busy: load average 64.00") for w in report.warnings)
    assert any(w.startswith("eager: host busy") and "not reliable" in w for w in report.warnings)


def test_failed_backend_keeps_other_rows_and_exits_5(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from rescomp.backends import bench
    from rescomp.errors import BackendFailed

    real = bench.prepare

    def prepare(target, *args):  # type: ignore[no-untyped-def]
        if target == "onnx":
            raise BackendFailed("TensorRT failed to build the engine: TensorRT says boom", hint="a hint")
        return real(target, *args)

    monkeypatch.setattr(bench, "prepare", prepare)
    r = cli("bench", "resnet_cifar", "--set", "n=1", "--target", "eager,onnx", "--runs", "2", "--markdown")
    assert r.code == 5
    assert "| eager | " in r.out and "| onnx | - |" in r.out and "failed: TensorRT failed to build" in r.out
