"""Every subprocess labctl starts goes through here.

Output is appended to a log file; a failure raises CommandFailed with the
command, its exit code, the last lines of output and the log's path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labctl.errors import CommandFailed, ToolMissing

TAIL_LINES = 15


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    returncode: int
    output: str


def require(tool: str, hint: str) -> str:
    """Return the path of `tool` on PATH, or raise ToolMissing with `hint`."""
    found = shutil.which(tool)
    if not found:
        raise ToolMissing(f"`{tool}` was not found on PATH", hint)
    return found


def run(
    argv: Sequence[str],
    *,
    log: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
    on_line: Callable[[str], None] | None = None,
    input_bytes: bytes | None = None,
) -> Outcome:
    """Run `argv`, keep its combined output in `log`, and raise on failure when `check`."""
    argv = [str(a) for a in argv]
    require(argv[0], f"install {argv[0]} or put it on PATH; `labctl doctor` checks the host")
    full_env = {**os.environ, **(env or {})}
    lines: list[str] = []
    logf = _open_log(log, argv)
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
        )
        if input_bytes is not None:
            proc.stdin.write(input_bytes)  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        for raw in proc.stdout:  # type: ignore[union-attr]
            line = raw.decode(errors="replace")
            lines.append(line)
            if logf:
                logf.write(line)
                logf.flush()
            if on_line:
                on_line(line.rstrip("\n"))
        returncode = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    finally:
        if logf:
            logf.close()
    outcome = Outcome(tuple(argv), returncode, "".join(lines))
    if check and returncode != 0:
        raise CommandFailed(argv, returncode, tail(outcome.output), str(log) if log else None)
    return outcome


def tail(text: str, count: int = TAIL_LINES) -> str:
    return "".join(deque(text.splitlines(keepends=True), maxlen=count)).rstrip("\n")


def _open_log(log: Path | None, argv: list[str]):
    if log is None:
        return None
    log.parent.mkdir(parents=True, exist_ok=True)
    handle = open(log, "a", encoding="utf-8")
    handle.write(f"$ {' '.join(argv)}\n")
    return handle
