"""Filesystem helpers: artifacts are written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rescomp.errors import Loc, SpecError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_files(folder: Path, files: dict[str, bytes], *, create: bool = False) -> None:
    """Write every file under a temporary name in ``folder``, then rename them all into place, so an
    interruption leaves either the old files or the new ones, never a truncated file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{folder} exists and is not a folder", Loc(str(folder)))
    if not folder.is_dir():
        if not create or not folder.parent.is_dir():
            missing = folder if not create else folder.parent
            raise SpecError(
                f"cannot write into {folder}: folder {missing} does not exist",
                Loc(str(folder)),
                hint="create the folder first",
            )
        folder.mkdir()
    mode = 0o666 & ~_umask()
    temps: dict[str, str] = {}
    try:
        for name, data in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            temps[name] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
        for name, tmp in temps.items():
            os.replace(tmp, folder / name)
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace ``path`` in one step with ``data``; its folder must exist."""
    path = Path(path)
    write_files(
        path.parent if str(path.parent) else Path("."), {path.name: data.encode() if isinstance(data, str) else data}
    )
