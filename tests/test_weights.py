"""Checkpoints of every element type through ``rescomp build --weights`` (issue 12, item 9): floating
types are converted deliberately to the target's float type, integer counters stay integers, and the
rest (bool, complex, int8 where a float is needed, keys that are not names) is refused with the key."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
safetensors_torch = pytest.importorskip("safetensors.torch")

SPEC = """\
name: tiny
input: [3, 8, 8]
layers:
  - {op: conv, out: 4, kernel: 3}
  - {op: bn}
  - {op: relu}
  - {op: adaptive_avgpool}
  - {op: flatten}
  - {op: linear, out: 5}
"""
TARGETS = ("torch", "onnx")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
def state(cli, spec: Path, tmp_path: Path) -> dict:  # type: ignore[no-untyped-def]
    """The tiny model's seeded state_dict, with running statistics that are not the defaults."""
    assert cli("build", str(spec), "-o", str(tmp_path / "seed"), "--seed", "1").code == 0
    sd = dict(safetensors_torch.load_file(str(tmp_path / "seed" / "model.safetensors")))
    sd["bn1.running_mean"] = torch.linspace(-1, 1, 4)
    sd["bn1.running_var"] = torch.linspace(0.5, 2, 4)
    sd["bn1.num_batches_tracked"] = torch.tensor(17)
    assert set(sd) >= {"conv1.weight", "bn1.num_batches_tracked", "linear1.weight"}
    return sd


def _built(tmp_path: Path, name: str) -> dict:
    return dict(safetensors_torch.load_file(str(tmp_path / name / "model.safetensors")))


def _build(cli, spec: Path, target: str, weights: Path, out: Path):  # type: ignore[no-untyped-def]
    return cli("build", str(spec), "--target", target, "--weights", str(weights), "-o", str(out))


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float64"])
def test_floating_checkpoints_convert_to_the_target_type(cli, spec, state, tmp_path, fmt, dtype) -> None:  # type: ignore[no-untyped-def]
    want = getattr(torch, dtype)
    cast = {k: v.to(want) if v.is_floating_point() else v for k, v in state.items()}
    ckpt = tmp_path / f"ckpt.{fmt}"
    if fmt == "pt":
        torch.save(cast, ckpt)
    else:
        safetensors_torch.save_file(cast, str(ckpt))
    r = _build(cli, spec, "torch", ckpt, tmp_path / "t")
    assert r.code == 0, r.err
    assert _one_line(r.err).startswith("built tiny for torch")  # and no torch warning
    got = _built(tmp_path, "t")
    for k, v in cast.items():
        assert got[k].dtype == (torch.int64 if k.endswith("num_batches_tracked") else torch.float32), k
        assert torch.equal(got[k], v.to(got[k].dtype)), k  # bf16 and fp16 are exact in fp32
    assert int(got["bn1.num_batches_tracked"]) == 17
    r = _build(cli, spec, "onnx", ckpt, tmp_path / "o")
    assert r.code == 0, r.err
    assert (tmp_path / "o" / "model.onnx").is_file()


def test_onnx_from_bf16_matches_the_torch_model(cli, spec, state, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ort = pytest.importorskip("onnxruntime")
    bf16 = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
    torch.save(bf16, tmp_path / "bf16.pt")
    for target in TARGETS:
        r = _build(cli, spec, target, tmp_path / "bf16.pt", tmp_path / target)
        assert r.code == 0, r.err
    import importlib.util

    mod_spec = importlib.util.spec_from_file_location("tiny_model", tmp_path / "torch" / "model.py")
    assert mod_spec and mod_spec.loader
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    model = module.Tiny()
    model.load_state_dict(_built(tmp_path, "torch"))
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        ref = model(x).numpy()
    sess = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("dtype", "name"), [("bool", "bool"), ("complex64", "complex64"), ("int8", "int8"), ("int64", "int64")]
)
def test_wrong_kinds_are_refused_with_the_key(cli, spec, state, tmp_path, target, dtype, name) -> None:  # type: ignore[no-untyped-def]
    bad = dict(state)
    bad["conv1.weight"] = (bad["conv1.weight"] * 3).to(getattr(torch, dtype))
    torch.save(bad, tmp_path / "bad.pt")
    r = _build(cli, spec, target, tmp_path / "bad.pt", tmp_path / "o")
    assert r.code == 1
    line = _one_line(r.err)
    assert f"bad.pt: error: weights 'conv1.weight' are {name}; the model needs floating point" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("dtype", ["bool", "int8"])
def test_wrong_kinds_in_safetensors_are_refused(cli, spec, state, tmp_path, target, dtype) -> None:  # type: ignore[no-untyped-def]
    bad = dict(state)
    bad["linear1.bias"] = bad["linear1.bias"].to(getattr(torch, dtype))
    safetensors_torch.save_file(bad, str(tmp_path / "bad.safetensors"))
    r = _build(cli, spec, target, tmp_path / "bad.safetensors", tmp_path / "o")
    assert r.code == 1
    assert f"error: weights 'linear1.bias' are {dtype}; the model needs floating point" in _one_line(r.err)


@pytest.mark.parametrize("target", TARGETS)
def test_a_float_counter_is_refused(cli, spec, state, tmp_path, target) -> None:  # type: ignore[no-untyped-def]
    bad = dict(state)
    bad["bn1.num_batches_tracked"] = torch.tensor(1.5)
    torch.save(bad, tmp_path / "bad.pt")
    r = _build(cli, spec, target, tmp_path / "bad.pt", tmp_path / "o")
    assert r.code == 1
    assert "weights 'bn1.num_batches_tracked' are float32; the model needs an integer" in _one_line(r.err)


@pytest.mark.parametrize("target", TARGETS)
def test_an_int32_counter_becomes_int64(cli, spec, state, tmp_path, target) -> None:  # type: ignore[no-untyped-def]
    ok = dict(state)
    ok["bn1.num_batches_tracked"] = torch.tensor(5, dtype=torch.int32)
    torch.save(ok, tmp_path / "ok.pt")
    r = _build(cli, spec, target, tmp_path / "ok.pt", tmp_path / "o")
    assert r.code == 0, r.err
    if target == "torch":
        got = _built(tmp_path, "o")["bn1.num_batches_tracked"]
        assert got.dtype == torch.int64 and int(got) == 5


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", [5, ("conv1", "weight"), None])
def test_keys_that_are_not_names_are_refused(cli, spec, state, tmp_path, target, key) -> None:  # type: ignore[no-untyped-def]
    bad: dict = {key: torch.zeros(1), **state, 6: torch.zeros(1)}
    torch.save(bad, tmp_path / "bad.pt")
    r = _build(cli, spec, target, tmp_path / "bad.pt", tmp_path / "o")
    assert r.code == 1
    assert f"error: weights key {key!r} is not a string" in _one_line(r.err)


@pytest.mark.parametrize("target", TARGETS)
def test_sparse_and_non_tensor_values_are_refused(cli, spec, state, tmp_path, target) -> None:  # type: ignore[no-untyped-def]
    sparse = dict(state)
    sparse["linear1.bias"] = sparse["linear1.bias"].to_sparse()
    torch.save(sparse, tmp_path / "sparse.pt")
    r = _build(cli, spec, target, tmp_path / "sparse.pt", tmp_path / "o")
    assert r.code == 1 and "weights 'linear1.bias' are a sparse float32 tensor" in _one_line(r.err)
    other = {**state, "linear1.bias": [1.0, 2.0]}
    torch.save(other, tmp_path / "list.pt")
    r = _build(cli, spec, target, tmp_path / "list.pt", tmp_path / "o")
    assert r.code == 1 and "weights 'linear1.bias' are a list, not a tensor" in _one_line(r.err)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("blob", "why"),
    [
        (b"", "header too small"),
        ((10**9).to_bytes(8, "little") + b"{}", "header too large"),
        ((2).to_bytes(8, "little") + b"[]", "invalid JSON in header"),
        ((4).to_bytes(8, "little") + b"\xff\xfe{}", "invalid"),
        (
            (60).to_bytes(8, "little") + b'{"conv1.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,99]}}'[:60],
            "invalid JSON in header",
        ),
    ],
)
def test_broken_safetensors_are_refused(cli, spec, tmp_path, target, blob, why) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.safetensors").write_bytes(blob)
    r = _build(cli, spec, target, tmp_path / "bad.safetensors", tmp_path / "o")
    line = _one_line(r.err)
    assert r.code == 1 and "not a valid safetensors file: Error while deserializing header" in line and why in line


def test_safetensors_offsets_must_match_the_shape(cli, spec, tmp_path) -> None:  # type: ignore[no-untyped-def]
    header = b'{"linear1.bias":{"dtype":"F32","shape":[5],"data_offsets":[0,16]}}'
    (tmp_path / "bad.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    r = _build(cli, spec, "onnx", tmp_path / "bad.safetensors", tmp_path / "o")
    assert r.code == 1
    assert "not a valid safetensors file: Error while deserializing header" in _one_line(r.err)
