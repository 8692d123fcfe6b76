"""`labctl box build`: the offline Debian base box."""

from __future__ import annotations

import click

from labctl.cli import output


@click.group("box")
def box_cmd() -> None:
    """Build and check labctl's offline base box (labctl/debian12)."""


@box_cmd.command("build", epilog="Examples:\n\n\b\n  labctl box build --provider docker\n  labctl box build --provider libvirt --force")
@click.option("--provider", type=click.Choice(["docker", "libvirt"]), default="docker", show_default=True)
@click.option("--force", is_flag=True, help="Rebuild even when the box exists.")
def build_cmd(provider: str, force: bool) -> None:
    """Build a Debian 12 box with debootstrap from this machine's apt mirror; no Vagrant Cloud or Docker Hub."""
    from labctl.boxes import build_box, log_path

    with output.progress(f"box {provider}") as step:
        result = build_box(provider, force=force, progress=step)
    output.say(f"{result.detail} (log: {log_path(provider)})")
