"""Read what the ImageBuilder prints: ``make info``, ``make manifest``, failures.

Parsing works per line and per profile block, never by counting lines: a
profile without a title or with extra attribute lines crashed the upstream
server's regular expressions (asu#1583, the ten64 profile).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from meshforge.errors import BuildError, FormatError

log = logging.getLogger(__name__)

_HEADER = re.compile(r'^Current (Target|Architecture|Revision): "(.*)"$')
_ATTRIBUTE = re.compile(r"^([A-Za-z][A-Za-z0-9_]*):(?:\s+(.*))?$")
_PROFILE_START = re.compile(r"^(\S+):$")
# Attribute lines that may come first in a block that has no title line.
_BLOCK_KEYS = frozenset({"Packages", "SupportedDevices", "hasImageMetadata"})


@dataclass(frozen=True)
class ProfileInfo:
    id: str
    title: str = ""
    packages: list[str] = field(default_factory=list)
    supported_devices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MakeInfo:
    target: str
    revision: str
    default_packages: list[str]
    profiles: dict[str, ProfileInfo]
    architecture: str = ""


def parse_info(text: str) -> MakeInfo:
    """Parse the output of ``make info``."""
    head, marker, body = text.partition("Available Profiles:")
    if not marker:
        raise _info_error("it has no 'Available Profiles:' line")
    fields = _parse_header(head)
    for needed in ("Target", "Revision", "Default Packages"):
        if needed not in fields:
            raise _info_error(f"its header has no '{needed}' line")
    return MakeInfo(
        target=fields["Target"],
        revision=fields["Revision"],
        default_packages=fields["Default Packages"].split(),
        profiles=_parse_profiles(body),
        architecture=fields.get("Architecture", ""),
    )


def _parse_header(head: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in head.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            fields[match.group(1)] = match.group(2)
        elif line.startswith("Default Packages:"):
            fields["Default Packages"] = line.removeprefix("Default Packages:")
    return fields


class _Block:
    """One profile block while it is being read."""

    def __init__(self, profile_id: str) -> None:
        self.id = profile_id
        self.title = ""
        self.packages: list[str] = []
        self.devices: list[str] = []
        self.lines = 0

    def add(self, line: str) -> None:
        match = _ATTRIBUTE.match(line)
        first = self.lines == 0
        self.lines += 1
        if match and (not first or match.group(1) in _BLOCK_KEYS):
            self._attribute(match.group(1), match.group(2) or "")
        elif first:
            self.title = line
        else:
            log.debug("make info: ignoring line %r in profile %s", line, self.id)

    def _attribute(self, key: str, value: str) -> None:
        if key == "Packages":
            self.packages = value.split()
        elif key == "SupportedDevices":
            self.devices = value.split()

    def done(self) -> ProfileInfo:
        return ProfileInfo(self.id, self.title, self.packages, self.devices)


def _parse_profiles(body: str) -> dict[str, ProfileInfo]:
    profiles: dict[str, ProfileInfo] = {}
    block: _Block | None = None
    for raw in body.splitlines():
        if not raw.strip():
            continue
        if raw[0].isspace():
            if block is None:
                raise _info_error(f"the indented line {raw.strip()!r} has no profile")
            block.add(raw.strip())
            continue
        start = _PROFILE_START.match(raw)
        if not start:
            raise _info_error(f"the line {raw!r} is neither a profile nor indented")
        if block is not None:
            profiles[block.id] = block.done()
        block = _Block(start.group(1).removeprefix("DEVICE_"))
    if block is not None:
        profiles[block.id] = block.done()
    return profiles


def _info_error(why: str) -> FormatError:
    return FormatError(
        f"The output of 'make info' has an unknown shape: {why}. The ImageBuilder "
        "may be damaged or too new for this server; report it to the operator."
    )


def parse_manifest(text: str) -> dict[str, str]:
    """Parse ``make manifest``: opkg prints ``name - version``, apk ``name version``."""
    manifest: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name, sep, version = line.partition(" - ")
        if not sep:
            name, _, version = line.partition(" ")
        if not name or not version or " " in name or " " in version.strip():
            raise FormatError(
                f"The output of 'make manifest' has the line {line!r}, which is "
                "neither 'name - version' (opkg) nor 'name version' (apk); the "
                "ImageBuilder may be damaged or too new for this server."
            )
        manifest[name] = version.strip()
    return manifest


def check_revision(info: MakeInfo, version_code: str) -> None:
    """Fail when the request pins a revision that this ImageBuilder is not."""
    if not version_code or info.revision == version_code:
        return
    # Transient: a CDN-cached profiles.json or a newer snapshot often runs
    # ahead of the ImageBuilder for a while (asu#726, openwrt#15528).
    raise BuildError(
        f"Received incorrect version {info.revision} (requested {version_code}): "
        f"the ImageBuilder for {info.target} is at revision {info.revision}, "
        f"not {version_code}. Upstream is probably updating; retry later, or "
        "leave out version_code to build the revision that is available.",
        permanent=False,
        revision=info.revision,
        requested=version_code,
    )
