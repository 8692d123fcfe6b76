"""Commands that drive a lab's machines: up, provision, verify, status, down."""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli import output
from labctl.cli.options import LAB_HELP, json_option, lab_argument, load, override_options

DIR_OPTION = click.option("-d", "--dir", "labdir", type=click.Path(file_okay=False, path_type=Path), help="Lab directory (default: under LABCTL_HOME).")


def _resolve(lab: str, provider=None, sets=(), labdir: Path | None = None):
    from labctl.render import default_dir

    resolved, _ = load(lab, provider, sets)
    return resolved, labdir or default_dir(resolved)


@click.command("up", epilog=f"{LAB_HELP}\n\nRunning `up` again skips phases that are done and whose inputs did not change.\n\nExamples:\n\n\b\n  labctl up smoke\n  labctl up openshift --set release=3.11\n  labctl up ./lab.yaml --no-provision")
@lab_argument
@override_options
@DIR_OPTION
@click.option("--no-provision", is_flag=True, help="Create the machines only.")
def up_cmd(lab: str, provider, sets, labdir, no_provision: bool) -> None:
    """Create, provision and verify a lab."""
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    with output.progress(f"up {resolved.name}") as step:
        run = lifecycle.up(resolved, labdir, step, with_provision=not no_provision)
    _report_checks(run.results or [])
    output.say(f"{resolved.name}: up ({len(resolved.nodes)} nodes) in {labdir}")


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
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    results = lifecycle.verify(resolved, labdir)
    rows = [{"check": r.name, "node": r.node, "ok": r.ok, "detail": r.detail} for r in results]
    output.table(rows, ["check", "node", "ok", "detail"], as_json)
    _fail_on(results)


@click.command("status", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl status\n  labctl status smoke\n  labctl status smoke --json | jq '.nodes[].state'")
@click.argument("lab", metavar="[LAB|PATH]", required=False)
@DIR_OPTION
@click.option("--all", "all_", is_flag=True, help="Every lab under LABCTL_HOME (the default without LAB).")
@json_option
def status_cmd(lab: str | None, labdir, all_: bool, as_json: bool) -> None:
    """Nodes (state, address) and phases (status) of a lab; without LAB, every lab."""
    from labctl import lifecycle

    if all_ or not lab:
        output.table(lifecycle.overview(), ["lab", "provider", "nodes", "phases done", "directory"], as_json)
        return
    resolved, labdir = _resolve(lab, labdir=labdir)
    report = lifecycle.status(resolved, labdir)
    if as_json:
        output.document(report, as_json=True)
        return
    output.table(report["nodes"], ["name", "state", "address"], False)
    output.table(report["phases"], ["name", "status"], False)


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
        output.say(f"{'PASS' if r.ok else 'FAIL'} {r.name} on {r.node}: {r.detail}")
    _fail_on(results)


def _fail_on(results) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        from labctl.errors import LabctlError

        raise LabctlError(f"{len(failed)} of {len(results)} checks failed", "see the lines above; `labctl verify` reruns them")


@click.command("ssh", epilog="Examples:\n\n\b\n  labctl ssh smoke smoke-1\n  labctl ssh smoke smoke-1 -- uptime")
@lab_argument
@click.argument("node")
@click.argument("command", nargs=-1)
@DIR_OPTION
def ssh_cmd(lab: str, node: str, command: tuple[str, ...], labdir) -> None:
    """Open an SSH session on a node of a running lab (or run COMMAND there)."""
    import os

    from labctl import lifecycle, proc

    resolved, labdir = _resolve(lab, labdir=labdir)
    argv = lifecycle.ssh_argv(resolved, labdir, node)
    proc.require("ssh", "apt-get install -y openssh-client")
    os.execvp("ssh", [*argv, *command])


@click.command("logs", epilog="Examples:\n\n\b\n  labctl logs smoke\n  labctl logs smoke common\n  labctl logs smoke vagrant | tail")
@lab_argument
@click.argument("phase", required=False)
@DIR_OPTION
@json_option
def logs_cmd(lab: str, phase: str | None, labdir, as_json: bool) -> None:
    """List a lab's logs, or print one (a phase name, or `vagrant`)."""
    from labctl import lifecycle

    resolved, labdir = _resolve(lab, labdir=labdir)
    found = lifecycle.logs(resolved, labdir)
    if phase is None:
        output.table([{"log": k, "path": str(v)} for k, v in found.items()], ["log", "path"], as_json)
        return
    if phase not in found:
        from labctl.errors import UsageError

        raise UsageError(f"no log '{phase}' for lab {resolved.name}", f"logs: {', '.join(found) or 'none yet'}")
    click.echo(found[phase].read_text(errors="replace"), nl=False)


@click.command("doctor", epilog="Examples:\n\n\b\n  labctl doctor\n  labctl doctor openshift --json")
@click.argument("lab", metavar="[LAB|PATH]", required=False)
@json_option
def doctor_cmd(lab: str | None, as_json: bool) -> None:
    """Check this host: vagrant and its providers, docker, ansible, boxes; and whether LAB fits."""
    from labctl.doctor import FAIL, diagnose

    resolved = _resolve(lab)[0] if lab else None
    findings = diagnose(resolved)
    output.table([f.__dict__ for f in findings], ["check", "status", "detail"], as_json)
    if any(f.status == FAIL for f in findings):
        raise click.exceptions.Exit(1)


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
