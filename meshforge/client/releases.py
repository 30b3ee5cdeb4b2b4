"""Which release to offer: the newest of the running branch, and the next one.

The candidates come from the server's ``overview.json`` (DOMAIN §1.8):
enabled branches that build the device's target, each with its versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from meshforge.errors import ServerUnavailable
from meshforge.packages.versions import Format
from meshforge.upstream.releases import branch_of, is_unversioned

SNAPSHOT = "SNAPSHOT"

_RELEASE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?$")


def release_key(version: str) -> tuple[int, int, int, int] | None:
    """Sort key of a release or release candidate; ``None`` for anything else.

    A final release sorts after all its candidates: ``24.10.0-rc7`` <
    ``24.10.0`` < ``24.10.1``.
    """
    match = _RELEASE.match(version)
    if not match:
        return None
    major, minor, patch, rc = match.groups()
    stage = int(rc) if rc is not None else 1_000_000
    return int(major), int(minor), int(patch or 0), stage


def branch_key(name: str) -> tuple[int, int] | None:
    """``24.10`` → ``(24, 10)``; ``None`` for SNAPSHOT and unknown names."""
    major, _, minor = name.partition(".")
    if major.isdigit() and minor.isdigit():
        return int(major), int(minor)
    return None


def newest_release(versions: list[str]) -> str | None:
    """The newest final release, else the newest candidate, else ``None``."""
    keyed = [(key, v) for v in versions if (key := release_key(v)) is not None]
    finals = [item for item in keyed if item[0][3] == 1_000_000]
    pool = finals or keyed
    return max(pool)[1] if pool else None


@dataclass(frozen=True)
class Branch:
    """One enabled branch of the server, reduced to what the client uses."""

    name: str
    path: str
    versions: list[str]
    snapshot: bool
    targets: dict[str, str]

    def path_for(self, version: str) -> str:
        """The download-tree path of ``version``: ``releases/24.10.5``."""
        return self.path.replace("{version}", version)


def usable_branches(overview: dict[str, Any], target: str) -> dict[str, Branch]:
    """Enabled branches that build ``target``, by name."""
    found: dict[str, Branch] = {}
    for name, data in _mapping(overview.get("branches"), "branches").items():
        data = _mapping(data, f"branch {name}")
        if not data.get("enabled", True):
            continue
        targets = _str_map(data.get("targets"), f"targets of branch {name}")
        if target not in targets:
            continue
        path = data.get("path") or "releases/{version}"
        versions = data.get("versions") or []
        if not isinstance(path, str) or not _str_list(versions):
            raise bad_shape(f"the path or versions of branch {name}")
        found[name] = Branch(name, path, versions, bool(data.get("snapshot")), targets)
    return found


def bad_shape(what: str) -> ServerUnavailable:
    """The error for JSON from the server whose shape is not the documented one."""
    return ServerUnavailable(
        f"The server's overview.json has a malformed {what}. The server is "
        "not ASU-compatible or is broken; tell its operator."
    )


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_shape(what)
    return value


def _str_map(value: Any, what: str) -> dict[str, str]:
    mapping = _mapping(value, what)
    if not all(isinstance(v, str) for v in mapping.values()):
        raise bad_shape(what)
    return mapping


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True)
class Candidate:
    """A version the device could move to, and the branch it belongs to."""

    version: str
    branch: Branch

    @property
    def path(self) -> str:
        return self.branch.path_for(self.version)


def same_branch_candidate(
    branches: dict[str, Branch], current: str
) -> Candidate | None:
    """The newest version of the running branch.

    A snapshot stays on its own snapshot stream (newer means a newer
    revision, decided later from ``version_code``); a release gets the
    newest release of its branch.
    """
    branch = branches.get(branch_of(current))
    if branch is None:
        return None
    if is_unversioned(current):
        return Candidate(current, branch) if current in branch.versions else None
    newest = newest_release(branch.versions)
    return Candidate(newest, branch) if newest else None


def next_branch_candidate(
    branches: dict[str, Branch], current: str
) -> Candidate | None:
    """The newest release of the first release branch after the running one.

    SNAPSHOT has no next branch; a release branch never leads to SNAPSHOT.
    """
    here = branch_key(branch_of(current))
    if here is None:
        return None
    later = sorted(
        (
            (key, branch)
            for branch in branches.values()
            if (key := branch_key(branch.name)) is not None and key > here
        ),
        key=lambda item: item[0],
    )
    for _, branch in later:
        newest = newest_release(branch.versions)
        if newest:
            return Candidate(newest, branch)
    return None


def is_newer_release(candidate: str, current: str) -> bool:
    """Whether ``candidate`` is a later release than ``current``."""
    new, old = release_key(candidate), release_key(current)
    return new is not None and old is not None and new > old


def candidate_for(branches: dict[str, Branch], version: str) -> Candidate | None:
    """``version`` as a candidate, if the server offers it for this target."""
    branch = branches.get(branch_of(version))
    if branch is None or version not in branch.versions:
        return None
    return Candidate(version, branch)


# The first release branch built with apk (DOMAIN §4.3, §6).
FIRST_APK_BRANCH = (25, 12)


def package_format(version: str) -> Format:
    """The package manager of ``version``: apk on SNAPSHOT and 25.12+."""
    if version == SNAPSHOT:
        return "apk"
    key = branch_key(branch_of(version))
    return "apk" if key is not None and key >= FIRST_APK_BRANCH else "opkg"
