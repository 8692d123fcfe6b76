"""The command line: thin click commands over plain functions, and the one error boundary."""

from __future__ import annotations

import sys

import click

from labctl import __version__
from labctl.cli.lazy import LazyGroup


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Examples:\n\n\b\n  labctl list\n  labctl up smoke\n  labctl render openshift -o /tmp/os --set release=3.11",
)
@click.version_option(__version__, prog_name="labctl")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug detail.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Build network and platform test labs from YAML specs: Vagrant machines, Ansible phases, checks."""
    ctx.obj = {"debug": debug}


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every handled error into one line and an exit code."""
    from labctl.cli.boundary import run

    sys.exit(run(cli, argv))
