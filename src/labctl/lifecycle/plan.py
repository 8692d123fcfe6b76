"""`labctl plan`: every provisioning phase in Ansible's check mode with diff, against the running lab.

Nothing is written to the lab's machines, to the products' APIs or to the lab's state: run artifacts
go to a temporary directory. labctl's API modules report per object what a real run would do
(`labctl_objects`: create / update with the fields / unchanged); other tasks report changed or not.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from labctl import provision, render, state
from labctl.errors import LabctlError, UsageError
from labctl.spec import Lab


def plan(lab: Lab, labdir: Path, progress) -> list[dict]:
    """One entry per phase: {phase, tasks: [{task, changed: [hosts], status, objects}], error}."""
    if not state.load(labdir, lab.name).nodes:
        raise UsageError(f"lab {lab.name} is not up", f"run `labctl up {lab.name}` first; plan compares with the running lab")
    render.render_lab(lab, labdir)  # the inventory as the plan's settings (a --set) say; the lab itself is untouched
    return [_phase(lab, labdir, phase, progress) for phase in provision.phases(lab)]


def _phase(lab: Lab, labdir: Path, phase, progress) -> dict:
    with tempfile.TemporaryDirectory(prefix="labctl-plan-") as scratch:
        try:
            outcome = provision.run(lab, labdir, phase, progress, check=True, rundir=Path(scratch))
        except LabctlError as exc:
            return {"phase": phase.name, "tasks": [], "error": exc.render()}
    return {"phase": phase.name, "tasks": summarize(outcome.results), "error": None}


def summarize(results) -> list[dict]:
    """Per task, in run order: which hosts it would change, its API objects, its overall status."""
    tasks: dict[str, dict] = {}
    for result in results:
        entry = tasks.setdefault(result["task"], {"task": result["task"], "changed": [], "status": "unchanged", "objects": []})
        if result["status"] == "changed":
            entry["changed"].append(result["host"])
        entry["objects"] += result["objects"]
        entry["status"] = _worst(entry["status"], result["status"])
    return list(tasks.values())


_ORDER = {"skipped": 0, "ok": 1, "unchanged": 1, "changed": 2, "failed": 3}


def _worst(a: str, b: str) -> str:
    winner = a if _ORDER[a] >= _ORDER[b] else b
    return "unchanged" if winner == "ok" else winner


def changes(report: list[dict]) -> int:
    """How many tasks or API objects would change."""
    objects = sum(1 for p in report for t in p["tasks"] for o in t["objects"] if o.get("action") != "unchanged")
    tasks = sum(1 for p in report for t in p["tasks"] if t["status"] == "changed" and not t["objects"])
    return objects + tasks
