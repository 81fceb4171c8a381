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
    assert info["precision"] == "fp32" and info["notes"] == []
    assert info["parity"]["against"] == "fp32 eager torch module, CPU" and info["parity"]["batch"] == 2
    assert info["parity"]["max_rel"] <= 1e-4 and info["parity"]["top1_agreement"] == 1.0
    assert "parity vs fp32 eager: max rel" in r.err
    # the batch maximum holds at run time (AOTInductor alone would run a batch of 9)
    from rescomp.errors import SpecError

    with pytest.raises(SpecError, match=r"batch 9 is outside 1\.\.8, the range model.pt2 was built for"):
        runner(torch.randn(9, 3, 32, 32))
    with pytest.raises(SpecError, match="takes input 3x32x32 per image"):
        runner(torch.randn(2, 3, 16, 16))


@pytest.mark.slow
def test_aoti_fp16_package(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """--precision fp16 gives an fp16 package (fp32 in and out, the casts inside, as in the ONNX),
    its parity against fp32 eager recorded."""
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "aoti", "--precision", "fp16", "-o", str(tmp_path))
    assert r.code == 0, r.err
    info = json.loads((tmp_path / "build.json").read_text())
    assert info["precision"] == "fp16" and info["parity"]["tolerance_max_rel"] == 1e-2
    assert 0 < info["parity"]["max_rel"] <= 1e-2 and info["notes"] == []  # not 0: the weights really are fp16
    from rescomp.backends.aoti_build import load_aoti

    runner = load_aoti(tmp_path / "model.pt2")
    assert runner.precision == "fp16" and runner.max_batch == 32
    x = torch.randn(3, 3, 32, 32)
    assert runner(x).dtype == torch.float32 and runner(x).shape == (3, 10)


def test_aoti_unknown_precision_fails_before_compiling(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "resnet_cifar", "--target", "aoti", "--precision", "fp8", "-o", str(tmp_path / "x"))
    assert r.code == 1 and "unknown precision 'fp8'" in r.err and "fp32, fp16, bf16" in r.err
    assert not (tmp_path / "x" / "model.pt2").exists()
