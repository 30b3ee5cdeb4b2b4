"""Command group of the client domain."""

from __future__ import annotations

import click


@click.group()
def group() -> None:
    """TODO: filled in by the client domain."""
