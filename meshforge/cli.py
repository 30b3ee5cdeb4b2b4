"""The ``meshforge`` command.

Each domain brings its own command group; this module only wires them
together and maps the exception tree to exit codes.
"""

from __future__ import annotations

import logging
import sys

import click

from meshforge.client.cli import group as upgrade_group
from meshforge.errors import MeshforgeError
from meshforge.net6.cli import group as net6_group
from meshforge.packages.cli import group as packages_group
from meshforge.server_cli import serve, sync, worker


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-vv: debug).")
def cli(verbose: int) -> None:
    """meshforge: firmware images on demand and LibreNet6."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(serve)
cli.add_command(worker)
cli.add_command(sync)
cli.add_command(packages_group, "packages")
cli.add_command(upgrade_group, "upgrade")
cli.add_command(net6_group, "net6")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except MeshforgeError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
