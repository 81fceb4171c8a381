"""Output paths (issue 12, items 1 and 8): rescomp writes only regular files inside the folder it is
given, and refuses everything else with exit 1 or 2 and one located line, never exit 4."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from rescomp.errors import SpecError
from rescomp.fsutil import write_atomic, write_files

SPEC = """\
name: {name}
input: [3, 32, 32]
layers:
  - {{op: conv, out: {out}}}
  - {{op: adaptive_avgpool}}
  - {{op: flatten}}
  - {{op: linear, out: 10}}
"""


def spec(tmp_path: Path, name: str = "t", out: int = 16, file: str = "ok.yaml") -> str:
    path = tmp_path / file
    path.write_text(SPEC.format(name=name, out=out))
    return str(path)


def one_line(r, code: int, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert r.code == code, r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert " error: " in r.err or r.err.startswith("error: ")
    for needle in needles:
        assert needle in r.err, r.err


def test_emit_refuses_a_directory(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d").mkdir()
    one_line(cli("emit", spec(tmp_path), "-o", str(tmp_path / "d")), 1, f"{tmp_path / 'd'}: error: is a directory")
    assert list((tmp_path / "d").iterdir()) == []
    one_line(cli("emit", spec(tmp_path), "-o", str(tmp_path / "d") + "/"), 1, "emit writes one file")


def test_emit_refuses_a_fifo_and_links_to_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    (tmp_path / "dirlink").symlink_to(tmp_path)
    one_line(cli("emit", spec(tmp_path), "-o", str(fifo)), 1, "is a FIFO")
    one_line(cli("emit", spec(tmp_path), "-o", str(tmp_path / "link")), 1, "symbolic link to a FIFO")
    one_line(cli("emit", spec(tmp_path), "-o", str(tmp_path / "dirlink")), 1, "symbolic link to a directory")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dirlink", "fifo", "link", "ok.yaml"]


def test_emit_refuses_a_socket(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
    except OSError:  # path too long for AF_UNIX on this machine
        pytest.skip("cannot bind a unix socket here")
    try:
        one_line(cli("emit", spec(tmp_path), "-o", str(path)), 1, "is a socket")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        sock.close()


@pytest.mark.parametrize(("minor", "what"), [(3, "null"), (7, "full")])
def test_emit_never_replaces_a_device(cli, tmp_path: Path, minor: int, what: str) -> None:  # type: ignore[no-untyped-def]
    """/dev/null and /dev/full themselves, as fresh nodes in tmp_path: the same devices, without
    risking the machine's own /dev if this ever regresses."""
    dev = tmp_path / what
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except (PermissionError, OSError, AttributeError):
        pytest.skip("making a device node needs root")
    r = cli("emit", spec(tmp_path), "-o", str(dev))
    one_line(r, 1, f"{dev}: error: is a character device, not a regular file")
    assert stat.S_ISCHR(os.lstat(dev).st_mode) and os.lstat(dev).st_rdev == os.makedev(1, minor)
    one_line(cli("build", spec(tmp_path), "-o", str(dev)), 1, "is a character device, not a folder")


def test_emit_over_a_link_to_a_file_replaces_the_link_not_its_target(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "target.py"
    target.write_text("keep")
    (tmp_path / "out.py").symlink_to(target)
    assert cli("emit", spec(tmp_path), "-o", str(tmp_path / "out.py")).code == 0
    assert target.read_text() == "keep"
    assert not (tmp_path / "out.py").is_symlink() and "class" in (tmp_path / "out.py").read_text()


def test_emit_into_proc_is_a_clean_error(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc")
    one_line(cli("emit", spec(tmp_path), "-o", "/proc/x"), 1, "/proc/x: error: cannot write")


@pytest.mark.parametrize("command", ["emit", "build", "report"])
def test_empty_output_is_a_usage_error(cli, tmp_path: Path, monkeypatch, command: str) -> None:  # type: ignore[no-untyped-def]
    path = spec(tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    one_line(cli(command, path, "-o", ""), 2, "-o/--output is empty")
    assert list(work.iterdir()) == []


def test_missing_or_file_parent(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = spec(tmp_path)
    assert cli("emit", path, "-o", str(tmp_path / "no" / "such" / "m.py")).code == 0  # missing folders are made
    assert "class" in (tmp_path / "no" / "such" / "m.py").read_text()
    one_line(cli("emit", path, "-o", str(tmp_path / "ok.yaml" / "m.py")), 1, "is a regular file, not a folder")
    one_line(cli("emit", path, "-o", str(tmp_path / "ok.yaml" / "a" / "m.py")), 1, "is a regular file, not a folder")
    one_line(cli("build", path, "-o", str(tmp_path / "ok.yaml")), 1, "is a regular file, not a folder")
    one_line(cli("report", path, "-o", str(tmp_path / "ok.yaml" / "a" / "b")), 1, "is a regular file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no", "ok.yaml"]


def test_report_refuses_a_name_too_long_for_the_file_system(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = spec(tmp_path, name="a" * 250)
    r = cli("report", path, "-o", str(tmp_path / "rep"))
    one_line(r, 1, f"{path}: error: report file", "longer than the", "shorter name", "at most 244 fit")
    assert not (tmp_path / "rep").exists()


def test_report_refuses_to_overwrite_the_paper_reproduction(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import rescomp.reports

    # the real library takes seconds; its README.md is what matters here
    monkeypatch.setattr(
        rescomp.reports, "library_files", lambda step=None: {"README.md": b"# paper\n", "library.svg": b"<svg/>"}
    )
    path = spec(tmp_path, name="README")
    r = cli("report", "--library", path, "-o", str(tmp_path / "rep"))
    one_line(r, 1, "README.md", "library reproduction", "nothing was written")
    assert not (tmp_path / "rep").exists()


def test_report_refuses_two_models_with_one_name(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = spec(tmp_path, file="a.yaml")
    b = spec(tmp_path, out=8, file="b.yaml")
    one_line(cli("report", a, b, "-o", str(tmp_path / "rep")), 1, f"{b}: error: report file 't.json'", a)
    assert not (tmp_path / "rep").exists()
    c = spec(tmp_path, name="T", out=8, file="c.yaml")  # case-insensitive file systems would merge them
    one_line(cli("report", a, c, "-o", str(tmp_path / "rep")), 1, "would overwrite")
    assert cli("report", a, a, "-o", str(tmp_path / "rep")).code == 0  # the same files twice: fine
    assert len(list((tmp_path / "rep").iterdir())) == 6


def test_report_refuses_a_device_among_its_files(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rep = tmp_path / "rep"
    rep.mkdir()
    os.mkfifo(rep / "t.md")
    one_line(cli("report", spec(tmp_path), "-o", str(rep)), 1, f"{rep / 't.md'}: error: is a FIFO")
    assert [p.name for p in rep.iterdir()] == ["t.md"]  # nothing else was written either


def test_target_turned_into_a_directory_mid_write_is_never_replaced(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The targets are checked again just before the renames: a target that became a directory (or a
    device) while the data was being written stops the write with nothing replaced."""
    write_files(tmp_path, {"a.txt": b"old a", "b.txt": b"old b"})
    real_fsync = os.fsync

    def swap(fd: int) -> None:
        real_fsync(fd)
        if (tmp_path / "b.txt").is_file():
            (tmp_path / "b.txt").unlink()
            (tmp_path / "b.txt").mkdir()

    monkeypatch.setattr(os, "fsync", swap)
    with pytest.raises(SpecError, match="is a directory"):
        write_files(tmp_path, {"a.txt": b"new a", "b.txt": b"new b"})
    monkeypatch.undo()
    assert (tmp_path / "a.txt").read_bytes() == b"old a" and (tmp_path / "b.txt").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "x\0y", "n" * 300])
def test_file_names_stay_inside_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(SpecError):
        write_files(tmp_path / "out", {name: b"x"}, create=True)
    assert not (tmp_path / "out").exists()


def test_long_names_get_short_temporaries(tmp_path: Path) -> None:
    name = "n" * 250  # .NAME.XXXXXXXX.tmp would pass 255 bytes
    write_atomic(tmp_path / name, b"data")
    assert [p.name for p in tmp_path.iterdir()] == [name]
