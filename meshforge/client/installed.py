"""The packages the owner installed, as rpcd's ``packagelist`` reports them.

opkg systems: every stanza of ``/usr/lib/opkg/status`` whose state is
``installed`` and that lacks ``Auto-Installed: yes``, with the ABI suffix
stripped. apk systems: the names in ``/etc/apk/world``, versions from
``/lib/apk/db/installed``. Only files are read, so a device without the
opkg binary (or a copied root folder) works the same.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from meshforge.client.device import read_text
from meshforge.errors import RouterStateError
from meshforge.upstream.opkg import parse_stanzas, strip_abi

log = logging.getLogger(__name__)

OPKG_STATUS = "usr/lib/opkg/status"
APK_WORLD = "etc/apk/world"
APK_INSTALLED = "lib/apk/db/installed"

# A world entry ends at the first of these (apk-tools' dependency syntax).
WORLD_NAME_END = re.compile(r"[@~<>=]")

PackageManager = Literal["opkg", "apk"]


@dataclass(frozen=True)
class InstalledPackages:
    """Installed packages: ``user`` is the owner's choice, ``all`` everything.

    Versions are ``""`` where the system does not record one.
    """

    manager: PackageManager
    user: dict[str, str]
    all: dict[str, str]


def read_installed(root: Path) -> InstalledPackages:
    """Read the package database below ``root``, apk first (25.12+)."""
    if (root / APK_WORLD).is_file():
        return _read_apk(root)
    if (root / OPKG_STATUS).is_file():
        return _read_opkg(root)
    raise RouterStateError(
        f"No package database under {root}: neither /{OPKG_STATUS} nor "
        f"/{APK_WORLD} exists. Check --root; the client needs one of them to "
        "know which packages to keep."
    )


def _read_opkg(root: Path) -> InstalledPackages:
    text = read_text(root / OPKG_STATUS)
    user: dict[str, str] = {}
    every: dict[str, str] = {}
    for stanza in parse_stanzas(text):
        if not _is_installed(stanza.get("Status", "")) or "Package" not in stanza:
            continue
        name = strip_abi(stanza["Package"], stanza.get("ABIVersion"))
        every[name] = stanza.get("Version", "")
        if stanza.get("Auto-Installed", "").lower() != "yes":
            user[name] = every[name]
    log.debug("opkg status: %d installed, %d by the owner", len(every), len(user))
    return InstalledPackages("opkg", dict(sorted(user.items())), every)


def _is_installed(status: str) -> bool:
    words = status.split()
    return len(words) == 3 and words[2] == "installed"


def _read_apk(root: Path) -> InstalledPackages:
    every = _apk_installed_db(root / APK_INSTALLED)
    user: dict[str, str] = {}
    world = read_text(root / APK_WORLD)
    for line in world.splitlines():
        name = WORLD_NAME_END.split(line.strip(), maxsplit=1)[0]
        if name:
            user[name] = every.get(name, "")
    log.debug("apk world: %d entries, %d installed", len(user), len(every))
    return InstalledPackages("apk", dict(sorted(user.items())), every)


def _apk_installed_db(path: Path) -> dict[str, str]:
    """``P:``/``V:`` pairs of apk's installed database; ``{}`` if absent."""
    if not path.is_file():
        return {}
    versions: dict[str, str] = {}
    name = ""
    for line in read_text(path).splitlines():
        if line.startswith("P:"):
            name = line[2:].strip()
        elif line.startswith("V:") and name:
            versions[name] = line[2:].strip()
        elif not line.strip():
            name = ""
    return versions
