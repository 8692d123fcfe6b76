"""Ansible runtimes per phase: cached virtualenvs of one Ansible each, named by their content
(`ansible-2.9.27-py3.9`), built once under `$LABCTL_HOME/runtimes` and shared by labs.

A phase runs with the runtime its `runtime:` asks for; without one, labctl picks by the nodes'
`python:`: its own ansible-core where that drives them all, else the newest Ansible that does.
"""

from __future__ import annotations

import os
from pathlib import Path

from labctl.runtimes import builder, finder, store
from labctl.runtimes.picker import for_phase
from labctl.runtimes.store import Runtime

CALLBACK_DIR = Path(__file__).resolve().parent / "callback"

__all__ = ["Runtime", "doctor_rows", "ensure", "ensure_for_lab", "env_for", "for_phase", "lab_runtimes", "record_use", "rows"]


def _phases(lab) -> list:
    from labctl import provision

    return provision.every_phase(lab)


def lab_runtimes(lab) -> dict[str, list[str]]:
    """Runtime name -> the names of the lab's phases that run with it, in phase order."""
    used: dict[str, list[str]] = {}
    for phase in _phases(lab):
        used.setdefault(for_phase(lab, phase).name, []).append(phase.name)
    return used


def _distinct(lab) -> list[Runtime]:
    seen: dict[str, Runtime] = {}
    for phase in _phases(lab):
        runtime = for_phase(lab, phase)
        seen.setdefault(runtime.name, runtime)
    return list(seen.values())


def ensure_for_lab(lab, progress=lambda _msg: None) -> list[Runtime]:
    """Build every runtime the lab's phases need that is missing (preflight of `up`).

    Raises a one-line LabctlError naming the Python to install, before building anything, when a
    runtime has no Python to be built on.
    """
    runtimes = _distinct(lab)
    for runtime in runtimes:
        if not runtime.ready and runtime.interpreter is None:
            raise finder.missing(list(runtime.wanted or (runtime.python,)), f"lab {lab.name}: runtime {runtime.name}")
    return [builder.build(r, progress) for r in runtimes]


def ensure(runtime: Runtime, progress=lambda _msg: None) -> Runtime:
    """Build `runtime` unless it is ready; return it."""
    return builder.build(runtime, progress)


def record_use(labdir: Path, phase: str, runtime: Runtime) -> None:
    """Note in the lab directory that `phase` ran with `runtime` (`runtime rm --unused` keeps it)."""
    store.record_use(labdir, phase, runtime.name)


def env_for(runtime: Runtime, strategy: str = "linear") -> dict[str, str]:
    """The environment a phase's Ansible run needs for `runtime`: its tools first on PATH, the
    event callback its Python can load, and a strategy it has (mitogen only where installed)."""
    path = os.pathsep.join([*(str(d) for d in runtime.bin_dirs), os.environ.get("PATH", "")])
    env = {"PATH": path}
    if runtime.own:
        return env
    if runtime.own_callback:
        env["AWX_LIB_DIRECTORY"] = str(CALLBACK_DIR)  # ansible-runner then loads ours, not its own
    env.update(_strategy_env(runtime, strategy))
    return env


def _strategy_env(runtime: Runtime, strategy: str) -> dict[str, str]:
    if not strategy.startswith("mitogen_"):
        return {}
    plugins = runtime.mitogen_strategies()
    if plugins:
        return {"ANSIBLE_STRATEGY_PLUGINS": str(plugins)}
    return {"ANSIBLE_STRATEGY": strategy.removeprefix("mitogen_")}  # the lab's ansible.cfg names mitogen


def rows(lab=None) -> list[dict]:
    """`labctl runtime list`: the lab's runtimes (built or not), or every one built here."""
    if lab is not None:
        used = lab_runtimes(lab)
        return [_row(r, used.get(r.name, [])) for r in _distinct(lab)]
    return [_row(_built(name), []) for name in store.installed()]


def _built(name: str) -> Runtime:
    from labctl.runtimes import catalog

    data = store.manifest(name)
    release = catalog.release_line(data.get("ansible", "0.0"))
    python = data.get("python", "")
    return Runtime(name, release, python, store.root() / name, Path(data.get("interpreter", "")) or None)


def _row(runtime: Runtime, phases: list[str]) -> dict:
    return {"name": runtime.name, "ansible": runtime.ansible, "python": runtime.python,
            "path": str(runtime.path), "ready": runtime.ready, "phases": phases}


def doctor_rows(lab) -> list[tuple[str, str, str]]:
    """(check, status, detail) for `labctl doctor LAB`: each runtime the lab's phases use."""
    used = lab_runtimes(lab)
    out = []
    for runtime in _distinct(lab):
        check = f"runtime {runtime.name}"
        phases = f"phases: {', '.join(used.get(runtime.name, []))}"
        if runtime.ready:
            where = "labctl's own environment" if runtime.own else str(runtime.path)
            out.append((check, "ok", f"{where}; {phases}"))
        elif runtime.interpreter is not None:
            state = "built with other requirements than labctl installs now" if runtime.built_with() is not None else "not built yet"
            out.append((check, "warn", f"{state} (`labctl up` builds it, or `labctl runtime build {lab.name}`); {phases}"))
        else:
            out.append((check, "fail", finder.missing(list(runtime.wanted), "it").render()))
    return out
