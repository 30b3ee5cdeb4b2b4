"""Branches and versions: which releases a server offers, in asu's order."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from meshforge.errors import FormatError

BRANCHES_FILE = Path(__file__).with_name("branches.yaml")


@dataclass(frozen=True)
class Branch:
    name: str
    enabled: bool = True
    branch_off_rev: int | None = None
    versions: list[str] = field(default_factory=list)

    @property
    def snapshot(self) -> bool:
        return self.name == "SNAPSHOT"

    @property
    def path(self) -> str:
        return "snapshots" if self.snapshot else "releases/{version}"


@lru_cache(maxsize=1)
def known_branches() -> tuple[Branch, ...]:
    raw = yaml.safe_load(BRANCHES_FILE.read_text())
    return tuple(Branch(**item) for item in raw)


def branch_of(version: str) -> str:
    """``24.10.5`` → ``24.10``; ``24.10-SNAPSHOT`` → ``24.10``; ``SNAPSHOT`` stays."""
    if version == "SNAPSHOT":
        return version
    if version.endswith("-SNAPSHOT"):
        return version.removesuffix("-SNAPSHOT")
    return version.rsplit(".", 1)[0]


def version_path(version: str) -> str:
    """The folder of a version on the download site."""
    return "snapshots" if version == "SNAPSHOT" else f"releases/{version}"


def is_unversioned(version: str) -> bool:
    """Snapshots move daily; their builds must be pinned to a revision."""
    return version == "SNAPSHOT" or version.endswith("-SNAPSHOT")


def _sort_key(version: str) -> tuple[Any, ...]:
    # asu sorts on ".0-rc" → "-rc" so that rc versions fall between the branch
    # snapshot and the releases; here each part becomes a comparable tuple.
    if version == "SNAPSHOT":
        return ((2, 0, ""),)  # master is newer than every branch
    key = version.replace(".0-rc", "-rc")
    parts: list[Any] = []
    for piece in re.split(r"[.-]", key):
        parts.append((1, int(piece), "") if piece.isdigit() else (0, 0, piece))
    return tuple(parts)


def offered_versions(versions_json: dict[str, Any]) -> list[str]:
    """Versions to offer, from upstream's ``.versions.json`` and the branches."""
    if not isinstance(versions_json.get("versions_list", []), list):
        raise FormatError(".versions.json has no list in versions_list.")
    candidates: list[str] = []
    if versions_json.get("upcoming_version"):
        candidates.append(str(versions_json["upcoming_version"]))
    candidates += [str(v) for v in versions_json.get("versions_list", [])]
    enabled = [b.name for b in known_branches() if b.enabled]
    candidates += [f"{name}-SNAPSHOT" for name in enabled if name != "SNAPSHOT"]
    if "SNAPSHOT" in enabled:
        candidates.append("SNAPSHOT")
    kept = {v for v in candidates if branch_of(v) in enabled}
    return sorted(kept, key=_sort_key, reverse=True)


def latest_versions(versions_json: dict[str, Any]) -> list[str]:
    keys = ("upcoming_version", "stable_version", "oldstable_version")
    enabled = {b.name for b in known_branches() if b.enabled}
    found = [str(versions_json[k]) for k in keys if versions_json.get(k)]
    return [v for v in found if branch_of(v) in enabled]


def parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise FormatError(f"{what} is not valid JSON ({exc}).") from exc
