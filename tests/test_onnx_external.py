"""ONNX external data: a model whose weights exceed protobuf's 2 GiB keeps them in ``model.onnx.data``
beside ``model.onnx``. The real case (regnet_y_128gf, 2.58 GB) is in tests/test_onnx.py (slow); here the
limit is lowered so that small nets take the same path through export, the checks, ``rescomp build``
(onnx and tensorrt), onnxruntime and ``rescomp bench``."""

from __future__ import annotations

import gc
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

import rescomp  # noqa: E402
from rescomp.backends import onnx_export as oe  # noqa: E402
from rescomp.backends import tensorrt_build as trt_b  # noqa: E402
from rescomp.backends.manifest import verify  # noqa: E402
from rescomp.backends.weights import seeded_state  # noqa: E402
from rescomp.errors import SpecError  # noqa: E402
from rescomp.fsutil import write_files  # noqa: E402
from tests.fake_tensorrt import FakeTensorRT  # noqa: E402
from tests.test_tensorrt import GPU  # noqa: E402  (the same simulated host)

SPEC = ("resnet_cifar", {"n": 1})  # 78 k parameters; conv weights of 1 to 37 KB, so some stay inline


@pytest.fixture
def external(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model with more than 1 KB of weights goes to external data."""
    monkeypatch.setattr(oe, "EXTERNAL_DATA_LIMIT", 1024)


def _graph(name: str = SPEC[0], params: dict[str, Any] | None = SPEC[1]) -> Any:
    return rescomp.graph(name, params)


def _model(graph: Any, **kw: Any) -> Any:
    return oe.export_onnx(graph, seeded_state(graph, 0), **kw).model


def _arrays(model: Any) -> dict[str, Any]:
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_under_the_limit_one_file_byte_identical() -> None:
    graph = _graph()
    model = _model(graph)
    want = model.SerializeToString()
    assert not oe.needs_external_data(model)
    assert oe.onnx_files(model) == {"model.onnx": want}
    assert model.SerializeToString() == want  # untouched


def test_decided_by_the_initializers_size(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph("resnet18", None)
    fp32, fp16 = _model(graph), _model(graph, precision="fp16")
    assert oe.initializer_bytes(fp32) == sum(a.nbytes for a in _arrays(fp32).values())
    assert oe.initializer_bytes(fp16) == sum(a.nbytes for a in _arrays(fp16).values())
    # a limit between the two: fp32 goes to external data, fp16 (half the bytes) stays one file
    monkeypatch.setattr(oe, "EXTERNAL_DATA_LIMIT", (oe.initializer_bytes(fp32) + oe.initializer_bytes(fp16)) // 2)
    assert oe.needs_external_data(fp32) and not oe.needs_external_data(fp16)
    assert sorted(oe.onnx_files(fp32)) == ["model.onnx", "model.onnx.data"]
    assert sorted(oe.onnx_files(fp16)) == ["model.onnx"]


def test_layout_round_trip_and_determinism(external: None, tmp_path: Path) -> None:
    graph = _graph("resnet18", None)
    model = _model(graph)
    want = _arrays(model)
    files = oe.onnx_files(model)
    assert files == oe.onnx_files(_model(graph))  # same inputs, same bytes
    assert sorted(files) == ["model.onnx", "model.onnx.data"]
    end = 0
    aligned = 0
    for t in model.graph.initializer:  # the model passed in now refers to the data file
        size = want[t.name].nbytes
        if size < oe.EXTERNAL_MIN_BYTES:
            assert t.data_location == onnx.TensorProto.DEFAULT and len(t.raw_data) == size
            continue
        info = {e.key: e.value for e in t.external_data}
        assert t.data_location == onnx.TensorProto.EXTERNAL and not t.HasField("raw_data")
        assert info["location"] == "model.onnx.data" and int(info["length"]) == size
        offset = int(info["offset"])
        assert offset >= end and (size < oe.ALIGN_MIN_BYTES or offset % oe.ALIGNMENT == 0)
        aligned += size >= oe.ALIGN_MIN_BYTES
        end = offset + size
    assert aligned > 0 and len(files["model.onnx.data"]) == end
    # onnx's own loader reads it back, weights equal
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    loaded = onnx.load(str(tmp_path / "model.onnx"))
    got = _arrays(loaded)
    assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)
    with pytest.raises(ValueError, match="already refers to external data"):
        oe.onnx_files(model)


def test_path_checks_and_their_failures(external: None) -> None:
    graph = _graph()
    files = oe.onnx_files(_model(graph))
    with oe.staged(files) as path:
        assert oe.check_onnx(path, graph)["output"] == ("batch", 10)
        data = path.parent / "model.onnx.data"
        data.write_bytes(files["model.onnx.data"][:-1])  # one byte short: the checker alone misses it
        with pytest.raises(onnx.checker.ValidationError, match="needs bytes up to"):
            oe.check_onnx(path, graph)
        data.unlink()
        with pytest.raises(onnx.checker.ValidationError, match=r"model\.onnx\.data"):
            oe.check_onnx(path, graph)
    assert not path.parent.exists()


def test_check_of_a_big_model_proto_leaves_it_whole(external: None) -> None:
    graph = _graph()
    model = _model(graph)
    before = model.SerializeToString()
    assert oe.check_onnx(model, graph)["output"] == ("batch", 10)  # from a staged copy, by path
    assert model.SerializeToString() == before


def test_onnxruntime_from_the_files(external: None) -> None:
    graph = _graph()
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    whole = ort.InferenceSession(_model(graph).SerializeToString()).run(None, {"input": x})[0]
    session = oe.ort_session(oe.onnx_files(_model(graph)), providers=["CPUExecutionProvider"])
    folder = Path(session._model_path).parent
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert np.array_equal(session.run(None, {"input": x})[0], whole)
    del session
    gc.collect()
    assert not folder.exists()  # the staged copy lives as long as the session


def test_staging_where_nothing_can_be_written_is_a_located_error(
    external: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    files = oe.onnx_files(_model(_graph()))
    with pytest.raises(SpecError, match="cannot write a temporary copy") as info, oe.staged(files):
        pass
    assert info.value.loc is not None and "missing" in info.value.loc.file and "TMPDIR" in str(info.value)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_onnx_writes_both_files_listed_in_the_manifest(cli, external: None, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    args = ("build", "resnet_cifar", "--set", "n=1", "--target", "onnx", "--seed", "3")
    r = cli(*args, "-o", str(out))
    assert r.code == 0, r.err
    assert "weights in model.onnx.data" in r.err
    assert sorted(p.name for p in out.iterdir()) == ["build.json", "model.onnx", "model.onnx.data"]
    info = json.loads((out / "build.json").read_text())
    assert info["external_data"] == "model.onnx.data" and info["onnx_checker"] == "passed (full_check)"
    assert info["files"] == {name: _sha(out / name) for name in ("model.onnx", "model.onnx.data")}
    assert verify(out) == []
    # the same bytes again; onnxruntime reads the data beside the model and equals torch
    assert cli(*args, "-o", str(tmp_path / "again")).code == 0
    for name in ("model.onnx", "model.onnx.data"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    module = rescomp.to_torch("resnet_cifar", {"n": 1}, seed=3).eval()
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()


def test_a_one_file_rebuild_removes_the_old_data_file(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    args = ("build", "resnet_cifar", "--set", "n=1", "--target", "onnx", "-o", str(tmp_path))
    with monkeypatch.context() as m:
        m.setattr(oe, "EXTERNAL_DATA_LIMIT", 1024)
        assert cli(*args).code == 0
    assert (tmp_path / "model.onnx.data").is_file()
    assert cli(*args).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.json", "model.onnx"]
    assert "external_data" not in json.loads((tmp_path / "build.json").read_text()) and verify(tmp_path) == []


def test_a_folder_in_the_data_file_s_place_is_refused_before_any_work(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model.onnx.data").mkdir()
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "onnx", "-o", str(tmp_path))
    assert r.code == 1 and "model.onnx.data: error: is a directory, not a regular file" in r.err
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx.data"]


def test_write_files_removes_obsolete_files_in_the_same_step(tmp_path: Path) -> None:
    (tmp_path / "old.data").write_bytes(b"old")
    write_files(tmp_path, {"a": b"1", "build.json": b"{}"}, manifest="build.json", remove=["old.data", "absent"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "build.json"]
    (tmp_path / "gone").mkdir()
    with pytest.raises(SpecError, match="is a directory"):
        write_files(tmp_path, {"a": b"2"}, remove=["gone"])
    assert (tmp_path / "a").read_bytes() == b"1"  # refused before anything was written
    with pytest.raises(ValueError, match="both written and removed"):
        write_files(tmp_path, {"a": b"3"}, remove=["a"])


# --- TensorRT: the recipe without TensorRT, the parser on the fake -----------------------------------


def test_tensorrt_without_tensorrt_keeps_both_files_and_says_so(cli, external: None, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "t"
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt", "-o", str(out))
    assert r.code == 3, r.err
    assert "(model.onnx, model.onnx.data, tensorrt_recipe.json)" in r.err
    assert sorted(p.name for p in out.iterdir()) == [
        "build.json",
        "model.onnx",
        "model.onnx.data",
        "tensorrt_recipe.json",
    ]
    recipe = json.loads((out / "tensorrt_recipe.json").read_text())
    assert recipe["onnx"] == "model.onnx" and recipe["onnx_external_data"] == "model.onnx.data"
    assert recipe["trtexec"].startswith("trtexec --onnx=model.onnx ")  # trtexec reads the data beside it
    assert verify(out) == [] and "model.onnx.data" in json.loads((out / "build.json").read_text())["files"]


@pytest.fixture
def gpu_host(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def install(**options: Any) -> FakeTensorRT:
        fake = FakeTensorRT(**options)
        monkeypatch.setitem(sys.modules, "tensorrt", fake.module)
        monkeypatch.setattr(trt_b, "cuda_ops", lambda: fake.cuda)
        monkeypatch.setattr(trt_b, "probe_host", lambda: trt_b.Host(**{**GPU.__dict__, "missing": []}))
        return fake

    return install


def _exact(graph: Any) -> Any:
    """A fake engine computation equal to fp32 onnxruntime on the seeded weights (one file: the limit
    is lowered only afterwards)."""
    session = ort.InferenceSession(_model(graph).SerializeToString())
    return lambda x: session.run(None, {"input": x})[0]


def test_tensorrt_parses_the_model_file_with_its_data(
    cli, gpu_host, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import tempfile

    fake = gpu_host(compute=_exact(_graph()))
    monkeypatch.setattr(oe, "EXTERNAL_DATA_LIMIT", 1024)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    out = tmp_path / "t"
    r = cli("build", "resnet_cifar", "--set", "n=1", "--target", "tensorrt", "--batch", "1:2:4", "-o", str(out))
    assert r.code == 0, r.err
    # the parser got the model's path and read every weight from model.onnx.data beside it
    weights = oe.initializer_bytes(onnx.load(str(out / "model.onnx"), load_external_data=False))
    assert [c for c in fake.calls if c[0].startswith("parse")] == [("parse_from_file", ("model.onnx", weights))]
    engine_info = json.loads((out / "model.json").read_text())
    assert engine_info["onnx_sha256"] == _sha(out / "model.onnx")
    assert engine_info["onnx_data_sha256"] == _sha(out / "model.onnx.data")
    info = json.loads((out / "build.json").read_text())
    assert set(info["files"]) == {"model.engine", "model.json", "model.onnx", "model.onnx.data", "tensorrt_recipe.json"}
    assert info["parity"]["max_rel"] < 1e-6 and verify(out) == []  # against onnxruntime from the files
    assert list((tmp_path / "tmp").iterdir()) == []  # every staged copy is gone


def test_tensorrt_small_models_still_parse_from_bytes(gpu_host) -> None:  # type: ignore[no-untyped-def]
    fake = gpu_host()
    graph = _graph()
    files = oe.onnx_files(_model(graph))
    r = trt_b.recipe("model.onnx", "model.engine", "fp32", trt_b.Profile(1, 2, 4), [3, 32, 32], 1 << 30)
    trt_b.build_engine(files["model.onnx"], r, graph, None)
    assert [c for c in fake.calls if c[0].startswith("parse")] == [("parse", len(files["model.onnx"]))]


# --- rescomp bench -------------------------------------------------------------------------------------


def test_bench_onnx_and_tensorrt_take_the_files(gpu_host, external: None, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from rescomp.backends.bench import prepare

    graph = _graph()
    state = seeded_state(graph, 0)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    got = prepare("onnx", graph, state, x, "cpu", "fp32", tmp_path).call()[0]
    session = ort.InferenceSession(str(_written(tmp_path / "o", graph)), providers=["CPUExecutionProvider"])
    assert np.array_equal(got, session.run(None, {"input": x})[0])
    fake = gpu_host()
    prepare("tensorrt", graph, state, x, "cuda", "fp32", tmp_path)
    assert [c[0] for c in fake.calls if c[0].startswith("parse")] == ["parse_from_file"]


def _written(folder: Path, graph: Any) -> Path:
    folder.mkdir()
    for name, data in oe.onnx_files(_model(graph)).items():
        (folder / name).write_bytes(data)
    return folder / "model.onnx"
