"""The PACKAGES list handed to the ImageBuilder."""

from __future__ import annotations

from meshforge.packages.resolver import diff_against_defaults


def image_packages(
    requested: list[str], defaults: list[str], profile_packages: list[str], diff: bool
) -> list[str]:
    """As asu passes it: the request as sent, or with ``diff_packages`` the
    removals of every default it leaves out, then the request."""
    if not diff:
        return list(requested)
    return diff_against_defaults(requested, [*defaults, *profile_packages])
