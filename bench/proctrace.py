"""Where one command's time goes: the commands it starts, from an strace log; up.py's helper.

    strace -f --seccomp-bpf -ttt -s 300 -e trace=execve,clone,clone3,fork,vfork -e signal=none -o LOG CMD...

records every exec and process creation with a timestamp and little slowdown (only those
system calls stop the tracee). `timeline(LOG)` turns it into the root command's own
children (what labctl itself ran: vagrant, docker, ansible-playbook; not what those ran
in turn) with start offset and duration, and the gaps between them, where the time was
spent inside the root process itself (Python start-up, rendering, waiting for SSH with
paramiko, ansible-runner's event handling, the checks).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

STRACE_ARGS = ["-f", "--seccomp-bpf", "-ttt", "-s", "300", "-e", "trace=execve,clone,clone3,fork,vfork", "-e", "signal=none"]
_LINE = re.compile(r"^(\d+) +(\d+\.\d+) (.*)$")
_RET = re.compile(r"\) += (-?\d+)")
_FORKS = ("clone(", "clone3(", "fork(", "vfork(")
MIN_GAP = 0.005  # seconds: shorter stretches between two commands are not listed


@dataclass
class Span:
    """One command the root process ran, or (command None) time spent in the root itself."""

    start: float   # seconds after the root's exec
    seconds: float
    command: str | None


def timeline(log_path: str) -> list[Span]:
    """The root's children and the gaps between them, in order of start."""
    parent, execs, exits = _parse(log_path)
    if not execs:
        return []
    root = min(execs, key=lambda pid: execs[pid][0])
    t0, end = execs[root][0], exits.get(root, max(exits.values(), default=execs[root][0]))
    children = sorted(
        (execs[pid][0] - t0, exits.get(pid, end) - execs[pid][0], label(execs[pid][1]))
        for pid in execs if pid != root and _launcher(pid, parent, execs) == root
    )
    spans, cursor = [], 0.0
    for start, seconds, command in children:
        if start - cursor >= MIN_GAP:
            spans.append(Span(cursor, start - cursor, None))
        spans.append(Span(start, seconds, command))
        cursor = max(cursor, start + seconds)
    if end - t0 - cursor >= MIN_GAP:
        spans.append(Span(cursor, end - t0 - cursor, None))
    return spans


def label(argv: list[str]) -> str:
    """A short name for a command line: absolute paths by their last part, at most 70 characters."""
    words = [os.path.basename(a) if a.startswith("/") else a for a in argv]
    text = " ".join(words)
    return text if len(text) <= 70 else text[:67] + "..."


def _launcher(pid: int, parent: dict[int, int], execs: dict) -> int | None:
    """The nearest process above `pid` that exec'd a program: the one that ran it."""
    p = parent.get(pid)
    seen = set()
    while p is not None and p not in execs and p not in seen:
        seen.add(p)
        p = parent.get(p)
    return p


def _parse(log_path: str) -> tuple[dict[int, int], dict[int, tuple[float, list[str]]], dict[int, float]]:
    parent: dict[int, int] = {}
    execs: dict[int, tuple[float, list[str]]] = {}
    exits: dict[int, float] = {}
    pending: dict[int, tuple[float, str]] = {}
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            m = _LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, when, text = int(m.group(1)), float(m.group(2)), m.group(3)
            if text.startswith("+++ "):
                exits[pid] = when
                continue
            if text.endswith("<unfinished ...>"):
                pending[pid] = (when, text)
                continue
            if text.startswith("<... ") and pid in pending:
                when, first = pending.pop(pid)
                text = first[: -len("<unfinished ...>")] + text.split("resumed>", 1)[-1]
            ret = _RET.search(text)
            if not ret or int(ret.group(1)) < 0:
                continue
            if text.startswith("execve(") and pid not in execs:
                execs[pid] = (when, _argv(text))
            elif text.startswith(_FORKS) and int(ret.group(1)) > 0:
                parent[int(ret.group(1))] = pid
    return parent, execs, exits


def _argv(text: str) -> list[str]:
    """The argv array of an strace execve line: the quoted strings inside the first [ ]."""
    i = text.find("[")
    out, word, quoted, escaped = [], [], False, False
    for ch in text[i + 1 :]:
        if quoted:
            if escaped:
                word.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                out.append("".join(word))
                word, quoted = [], False
            else:
                word.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == "]":
            break
    return out
