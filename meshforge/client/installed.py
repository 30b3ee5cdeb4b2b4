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

from meshforge.client.device import Release, read_text
from meshforge.client.releases import SNAPSHOT, package_format
from meshforge.errors import RouterStateError
from meshforge.upstream.opkg import parse_stanzas, strip_abi

log = logging.getLogger(__name__)

OPKG_STATUS = "usr/lib/opkg/status"
APK_WORLD = "etc/apk/world"
APK_INSTALLED = "lib/apk/db/installed"

# A world entry ends at the first of these (apk-tools' dependency syntax).
WORLD_NAME_END = re.compile(r"[@~<>=]")
# What opkg and apk accept as a package name; anything else is damage.
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$")
# The SNAPSHOT revision that replaced opkg with apk (DOMAIN §4.3).
FIRST_APK_REVISION = 28056

PackageManager = Literal["opkg", "apk"]


@dataclass(frozen=True)
class InstalledPackages:
    """Installed packages: ``user`` is the owner's choice, ``all`` everything.

    Versions are ``""`` where the system does not record one.
    """

    manager: PackageManager
    user: dict[str, str]
    all: dict[str, str]


def read_installed(root: Path, release: Release | None = None) -> InstalledPackages:
    """Read the package database below ``root``.

    A root that has both databases (an upgrade from opkg to apk leaves the
    old status file behind) is read with the manager its release uses.
    """
    has_apk, has_opkg = (root / APK_WORLD).is_file(), (root / OPKG_STATUS).is_file()
    if has_apk and has_opkg:
        use_apk = release is None or manager_of(release) == "apk"
        return _read_apk(root) if use_apk else _read_opkg(root)
    if has_apk:
        return _read_apk(root)
    if has_opkg:
        return _read_opkg(root)
    raise RouterStateError(
        f"No package database under {root}: neither /{OPKG_STATUS} nor "
        f"/{APK_WORLD} exists. Check --root; the client needs one of them to "
        "know which packages to keep."
    )


def manager_of(release: Release) -> PackageManager:
    """The package manager ``release`` was built with."""
    if release.version == SNAPSHOT:
        revision = release.revision_number
        return "apk" if revision is None or revision >= FIRST_APK_REVISION else "opkg"
    return package_format(release.version)


def valid_name(name: str, where: str) -> bool:
    """Whether ``name`` is a package name; a warning names what is skipped."""
    if PACKAGE_NAME.match(name):
        return True
    log.warning("skipping %r in %s: not a valid package name", name[:80], where)
    return False


def _damaged(path: str) -> RouterStateError:
    return RouterStateError(
        f"/{path} names no installed package: it is empty or damaged. An "
        "image built from it would lose the owner's packages, so nothing is "
        "requested. Repair the package database (or restore it from a "
        "backup) and run the command again."
    )


def _read_opkg(root: Path) -> InstalledPackages:
    text = read_text(root / OPKG_STATUS)
    user: dict[str, str] = {}
    every: dict[str, str] = {}
    for stanza in parse_stanzas(text):
        if not _is_installed(stanza.get("Status", "")) or "Package" not in stanza:
            continue
        name = strip_abi(stanza["Package"], stanza.get("ABIVersion"))
        if not valid_name(name, OPKG_STATUS):
            continue
        every[name] = stanza.get("Version", "")
        if stanza.get("Auto-Installed", "").lower() != "yes":
            user[name] = every[name]
    if not every:
        raise _damaged(OPKG_STATUS)
    log.debug("opkg status: %d installed, %d by the owner", len(every), len(user))
    return InstalledPackages("opkg", dict(sorted(user.items())), every)


def _is_installed(status: str) -> bool:
    words = status.split()
    return len(words) == 3 and words[2] == "installed"


def _read_apk(root: Path) -> InstalledPackages:
    every = _apk_installed_db(root / APK_INSTALLED)
    user: dict[str, str] = {}
    # apk splits world on any whitespace; "!name" forbids a package.
    for word in read_text(root / APK_WORLD).split():
        if word.startswith("!"):
            continue
        name = WORLD_NAME_END.split(word, maxsplit=1)[0]
        if valid_name(name, APK_WORLD):
            user[name] = every.get(name, "")
    if not user:
        raise _damaged(APK_WORLD)
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
