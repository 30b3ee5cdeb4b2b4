"""Hand a verified image to sysupgrade.

Settings are kept unless the owner asks otherwise (``-n``), because a mesh
node that forgets its configuration drops off the network. ``sysupgrade
--test`` runs first so that a refused image (wrong board, incompatible
metadata, DOMAIN §5.2) is reported before the device reboots.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from meshforge.errors import InstallFailed

log = logging.getLogger(__name__)

Runner = Callable[[Sequence[str]], int]


def sysupgrade_command(image: Path, *, keep_settings: bool = True) -> list[str]:
    """The command that flashes ``image``."""
    flags = [] if keep_settings else ["-n"]
    return ["sysupgrade", *flags, str(image)]


def preflight_command(image: Path) -> list[str]:
    return ["sysupgrade", "--test", str(image)]


def run_command(argv: Sequence[str]) -> int:
    try:
        return subprocess.run(list(argv), check=False).returncode
    except FileNotFoundError as exc:
        raise InstallFailed(
            f"{argv[0]} was not found: this is not an OpenWrt system, or PATH "
            "lacks /sbin. Use --dry-run to print the command instead."
        ) from exc


def install(
    image: Path, *, keep_settings: bool = True, runner: Runner = run_command
) -> None:
    """Test ``image`` with sysupgrade, then flash it."""
    code = runner(preflight_command(image))
    if code != 0:
        raise InstallFailed(
            f"sysupgrade --test refused {image.name} (exit {code}); the "
            "device was not touched. Read the message above: a board or "
            "compatibility mismatch needs a different image."
        )
    log.info("flashing %s (keep settings: %s)", image, keep_settings)
    code = runner(sysupgrade_command(image, keep_settings=keep_settings))
    if code != 0:
        raise InstallFailed(
            f"sysupgrade failed on {image.name} (exit {code}); the running "
            "system was kept. Read the message above before trying again."
        )
