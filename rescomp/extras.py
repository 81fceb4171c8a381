"""Optional packages: which extra of ``pip install 'rescomp[EXTRA]'`` provides which module.

This is the one place that turns a missing optional import into an answer a user can act on: a
:class:`MissingPackage` (exit code 3) naming the package and the exact install line. Commands wrap
their work in :func:`needs`; the CLI's last resort maps any other missing optional module through
:func:`missing_package`. A missing module that is neither optional nor a third-party dependency of
one (a ``rescomp`` module, the standard library) stays what it is: a bug.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rescomp.errors import BackendUnavailable

_TORCH = frozenset({"torch", "safetensors", "numpy", "ml_dtypes"})
_ONNX = _TORCH | {"onnx", "onnxruntime"}

#: extra -> the importable top-level modules it installs (pyproject.toml's optional-dependencies;
#: tests/test_extras.py keeps the two equal)
EXTRAS: dict[str, frozenset[str]] = {
    "torch": _TORCH,
    "onnx": _ONNX,
    "tensorrt": _ONNX | {"tensorrt"},
    "crosscheck": frozenset({"torch", "numpy", "fvcore", "ptflops", "thop", "torchinfo"}),
    "reports": frozenset({"matplotlib", "graphviz"}),
}

#: what each extra is for, in the words of the commands
PURPOSE = {
    "torch": "PyTorch modules, weights and the torch and aoti targets",
    "onnx": "ONNX export and onnxruntime",
    "tensorrt": "TensorRT engines",
    "crosscheck": "the FLOP counters rescomp crosscheck runs",
    "reports": "charts (matplotlib) and architecture graphs (graphviz)",
}

#: module -> the distribution pip installs it from, where the two names differ
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn", "cv2": "opencv-python"}


class MissingPackage(BackendUnavailable):
    """An optional Python package is not installed (or too old to import): exit code 3."""

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        super().__init__(message, hint=install_line(extra))
        self.extra = extra
        self.module = module


def install_line(extra: str) -> str:
    """The exact command that installs an extra (quoted for every common shell)."""
    return f"pip install 'rescomp[{extra}]'"


def extra_for(module: str) -> str | None:
    """The smallest extra that provides ``module`` (a top-level name), or None."""
    top = module.split(".")[0]
    owners = [e for e, mods in EXTRAS.items() if top in mods]
    return min(owners, key=lambda e: len(EXTRAS[e])) if owners else None


def _third_party(module: str) -> bool:
    top = module.split(".")[0]
    return bool(top) and top != "rescomp" and top not in sys.stdlib_module_names


def missing_package(exc: ImportError, extra: str | None = None, what: str = "this command") -> MissingPackage | None:
    """The :class:`MissingPackage` for an import that failed, or None when the failure is not about an
    optional package (a rescomp module or the standard library: a bug). ``extra`` is the extra the
    command needs; without it, the smallest extra that provides the module."""
    name = exc.name or ""
    if not _third_party(name):
        return None
    top = name.split(".")[0]
    extra = extra or extra_for(top)
    if extra is None:
        return None
    dist = DISTRIBUTION.get(top, top)
    if not isinstance(exc, ModuleNotFoundError) or (top != name and top in sys.modules):
        # the package is there but does not provide what rescomp imports: too old, or broken
        detail = str(exc).splitlines()[0][:200] if str(exc) else name
        return MissingPackage(
            f"{what} cannot import {name} ({detail}); the installed {dist} is too old or incomplete",
            extra=extra,
            module=top,
        )
    if top in EXTRAS[extra]:
        message = f"{what} needs the Python package '{dist}', which is not installed"
    else:  # a dependency of an optional package that is installed without it
        message = (
            f"{what} needs the Python package '{dist}' (a dependency of an installed package), which is not installed"
        )
    return MissingPackage(message, extra=extra, module=top)


@contextlib.contextmanager
def needs(extra: str, what: str) -> Iterator[None]:
    """Run a command's work; a missing optional package becomes :class:`MissingPackage` for ``extra``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}")
    try:
        yield
    except MissingPackage as exc:
        if exc.extra == extra or exc.module not in EXTRAS[extra]:
            raise
        # raised deeper down for a smaller extra: the command's own extra is the one that suffices
        raise MissingPackage(exc.message, extra=extra, module=exc.module) from None
    except ImportError as exc:
        found = missing_package(exc, extra, what)
        if found is None:
            raise
        raise found from None


__all__ = [
    "DISTRIBUTION",
    "EXTRAS",
    "PURPOSE",
    "MissingPackage",
    "extra_for",
    "install_line",
    "missing_package",
    "needs",
]
