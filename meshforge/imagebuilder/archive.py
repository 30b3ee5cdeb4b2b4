"""Find a target's ImageBuilder archive in its signed ``sha256sums``.

The archive is named ``openwrt-imagebuilder-[<version>-]<t>-<s>.Linux-x86_64``
plus ``.tar.xz`` (21.02 and older) or ``.tar.zst`` (24.10 and newer).
SNAPSHOT archives carry no version; ``X.Y-SNAPSHOT`` ones carry the version
in lower case (``24.10-snapshot``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meshforge.errors import BadRequest, BuildError, FormatError

_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](\S.*)$")
_TARGET = re.compile(r"^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$")
_SUFFIXES = (".tar.zst", ".tar.xz")
_HOST = ".Linux-x86_64"


@dataclass(frozen=True)
class ArchiveEntry:
    name: str
    sha256: str


def parse_sha256sums(text: str) -> dict[str, str]:
    """Map file name to lowercase sha256 for every well-formed line."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            sums[match.group(2)] = match.group(1).lower()
    if text.strip() and not sums:
        raise FormatError(
            "The sha256sums file has no line of the form '<64 hex> *<file name>'; "
            "check that the upstream URL points at a target folder."
        )
    return sums


def is_snapshot(version: str) -> bool:
    return version.upper().endswith("SNAPSHOT")


def archive_stems(version: str, target: str) -> list[str]:
    """Archive names without suffix, the expected one first.

    The unversioned name is also accepted for releases because custom
    builds (for example the 25.12.2 third-party sample) publish it so.
    """
    if not _TARGET.fullmatch(target):
        raise BadRequest(
            f"The target {target!r} is not of the form 'target/subtarget'; "
            "use a value such as 'ath79/generic'."
        )
    flat = target.replace("/", "-")
    unversioned = f"openwrt-imagebuilder-{flat}{_HOST}"
    if version.upper() == "SNAPSHOT":
        return [unversioned]
    # Branch snapshots publish "23.05-SNAPSHOT" in the archive name, while the
    # images inside are named in lower case; accept both spellings.
    named = [
        f"openwrt-imagebuilder-{v}-{flat}{_HOST}" for v in (version, version.lower())
    ]
    return [*dict.fromkeys(named), unversioned]


def find_archive(sha256sums_text: str, version: str, target: str) -> tuple[str, str]:
    """(file name, sha256) of the ImageBuilder archive listed in sha256sums."""
    sums = parse_sha256sums(sha256sums_text)
    for stem in archive_stems(version, target):
        for suffix in _SUFFIXES:
            digest = sums.get(stem + suffix)
            if digest:
                return stem + suffix, digest
    raise _missing(version, target, listed=bool(sums))


def _missing(version: str, target: str, *, listed: bool) -> BuildError:
    if is_snapshot(version) or not listed:
        # Snapshots are rebuilt continuously and their files are replaced in
        # place, so an absent archive usually appears again within hours.
        return BuildError(
            f"The ImageBuilder for {version} {target} is not published on the "
            "upstream download site yet; retry later.",
            permanent=False,
        )
    return BuildError(
        f"The upstream checksums for {version} {target} list no ImageBuilder "
        "archive, so this target cannot be built on this server; ask the "
        "operator or pick another release.",
        permanent=True,
    )
