"""What an upgrade would change, and the build request that asks for it.

For each candidate release the plan holds the profile, the upstream
``version_code``, the package list to request and the changes against what
the owner installed: version updates, renames, removals and additions.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from meshforge.client.changes import PackageChange, replace_packages, version_changes
from meshforge.client.device import Device
from meshforge.client.images import resolve_profile, sanitize_board
from meshforge.client.installed import InstalledPackages
from meshforge.client.releases import (
    Branch,
    Candidate,
    bad_shape,
    candidate_for,
    is_newer_release,
    next_branch_candidate,
    package_format,
    release_key,
    same_branch_candidate,
    usable_branches,
)
from meshforge.client.server import CLIENT_NAME, Server
from meshforge.errors import (
    ClientError,
    NoMatchingImage,
    RequestRejected,
    ServerUnavailable,
)
from meshforge.upstream.releases import branch_of, is_unversioned

log = logging.getLogger(__name__)

Role = Literal["same-branch", "next-branch"]

# BuildRequest.filesystem accepts only these (DOMAIN §1.2).
REQUEST_FILESYSTEMS = frozenset(
    ["squashfs", "ext4", "ubifs", "erofs", "jffs2", "jffs2-nand", "targz", "cpiogz"]
)


@dataclass
class TargetPlan:
    """One release the device could move to."""

    role: Role
    version: str
    path: str
    version_code: str
    profile: str
    upgrade: bool
    packages: dict[str, str]
    changes: list[PackageChange] = field(default_factory=list)
    # False when the revisions cannot be compared (no version_code).
    upgrade_known: bool = True

    @property
    def package_updates(self) -> bool:
        return bool(self.changes)


@dataclass
class UpgradeCheck:
    """The result of ``meshforge upgrade check``."""

    device: Device
    installed: InstalledPackages
    upstream_url: str
    same_branch: TargetPlan | None
    next_branch: TargetPlan | None
    # Why the next branch cannot be offered (e.g. it dropped the board).
    next_branch_unavailable: str = ""

    @property
    def release_upgrade(self) -> TargetPlan | None:
        """The first plan that is a newer release, same branch first."""
        for plan in (self.same_branch, self.next_branch):
            if plan is not None and plan.upgrade:
                return plan
        return None

    def to_json(self) -> dict[str, Any]:
        release = self.device.release
        return {
            "current": {
                "version": release.version,
                "revision": release.revision,
                "target": release.target,
                "board_name": self.device.board_name,
                "rootfs_type": self.device.rootfs_type,
                "efi": self.device.efi,
                "package_manager": self.installed.manager,
                "user_packages": self.installed.user,
            },
            "upstream_url": self.upstream_url,
            "same_branch": _plan_json(self.same_branch),
            "next_branch": _plan_json(self.next_branch),
            "next_branch_unavailable": self.next_branch_unavailable or None,
            "upgrade_available": self.release_upgrade is not None,
        }


def _check_body(device: Device, installed: InstalledPackages) -> dict[str, Any]:
    release = device.release
    return {
        "distro": "openwrt",
        "version": release.version,
        "target": release.target,
        "revision": release.revision,
        "installed": {name: v for name, v in installed.user.items() if v},
    }


def _named(branches: dict[str, Branch], version: Any) -> Candidate | None:
    return candidate_for(branches, str(version)) if version else None


def _plan_json(plan: TargetPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    data = asdict(plan)
    data["changes"] = [asdict(change) for change in plan.changes]
    return data


# --- candidates ----------------------------------------------------------


class Planner:
    """Builds :class:`UpgradeCheck` from a device and a server."""

    def __init__(self, server: Server, upstream_url: str | None = None) -> None:
        self.server = server
        self.upstream_override = upstream_url

    def branches(self, device: Device) -> tuple[dict[str, Branch], str]:
        """The server's usable branches for ``device`` and the upstream URL."""
        overview = self.server.overview()
        announced = overview.get("upstream_url") or ""
        if not isinstance(announced, str):
            raise bad_shape("upstream_url")
        upstream = self.upstream_override or announced
        return usable_branches(overview, device.release.target), upstream.rstrip("/")

    def check(self, device: Device, installed: InstalledPackages) -> UpgradeCheck:
        branches, upstream = self.branches(device)
        current = device.release.version
        same = same_branch_candidate(branches, current)
        following = next_branch_candidate(branches, current)
        answer = self.server.upgrade_check(_check_body(device, installed))
        if answer is not None:
            # A meshforge server names the candidates itself; a plain asu
            # server has no upgrade check, and the client decides alone.
            same = _named(branches, answer.get("branch_latest")) or (
                same if answer and same and same.version == current else None
            )
            following = _named(branches, answer.get("next_branch_latest"))
        same_plan = self._maybe_plan("same-branch", same, device, installed, upstream)
        try:
            next_plan = self._maybe_plan(
                "next-branch", following, device, installed, upstream
            )
        except (NoMatchingImage, RequestRejected) as exc:
            # A release that dropped the board must not hide the answer for
            # the running branch, which still builds it.
            assert following is not None
            reason = f"{following.version} is not available for this device: "
            log.warning("%s%s", reason, exc.detail)
            return UpgradeCheck(
                device, installed, upstream, same_plan, None, reason + exc.detail
            )
        return UpgradeCheck(device, installed, upstream, same_plan, next_plan)

    def _maybe_plan(
        self,
        role: Role,
        candidate: Candidate | None,
        device: Device,
        installed: InstalledPackages,
        upstream: str,
    ) -> TargetPlan | None:
        if candidate is None:
            return None
        return self.plan(role, candidate, device, installed, upstream)

    def plan_version(
        self, device: Device, installed: InstalledPackages, version: str
    ) -> TargetPlan:
        """The plan for an explicitly chosen ``version``."""
        branches, upstream = self.branches(device)
        candidate = candidate_for(branches, version)
        if candidate is None:
            offered = sorted(v for b in branches.values() for v in b.versions)
            raise RequestRejected(
                f"The server offers no version {version} for "
                f"{device.release.target}; it offers: {', '.join(offered) or 'none'}."
            )
        role: Role = (
            "same-branch"
            if branch_of(version) == branch_of(device.release.version)
            else "next-branch"
        )
        return self.plan(role, candidate, device, installed, upstream)

    def plan(
        self,
        role: Role,
        candidate: Candidate,
        device: Device,
        installed: InstalledPackages,
        upstream: str,
    ) -> TargetPlan:
        """The plan for moving ``device`` to ``candidate``."""
        profile, version_code = self.profile_and_code(candidate, device, upstream)
        renamed, renames = replace_packages(
            installed.user, device, installed, candidate.version
        )
        available = self.available_packages(candidate, device)
        fmt = package_format(candidate.version)
        packages, updates = version_changes(renamed, available, fmt)
        upgrade = _is_upgrade(role, candidate.version, version_code, device)
        if upgrade is None:
            log.warning(
                "cannot tell whether %s %s is newer than the running %s: the "
                "revision is unknown",
                candidate.version,
                version_code or "(no version_code)",
                device.release.revision or "(no revision)",
            )
        return TargetPlan(
            role=role,
            version=candidate.version,
            path=candidate.path,
            version_code=version_code,
            profile=profile,
            upgrade=bool(upgrade),
            packages=packages,
            changes=renames + updates,
            upgrade_known=upgrade is not None,
        )

    def profile_and_code(
        self, candidate: Candidate, device: Device, upstream: str
    ) -> tuple[str, str]:
        """Profile id and ``version_code`` from the download site's profiles.json.

        Falls back to the server's per-profile JSON (auc's way) when the
        download site cannot be read.
        """
        target = device.release.target
        if not upstream:
            return self._profile_from_server(candidate, device)
        try:
            profiles = self.server.get_json(
                f"{upstream}/{candidate.path}/targets/{target}/profiles.json",
                patient=False,
            )
        except ClientError as exc:
            log.warning(
                "profiles.json of %s not readable (%s); asking the server",
                candidate.version,
                exc.detail,
            )
            return self._profile_from_server(candidate, device)
        return resolve_profile(device, profiles), _version_code(profiles)

    def _profile_from_server(
        self, candidate: Candidate, device: Device
    ) -> tuple[str, str]:
        profile = resolve_profile(device, None)
        try:
            data = self.server.get_json(
                f"/json/v1/{candidate.path}/targets/{device.release.target}/"
                f"{sanitize_board(profile)}.json"
            )
        except RequestRejected:
            data = {}
        return str(data.get("id") or profile), _version_code(data)

    def available_packages(
        self, candidate: Candidate, device: Device
    ) -> dict[str, str] | None:
        """All package versions of the target release; ``None`` if unknown."""
        target = device.release.target
        arch = candidate.branch.targets.get(target) or device.release.arch
        try:
            return self.server.package_index(candidate.path, target, arch)
        except RequestRejected as exc:
            log.warning(
                "package index of %s unavailable: %s", candidate.version, exc.detail
            )
            return None


def _version_code(data: dict[str, Any]) -> str:
    code = data.get("version_code") or ""
    if not isinstance(code, str):
        raise ServerUnavailable(
            f"The server sent a version_code that is not text ({code!r:.60}). "
            "Tell the operator of the server."
        )
    return code


def _is_upgrade(
    role: Role, version: str, version_code: str, device: Device
) -> bool | None:
    """Whether ``version`` is newer; ``None`` when nothing can tell."""
    if role == "next-branch":
        return True
    if is_unversioned(version):
        new, old = _revision(version_code), device.release.revision_number
        return None if new is None or old is None else new > old
    if release_key(version) is None or release_key(device.release.version) is None:
        return None
    return is_newer_release(version, device.release.version)


def _revision(version_code: str) -> int | None:
    head = version_code.split("-", 1)[0]
    return int(head[1:]) if head.startswith("r") and head[1:].isdigit() else None


# --- the request ---------------------------------------------------------


def build_request(plan: TargetPlan, device: Device) -> dict[str, Any]:
    """The BuildRequest body, shaped as owut sends it (DOMAIN §2.2).

    ``packages_versions`` is sent only when every version is known, because
    its keys replace ``packages``: a partial map would drop packages.
    """
    body: dict[str, Any] = {
        "client": CLIENT_NAME,
        "target": device.release.target,
        "profile": plan.profile,
        "version": plan.version,
        "version_code": plan.version_code,
        "diff_packages": True,
    }
    if device.rootfs_type in REQUEST_FILESYSTEMS:
        body["filesystem"] = device.rootfs_type
    if plan.packages and all(plan.packages.values()):
        body["packages_versions"] = dict(sorted(plan.packages.items()))
    else:
        body["packages"] = sorted(plan.packages)
    return body
