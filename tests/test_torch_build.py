"""``rescomp emit`` and ``rescomp build --target torch`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def test_emit_to_file_and_stdout(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "model.py"
    r = cli("emit", "resnet_cifar", "--set", "n=2", "-o", str(out))
    assert r.code == 0 and "class ResNetCifar" in out.read_text()
    assert "rescomp emit resnet_cifar --set n=2 -o model.py" in out.read_text()
    assert cli("emit", "resnet_cifar", "--set", "n=2").out == out.read_text().replace(" -o model.py", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


def test_build_is_deterministic(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for d in ("a", "b"):
        assert cli("build", "resnet_cifar", "-o", str(tmp_path / d), "--seed", "3").code == 0
    for name in ("model.py", "model.safetensors", "build.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    info = json.loads((tmp_path / "a" / "build.json").read_text())
    assert info["params"] == 269_722 and info["seed"] == 3 and info["class"] == "ResNetCifar"
    assert cli("build", "resnet_cifar", "-o", str(tmp_path / "c"), "--seed", "4").code == 0
    assert (tmp_path / "c" / "model.safetensors").read_bytes() != (tmp_path / "a" / "model.safetensors").read_bytes()


def test_weights_carry_through(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import load_file

    assert cli("build", "resnet_cifar", "-o", str(tmp_path / "a"), "--seed", "7").code == 0
    state = load_file(str(tmp_path / "a" / "model.safetensors"))
    torch.save(state, tmp_path / "ckpt.pt")
    for src in (tmp_path / "a" / "model.safetensors", tmp_path / "ckpt.pt"):
        out = tmp_path / f"from_{src.suffix[1:]}"
        assert cli("build", "resnet_cifar", "-o", str(out), "--weights", str(src)).code == 0
        carried = load_file(str(out / "model.safetensors"))
        assert carried.keys() == state.keys() and all(torch.equal(carried[k], state[k]) for k in state)


def test_checkpoint_that_does_not_fit_names_the_key(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("build", "resnet_cifar", "-o", str(tmp_path / "a")).code == 0
    ckpt = tmp_path / "a" / "model.safetensors"
    r = cli("build", "resnet_cifar", "--set", "n=5", "-o", str(tmp_path / "b"), "--weights", str(ckpt))
    assert r.code == 1 and "weights lack 'layer1.3.conv1.weight'" in r.err and "Traceback" not in r.err
    r = cli("build", "resnet_cifar", "--set", "num_classes=100", "-o", str(tmp_path / "b"), "--weights", str(ckpt))
    assert r.code == 1 and "'fc.weight' have shape [10, 64], the model needs [100, 64]" in r.err
    assert not (tmp_path / "b").exists()  # nothing written on failure
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    r = cli("build", "resnet_cifar", "-o", str(tmp_path / "b"), "--weights", str(tmp_path / "junk.pt"))
    assert r.code == 1 and "cannot read weights" in r.err


def test_unknown_target_is_usage_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("build", "resnet18", "--target", "tpu", "-o", str(tmp_path / "x"))
    assert r.code == 2 and "unknown target" in r.err and not (tmp_path / "x").exists()
