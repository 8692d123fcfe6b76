"""Printing, kept apart from logic: rich tables for people, JSON for scripts."""

from __future__ import annotations

import contextlib
import json
import sys
import time

import click


def say(text: str) -> None:
    click.echo(text)


def document(data: object, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=False))
        return
    import yaml

    click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=100).rstrip("\n"))


def table(rows: list[dict], columns: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    grid = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        grid.add_column(column.upper(), overflow="fold")
    for row in rows:
        grid.add_row(*(_cell(row.get(c)) for c in columns))
    console = Console(file=sys.stdout)
    if not console.is_terminal:
        console = Console(file=sys.stdout, width=200)  # a pipe or a log: don't fold at 80 columns
    console.print(grid)


def _cell(value: object) -> str:
    from rich.markup import escape

    text = value if isinstance(value, str) else json.dumps(value)
    return escape(text)


@contextlib.contextmanager
def progress(title: str):
    """A status line for long work; yields a callback that takes the current step."""
    from rich.console import Console

    console = Console(stderr=True)
    started = time.monotonic()
    printed = [""]
    with console.status(f"{title}: starting") as status:

        def step(message: str) -> None:
            status.update(f"{title}: {message}")
            headline = message.split(" (", 1)[0]  # a log gets one line per step, not per host event
            if not console.is_terminal and headline != printed[0]:
                printed[0] = headline
                console.print(f"[{time.monotonic() - started:5.0f}s] {title}: {message}", highlight=False, soft_wrap=True)

        yield step


_MARKS = {"create": "+", "update": "~", "delete": "-", "unchanged": "=", "changed": "~", "skipped": ".", "failed": "!"}


def plan(report: list[dict]) -> None:
    """`labctl plan` for people: per phase, each task (or API object) with what would happen."""
    for phase in report:
        click.echo(f"phase {phase['phase']}" + (f": cannot plan: {phase['error']}" if phase["error"] else ""))
        for task in phase["tasks"]:
            for obj in task["objects"]:
                fields = f" ({', '.join(obj.get('fields') or [])})" if obj.get("action") == "update" and obj.get("fields") else ""
                click.echo(f"  {_MARKS.get(obj.get('action'), '?')} {obj.get('kind')} {obj.get('name')}: {obj.get('action')}{fields}")
            if not task["objects"]:
                hosts = f" on {', '.join(task['changed'])}" if task["changed"] else ""
                click.echo(f"  {_MARKS[task['status']]} {task['task']}: {task['status']}{hosts}")
