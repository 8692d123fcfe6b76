"""ansible-runner's events, read for live progress, failures, the files Ansible loaded and the plan."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    task: str = ""
    failures: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)  # task files Ansible loaded (imports, includes, roles)
    results: list[dict] = field(default_factory=list)  # one per host and task: what the plan shows


def on_event(event: dict, counts: Counts, phase: str, progress) -> bool:
    """Count one event and report the task's own result when it ends."""
    kind, data = event.get("event", ""), event.get("event_data", {})
    if data.get("task_path"):
        counts.files.add(data["task_path"].rsplit(":", 1)[0])
    if kind == "playbook_on_task_start":
        counts.task = data.get("task", "")
        return True
    result = _result(kind, data)
    if result is None:
        return True
    counts.results.append(result)
    if result["status"] == "failed":
        counts.failed += 1
        counts.failures.append(f"{result['host']}: {result['task']}: {result['message'] or kind}")
    elif result["status"] in ("ok", "changed"):
        counts.ok += 1
        counts.changed += result["status"] == "changed"
    progress(f"{phase}: {result['task']} ({result['host']}: {result['status']}; ok={counts.ok} changed={counts.changed} failed={counts.failed})")
    return True


def _result(kind: str, data: dict) -> dict | None:
    res = data.get("res") or {}
    if kind == "runner_on_ok":
        status = "changed" if res.get("changed") else "ok"
    elif kind == "runner_on_skipped":
        status = "skipped"
    elif kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
        status = "failed"
    else:
        return None
    message = str(res.get("msg", "")).splitlines()[:1] if status == "failed" else []
    objects = res.get("labctl_objects") if isinstance(res.get("labctl_objects"), list) else []
    return {"host": data.get("host", ""), "task": data.get("task", ""), "status": status,
            "message": message[0] if message else "", "objects": objects}
