"""Stage 4: Ansible phases through ansible-runner, one run across all hosts per phase."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from labctl import paths
from labctl.errors import LabctlError
from labctl.provision.sources import checkout
from labctl.spec import Lab
from labctl.spec.model import PhaseSpec
from labctl.spec.when import holds

COMMON = PhaseSpec(name="common", playbook="common.yml")


class PhaseFailed(LabctlError):
    """An Ansible phase failed; the message lists failed hosts and tasks, and the log."""

    def __init__(self, message: str, log: Path) -> None:
        super().__init__(message)
        self.log = log


@dataclass
class Counts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    task: str = ""
    failures: list[str] = field(default_factory=list)


def phases(lab: Lab) -> list[PhaseSpec]:
    """labctl's common phase, then the spec's phases whose `when` holds."""
    return [COMMON, *(p for p in lab.spec.phases if not p.when or holds(p.when, dict(lab.spec.params)))]


def playbooks(lab: Lab, phase: PhaseSpec) -> list[Path]:
    names = phase.playbooks or [phase.playbook]
    base = checkout(phase.source) if phase.source else None
    return [_find(lab, name, base) for name in names]


def input_hash(lab: Lab, labdir: Path, phase: PhaseSpec) -> str:
    """What a phase depends on: its settings, its playbooks, the lab's inventory, and the
    machines themselves (Vagrant's machine ids), so a recreated machine is provisioned again."""
    digest = hashlib.sha256(json.dumps(phase.model_dump(mode="json"), sort_keys=True).encode())
    machines = sorted((labdir / ".vagrant" / "machines").glob("*/*/id"))
    files = [*playbooks(lab, phase), *sorted((labdir / "inventory").glob("*")), *machines]
    for path in files:
        digest.update(path.read_bytes() if path.is_file() else str(path).encode())
    return digest.hexdigest()


def run(lab: Lab, labdir: Path, phase: PhaseSpec, progress) -> Path:
    """Run one phase; return its log path or raise PhaseFailed."""
    import ansible_runner

    counts = Counts()
    rundir = labdir / ".labctl" / "runs" / phase.name
    rundir.mkdir(parents=True, exist_ok=True)
    result = None
    for playbook in playbooks(lab, phase):
        with _interruptible() as interrupted:
            result = ansible_runner.run(
                private_data_dir=str(rundir), playbook=str(playbook), inventory=str(labdir / "inventory"),
                envvars=_env(lab, labdir, phase), extravars=dict(phase.vars), quiet=True, rotate_artifacts=5,
                limit=None if phase.hosts == "all" else phase.hosts, cancel_callback=interrupted,
                event_handler=lambda event: _on_event(event, counts, phase.name, progress),
            )
        if result.rc != 0:
            raise PhaseFailed(_failure(phase.name, result, counts), Path(result.config.artifact_dir) / "stdout")
    return Path(result.config.artifact_dir) / "stdout"


@contextmanager
def _interruptible():
    """Ctrl-C stops the Ansible run cleanly, then surfaces as KeyboardInterrupt.

    ansible-runner would otherwise take over SIGINT for good and report a mere failure.
    """
    hit = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: hit.set())
    try:
        yield hit.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit.is_set():
        raise KeyboardInterrupt


def _env(lab: Lab, labdir: Path, phase: PhaseSpec) -> dict[str, str]:
    """The environment of a phase's Ansible run: its runtime's tools first on PATH, and what that
    runtime needs (event callback, strategy); see labctl.runtimes."""
    from labctl import runtimes

    runtime = runtimes.ensure(runtimes.for_phase(lab, phase))  # `up` built it in preflight already
    runtimes.record_use(labdir, phase.name, runtime)
    return {
        "ANSIBLE_CONFIG": str(labdir / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(paths.ansible_dir() / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        **runtimes.env_for(runtime, lab.spec.ansible.strategy),
    }


def _find(lab: Lab, name: str, base: Path | None) -> Path:
    spec_dir = Path(lab.source).parent
    for root in ([base] if base else [spec_dir, paths.ansible_dir()]):
        candidate = (root / name).resolve()
        if candidate.is_file():
            return candidate
    where = "the source checkout" if base else f"{spec_dir} or {paths.ansible_dir()}"
    raise LabctlError(f"playbook {name} not found in {where}", "fix `playbook:` in the spec")


def _on_event(event: dict, counts: Counts, phase: str, progress) -> bool:
    kind, data = event.get("event", ""), event.get("event_data", {})
    if kind == "playbook_on_task_start":
        counts.task = data.get("task", "")
    elif kind == "runner_on_ok":
        counts.changed += bool(data.get("res", {}).get("changed"))
        counts.ok += 1
    elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
        counts.failed += 1
        message = str(data.get("res", {}).get("msg", "")).splitlines()[:1]
        counts.failures.append(f"{data.get('host')}: {data.get('task')}: {message[0] if message else kind}")
    else:
        return True
    host = f"{data.get('host')}; " if data.get("host") else ""
    progress(f"{phase}: {counts.task} ({host}ok={counts.ok} changed={counts.changed} failed={counts.failed})")
    return True


def _failure(phase: str, result, counts: Counts) -> str:
    log = Path(result.config.artifact_dir) / "stdout"
    lines = "\n".join(f"  {line}" for line in counts.failures[:5]) or f"  ansible-runner status {result.status}"
    return f"phase {phase} failed (rc {result.rc}); log: {log}\n{lines}"
