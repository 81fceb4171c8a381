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
