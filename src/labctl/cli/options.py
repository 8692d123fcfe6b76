"""Options shared by commands that load a lab."""

from __future__ import annotations

import click

LAB_HELP = "LAB is a built-in lab name (see `labctl list`) or a path to a spec file."


def lab_argument(func):
    return click.argument("lab", metavar="LAB|PATH")(func)


def override_options(func):
    func = click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE",
        help="Set a param (release=3.11) or a dotted path (nodes.web-1.memory=2048). Repeatable.",
    )(func)
    return click.option("--provider", metavar="NAME", help="Use this provider instead of the lab's default.")(func)


def json_option(func):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def load(lab: str, provider: str | None = None, sets: tuple[str, ...] = ()):
    from labctl.spec import load_lab

    return load_lab(lab, provider=provider, sets=sets)
