"""Filesystem helpers: artifacts are written whole or not at all, and only ever over regular files.

Every write rescomp makes goes through :func:`write_files` (or :func:`write_atomic`, one file), which
keeps these rules:

- The output folder is a folder, and each file name is one plain path component (no ``/``, not ``.``
  or ``..``) that the file system accepts, so every file lands inside that folder.
- Only regular files are ever replaced. An existing target that is a directory, a device, a FIFO, a
  socket, or a symbolic link to one of those is refused. A symbolic link to a regular file (or a
  dangling one) is itself replaced by the new file; its target is never written. The targets are
  checked before anything is written, again just before the renames start, and once more before each
  rename, so ``os.replace`` never lands on something that became a directory or a device meanwhile.
- Data goes to a temporary ``.NAME.XXXXXXXX.tmp`` in the same folder, is fsynced, then renamed. A
  ``manifest`` (``build.json`` of a build) is removed first and renamed last, so a folder that holds a
  manifest always matches it (:func:`rescomp.backends.manifest.verify` checks this).
- Temporaries that an earlier, killed rescomp left (``.NAME.*.tmp``) are removed at the start.
- Files the new ones make obsolete (``remove``: an old ``model.onnx.data`` beside a new self-contained
  ``model.onnx``) are removed in the same step as the renames, before the manifest, and only if they are
  regular files (or links).
- SIGINT and SIGTERM during a write remove the temporaries and exit with 130 or 143; the renames run
  with both signals blocked, so such a signal leaves the old files or the new ones, never a mix.
- An exclusive lock on the folder keeps two rescomp processes from writing into it at once.
- Any OS error becomes a :class:`SpecError` naming the path (exit code 1), never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import FrameType

from rescomp.errors import Loc, SpecError, UsageError

NAME_MAX_DEFAULT = 255  # bytes in one path component on every common file system
_TEMP_EXTRA = 14  # ".", ".", 8 random characters and ".tmp" that mkstemp adds around a name
_REPLACE_HINT = "rescomp writes only regular files; choose another path"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _os_error(exc: OSError, path: Path | str, doing: str = "cannot write") -> SpecError:
    reason = exc.strerror or type(exc).__name__
    return SpecError(f"{doing}: {reason}", Loc(str(path)), hint="choose a writable output path")


def output_path(text: str, option: str = "-o/--output") -> Path:
    """The path given to an output option; an empty one is a usage error, never the current folder."""
    if not text.strip():
        raise UsageError(f"error: {option} is empty (hint: give a path; use . for the current folder)")
    if "\0" in text:
        raise UsageError(f"error: {option} contains a NUL character (hint: give a plain path)")
    return Path(text)


def name_max(folder: Path) -> int:
    """The longest file name (in bytes) the file system under ``folder`` (or its nearest existing parent)
    accepts."""
    here = Path(folder)
    for candidate in (here, *here.parents):
        with contextlib.suppress(OSError, ValueError):
            if candidate.is_dir():
                return int(os.pathconf(candidate, "PC_NAME_MAX"))
    return NAME_MAX_DEFAULT


def _describe(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_target(path: Path) -> None:
    """Refuse ``path`` as an output file unless it is absent, a regular file, or a symbolic link that
    does not lead to anything but a regular file (the link itself is then replaced)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _os_error(exc, path) from None
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            return  # dangling or looping link: only the link is replaced
        if stat.S_ISREG(target.st_mode):
            return
        raise SpecError(
            f"is a symbolic link to {_describe(target.st_mode)}, not a regular file", Loc(str(path)), hint=_REPLACE_HINT
        )
    raise SpecError(f"is {_describe(st.st_mode)}, not a regular file", Loc(str(path)), hint=_REPLACE_HINT)


def check_name(name: str, folder: Path, limit: int | None = None) -> None:
    """Refuse a file name that is not one plain path component the file system accepts."""
    if not name or name in (".", "..") or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise SpecError(f"'{name}' is not a plain file name", Loc(str(folder)), hint="this is a rescomp bug")
    limit = name_max(folder) if limit is None else limit
    size = len(os.fsencode(name))
    if size > limit:
        short = name if len(name) <= 40 else name[:20] + "..." + name[-16:]
        raise SpecError(
            f"file name '{short}' is {size} bytes, longer than the {limit} this file system allows",
            Loc(str(folder)),
            hint="use a shorter name",
        )


def _check_folder(folder: Path, create: bool) -> bool:
    """Check the output folder; return whether it exists."""
    if not str(folder):
        raise UsageError("error: the output folder is empty (hint: give a path, for example -o out/)")
    try:
        st = os.stat(folder)
    except (FileNotFoundError, NotADirectoryError):  # missing, or under a file (reported below)
        st = None
    except OSError as exc:
        raise _os_error(exc, folder, "cannot use this folder") from None
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise SpecError(
                f"exists and is {_describe(st.st_mode)}, not a folder", Loc(str(folder)), hint="choose a folder"
            )
        return True
    for ancestor in _missing_folders(folder)[:1]:
        _check_folder(ancestor.parent, False)  # the nearest existing ancestor must be a folder
    if not create:
        raise SpecError(
            f"cannot write into {folder}: folder {folder} does not exist",
            Loc(str(folder)),
            hint="create the folder first",
        )
    return False


def _missing_folders(folder: Path) -> list[Path]:
    """The folders from the outermost missing ancestor of ``folder`` down to ``folder`` itself."""
    missing: list[Path] = []
    here = folder
    while True:
        try:
            os.stat(here)
            break
        except (FileNotFoundError, NotADirectoryError):
            missing.append(here)
        except OSError as exc:
            raise _os_error(exc, here, "cannot use this folder") from None
        if here.parent == here:
            break
        here = here.parent
    return missing[::-1]


def _make_folders(folder: Path, create: bool) -> list[Path]:
    """Create ``folder`` and its missing parents (``create``); return those made, outermost first."""
    made: list[Path] = []
    for path in _missing_folders(folder):
        try:
            path.mkdir()
        except FileExistsError:
            _check_folder(path, create)  # made meanwhile: fine if it is a folder
            continue
        except OSError as exc:
            _remove_folders(made)
            raise _os_error(exc, path, "cannot create the folder") from None
        made.append(path)
    return made


def _remove_folders(made: list[Path]) -> None:
    """Undo :func:`_make_folders` after a failed write: remove the folders it made, if still empty."""
    for path in reversed(made):
        with contextlib.suppress(OSError):
            path.rmdir()


def preflight(folder: Path, names: Iterable[str], *, create: bool = False) -> None:
    """Every check :func:`write_files` makes before it writes anything, without writing: the folder, the
    names, and that each target is absent or a regular file. Call it before expensive work."""
    folder = Path(folder)
    _check_folder(folder, create)
    limit = name_max(folder)
    names = list(names)
    for name in names:
        check_name(name, folder, limit)
    for name in names:
        check_target(folder / name)


def _temp_prefix(name: str, limit: int) -> str:
    """``.NAME.``, or a hash of the name where ``.NAME.XXXXXXXX.tmp`` would exceed the name limit."""
    if len(os.fsencode(name)) + _TEMP_EXTRA <= limit:
        return f".{name}."
    return f".{hashlib.sha256(name.encode()).hexdigest()[:16]}."


def _remove_stale(folder: Path, names: Iterable[str], limit: int) -> None:
    """Remove the temporaries an earlier rescomp write left for these names (a SIGKILL or power loss
    leaves them); only regular files that match rescomp's own pattern are touched."""
    patterns = [re.compile(re.escape(_temp_prefix(n, limit)) + r"[A-Za-z0-9_]+\.tmp\Z") for n in set(names)]
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") and any(p.match(entry.name) for p in patterns):
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[int | None]:
    """An exclusive lock on the folder (POSIX); yields the folder's descriptor for a final fsync."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield None
        return
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:
            pass
        except BlockingIOError:
            raise SpecError(
                "another rescomp process is writing into this folder",
                Loc(str(folder)),
                hint="wait for it to finish, or write elsewhere",
            ) from None
        except OSError:
            pass  # a file system without locks: go on unlocked
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def _cleanup_on_signals(folder: Path, temps: dict[str, str], state: dict[str, bool]) -> Iterator[None]:
    """While writing, SIGINT and SIGTERM remove the temporaries and exit 130 or 143 (128 + the signal)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        for tmp in list(temps.values()):
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        what = "the new files are in place" if state.get("committed") else "the folder keeps its previous files"
        sys.stderr.write(f"{folder}: error: interrupted by {signal.Signals(signum).name} while writing; {what}\n")
        raise SystemExit(128 + signum)

    wanted = [signal.SIGINT, signal.SIGTERM]
    previous = {}
    try:
        for sig in wanted:
            previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (they are delivered afterwards) while the renames run."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def write_files(
    folder: Path,
    files: Mapping[str, bytes | bytearray],
    *,
    create: bool = False,
    manifest: str | None = None,
    stale: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> None:
    """Write every file under a temporary name in ``folder``, then rename them all into place, so an
    interruption leaves either the old files or the new ones, never a truncated file.

    ``create``: make ``folder`` and its missing parents (the nearest existing ancestor must be a folder);
    if the write then fails, the folders made are removed again. ``manifest``: the file that
    describes the others; the old one is removed before the first rename and the new one renamed last.
    ``stale``: more names whose leftover temporaries to remove (the names in ``files`` always are).
    ``remove``: files the new ones make obsolete, deleted (where present) after the other renames and
    before the manifest's. The module docstring lists every rule.
    """
    folder = Path(folder)
    obsolete = list(remove)
    both = sorted(set(obsolete) & set(files))
    if both:
        raise ValueError(f"{both} both written and removed")
    exists = _check_folder(folder, create)
    limit = name_max(folder)
    for name in [*files, *obsolete]:
        check_name(name, folder, limit)
    for name in [*files, *obsolete]:
        check_target(folder / name)
    if manifest is not None and manifest not in files:
        manifest = None
    made = [] if exists else _make_folders(folder, create)
    mode = 0o666 & ~_umask()
    temps: dict[str, str] = {}
    state = {"committed": False}
    order = [n for n in files if n != manifest] + ([manifest] if manifest else [])
    current = folder
    try:
        with _locked(folder) as dir_fd, _cleanup_on_signals(folder, temps, state):
            _remove_stale(folder, [*files, *stale], limit)
            for name in order:
                current = folder / name
                fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(name, limit), suffix=".tmp", dir=folder)
                temps[name] = tmp
                with os.fdopen(fd, "wb") as fh:
                    fh.write(files[name])
                    fh.flush()
                    os.fsync(fh.fileno())
                os.chmod(tmp, mode)
            current = folder
            with _signals_blocked():
                for name in [*order, *obsolete]:  # all still regular files (or absent)? else nothing is replaced
                    check_target(folder / name)
                if manifest is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(folder / manifest)  # checked above: a regular file or a link
                for name in order:
                    if name == manifest:
                        _unlink(folder, obsolete)
                    check_target(folder / name)
                    os.replace(temps[name], folder / name)
                    del temps[name]
                if manifest is None:
                    _unlink(folder, obsolete)
                state["committed"] = True
                if dir_fd is not None:
                    with contextlib.suppress(OSError):
                        os.fsync(dir_fd)
    except OSError as exc:
        raise _os_error(exc, current) from None
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if not state["committed"]:
            _remove_folders(made)  # nothing half-made: a failed write leaves no new folders behind


def _unlink(folder: Path, names: list[str]) -> None:
    """Remove these files where present (each checked: a regular file or a link, never a folder)."""
    for name in names:
        check_target(folder / name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / name)


def write_atomic(path: Path, data: str | bytes, *, create: bool = False) -> None:
    """Replace the regular file ``path`` in one step with ``data``; its folder must exist, unless
    ``create`` (then missing folders are made, as :func:`write_files` does)."""
    path = Path(path)
    if not str(path) or path.name in ("", ".", ".."):
        raise SpecError("is not a file path", Loc(str(path)), hint="give a file path such as out/model.py")
    write_files(path.parent, {path.name: data.encode() if isinstance(data, str) else data}, create=create)
