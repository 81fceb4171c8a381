"""Typed errors. The library raises these; only the CLI prints them and picks exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Loc:
    """A position in a source file: 1-based line and column."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.col}"


class RescompError(Exception):
    """Base of every error rescomp raises on purpose."""

    exit_code = 4


class SpecError(RescompError):
    """A mistake in a spec or in the user's overrides: exit code 1.

    ``loc`` says where, ``node`` names the IR node (when one is concerned), ``hint`` says what to do.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        loc: Loc | None = None,
        *,
        node: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.node = node
        self.hint = hint

    def with_context(self, *, loc: Loc | None = None, node: str | None = None) -> SpecError:
        """Fill in location and node name where the raiser did not know them."""
        if self.loc is None and loc is not None:
            self.loc = loc
        if self.node is None and node is not None:
            self.node = node
        return self

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc is not None else ""
        node = f" [node {self.node}]" if self.node else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return one_line(f"{where}error: {self.message}{node}{hint}")


class BackendUnavailable(RescompError):
    """A backend library or device is missing on this host: exit code 3."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"error: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


class BackendFailed(RescompError):
    """A backend is installed and a device is there, but it rejected or failed the work: TensorRT's
    parser refusing a node, a failed engine build, an engine that will not deserialise or run, a timing
    cache from another TensorRT or GPU, a GPU that cannot run the precision asked for: exit code 5
    (apart from 3, "not installed here"). ``loc`` and ``node`` locate it where an IR node is concerned."""

    exit_code = 5

    def __init__(
        self, message: str, loc: Loc | None = None, *, node: str | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.node = node
        self.hint = hint

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc is not None else ""
        node = f" [node {self.node}]" if self.node else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return one_line(f"{where}error: {self.message}{node}{hint}")


class UsageError(RescompError):
    """Bad command-line usage that is not about a spec: exit code 2."""

    exit_code = 2


def one_line(text: str) -> str:
    """Escape newlines and other control characters (which user-given names may carry), so that an
    error is always exactly one line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def did_you_mean(word: str, choices: object) -> str | None:
    """A 'did you mean' hint for a misspelt name, or a list of the valid ones."""
    import difflib

    options = sorted(str(c) for c in choices)  # type: ignore[attr-defined]
    close = difflib.get_close_matches(str(word), options, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    if not options:
        return None
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"expected one of: {shown}"
