"""Commands are imported only when used, so `labctl --help` stays fast."""

from __future__ import annotations

import importlib

import click

# command name -> (module, function, one-line help shown in `labctl --help`)
COMMANDS = {
    "list": ("labctl.cli.specs", "list_cmd", "List the built-in labs."),
    "show": ("labctl.cli.specs", "show_cmd", "Show a lab's resolved spec, and where each value came from."),
    "validate": ("labctl.cli.specs", "validate_cmd", "Check a lab spec and report every problem at once."),
    "schema": ("labctl.cli.specs", "schema_cmd", "Print the JSON Schema of lab specs."),
    "render": ("labctl.cli.specs", "render_cmd", "Write a lab directory: Vagrantfile, inventory, ansible.cfg."),
    "box": ("labctl.cli.boxes", "box_cmd", "Build the offline Debian base box (docker or libvirt)."),
    "up": ("labctl.cli.lab", "up_cmd", "Create, provision and verify a lab."),
    "provision": ("labctl.cli.lab", "provision_cmd", "Run or rerun a lab's Ansible phases."),
    "verify": ("labctl.cli.lab", "verify_cmd", "Run a lab's checks over SSH."),
    "status": ("labctl.cli.info", "status_cmd", "Show a lab's nodes and phases."),
    "halt": ("labctl.cli.lab", "halt_cmd", "Stop a lab's machines, keeping them."),
    "down": ("labctl.cli.lab", "down_cmd", "Destroy a lab's machines and networks."),
    "ssh": ("labctl.cli.info", "ssh_cmd", "SSH into a node of a running lab."),
    "logs": ("labctl.cli.info", "logs_cmd", "List or show a lab's logs."),
    "doctor": ("labctl.cli.info", "doctor_cmd", "Check the host's tools, boxes and room for a lab."),
    "plan": ("labctl.cli.info", "plan_cmd", "Show what provisioning would change, writing nothing."),
    "secret": ("labctl.cli.info", "secret_cmd", "Print one secret of a lab (a generated password, a key's path)."),
    "test": ("labctl.cli.lab", "test_cmd", "Up, verify and always down a lab, with JUnit output (CI)."),
    "runtime": ("labctl.cli.runtime", "runtime_cmd", "Build, list and remove cached Ansible runtimes."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
