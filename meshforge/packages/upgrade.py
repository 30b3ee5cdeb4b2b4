"""The update availability check: is there anything newer for this device?

:func:`check_upgrade` is pure: the caller hands it the releases the server
knows (``.versions.json``'s ``versions_list``) and, per release, the package
versions of the device's target (from ``index.json`` or a
:class:`~meshforge.packages.index.Universe`). It answers the newest release
of the device's branch and of the next branch, the package updates, and the
replacement rules that the move to the next branch applies; or ``None``
when nothing would change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from meshforge.errors import BadRequest
from meshforge.packages.index import Dependency
from meshforge.packages.replacements import (
    Applied,
    RuleSet,
    apply_rules,
    branch_of,
    default_rule_set,
)
from meshforge.packages.versions import Format, compare
from meshforge.upstream.opkg import parse_stanzas, strip_abi

log = logging.getLogger(__name__)

_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?$")
#: The first branch whose packages carry apk versions (DOMAIN 4.3).
APK_SINCE = (25, 12)


@dataclass(frozen=True)
class PackageUpdate:
    name: str
    installed: str
    available: str


@dataclass
class UpgradeCheck:
    """What a device could move to; empty fields mean "nothing there"."""

    version: str
    target: str
    branch_latest: str | None = None
    next_branch_latest: str | None = None
    updates: list[PackageUpdate] = field(default_factory=list)
    replacements: list[Applied] = field(default_factory=list)
    next_packages: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def release_key(version: str) -> tuple[int, int, int, int] | None:
    """Sort key of ``X.Y.Z`` or ``X.Y.Z-rcN`` (an rc sorts before its final)."""
    match = _RELEASE.match(version)
    if not match:
        return None
    major, minor, patch, rc = match.groups()
    return int(major), int(minor), int(patch), int(rc) if rc else 10**6


def _branch_key(branch: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)$", branch)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _newest(releases: Sequence[str], branch: str, after: str | None) -> str | None:
    floor = release_key(after) if after else None
    found = [
        r
        for r in releases
        if branch_of(r) == branch
        and (key := release_key(r)) is not None
        and (floor is None or key > floor)
    ]
    return max(found, key=lambda r: release_key(r) or (0, 0, 0, 0), default=None)


def _next_branch(releases: Sequence[str], branch: str) -> str | None:
    current = _branch_key(branch)
    if current is None:
        return None
    # Only branches with a numbered release count: a branch snapshot alone
    # (22.03-SNAPSHOT) is nothing to upgrade to.
    later = {
        b
        for r in releases
        if release_key(r) is not None
        and (key := _branch_key(b := branch_of(r))) is not None
        and key > current
    }
    return min(later, key=lambda b: _branch_key(b) or (0, 0), default=None)


def _format(version: str) -> Format:
    key = _branch_key(branch_of(version))
    return "apk" if key is None or key >= APK_SINCE else "opkg"


def check_upgrade(
    distro: str,
    version: str,
    target: str,
    installed: Mapping[str, str],
    *,
    versions_list: Sequence[str],
    indexes: Mapping[str, Mapping[str, str]],
    revision: int | None = None,
    rule_set: RuleSet | None = None,
    include_rc: bool = False,
) -> UpgradeCheck | None:
    """Answer the update availability request for one device.

    ``distro``, ``version`` (``23.05.5``, ``23.05-SNAPSHOT``, ``SNAPSHOT``)
    and ``target`` describe the device, ``installed`` maps its package names
    (ABI suffix stripped) to versions. ``indexes`` maps a release to the
    package versions of this target in it; a release without an entry gets
    no package updates. ``revision`` is the device's ``rNNNNN``, used where
    its branch has no known branch-off revision (SNAPSHOT). Release
    candidates count only with ``include_rc``.
    """
    if distro.lower() != "openwrt":
        raise BadRequest(
            f"Unsupported distribution {distro!r}: this server checks OpenWrt "
            "releases only."
        )
    releases = [r for r in versions_list if include_rc or "-rc" not in r]
    branch = branch_of(version)
    check = UpgradeCheck(version, target)
    if release_key(version) is not None:
        check.branch_latest = _newest(releases, branch, version)
    proposed = check.branch_latest or version
    check.updates = _updates(installed, indexes.get(proposed), _format(proposed))
    upcoming = _next_branch(releases, branch)
    if upcoming is not None:
        check.next_branch_latest = _newest(releases, upcoming, None)
        _plan_move(check, installed, indexes, revision, rule_set or default_rule_set())
    if not (check.branch_latest or check.next_branch_latest or check.updates):
        log.debug("nothing newer for %s %s", version, target)
        return None
    return check


def _updates(
    installed: Mapping[str, str],
    available: Mapping[str, str] | None,
    fmt: Format,
) -> list[PackageUpdate]:
    if not available:
        return []
    updates = []
    for name, have in sorted(installed.items()):
        offered = available.get(name)
        if offered and compare(offered, have, fmt) > 0:
            updates.append(PackageUpdate(name, have, offered))
    return updates


def _plan_move(
    check: UpgradeCheck,
    installed: Mapping[str, str],
    indexes: Mapping[str, Mapping[str, str]],
    revision: int | None,
    rule_set: RuleSet,
) -> None:
    assert check.next_branch_latest is not None
    start = rule_set.branch_off(check.version) or revision or 0
    end = rule_set.branch_off(check.next_branch_latest) or 10**9
    moved = apply_rules(
        rule_set.rules,
        list(installed),
        start,
        end,
        to_release=check.next_branch_latest,
        device_target=check.target,
    )
    check.replacements = moved.applied
    check.next_packages = moved.packages
    offered = indexes.get(check.next_branch_latest)
    if offered:
        check.missing = [n for n in moved.packages if n not in offered]


def installed_from_status(text: str) -> dict[str, str]:
    """Installed packages of an opkg ``status`` file, ABI suffixes stripped."""
    found: dict[str, str] = {}
    for stanza in parse_stanzas(text):
        if not stanza.get("Status", "").endswith(" installed"):
            continue
        name = strip_abi(stanza["Package"], stanza.get("ABIVersion"))
        found[name] = stanza.get("Version", "")
    return found


def installed_from_apk_db(text: str) -> dict[str, str]:
    """Installed packages of apk's ``/lib/apk/db/installed`` (``P:``/``V:``)."""
    found: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("P:"):
            name = line[2:].strip()
        elif line.startswith("V:") and name:
            found[name] = line[2:].strip()
        elif not line.strip():
            name = ""
    return found


def world_names(text: str) -> list[str]:
    """The names of ``/etc/apk/world``, one dependency per line."""
    return [
        Dependency.parse_apk(line).name for line in text.splitlines() if line.strip()
    ]
