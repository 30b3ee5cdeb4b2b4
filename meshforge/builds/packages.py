"""The PACKAGES list handed to the ImageBuilder."""

from __future__ import annotations


def diff_packages(requested: list[str], defaults: set[str]) -> list[str]:
    """asu's ``diff_packages``: remove every default the request does not list.

    The removals come first, sorted; ``--x`` collapses to ``-x``; the request
    follows in its own order.
    """
    wanted = set(requested)
    removals = sorted({"-" + name.lstrip("-") for name in defaults - wanted})
    return removals + list(requested)


def image_packages(
    requested: list[str], defaults: list[str], profile_packages: list[str], diff: bool
) -> list[str]:
    if not diff:
        return list(requested)
    return diff_packages(requested, set(defaults) | set(profile_packages))
