"""Stage 4: Ansible phases through ansible-runner, one run across all hosts per phase."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from labctl import paths
from labctl.errors import LabctlError, PhaseFailed
from labctl.provision import hashing, sources
from labctl.provision.events import Counts, on_event
from labctl.spec import Lab
from labctl.spec.model import PhaseSpec
from labctl.spec.when import holds

COMMON = PhaseSpec.model_construct(name="common", playbook="common.yml")  # no validation at import
FACTS = Path(".labctl") / "facts"  # the fact cache the lab's ansible.cfg names


@dataclass(frozen=True)
class Outcome:
    log: Path
    files: tuple[str, ...]  # task files Ansible loaded: part of the next input hash
    results: tuple[dict, ...]  # per host and task (status, objects): what `plan` prints


def phases(lab: Lab, stage: str = "provision") -> list[PhaseSpec]:
    """The phases of one stage whose `when` holds; provisioning starts with labctl's common phase."""
    chosen = [p for p in lab.spec.phases if p.stage == stage and (not p.when or holds(p.when, dict(lab.spec.params)))]
    return [COMMON, *chosen] if stage == "provision" else chosen


def every_phase(lab: Lab) -> list[PhaseSpec]:
    """Preflight, provisioning and teardown phases, in that order."""
    return [*phases(lab, "preflight"), *phases(lab), *phases(lab, "teardown")]


def playbooks(lab: Lab, phase: PhaseSpec) -> list[Path]:
    names = phase.playbooks or [phase.playbook]
    base = sources.checkout(phase.source) if phase.source else None
    return [_find(lab, name, base) for name in names]


def input_hash(lab: Lab, labdir: Path, phase: PhaseSpec, loaded: tuple[str, ...] = ()) -> str:
    """See labctl.provision.hashing: settings, playbooks, loaded files, inventory, machines, commit."""
    base = sources.checkout(phase.source) if phase.source else None
    source = (base, sources.commit(base)) if base else None
    return hashing.digest(phase, labdir, playbooks(lab, phase), loaded, source)


def run(lab: Lab, labdir: Path, phase: PhaseSpec, progress, *, check: bool = False, rundir: Path | None = None) -> Outcome:
    """Run one phase (in check mode with diff when `check`); raise PhaseFailed when it fails."""
    import ansible_runner

    from labctl import runtimes

    counts = Counts()
    rundir = rundir or labdir / ".labctl" / "runs" / phase.name
    rundir.mkdir(parents=True, exist_ok=True)
    runtime = runtimes.ensure(runtimes.for_phase(lab, phase))  # `up` built it in preflight already
    runtimes.record_use(labdir, phase.name, runtime)
    result = None
    for playbook in playbooks(lab, phase):
        with _interruptible() as interrupted, _without_secret_env(lab):
            result = ansible_runner.run(
                private_data_dir=str(rundir), playbook=str(playbook), inventory=str(labdir / "inventory"),
                envvars={**_env(lab, labdir, runtime), **_content_paths()}, extravars=_extravars(lab, labdir, phase),
                fact_cache=None if check else str(fact_cache(labdir, runtime)),
                quiet=True, rotate_artifacts=5, cmdline="--check --diff" if check else None,
                suppress_env_files=True,  # env/extravars, env/cmdline would stick to later runs in this directory
                limit=None if phase.hosts in ("all", "localhost") else phase.hosts, cancel_callback=interrupted,
                event_handler=lambda event: on_event(event, counts, phase.name, progress),
            )
        if result.rc != 0:
            raise _failure(phase.name, playbook, result, counts)
    return Outcome(Path(result.config.artifact_dir) / "stdout", tuple(sorted(counts.files)), tuple(counts.results))


def _extravars(lab: Lab, labdir: Path, phase: PhaseSpec) -> dict:
    """The phase's vars, and where things are: the lab, its directory, the source checkout."""
    extra = {"labctl_lab": lab.name, "labctl_labdir": str(labdir.resolve()), "labctl_provider": lab.provider}
    if phase.source:
        extra["labctl_source_dir"] = str(sources.checkout(phase.source))
    return {**extra, **phase.vars}


def _content_paths() -> dict[str, str]:
    """labctl's own collection (labctl.products) for every runtime."""
    return {"ANSIBLE_COLLECTIONS_PATH": str(paths.ansible_dir() / "collections")}


@contextmanager
def _without_secret_env(lab: Lab):
    """The variables secrets are read from stay out of Ansible's environment: ansible-runner records
    that environment in its artifacts. The values reach Ansible through the 0600 inventory."""
    import os

    names = {s.from_env for s in lab.spec.secrets.values() if s.from_env}
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


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


def fact_cache(labdir: Path, runtime) -> Path:
    """The lab's fact cache, kept between runs as its ansible.cfg says (ansible-runner would start an
    empty one per run, and every run would discover each host's Python again: seconds of SSH).
    Runtimes other than labctl's own keep theirs apart: facts differ between Ansible versions."""
    return labdir / FACTS if runtime.own else labdir / ".labctl" / f"facts-{runtime.name}"


def forget_facts(labdir: Path) -> None:
    """New machines: what was cached of the old ones (interpreters, addresses) no longer holds."""
    import shutil

    for path in (labdir / ".labctl").glob("facts*"):
        shutil.rmtree(path, ignore_errors=True)


def _env(lab: Lab, labdir: Path, runtime) -> dict[str, str]:
    """The environment of a phase's Ansible run: its runtime's tools first on PATH, and what that
    runtime needs (event callback, strategy); see labctl.runtimes."""
    from labctl import runtimes

    return {
        "ANSIBLE_CONFIG": str(labdir / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(paths.ansible_dir() / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        **runtimes.env_for(runtime, lab.spec.ansible.strategy),
    }


def _find(lab: Lab, name: str, base: Path | None) -> Path:
    """A playbook in the source checkout, else next to the spec, else in labctl's ansible/ dir."""
    roots = [base] if base else []
    roots += [lab.spec_dir, paths.ansible_dir()]
    for root in roots:
        candidate = (root / name).resolve()
        if candidate.is_file():
            return candidate
    where = " or ".join(str(r) for r in roots)
    raise LabctlError(f"playbook {name} not found in {where}", "fix `playbook:` in the spec")


def _failure(phase: str, playbook: Path, result, counts: Counts) -> PhaseFailed:
    log = str(Path(result.config.artifact_dir) / "stdout")
    return PhaseFailed(phase, ["ansible-playbook", str(playbook)], result.rc, counts.failures, log)
