"""How the owner's package list changes on the way to another release.

Two sources: meshforge's replacement rules (renames, splits, removals
between revisions) and the target release's package index (version
updates, and packages that no longer exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from meshforge.client.device import Device
from meshforge.client.installed import InstalledPackages
from meshforge.packages.replacements import (
    Applied,
    RuleSet,
    apply_rules,
    default_rule_set,
)
from meshforge.packages.versions import Format, compare

ChangeKind = Literal["update", "downgrade", "rename", "remove", "add"]


@dataclass(frozen=True)
class PackageChange:
    kind: ChangeKind
    name: str
    old_version: str = ""
    new_name: str = ""
    new_version: str = ""


def replace_packages(
    user: dict[str, str],
    device: Device,
    installed: InstalledPackages,
    version: str,
    rule_set: RuleSet | None = None,
) -> tuple[dict[str, str], list[PackageChange]]:
    """Apply meshforge's replacement rules for a move to ``version``.

    The rules between the running release and the target apply: a release
    counts from its branch-off revision, a snapshot from its own revision,
    so a same-branch update applies no rename and an older device crossing
    several branches gets all of them. Returns the packages to ask for
    (name → installed version, ``""`` for new names) and what changed.
    """
    rules = rule_set or default_rule_set()
    running = device.release
    start = rules.branch_off(running.version) or running.revision_number or 0
    end = rules.branch_off(version) or SNAPSHOT_END
    result = apply_rules(
        rules.rules,
        user,
        start,
        end,
        installed.all,
        to_release=version,
        device_target=running.target,
    )
    wanted = {name: result.versions.get(name, "") for name in result.packages}
    changes = [c for a in result.applied for c in _as_changes(a, user)]
    return wanted, changes


# Rules bound to revisions up to this apply when the target has no
# branch-off revision: SNAPSHOT, or a branch newer than the rules file.
SNAPSHOT_END = 10**9


def _as_changes(applied: Applied, user: dict[str, str]) -> list[PackageChange]:
    if applied.kind == "add":
        return [PackageChange("add", name) for name in applied.added]
    changes = []
    for name in applied.removed:
        old = user.get(name, "")
        if applied.added:
            new_name = ", ".join(applied.added)
            changes.append(PackageChange("rename", name, old, new_name=new_name))
        else:
            changes.append(PackageChange("remove", name, old))
    return changes


def version_changes(
    wanted: dict[str, str],
    available: dict[str, str] | None,
    format: Format = "opkg",
) -> tuple[dict[str, str], list[PackageChange]]:
    """Compare installed versions with the target release's index.

    Returns the packages to request (name → target version, ``""`` when the
    index is unknown) and the updates, downgrades and removals. A package
    missing from the index cannot be built, so it is dropped and reported
    as removed. ``format`` is the target's package manager, whose version
    order decides between update and downgrade.
    """
    if available is None:
        return dict.fromkeys(wanted, ""), []
    keep: dict[str, str] = {}
    changes: list[PackageChange] = []
    for name, old in sorted(wanted.items()):
        new = available.get(name)
        if new is None:
            changes.append(PackageChange("remove", name, old))
            continue
        keep[name] = new
        if old and new != old:
            kind: ChangeKind = (
                "downgrade" if compare(new, old, format) < 0 else "update"
            )
            changes.append(PackageChange(kind, name, old, name, new))
    return keep, changes
