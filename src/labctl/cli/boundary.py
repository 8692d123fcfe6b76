"""The one place errors become output: one line (or one block for a spec), and an exit code."""

from __future__ import annotations

import sys

import click

from labctl.errors import LabctlError

EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def run(cli: click.Group, argv: list[str] | None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="labctl", standalone_mode=False)
    except LabctlError as exc:
        if debug:
            raise
        click.echo(f"labctl: error: {exc.render()}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("labctl: interrupted; state is saved, run the same command again to continue", err=True)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the boundary: anything unexpected becomes one line
        if debug:
            raise
        click.echo(f"labctl: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        return EXIT_INTERNAL
    return 0
