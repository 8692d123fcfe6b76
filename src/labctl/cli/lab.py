"""Commands that drive a lab's machines: up, provision, verify, status, down."""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli import output
from labctl.cli.options import LAB_HELP, json_option, lab_argument, override_options

DIR_OPTION = click.option("-d", "--dir", "labdir", type=click.Path(file_okay=False, path_type=Path), help="Lab directory (default: under LABCTL_HOME).")


def _resolve(lab: str, provider=None, sets=(), labdir: Path | None = None):
    """The lab LAB names, with the settings it was brought up with (and the new flags on top)."""
    from labctl.spec import record

    found = record.find(lab, provider, tuple(sets), labdir)
    for note in found.notes:
        output.say(note)
    if found.notes:
        from labctl.render import write_record

        write_record(found.lab, found.labdir)
    return found.lab, found.labdir


@click.command("up", epilog=f"{LAB_HELP}\n\nRunning `up` again skips phases that are done and whose inputs did not change.\n\nExamples:\n\n\b\n  labctl up smoke\n  labctl up openshift --set release=3.11\n  labctl up ./lab.yaml --no-provision")
@lab_argument
@override_options
@DIR_OPTION
@click.option("--no-provision", is_flag=True, help="Create the machines only.")
def up_cmd(lab: str, provider, sets, labdir, no_provision: bool) -> None:
    """Create, provision and verify a lab."""
    from labctl import lifecycle

    from labctl.spec import record

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    for change in record.changes(labdir, resolved):
        output.say(f"{resolved.name}: changes {change}")
    with output.progress(f"up {resolved.name}") as step:
        run = lifecycle.up(resolved, labdir, step, with_provision=not no_provision)
    _report_checks(run.results or [])
    output.say(f"{resolved.name}: up ({len(resolved.nodes)} nodes) in {labdir}")
    for note in resolved.spec.notes:
        output.say(f"  {note}")


@click.command("provision", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl provision smoke\n  labctl provision smoke --from smoke\n  labctl provision openshift --only openshift-deploy")
@lab_argument
@override_options
@DIR_OPTION
@click.option("--from", "from_", metavar="PHASE", help="Rerun this phase and every one after it.")
@click.option("--only", metavar="PHASE", help="Rerun this phase only.")
def provision_cmd(lab: str, provider, sets, labdir, from_, only) -> None:
    """Run the lab's phases again: done phases with unchanged inputs are skipped unless forced."""
    from labctl import lifecycle, provision

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    names = [p.name for p in provision.phases(resolved)]
    for wanted in filter(None, (from_, only)):
        if wanted not in names:
            from labctl.errors import UsageError

            raise UsageError(f"lab {resolved.name} has no phase '{wanted}'", f"phases: {', '.join(names)}")
    rerun = names[names.index(from_):] if from_ else ([only] if only else [])
    with output.progress(f"provision {resolved.name}") as step:
        run = lifecycle.up(resolved, labdir, step, rerun=rerun, only=only)
    _report_checks(run.results or [])


@click.command("verify", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl verify smoke\n  labctl verify smoke --json")
@lab_argument
@override_options
@DIR_OPTION
@json_option
def verify_cmd(lab: str, provider, sets, labdir, as_json: bool) -> None:
    """Run the lab's checks over SSH; exit 1 when one fails."""
    from labctl.lifecycle.inspect import verify

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    results = verify(resolved, labdir)
    if as_json:
        rows = [{"check": r.name, "node": r.node, "ok": r.ok, "detail": r.detail} for r in results]
        output.table(rows, ["check", "node", "ok", "detail"], as_json)
        _fail_on(results)
        return
    _report_checks(results)


@click.command("halt", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl halt smoke\n  labctl up smoke      # starts the machines again")
@lab_argument
@DIR_OPTION
def halt_cmd(lab: str, labdir) -> None:
    """Stop a lab's machines, keeping them (and their disks) for the next `up`."""
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, labdir=labdir)
    with output.progress(f"halt {resolved.name}") as step:
        lifecycle.halt(resolved, labdir, step)
    output.say(f"{resolved.name}: halted")


@click.command("down", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl down smoke\n  labctl down smoke --force   # also when .vagrant is gone")
@lab_argument
@DIR_OPTION
@click.option("--force", is_flag=True, help="Also remove leftovers found by label or name (docker).")
def down_cmd(lab: str, labdir, force: bool) -> None:
    """Destroy the lab's machines and the networks labctl created."""
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, labdir=labdir)
    with output.progress(f"down {resolved.name}") as step:
        lifecycle.down(resolved, labdir, step, force)
    output.say(f"{resolved.name}: down")


def _report_checks(results) -> None:
    for r in results:
        where = f" on {r.node}" if r.node and r.node not in r.name else ""
        output.say(f"{'PASS' if r.ok else 'FAIL'} {r.name}{where}: {r.detail}")
    _fail_on(results)


def _fail_on(results) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        from labctl.errors import LabctlError

        raise LabctlError(f"{len(failed)} of {len(results)} checks failed", "see the lines above; `labctl verify` reruns them")


@click.command("test", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl test smoke --junit report.xml\n  labctl test ./lab.yaml --keep-on-failure")
@lab_argument
@override_options
@DIR_OPTION
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report here.")
@click.option("--keep-on-failure", is_flag=True, help="Leave the lab up when something fails, to look at it.")
def test_cmd(lab: str, provider, sets, labdir, junit: Path | None, keep_on_failure: bool) -> None:
    """Up, verify, then always down: the lab as a CI test."""
    from labctl import junit as junit_xml
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    with output.progress(f"test {resolved.name}") as step:
        cases = lifecycle.test(resolved, labdir, step, keep_on_failure)
    if junit:
        junit_xml.write(junit, f"labctl.{resolved.name}", cases)
    for case in cases:
        output.say(f"{'FAIL' if case.failure else 'PASS'} {case.name} ({case.seconds:.1f} s)" + (f": {case.failure}" if case.failure else ""))
    if any(c.failure for c in cases):
        raise click.exceptions.Exit(1)
