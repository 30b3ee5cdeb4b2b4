"""Synchronise release metadata from the upstream download site.

Every signed index is verified before anything of it is stored; a target
whose index fails verification keeps its previous data.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from meshforge.db.models import PackageIndex, Release, Target, UpstreamFile
from meshforge.db.session import Database
from meshforge.errors import FormatError, MeshforgeError, UpstreamError
from meshforge.signing.usign import Keyring
from meshforge.upstream.fetch import Fetcher
from meshforge.upstream.opkg import parse_stanzas
from meshforge.upstream.releases import (
    branch_of,
    is_unversioned,
    offered_versions,
    parse_json,
    version_path,
)

log = logging.getLogger(__name__)

DEFAULT_FEEDS = ("base", "luci", "packages", "routing", "telephony")
# Fields the resolver and the JSON tree use; descriptions are left out to keep
# the stored indexes small.
KEPT_FIELDS = (
    "Package",
    "Version",
    "Depends",
    "Provides",
    "Conflicts",
    "ABIVersion",
    "Architecture",
    "Essential",
    "Installed-Size",
    "Size",
    "SHA256sum",
    "Filename",
    "Status",
)

# Called with (0, step) as a step starts, (1, step) when it ends, and once
# with (total, "") before the first.
Progress = Callable[[int, str], None]


@dataclass
class FetchedIndex:
    scope: str  # "target:<t/s>" or "arch:<arch>"
    feed: str
    format: str
    entries: list[Any]
    sha256: str
    signed_by: str


@dataclass
class SyncReport:
    versions: list[str] = field(default_factory=list)
    targets: int = 0
    indexes: int = 0
    errors: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


class Syncer:
    def __init__(
        self,
        db: Database,
        fetcher: Fetcher,
        keyring: Keyring,
        *,
        only_versions: list[str] | None = None,
        only_targets: list[str] | None = None,
    ) -> None:
        self.db = db
        self.fetcher = fetcher
        self.keyring = keyring
        self.only_versions = set(only_versions or [])
        self.only_targets = set(only_targets or [])

    # --- whole site ------------------------------------------------------

    def plan(self, report: SyncReport) -> list[tuple[str, str, str]]:
        """Every (version, target, arch) to sync, read from the site's indexes."""
        steps: list[tuple[str, str, str]] = []
        for version in offered_versions(self.versions_json()):
            if self.only_versions and version not in self.only_versions:
                continue
            try:
                targets = self.release_targets(version)
            except MeshforgeError as exc:
                log.error("sync of %s failed: %s", version, exc.detail)
                report.errors.append(exc.detail)
                continue
            if targets is None:
                log.info("%s is not published upstream; skipped", version)
                continue
            report.versions.append(version)
            steps += [
                (version, target, arch)
                for target, arch in sorted(targets.items())
                if not self.only_targets or target in self.only_targets
            ]
        return steps

    def sync_all(self, progress: Progress = lambda _n, _s: None) -> SyncReport:
        """Sync every planned target; ``progress`` hears of each step."""
        report = SyncReport()
        steps = self.plan(report)
        progress(len(steps), "")
        for version, target, arch in steps:
            progress(0, f"{version} {target}")
            try:
                report.indexes += self.sync_target(version, target, arch)
                report.targets += 1
            except MeshforgeError as exc:
                log.error("sync of %s %s failed: %s", version, target, exc.detail)
                report.errors.append(f"{version} {target}: {exc.detail}")
            progress(1, f"{version} {target}")
        return report

    def versions_json(self) -> dict[str, Any]:
        data = self.fetcher.get(".versions.json")
        if data is None:
            raise UpstreamError(
                f"{self.fetcher.url('.versions.json')} does not exist, so the "
                "releases are unknown. Check MESHFORGE_UPSTREAM_URL."
            )
        content = parse_json(data, ".versions.json")
        if not isinstance(content, dict):
            raise FormatError(".versions.json is not a JSON object.")
        with self.db.session() as session:
            session.merge(
                UpstreamFile(path=".versions.json", content=content, synced_at=_now())
            )
        return content

    def refresh(self, version: str, target: str | None = None) -> None:
        """Fetch one version (and one target) that a request named.

        A new release becomes buildable the first time someone asks for it,
        not only after the next periodic sync (asu#1308).
        """
        if self.only_versions and version not in self.only_versions:
            return
        if target is None:
            if version in offered_versions(self.versions_json()):
                self.release_targets(version)
            return
        if self.only_targets and target not in self.only_targets:
            return
        targets = self.release_targets(version) or {}
        if target in targets:
            self.sync_target(version, target, targets[target])

    def release_targets(self, version: str) -> dict[str, str] | None:
        data = self.fetcher.get(f"{version_path(version)}/.targets.json")
        if data is None:
            return None
        targets = parse_json(data, f"{version}/.targets.json")
        if not isinstance(targets, dict):
            raise FormatError(f".targets.json of {version} is not a JSON object.")
        with self.db.session() as session:
            session.merge(
                Release(
                    version=version,
                    branch=branch_of(version),
                    path=version_path(version),
                    snapshot=is_unversioned(version),
                    targets=targets,
                    synced_at=_now(),
                )
            )
        return {str(k): str(v) for k, v in targets.items()}

    # --- one target ------------------------------------------------------

    def sync_target(self, version: str, target: str, arch: str) -> int:
        """Fetch profiles and indexes of one target; return indexes stored."""
        base = f"{version_path(version)}/targets/{target}"
        raw = self.fetcher.get(f"{base}/profiles.json")
        if raw is None:
            log.info("%s %s has no profiles.json; skipped", version, target)
            return 0
        profiles = parse_json(raw, f"{base}/profiles.json")
        if not isinstance(profiles, dict) or "profiles" not in profiles:
            raise FormatError(f"{base}/profiles.json has no 'profiles' object.")
        indexes, state = self._target_indexes(version, target, arch, profiles)
        with self.db.session() as session:
            self._store_target(session, version, target, arch, profiles, state)
            for index in indexes:
                self._store_index(session, version, index)
        return len(indexes)

    def _target_indexes(
        self, version: str, target: str, arch: str, profiles: dict[str, Any]
    ) -> tuple[list[FetchedIndex], str]:
        base = version_path(version)
        found: list[FetchedIndex] = []
        scope = f"target:{target}"
        target_index = self._index(f"{base}/targets/{target}/packages", scope, "target")
        if target_index:
            found.append(target_index)
        kernel = profiles.get("linux_kernel")
        if isinstance(kernel, dict) and kernel.get("vermagic"):
            folder = f"{kernel['version']}-{kernel['release']}-{kernel['vermagic']}"
            kmods = self._index(
                f"{base}/targets/{target}/kmods/{folder}", scope, "kmods"
            )
            if kmods:
                found.append(kmods)
        for feed in self._feed_names(base, arch):
            index = self._index(f"{base}/packages/{arch}/{feed}", f"arch:{arch}", feed)
            if index:
                found.append(index)
        feeds = {index.feed for index in found}
        if "target" in feeds and "base" in feeds:
            return found, "ok"
        missing = [name for name in ("target", "base") if name not in feeds]
        state = (
            f"The package index of {version} for {target} is not available "
            f"upstream (missing: {', '.join(missing)} index), so images for it "
            "cannot be built here. Choose a release whose index is published."
        )
        return found, state

    def _feed_names(self, base: str, arch: str) -> list[str]:
        data = self.fetcher.get(f"{base}/packages/{arch}/feeds.conf")
        if data is None:
            return list(DEFAULT_FEEDS)
        # The core "base" feed is built from the main tree, so a feeds.conf
        # made from feeds.buildinfo does not name it.
        names = ["base"]
        for line in data.decode(errors="replace").splitlines():
            words = line.split()
            comment = line.lstrip().startswith("#")
            if len(words) >= 2 and not comment and words[1] not in names:
                names.append(words[1])
        return names

    def _index(self, folder: str, scope: str, feed: str) -> FetchedIndex | None:
        text = self._packages_text(folder)
        if text is None:
            return self._index_json(folder, scope, feed)
        signature = self.fetcher.get(f"{folder}/Packages.sig")
        if signature is None:
            raise UpstreamError(
                f"{self.fetcher.url(folder)}/Packages has no Packages.sig, so it "
                "cannot be trusted. Nothing of it was stored."
            )
        key = self.keyring.verify(
            text,
            signature.decode(errors="replace"),
            self.fetcher.url(f"{folder}/Packages"),
        )
        entries = [
            {k: v for k, v in stanza.items() if k in KEPT_FIELDS}
            for stanza in parse_stanzas(text.decode(errors="replace"))
        ]
        digest = hashlib.sha256(text).hexdigest()
        return FetchedIndex(scope, feed, "opkg", entries, digest, key.fingerprint)

    def _packages_text(self, folder: str) -> bytes | None:
        compressed = self.fetcher.get(f"{folder}/Packages.gz")
        if compressed is not None:
            try:
                return gzip.decompress(compressed)
            except (OSError, EOFError) as exc:
                raise FormatError(
                    f"{self.fetcher.url(folder)}/Packages.gz is not valid gzip."
                ) from exc
        return self.fetcher.get(f"{folder}/Packages")

    def _index_json(self, folder: str, scope: str, feed: str) -> FetchedIndex | None:
        data = self.fetcher.get(f"{folder}/index.json")
        if data is None:
            return None
        content = parse_json(data, f"{folder}/index.json")
        packages = content.get("packages") if isinstance(content, dict) else None
        if not isinstance(packages, dict):
            raise FormatError(f"{folder}/index.json has no 'packages' object.")
        # TODO: apk's packages.adb carries the signature; without an ADB reader
        # the v2 index.json is trusted on the transport alone.
        log.warning("%s/index.json is unsigned; trusted on transport", folder)
        entries = [{"Package": k, "Version": str(v)} for k, v in packages.items()]
        digest = hashlib.sha256(data).hexdigest()
        return FetchedIndex(scope, feed, "index-json", entries, digest, "")

    @staticmethod
    def _store_target(
        session: Session,
        version: str,
        target: str,
        arch: str,
        profiles: dict[str, Any],
        state: str,
    ) -> None:
        session.merge(
            Target(
                version=version,
                target=target,
                arch=str(profiles.get("arch_packages") or arch),
                version_code=str(profiles.get("version_code", "")),
                profiles=profiles,
                index_state=state,
                synced_at=_now(),
            )
        )

    @staticmethod
    def _store_index(session: Session, version: str, index: FetchedIndex) -> None:
        session.merge(
            PackageIndex(
                version=version,
                scope=index.scope,
                feed=index.feed,
                format=index.format,
                entries=index.entries,
                sha256=index.sha256,
                signed_by=index.signed_by,
                synced_at=_now(),
            )
        )
