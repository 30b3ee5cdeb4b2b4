"""Server-side commands: ``serve``, ``worker`` and ``sync``."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Run the HTTP API."""


@click.command()
def worker() -> None:
    """Run a build worker."""


@click.command()
def sync() -> None:
    """Fetch upstream metadata."""
