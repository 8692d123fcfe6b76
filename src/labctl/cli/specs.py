"""Commands that read and render specs: list, show, validate, schema, render."""

from __future__ import annotations

from pathlib import Path

import click

from labctl.cli import output
from labctl.cli.options import LAB_HELP, json_option, lab_argument, load, override_options


@click.command("list", epilog="Examples:\n\n\b\n  labctl list\n  labctl list --json | jq -r '.[].name'")
@json_option
def list_cmd(as_json: bool) -> None:
    """List the built-in labs."""
    from labctl.spec import builtin_labs

    rows = []
    for name in builtin_labs():
        lab, _ = load(name)
        rows.append({"name": name, "description": lab.spec.description, "nodes": len(lab.nodes), "provider": lab.provider})
    output.table(rows, ["name", "nodes", "provider", "description"], as_json)


@click.command("show", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl show openshift\n  labctl show smoke --origins\n  labctl show ./my-lab.yaml --json")
@lab_argument
@override_options
@json_option
@click.option("--origins", is_flag=True, help="Show each value with the file, variable or flag it came from.")
def show_cmd(lab: str, provider: str | None, sets: tuple[str, ...], as_json: bool, origins: bool) -> None:
    """Show a lab's resolved spec (defaults, extends and overrides applied)."""
    from labctl.spec import explain

    resolved, layer = load(lab, provider, sets)
    if origins:
        rows = [{"key": k, "value": v, "origin": o} for k, v, o in explain.origins(resolved, layer)]
        output.table(rows, ["key", "value", "origin"], as_json)
    else:
        output.document(explain.lab_data(resolved), as_json)


@click.command("validate", epilog=f"{LAB_HELP}\n\nExit codes: 0 valid, 2 invalid.\n\nExamples:\n\n\b\n  labctl validate smoke\n  labctl validate ./my-lab.yaml --set release=3.11")
@lab_argument
@override_options
def validate_cmd(lab: str, provider: str | None, sets: tuple[str, ...]) -> None:
    """Check a lab spec and report every problem at once, with file:line:column."""
    resolved, _ = load(lab, provider, sets)
    output.say(f"{resolved.source}: valid lab '{resolved.name}' ({len(resolved.nodes)} nodes, provider {resolved.provider})")


@click.command("schema", epilog="Examples:\n\n\b\n  labctl schema > lab.schema.json")
def schema_cmd() -> None:
    """Print the JSON Schema of lab specs (for editors: yaml-language-server)."""
    from labctl.spec.model import json_schema

    output.document(json_schema(), as_json=True)


@click.command("render", epilog=f"{LAB_HELP}\n\nExamples:\n\n\b\n  labctl render smoke\n  labctl render openshift -o /tmp/os --set release=3.11\n  labctl render ./lab.yaml --provider libvirt")
@lab_argument
@override_options
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path), help="Lab directory (default: under LABCTL_HOME).")
@json_option
def render_cmd(lab: str, provider: str | None, sets: tuple[str, ...], outdir: Path | None, as_json: bool) -> None:
    """Write the lab directory: Vagrantfile, inventory/ and ansible.cfg (byte-identical when re-run)."""
    from labctl.render import stamp
    from labctl.spec.merged import recall, remember, validated

    merged = recall(lab, provider, sets)
    if merged is None:
        from labctl.spec.load import merge_layers

        merged = remember(lab, merge_layers(lab, provider=provider, sets=sets))
    hit = stamp.up_to_date(merged, outdir)
    if hit:
        name, directory, files, changed = *hit, ()
    else:
        from labctl.render import default_dir, render_lab

        resolved = validated(merged, for_render=True)
        result = render_lab(resolved, outdir or default_dir(resolved))
        name, directory, files, changed = resolved.name, result.directory, result.files, result.changed
    if as_json:
        rows = [{"file": str(directory / f), "status": "written" if f in changed else "unchanged"} for f in files]
        output.document(rows, as_json=True)
        return
    output.say(f"{name}: {len(changed)} of {len(files)} files written in {directory}")
