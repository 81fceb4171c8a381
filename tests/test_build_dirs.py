"""Build folders (issue 12, item 7): a build folder holds the old build or the new one, never a mix;
leftover temporaries are cleaned; SIGINT/SIGTERM clean up; ``build.json`` verifies against the files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rescomp.backends.manifest import verify
from rescomp.errors import SpecError
from rescomp.fsutil import write_files

SPEC = """\
name: t
input: [3, 32, 32]
layers:
  - {{op: conv, out: {out}}}
  - {{op: adaptive_avgpool}}
  - {{op: flatten}}
  - {{op: linear, out: 10}}
"""


def spec(tmp_path: Path, out: int = 16) -> str:
    path = tmp_path / f"t{out}.yaml"
    path.write_text(SPEC.format(out=out))
    return str(path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_directory_in_place_of_a_file_stops_the_build_before_any_write(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    od = tmp_path / "od" / "mix"
    od.parent.mkdir()
    assert cli("build", spec(tmp_path), "-o", str(od)).code == 0
    (od / "model.safetensors").unlink()
    (od / "model.safetensors").mkdir()
    before = snapshot(od)
    r = cli("build", spec(tmp_path, out=8), "-o", str(od))
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert r.err.startswith(f"{od / 'model.safetensors'}: error: is a directory, not a regular file")
    assert snapshot(od) == before  # model.py and build.json untouched
    assert any("model.safetensors: missing" in p or "not a regular file" in p for p in verify(od))


def test_stale_temporaries_are_removed_and_others_kept(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    od = tmp_path / "od"
    od.mkdir()
    leftovers = [
        ".model.safetensors.abc.tmp",
        ".model.safetensors.k2j_9x0q.tmp",
        ".model.onnx.x.tmp",
        ".build.json.q.tmp",
    ]
    for name in leftovers:  # what a SIGKILL during earlier builds leaves
        (od / name).write_bytes(b"\0" * 1000)
    for name in (".notes.tmp", "keep.tmp", ".model.safetensors.tmp"):  # not rescomp's pattern: kept
        (od / name).write_bytes(b"user")
    (od / ".model.py.dir.tmp").mkdir()  # rescomp's pattern, but not a regular file: kept
    assert cli("build", spec(tmp_path), "-o", str(od)).code == 0
    names = sorted(p.name for p in od.iterdir())
    assert names == sorted(
        [
            ".model.py.dir.tmp",
            ".model.safetensors.tmp",
            ".notes.tmp",
            "build.json",
            "keep.tmp",
            "model.py",
            "model.safetensors",
        ]
    )
    assert verify(od) == []


def test_manifest_is_removed_first_and_renamed_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"build.json": b"old manifest", "a": b"old a", "b": b"old b"}, manifest="build.json")
    real_replace = os.replace
    order: list[str] = []

    def record(src: str, dst: Path) -> None:
        order.append(Path(dst).name)
        if Path(dst).name == "b":
            assert not (tmp_path / "build.json").exists()  # the old manifest went before any new file
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", record)
    write_files(tmp_path, {"build.json": b"new manifest", "a": b"new a", "b": b"new b"}, manifest="build.json")
    assert order == ["a", "b", "build.json"]


def test_an_interrupted_build_leaves_no_manifest_to_trust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill between the renames (the one window SIGKILL can hit) leaves the folder without build.json,
    which verify reports; with signals it cannot happen (they are blocked around the renames)."""
    from rescomp.backends.manifest import build_manifest  # noqa: F401  (the real manifest format)

    files = {"model.onnx": b"old"}
    write_files(tmp_path, {**files, "build.json": _manifest(files)}, manifest="build.json")
    assert verify(tmp_path) == []
    real_replace = os.replace

    def killed(src: str, dst: Path) -> None:
        if Path(dst).name == "build.json":
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    new = {"model.onnx": b"new"}
    with pytest.raises(KeyboardInterrupt):
        write_files(tmp_path, {**new, "build.json": _manifest(new)}, manifest="build.json")
    monkeypatch.undo()
    assert verify(tmp_path) == [f"{tmp_path / 'build.json'}: missing (an interrupted build, or not a build folder)"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def _manifest(files: dict[str, bytes]) -> bytes:
    import hashlib

    digests = {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}
    return json.dumps({"schema": "rescomp.build/1", "files": digests}).encode()


def test_verify_finds_every_difference(tmp_path: Path) -> None:
    files = {"model.py": b"code", "model.safetensors": b"weights"}
    write_files(tmp_path, {**files, "build.json": _manifest(files)}, manifest="build.json")
    assert verify(tmp_path) == []
    (tmp_path / "model.py").write_bytes(b"changed")
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "model.safetensors").mkdir()
    assert verify(tmp_path) == [
        f"{tmp_path / 'model.py'}: SHA-256 differs from build.json (the file changed after the build)",
        f"{tmp_path / 'model.safetensors'}: not a regular file",
    ]
    (tmp_path / "model.safetensors").rmdir()
    assert verify(tmp_path)[1] == f"{tmp_path / 'model.safetensors'}: missing"
    (tmp_path / "build.json").write_text("[" * 100_000)
    assert "not valid JSON" in verify(tmp_path)[0]
    (tmp_path / "build.json").write_text(json.dumps({"schema": "rescomp.build/1", "files": {"../x": "0"}}))
    assert "not a plain file name" in verify(tmp_path)[0]
    (tmp_path / "build.json").write_text("{}")
    assert "not a rescomp.build/1 manifest" in verify(tmp_path)[0]


def test_verify_a_real_build(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    assert cli("build", spec(tmp_path), "-o", str(tmp_path / "b")).code == 0
    assert verify(tmp_path / "b") == []
    assert cli("build", spec(tmp_path, out=8), "-o", str(tmp_path / "b")).code == 0  # rebuild: fully new
    assert verify(tmp_path / "b") == []
    assert json.loads((tmp_path / "b" / "build.json").read_text())["source"].endswith("t8.yaml")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_write_removes_the_temporaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sig: int, code: int
) -> None:
    write_files(tmp_path, {"a": b"old a", "build.json": b"old"}, manifest="build.json")
    before = signal.getsignal(sig)
    real_fsync = os.fsync

    def signalled(fd: int) -> None:
        real_fsync(fd)
        os.kill(os.getpid(), sig)

    monkeypatch.setattr(os, "fsync", signalled)
    with pytest.raises(SystemExit) as info:
        write_files(tmp_path, {"a": b"new a", "build.json": b"new"}, manifest="build.json")
    monkeypatch.undo()
    assert info.value.code == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "build.json"]  # no temporaries
    assert (tmp_path / "a").read_bytes() == b"old a" and (tmp_path / "build.json").read_bytes() == b"old"
    assert signal.getsignal(sig) == before  # handlers only around the write
    err = capsys.readouterr().err
    name = signal.Signals(sig).name
    assert err == f"{tmp_path}: error: interrupted by {name} while writing; the folder keeps its previous files\n"


def test_sigterm_to_a_real_build(tmp_path: Path) -> None:
    """SIGTERM a ``rescomp build`` subprocess while it writes model.safetensors: exit 143, the old build
    intact, no temporaries."""
    pytest.importorskip("torch")
    od = tmp_path / "od"
    path = spec(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    first = subprocess.run(
        [sys.executable, "-m", "rescomp.cli.main", "build", path, "-o", str(od)],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    before = snapshot(od)
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            f"""
            import os, sys, time
            real = os.fsync
            def slow(fd):
                real(fd)
                if os.path.basename(os.readlink(f"/proc/self/fd/{{fd}}")).startswith(".model.safetensors."):
                    print("writing", flush=True)
                    time.sleep(60)
            os.fsync = slow
            sys.argv = ["rescomp", "build", {spec(tmp_path, out=8)!r}, "-o", {str(od)!r}]
            from rescomp.cli.main import main
            main()
            """
        )
    )
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    proc = subprocess.Popen(
        [sys.executable, str(probe)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "writing\n"
        assert any(p.name.startswith(".model.safetensors.") for p in od.iterdir())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and "interrupted by SIGTERM" in err and "keeps its previous files" in err
    assert snapshot(od) == before and sorted(before) == ["build.json", "model.py", "model.safetensors"]
    assert sorted(p.name for p in od.iterdir()) == sorted(before)
    assert verify(od) == []


def test_two_writers_never_share_a_folder(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code = (
            "import sys; from rescomp.fsutil import write_files; from rescomp.errors import SpecError\n"
            "try:\n    write_files(sys.argv[1], {'a': b'x'})\nexcept SpecError as e:\n    print(e)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
        )
        assert "another rescomp process is writing into this folder" in out.stdout, out.stderr
        assert list(tmp_path.iterdir()) == []
    finally:
        os.close(fd)


def test_preflight_refuses_before_any_work(tmp_path: Path) -> None:
    from rescomp.backends.build import BuildOptions, build
    from rescomp.spec.load import build_graph

    od = tmp_path / "od"
    od.mkdir()
    os.mkfifo(od / "model.onnx")
    graph = build_graph(spec(tmp_path))
    with pytest.raises(SpecError, match="is a FIFO"):
        build(graph, od, BuildOptions(target="onnx"))
    assert [p.name for p in od.iterdir()] == ["model.onnx"]
