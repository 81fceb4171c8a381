"""``rescomp build`` for the onnx and aoti targets through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

import rescomp  # noqa: E402


def test_onnx_target_files_manifest_and_determinism(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for d in ("a", "b"):
        r = cli("build", "resnet_cifar", "--target", "onnx", "--seed", "5", "-o", str(tmp_path / d))
        assert r.code == 0, r.err
    assert (tmp_path / "a" / "model.onnx").read_bytes() == (tmp_path / "b" / "model.onnx").read_bytes()
    info = json.loads((tmp_path / "a" / "build.json").read_text())
    assert info["opset"] == 17 and info["bn_folded"] == 19 and info["onnx_checker"].startswith("passed")
    assert info["seed"] == 5 and len(info["spec_hash"]) == 64


def test_onnx_target_carries_weights(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "resnet_cifar", "-o", str(tmp_path / "t"), "--seed", "9").code == 0
    weights = tmp_path / "t" / "model.safetensors"
    r = cli(
        "build",
        "resnet_cifar",
        "--target",
        "onnx",
        "--no-fold-bn",
        "--weights",
        str(weights),
        "-o",
        str(tmp_path / "o"),
    )
    assert r.code == 0, r.err
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    y = ort.InferenceSession(str(tmp_path / "o" / "model.onnx")).run(None, {"input": x})[0]
    model = rescomp.to_torch("resnet_cifar", seed=9).eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()


def test_aoti_target_runs_and_matches(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "aoti", "--batch", "1:2:8", "-o", str(tmp_path))
    assert r.code == 0, r.err
    from rescomp.backends.aoti_build import load_aoti

    runner = load_aoti(tmp_path / "model.pt2")
    model = rescomp.to_torch("resnet_cifar", {"n": 1}, seed=0).eval()
    for batch in (1, 3):  # the batch dimension is dynamic
        x = torch.randn(batch, 3, 32, 32)
        with torch.no_grad():
            assert torch.allclose(runner(x), model(x), rtol=1e-4, atol=1e-5)
    info = json.loads((tmp_path / "build.json").read_text())
    assert info["target"] == "aoti" and info["device"] == "cpu" and info["max_batch"] == 8
