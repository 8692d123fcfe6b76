"""`labctl runtime`: build, list and remove the cached Ansible runtimes phases run with."""

from __future__ import annotations

import click

from labctl.cli import output
from labctl.cli.options import LAB_HELP, json_option, load, override_options

COLUMNS = ["name", "ansible", "python", "ready", "phases", "path"]


@click.group("runtime", epilog="A runtime is a virtualenv of one Ansible, built once under $LABCTL_HOME/runtimes "
             "(or LABCTL_RUNTIMES_DIR) and shared by labs; its name says what is inside "
             "(ansible-2.9.27-py3.9). `labctl up` builds missing ones before any machine boots.\n\n"
             "Examples:\n\n\b\n  labctl runtime list\n  labctl runtime list openshift --set release=3.7 --json\n"
             "  labctl runtime build openshift --set release=3.11\n  labctl runtime rm ansible-2.4.6.0-py3.6\n"
             "  labctl runtime rm --unused")
def runtime_cmd() -> None:
    """Build, list and remove cached Ansible runtimes."""


@runtime_cmd.command("list", epilog=f"{LAB_HELP}\n\nWithout LAB: every runtime built here. With LAB: the runtimes its "
                     "phases run with, built or not.\n\nExamples:\n\n\b\n  labctl runtime list\n"
                     "  labctl runtime list openshift --set release=3.7\n  labctl runtime list smoke --json")
@click.argument("lab", metavar="[LAB|PATH]", required=False)
@override_options
@json_option
def list_cmd(lab, provider, sets, as_json: bool) -> None:
    """List runtimes: name, Ansible, Python, ready, the phases using them, path."""
    from labctl import runtimes

    resolved = load(lab, provider, sets)[0] if lab else None
    output.table(runtimes.rows(resolved), COLUMNS, as_json)


@runtime_cmd.command("build", epilog=f"{LAB_HELP}\n\nBuilds every runtime the lab's phases need that is not built yet; "
                     "a runtime another labctl is building is waited for and reused.\n\nExamples:\n\n\b\n"
                     "  labctl runtime build openshift --set release=3.7\n  labctl runtime build ./lab.yaml")
@click.argument("lab", metavar="LAB|PATH")
@override_options
def build_cmd(lab, provider, sets) -> None:
    """Build the runtimes a lab's phases need."""
    from labctl import runtimes

    resolved, _ = load(lab, provider, sets)
    with output.progress(f"runtimes of {resolved.name}") as step:
        built = runtimes.ensure_for_lab(resolved, step)
    for runtime in built:
        output.say(f"{runtime.name}: ready in {runtime.path}")


@runtime_cmd.command("rm", epilog="A runtime a running phase uses is refused (exit 4).\n\nExamples:\n\n\b\n"
                     "  labctl runtime rm ansible-2.4.6.0-py3.6\n  labctl runtime rm --unused")
@click.argument("name", required=False)
@click.option("--unused", is_flag=True, help="Remove every runtime no lab under LABCTL_HOME ran a phase with.")
def rm_cmd(name: str | None, unused: bool) -> None:
    """Remove a runtime by name, or every unused one."""
    from labctl.errors import UsageError
    from labctl.runtimes import store

    if bool(name) == unused:
        raise UsageError("give a runtime NAME or --unused, not both or neither", "see `labctl runtime list`")
    names = [name] if name else sorted(set(store.installed()) - store.used_names())
    for each in names:
        store.remove(each)
        output.say(f"removed {each}")
    if not names:
        output.say("no unused runtimes")
