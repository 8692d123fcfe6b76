"""Lifecycles as data: `up` is render, create, provision, verify. Each step is a small function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labctl import providers, provision, render, state
from labctl.spec import Lab

UP = ("render", "create", "provision", "verify")


@dataclass
class Run:
    lab: Lab
    labdir: Path
    progress: Callable[[str], None]
    state: state.State
    provision: bool = True
    rerun: tuple[str, ...] = ()   # phases forced to run again
    only: str | None = None
    results: list | None = None


def up(lab: Lab, labdir: Path | None, progress, *, with_provision: bool = True, rerun=(), only=None) -> Run:
    labdir = labdir or render.default_dir(lab)
    labdir.mkdir(parents=True, exist_ok=True)
    with state.locked(labdir, lab.name):
        run = Run(lab, labdir, progress, state.load(labdir, lab.name), with_provision, tuple(rerun), only)
        for step in UP:
            STEPS[step](run)
        return run


def _render(run: Run) -> None:
    render.render_lab(run.lab, run.labdir)
    run.state.provider = run.lab.provider


def _create(run: Run) -> None:
    provider = providers.get(run.lab.provider)
    provider.check(run.lab, run.labdir)
    states = provider.status(run.lab, run.labdir)
    running = all(s in ("running", "external") for s in states.values())
    if not running:
        provider.up(run.lab, run.labdir, run.progress)
    _record_nodes(run, provider, reuse=running)


def _record_nodes(run: Run, provider, reuse: bool) -> None:
    from labctl.verify import Endpoint, wait_for_ssh

    known = {name: Endpoint(name, *info["endpoint"]) for name, info in run.state.nodes.items() if info.get("endpoint")}
    # asking Vagrant for ssh-config costs seconds: reuse what a running lab recorded
    fresh = run.lab.provider == "ssh" or not (reuse and set(known) == {n.name for n in run.lab.nodes})
    endpoints = provider.endpoints(run.lab, run.labdir) if fresh else known
    wait_for_ssh(list(endpoints.values()), progress=run.progress)
    render.write_endpoints(run.labdir, endpoints)
    run.state.nodes = {}
    for node in run.lab.nodes:
        ep = endpoints[node.name]
        run.state.nodes[node.name] = {"state": "running", "address": node.address, "endpoint": [ep.host, ep.port, ep.user, ep.key]}
    state.save(run.labdir, run.state)


def _provision(run: Run) -> None:
    if not run.provision:
        return
    for phase in provision.phases(run.lab):
        if run.only and phase.name != run.only:
            continue
        record = run.state.phase(phase.name)
        digest = provision.input_hash(run.lab, run.labdir, phase)
        if record.status == state.DONE and record.input_hash == digest and phase.name not in run.rerun:
            run.progress(f"{phase.name}: done already, inputs unchanged")
            continue
        _run_phase(run, phase, record, digest)


def _run_phase(run: Run, phase, record, digest: str) -> None:
    record.status, record.input_hash = state.RUNNING, digest
    state.save(run.labdir, run.state)
    try:
        record.log = str(provision.run(run.lab, run.labdir, phase, run.progress))
        record.status = state.DONE
    except BaseException as exc:
        record.status = state.FAILED
        record.log = str(getattr(exc, "log", "") or record.log)
        raise
    finally:
        state.save(run.labdir, run.state)


def _verify(run: Run) -> None:
    if run.provision:
        run.results = verify(run.lab, run.labdir)


def verify(lab: Lab, labdir: Path) -> list:
    from labctl.verify import Endpoint, run_checks

    current = state.load(labdir, lab.name)
    endpoints = {name: Endpoint(name, *info["endpoint"]) for name, info in current.nodes.items()}
    return run_checks(list(lab.spec.checks), endpoints, {n.name: n.address for n in lab.nodes if n.address})


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


def halt(lab: Lab, labdir: Path, progress) -> None:
    """Stop the machines and keep them; `up` starts them again."""
    with state.locked(labdir, lab.name):
        providers.get(lab.provider).halt(lab, labdir, progress)


def down(lab: Lab, labdir: Path, progress, force: bool = False) -> None:
    with state.locked(labdir, lab.name):
        providers.get(lab.provider).destroy(lab, labdir, force, progress)
        (labdir / state.STATE_FILE).unlink(missing_ok=True)


STEPS = {"render": _render, "create": _create, "provision": _provision, "verify": _verify}


def test(lab: Lab, labdir: Path, progress, keep_on_failure: bool = False) -> list:
    """CI's lifecycle: up (with verify), then always down; returns JUnit cases."""
    import time

    from labctl.errors import LabctlError
    from labctl.junit import Case

    cases: list[Case] = []
    started = time.monotonic()
    failed = False
    try:
        run = up(lab, labdir, progress)
        cases.append(Case("up", time.monotonic() - started))
        cases += [Case(f"check: {r.name}", r.seconds, None if r.ok else r.detail) for r in run.results or []]
        failed = any(c.failure for c in cases)
    except LabctlError as exc:
        failed = True
        cases.append(Case("up", time.monotonic() - started, exc.render()))
    finally:
        if not (failed and keep_on_failure):
            down(lab, labdir, progress, force=True)
    return cases


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
