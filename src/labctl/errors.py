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
    """An external command exited non-zero: what ran, its exit code, the output's tail and the log."""

    def __init__(self, argv: list[str], returncode: int, tail: str, log: str | None, what: str | None = None) -> None:
        where = f"; full log: {log}" if log else ""
        tail_text = f"\n{tail}" if tail else ""
        super().__init__(f"{what or '`' + ' '.join(argv) + '`'} failed with exit code {returncode}{where}{tail_text}")
        self.argv = argv
        self.returncode = returncode
        self.tail = tail
        self.log = log


class LabBusy(LabctlError):
    """Another labctl process holds the lab's lock."""

    exit_code = 4


class PhaseFailed(CommandFailed):
    """An Ansible phase failed: the tail lists the failed hosts and tasks."""

    def __init__(self, phase: str, argv: list[str], returncode: int, failures: list[str], log: str) -> None:
        tail = "\n".join(f"  {line}" for line in failures[:5]) or "  (no failed task reported: see the log)"
        super().__init__(argv, returncode, tail, log, what=f"phase {phase}")
        self.phase = phase
        self.failures = failures


class UnsafeValue(LabctlError):
    """A spec value that cannot be written safely into a Vagrantfile or an inventory."""

    exit_code = 2


class SSHUnreachable(LabctlError):
    """One or more nodes did not answer on SSH in time."""

    def __init__(self, failures: dict[str, str], timeout: float) -> None:
        names = ", ".join(sorted(failures))
        last = "; ".join(f"{name}: {error}" for name, error in sorted(failures.items()))
        noun = "node" if len(failures) == 1 else "nodes"
        super().__init__(
            f"SSH not reachable within {timeout:g}s on {noun} {names}; last error: {last}",
            "check that the machines are running (`vagrant status`) and that their SSH port and key are right",
        )
        self.failures = failures
