"""Nothing half-written: an interrupted write leaves the old files (or none) and no temporary files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rescomp.errors import SpecError
from rescomp.fsutil import write_atomic, write_files


def test_interrupted_write_leaves_old_files_and_no_temporaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path, {"a.txt": b"old a", "b.txt": b"old b"})
    real_replace = os.replace
    calls = []

    def interrupted(src: str, dst: Path) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C between the renames
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_files(tmp_path, {"a.txt": b"new a", "b.txt": b"new b"})
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no .tmp files left
    assert (tmp_path / "b.txt").read_bytes() == b"old b"  # never truncated


def test_failure_while_writing_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(SpecError, match="cannot write: No space left on device") as info:
        write_files(tmp_path / "out", {"model.onnx": b"x" * 1000}, create=True)
    assert str(info.value).startswith(f"{tmp_path / 'out' / 'model.onnx'}: error: ")  # exit 1, not a traceback
    monkeypatch.undo()
    assert not (tmp_path / "out").exists()  # the folder the failed write made is removed too


def test_missing_parents_are_made_and_removed_again_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path / "a" / "b" / "c", {"x.txt": b"x"}, create=True)
    assert (tmp_path / "a" / "b" / "c" / "x.txt").read_bytes() == b"x"
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(SpecError, match="No space left"):
        write_files(tmp_path / "a" / "d" / "e", {"x.txt": b"x"}, create=True)
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]  # d and d/e were made, then removed
    with pytest.raises(SpecError, match="does not exist"):
        write_files(tmp_path / "f" / "g", {"x.txt": b"x"})  # without create, nothing is made
    assert not (tmp_path / "f").exists()


def test_replace_is_atomic_and_keeps_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_output_goes_only_where_told(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch")
    before = set(Path.cwd().iterdir())
    assert cli("build", "resnet_cifar", "--set", "n=1", "-o", str(tmp_path / "out")).code == 0
    assert set(Path.cwd().iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
