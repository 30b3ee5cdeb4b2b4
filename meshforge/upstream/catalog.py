"""What the server knows of upstream, read from the database and cached.

The API asks the catalog on every request, so lookups are served from
memory; an entry is reloaded when a sync has stored a newer copy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from meshforge.db.models import PackageIndex, Release, Target, UpstreamFile
from meshforge.db.session import Database
from meshforge.packages.index import Universe, imagebuilder_packages

# How long a cached entry is trusted before its sync time is checked again.
CHECK_AFTER_S = 5.0


@dataclass
class TargetMeta:
    version: str
    target: str
    arch: str
    version_code: str
    profiles: dict[str, Any]
    index_state: str
    aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        generic_only = list(self.profiles.get("profiles", {})) == ["generic"]
        for profile_id, profile in self.profiles.get("profiles", {}).items():
            self.aliases[profile_id] = profile_id
            self.aliases[profile_id.replace(",", "_")] = profile_id
            for device in profile.get("supported_devices", []):
                self.aliases.setdefault(str(device).replace(",", "_"), profile_id)
        self.generic_only = generic_only

    def resolve_profile(self, name: str) -> str | None:
        """Profile id for a requested profile or board name, or ``None``."""
        wanted = name.replace(",", "_")
        if wanted in self.aliases:
            return self.aliases[wanted]
        # Targets with one generic profile (x86, armsr) build it for any board.
        return "generic" if self.generic_only else None

    @property
    def default_packages(self) -> list[str]:
        return [str(p) for p in self.profiles.get("default_packages", [])]

    def profile(self, profile_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.profiles["profiles"][profile_id]
        return result


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, str], tuple[float, Any, TargetMeta]] = {}
        self._universes: dict[tuple[str, str], tuple[float, Any, Universe]] = {}
        self._releases: tuple[float, dict[str, Release]] | None = None

    # --- releases --------------------------------------------------------

    def releases(self) -> dict[str, Release]:
        cached = self._releases
        if cached and time.monotonic() - cached[0] < CHECK_AFTER_S:
            return cached[1]
        with self.db.session() as session:
            rows = {r.version: r for r in session.scalars(select(Release))}
        self._releases = (time.monotonic(), rows)
        return rows

    def forget_releases(self) -> None:
        self._releases = None

    def versions_json(self) -> dict[str, Any]:
        with self.db.session() as session:
            row = session.get(UpstreamFile, ".versions.json")
            return dict(row.content) if row else {}

    # --- targets ---------------------------------------------------------

    def target(self, version: str, target: str) -> TargetMeta | None:
        key = (version, target)
        cached = self._targets.get(key)
        if cached and time.monotonic() - cached[0] < CHECK_AFTER_S:
            return cached[2]
        with self.db.session() as session:
            stamp = session.scalar(
                select(Target.synced_at).filter_by(version=version, target=target)
            )
            if stamp is None:
                return None
            if cached and cached[1] == stamp:
                self._targets[key] = (time.monotonic(), stamp, cached[2])
                return cached[2]
            row = session.get(Target, key)
            assert row is not None
            meta = TargetMeta(
                version,
                target,
                row.arch,
                row.version_code,
                row.profiles,
                row.index_state,
            )
        with self._lock:
            self._targets[key] = (time.monotonic(), stamp, meta)
        return meta

    def universe(self, meta: TargetMeta) -> Universe:
        """Every package a target's builder can install, with relations."""
        key = (meta.version, meta.target)
        cached = self._universes.get(key)
        if cached and time.monotonic() - cached[0] < CHECK_AFTER_S:
            return cached[2]
        scopes = [f"target:{meta.target}", f"arch:{meta.arch}"]
        with self.db.session() as session:
            stamp = session.scalar(
                select(func.max(PackageIndex.synced_at)).where(
                    PackageIndex.version == meta.version,
                    PackageIndex.scope.in_(scopes),
                )
            )
            if cached and cached[1] == stamp:
                self._universes[key] = (time.monotonic(), stamp, cached[2])
                return cached[2]
            rows = session.scalars(
                select(PackageIndex)
                .where(PackageIndex.version == meta.version)
                .where(PackageIndex.scope.in_(scopes))
                .order_by(PackageIndex.scope.desc(), PackageIndex.feed)
            )
            stanzas = [entry for row in rows for entry in row.entries]
        universe = Universe.from_stanzas(stanzas, arch=meta.arch)
        # libc and kernel come from the builder's own folder, not a feed.
        universe.add(imagebuilder_packages(universe))
        with self._lock:
            self._universes[key] = (time.monotonic(), stamp, universe)
        return universe

    def index_entries(self, version: str, scope: str) -> list[dict[str, str]]:
        """Entries of every index of one scope (``target:…`` or ``arch:…``)."""
        with self.db.session() as session:
            rows = session.scalars(
                select(PackageIndex)
                .filter_by(version=version, scope=scope)
                .order_by(PackageIndex.feed)
            )
            return [entry for row in rows for entry in row.entries]
