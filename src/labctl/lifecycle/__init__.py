"""Lifecycles as data: `up` is render, preflight, create, provision, verify. Each step is a small function.

`down` is teardown (phases of stage teardown, skipped with --force), then destroy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labctl import providers, provision, render, state
from labctl.errors import LabctlError, PhaseFailed
from labctl.spec import Lab

UP = ("render", "preflight", "create", "provision", "verify")


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


class PreflightFailed(LabctlError):
    """A lab's own preflight refused to go on; nothing was created."""


def _preflight(run: Run) -> None:
    """Before any machine exists: the Ansible runtimes the phases need, then the lab's preflight phases."""
    from labctl import runtimes

    runtimes.ensure_for_lab(run.lab, run.progress)
    for phase in provision.phases(run.lab, "preflight"):
        run.progress(f"preflight: {phase.name}")
        try:
            provision.run(run.lab, run.labdir, phase, run.progress)
        except PhaseFailed as exc:
            reasons = "; ".join(exc.failures) or exc.message
            raise PreflightFailed(f"preflight {phase.name}: {reasons}", f"nothing was created; log: {exc.log}") from None


def _create(run: Run) -> None:
    provider = providers.get(run.lab.provider)
    provider.check(run.lab, run.labdir)
    states = provider.status(run.lab, run.labdir)
    running = all(s in ("running", "external") for s in states.values())
    if not running:
        provision.forget_facts(run.labdir)
        provider.up(run.lab, run.labdir, run.progress)
    _record_nodes(run, provider, reuse=running)


def _record_nodes(run: Run, provider, reuse: bool) -> None:
    from labctl.endpoints import Endpoint
    from labctl.verify import wait_for_ssh

    known = {name: Endpoint(name, *info["endpoint"]) for name, info in run.state.nodes.items() if info.get("endpoint")}
    # asking Vagrant for ssh-config costs seconds: reuse what a running lab recorded
    fresh = run.lab.provider == "ssh" or not (reuse and set(known) == {n.name for n in run.lab.nodes})
    endpoints = provider.endpoints(run.lab, run.labdir) if fresh else known
    if fresh:  # machines that were running already, at the endpoints recorded when SSH answered: no wait
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
        digest = provision.input_hash(run.lab, run.labdir, phase, tuple(record.files))
        if record.status == state.DONE and record.input_hash == digest and phase.name not in run.rerun and not phase.always:
            run.progress(f"{phase.name}: done already, inputs unchanged")
            continue
        _run_phase(run, phase, record, digest)


def _run_phase(run: Run, phase, record, digest: str) -> None:
    record.status, record.input_hash = state.RUNNING, digest
    state.save(run.labdir, run.state)
    try:
        outcome = provision.run(run.lab, run.labdir, phase, run.progress)
        record.log, record.files = str(outcome.log), list(outcome.files)
        record.input_hash = provision.input_hash(run.lab, run.labdir, phase, outcome.files)
        record.status = state.DONE
    except BaseException as exc:
        record.status = state.FAILED
        record.log = str(getattr(exc, "log", "") or record.log)
        raise
    finally:
        state.save(run.labdir, run.state)


def _verify(run: Run) -> None:
    if run.provision:
        from labctl.lifecycle.inspect import verify

        run.results = verify(run.lab, run.labdir)


STEPS = {"render": _render, "preflight": _preflight, "create": _create, "provision": _provision, "verify": _verify}


def halt(lab: Lab, labdir: Path, progress) -> None:
    """Stop the machines and keep them; `up` starts them again."""
    with state.locked(labdir, lab.name):
        providers.get(lab.provider).halt(lab, labdir, progress)


class TeardownFailed(LabctlError):
    """A teardown phase failed; the machines were destroyed all the same."""


def down(lab: Lab, labdir: Path, progress, force: bool = False, teardown: bool | None = None) -> None:
    """Teardown phases (by default unless `force`), then destroy the machines, whatever teardown did."""
    with state.locked(labdir, lab.name):
        failure = _teardown(lab, labdir, progress) if (not force if teardown is None else teardown) else None
        providers.get(lab.provider).destroy(lab, labdir, force, progress)
        (labdir / state.STATE_FILE).unlink(missing_ok=True)
        (labdir / render.LAB_RECORD).unlink(missing_ok=True)  # the next `up` starts from the spec again
    if failure:
        raise TeardownFailed(f"teardown failed, the machines were destroyed: {failure.render()}",
                             "fix the cause and clean up by hand, or `labctl down --force` skips teardown")


def _teardown(lab: Lab, labdir: Path, progress) -> LabctlError | None:
    chosen = provision.phases(lab, "teardown")
    if not chosen or not (labdir / render.LAB_RECORD).is_file():
        return None
    try:
        render.render_lab(lab, labdir)
        for phase in chosen:
            progress(f"teardown: {phase.name}")
            provision.run(lab, labdir, phase, progress)
    except LabctlError as exc:
        return exc
    return None


def test(lab: Lab, labdir: Path, progress, keep_on_failure: bool = False) -> list:
    """CI's lifecycle: up (with verify), then always down; returns JUnit cases."""
    import time

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
            try:
                down(lab, labdir, progress, force=True, teardown=True)
            except LabctlError as exc:
                cases.append(Case("down", 0.0, exc.render()))
    return cases
