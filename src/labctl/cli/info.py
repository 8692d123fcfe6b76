"""Commands that look at a lab without changing it: status, plan, secret, ssh, logs, doctor."""

from __future__ import annotations


import click

from labctl.cli import output
from labctl.cli.lab import DIR_OPTION, _resolve
from labctl.cli.options import LAB_HELP, json_option, lab_argument, override_options


@click.command("status", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl status\n  labctl status smoke\n  labctl status smoke --json | jq '.nodes[].state'")
@click.argument("lab", metavar="[LAB|PATH]", required=False)
@DIR_OPTION
@click.option("--all", "all_", is_flag=True, help="Every lab under LABCTL_HOME (the default without LAB).")
@json_option
def status_cmd(lab: str | None, labdir, all_: bool, as_json: bool) -> None:
    """Nodes (state, address) and phases (status) of a lab; without LAB, every lab."""
    from labctl.lifecycle import inspect

    if all_ or not lab:
        output.table(inspect.overview(), ["lab", "provider", "nodes", "phases done", "directory"], as_json)
        return
    resolved, labdir = _resolve(lab, labdir=labdir)
    report = inspect.status(resolved, labdir)
    if as_json:
        output.document(report, as_json=True)
        return
    output.table(report["nodes"], ["name", "state", "address"], False)
    output.table(report["phases"], ["name", "status"], False)


@click.command("ssh", epilog="Examples:\n\n\b\n  labctl ssh smoke smoke-1\n  labctl ssh smoke smoke-1 -- uptime")
@lab_argument
@click.argument("node")
@click.argument("command", nargs=-1)
@DIR_OPTION
def ssh_cmd(lab: str, node: str, command: tuple[str, ...], labdir) -> None:
    """Open an SSH session on a node of a running lab (or run COMMAND there)."""
    import os

    from labctl import proc
    from labctl.lifecycle import inspect

    resolved, labdir = _resolve(lab, labdir=labdir)
    argv = inspect.ssh_argv(resolved, labdir, node)
    proc.require("ssh", "apt-get install -y openssh-client")
    os.execvp("ssh", [*argv, *command])


@click.command("logs", epilog="Examples:\n\n\b\n  labctl logs smoke\n  labctl logs smoke common\n  labctl logs smoke vagrant | tail")
@lab_argument
@click.argument("phase", required=False)
@DIR_OPTION
@json_option
def logs_cmd(lab: str, phase: str | None, labdir, as_json: bool) -> None:
    """List a lab's logs, or print one (a phase name, or `vagrant`)."""
    from labctl.lifecycle import inspect

    resolved, labdir = _resolve(lab, labdir=labdir)
    found = inspect.logs(resolved, labdir)
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


@click.command("plan", epilog=f"{LAB_HELP}\n\nNothing is changed: every phase runs in Ansible's check mode with diff.\n\nExamples:\n\n\b\n  labctl plan smoke\n  labctl plan nsxt --json | jq '.[].tasks[].objects[]'")
@lab_argument
@override_options
@DIR_OPTION
@json_option
def plan_cmd(lab: str, provider, sets, labdir, as_json: bool) -> None:
    """Show what provisioning would change on the running lab (and its products' APIs), writing nothing."""
    from labctl.lifecycle import plan

    resolved, labdir = _resolve(lab, provider, sets, labdir)
    with output.progress(f"plan {resolved.name}") as step:
        report = plan.plan(resolved, labdir, step)
    if as_json:
        output.document(report, as_json=True)
    else:
        output.plan(report)
        output.say(f"{resolved.name}: {plan.changes(report)} changes planned")
    if any(p["error"] for p in report):
        raise click.exceptions.Exit(1)


@click.command("secret", epilog=f"{LAB_HELP}\n\nPrints the value alone (htpasswd: the password; ssh_key: the private key's path).\n\nExamples:\n\n\b\n  labctl secret openshift demo_htpasswd\n  labctl secret avi avi_admin_password | xclip")
@lab_argument
@click.argument("name")
@DIR_OPTION
def secret_cmd(lab: str, name: str, labdir) -> None:
    """Print one secret of a lab: generated passwords are stored 0600 and shown nowhere else."""
    from labctl.lifecycle import inspect

    resolved, labdir = _resolve(lab, labdir=labdir)
    click.echo(inspect.secret(resolved, labdir, name))
