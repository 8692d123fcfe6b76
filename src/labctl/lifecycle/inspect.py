"""What a lab is like now: status, checks, logs, SSH, secrets (read-only, no lock needed)."""

from __future__ import annotations

from pathlib import Path

from labctl import providers, provision, state
from labctl.spec import Lab


def verify(lab: Lab, labdir: Path) -> list:
    """The spec's checks against the running lab (SSH endpoints from its state)."""
    from labctl.endpoints import Endpoint
    from labctl.render import secrets
    from labctl.verify import run_checks

    current = state.load(labdir, lab.name)
    endpoints = {name: Endpoint(name, *info["endpoint"]) for name, info in current.nodes.items()}
    passwords = secrets.materialize(dict(lab.spec.secrets), labdir).passwords if lab.spec.secrets else {}
    addresses = {n.name: n.address for n in lab.nodes if n.address}
    return run_checks(list(lab.spec.checks), endpoints, addresses, secrets=passwords)


def secret(lab: Lab, labdir: Path, name: str) -> str:
    """One secret's value as a person uses it (htpasswd: the password; ssh_key: the private key's path)."""
    from labctl.errors import UsageError
    from labctl.render import secrets

    if name not in lab.spec.secrets:
        known = ", ".join(lab.spec.secrets) or "none"
        raise UsageError(f"lab {lab.name} has no secret '{name}'", f"secrets: {known}")
    return secrets.materialize(dict(lab.spec.secrets), labdir).passwords[name]


def status(lab: Lab, labdir: Path) -> dict:
    current = state.load(labdir, lab.name)
    live = providers.get(lab.provider).status(lab, labdir) if (labdir / "Vagrantfile").is_file() or lab.provider == "ssh" else {}
    nodes = [{"name": n.name, "state": live.get(n.name, "not created"), "address": n.address} for n in lab.nodes]
    wanted = [p.name for p in provision.phases(lab)]
    recorded = {p.name: p.status for p in current.phases}
    return {"lab": lab.name, "directory": str(labdir), "provider": lab.provider, "nodes": nodes,
            "phases": [{"name": name, "status": recorded.get(name, state.PENDING)} for name in wanted]}


def overview() -> list[dict]:
    """Every lab directory under LABCTL_HOME, from its recorded state (no provider calls)."""
    from labctl import paths

    rows = []
    for labdir in sorted((paths.home() / "labs").glob("*/.labctl/lab.json")):
        labdir = labdir.parent.parent
        current = state.load(labdir, labdir.name)
        done = sum(p.status == state.DONE for p in current.phases)
        rows.append({"lab": labdir.name, "provider": current.provider or "-", "nodes": len(current.nodes),
                     "phases done": f"{done}/{len(current.phases)}", "directory": str(labdir)})
    return rows


def ssh_argv(lab: Lab, labdir: Path, node: str) -> list[str]:
    """The ssh command line for one node of a running lab."""
    from labctl.errors import UsageError

    current = state.load(labdir, lab.name)
    info = current.nodes.get(node)
    if info is None:
        known = ", ".join(current.nodes) or "none: run `labctl up` first"
        raise UsageError(f"lab {lab.name} has no running node '{node}'", f"nodes: {known}")
    host, port, user, key = info["endpoint"]
    options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
    return ["ssh", *options, *(["-i", key] if key else []), "-p", str(port), f"{user}@{host}"]


def logs(lab: Lab, labdir: Path) -> dict[str, Path]:
    """Log files of a lab: vagrant's, then the newest run of each phase."""
    found = {}
    vagrant_log = labdir / ".labctl" / "logs" / "vagrant.log"
    if vagrant_log.is_file():
        found["vagrant"] = vagrant_log
    for phase in state.load(labdir, lab.name).phases:
        if phase.log and Path(phase.log).is_file():
            found[phase.name] = Path(phase.log)
    return found
