"""The canonical request hash: the cache key and the job id.

Unlike asu, the hash is taken over the *normalised* request (the resolved
profile id, a sorted package set), so two requests that mean the same build
share it, and over the upstream revision for snapshots, so a new revision
never serves a stale image. It is always the full SHA-256 (CVE-2024-54143).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NormalisedRequest:
    distro: str
    version: str
    version_code: str
    revision: str  # upstream revision the request is pinned to ("" = release)
    target: str
    profile: str  # resolved profile id
    packages: tuple[str, ...]  # sorted, unique
    packages_versions: tuple[tuple[str, str], ...]
    diff_packages: bool
    defaults: str
    rootfs_size_mb: int | None
    filesystem: str
    repositories: tuple[tuple[str, str], ...]
    repositories_mode: str
    repository_keys: tuple[str, ...]

    def canonical(self) -> bytes:
        """A JSON encoding with sorted keys and no whitespace."""
        body: dict[str, Any] = {
            "distro": self.distro,
            "version": self.version,
            "version_code": self.version_code,
            "revision": self.revision,
            "target": self.target,
            "profile": self.profile,
            "packages": list(self.packages),
            "packages_versions": [list(pair) for pair in self.packages_versions],
            "diff_packages": self.diff_packages,
            "defaults": self.defaults,
            "rootfs_size_mb": self.rootfs_size_mb,
            "filesystem": self.filesystem,
            "repositories": [list(pair) for pair in self.repositories],
            "repositories_mode": self.repositories_mode if self.repositories else "",
            "repository_keys": list(self.repository_keys),
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @property
    def request_hash(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.canonical())
        data["packages_versions"] = dict(self.packages_versions)
        data["repositories"] = dict(self.repositories)
        return data


def packages_hash(names: list[str]) -> str:
    """asu's packages hash: sha256 of the sorted, space-joined unique names."""
    unique = sorted({name.removeprefix("+") for name in names})
    return hashlib.sha256(" ".join(unique).encode()).hexdigest()
