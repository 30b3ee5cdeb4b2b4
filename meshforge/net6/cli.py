"""Command group of the net6 domain."""

from __future__ import annotations

import click


@click.group()
def group() -> None:
    """TODO: filled in by the net6 domain."""
