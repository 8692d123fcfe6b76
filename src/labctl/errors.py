"""The one error family. Code raises these; only the CLI boundary prints them."""

from __future__ import annotations


class LabctlError(Exception):
    """Base of every error labctl reports to a user as one line."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(LabctlError):
    """A bad flag or argument."""

    exit_code = 2


class SpecError(LabctlError):
    """A lab spec is invalid; carries every problem found in one pass."""

    exit_code = 2

    def __init__(self, source: str, problems: list[str]) -> None:
        count = len(problems)
        noun = "error" if count == 1 else "errors"
        super().__init__(f"{source}: {count} {noun} in lab spec")
        self.source = source
        # a key or value may hold a line break or a terminal escape: never let it forge a line
        self.problems = [p if p.isprintable() else p.encode("unicode_escape").decode("ascii") for p in problems]

    def render(self) -> str:
        return "\n".join([self.message, *self.problems])


class ToolMissing(LabctlError):
    """An external tool, box or image labctl needs is not there."""

    exit_code = 3


class CommandFailed(LabctlError):
    """An external command exited non-zero."""

    def __init__(self, argv: list[str], returncode: int, tail: str, log: str | None) -> None:
        where = f"; full log: {log}" if log else ""
        tail_text = f"\n{tail}" if tail else ""
        super().__init__(f"`{' '.join(argv)}` failed with exit code {returncode}{where}{tail_text}")
        self.argv = argv
        self.returncode = returncode
        self.tail = tail
        self.log = log


class LabBusy(LabctlError):
    """Another labctl process holds the lab's lock."""

    exit_code = 4
