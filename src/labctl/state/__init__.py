"""Per-lab state under LABCTL_HOME: nodes, endpoints and phases, written atomically, behind a lock.

Records carry a version; phases carry the hash of their inputs so `up` can skip work already done.
"""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labctl.errors import LabBusy, LabctlError
from labctl.fsutil import write_atomic

VERSION = 1
STATE_FILE = Path(".labctl") / "state.json"
LOCK_FILE = Path(".labctl") / "lock"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


@dataclass
class PhaseState:
    name: str
    status: str = PENDING
    input_hash: str = ""
    log: str = ""
    files: list[str] = field(default_factory=list)  # task files Ansible loaded on the last run


@dataclass
class State:
    lab: str
    provider: str = ""
    nodes: dict[str, dict] = field(default_factory=dict)  # name -> {state, address, endpoint}
    phases: list[PhaseState] = field(default_factory=list)
    version: int = VERSION

    def phase(self, name: str) -> PhaseState:
        for phase in self.phases:
            if phase.name == name:
                return phase
        self.phases.append(PhaseState(name))
        return self.phases[-1]


def load(labdir: Path, lab: str) -> State:
    path = labdir / STATE_FILE
    if not path.is_file():
        return State(lab)
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise LabctlError(f"state file {path} is unreadable: {exc}", "remove it and run `labctl up` again") from None
    if raw.get("version") != VERSION:
        raise LabctlError(f"state file {path} has version {raw.get('version')}, expected {VERSION}", "run `labctl down --force` and up again")
    raw["phases"] = [PhaseState(**p) for p in raw.get("phases", [])]
    return State(**raw)


def save(labdir: Path, state: State) -> None:
    write_atomic(labdir / STATE_FILE, json.dumps(asdict(state), indent=1, sort_keys=True) + "\n")


@contextmanager
def locked(labdir: Path, lab: str):
    """Hold the lab's lock for the duration; a second holder fails fast and is told who has it."""
    from filelock import FileLock, Timeout

    path = labdir / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".flock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LabBusy(f"lab '{lab}' is busy: {_holder(path)}", "wait for it to finish, or stop that process") from None
    try:
        path.write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
        yield
    finally:
        path.unlink(missing_ok=True)
        lock.release()


def _holder(path: Path) -> str:
    try:
        return f"held by {path.read_text().strip()}"
    except OSError:
        return "held by another labctl process"
