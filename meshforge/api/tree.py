"""The JSON tree under ``/json/v1`` and the revision API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from meshforge import __version__
from meshforge.api.deps import runtime
from meshforge.errors import NotFound
from meshforge.packages.replacements import default_rule_set
from meshforge.runtime import Runtime
from meshforge.upstream.catalog import TargetMeta
from meshforge.upstream.opkg import strip_abi
from meshforge.upstream.releases import (
    branch_of,
    is_unversioned,
    known_branches,
    latest_versions,
    offered_versions,
)

router = APIRouter(tags=["metadata"])


def _branches(rt: Runtime) -> dict[str, dict[str, Any]]:
    releases = rt.catalog.releases()
    order = offered_versions(rt.catalog.versions_json())
    versions = [v for v in order if v in releases]
    branches: dict[str, dict[str, Any]] = {}
    for branch in known_branches():
        mine = [v for v in versions if branch_of(v) == branch.name]
        targets: dict[str, str] = {}
        for version in reversed(mine):
            targets.update(releases[version].targets)
        entry: dict[str, Any] = {
            "name": branch.name,
            "path": branch.path,
            "enabled": branch.enabled,
            "snapshot": branch.snapshot,
            "path_packages": "DEPRECATED",
            "package_changes": package_changes(branch.name),
            "versions": mine,
            "targets": dict(sorted(targets.items())),
        }
        if branch.branch_off_rev is not None:
            entry["branch_off_rev"] = branch.branch_off_rev
        if mine:
            branches[branch.name] = entry
    return branches


def package_changes(branch: str) -> list[dict[str, Any]]:
    """asu's per-branch table: revision-bound changes up to the branch-off."""
    rule_set = default_rule_set()
    cutoff = 10**9 if branch == "SNAPSHOT" else rule_set.branch_off(branch)
    if cutoff is None:
        return []
    changes = []
    for rule in rule_set.rules:
        if (
            rule.revision is None
            or rule.revision > cutoff
            or "*" in (rule.source or "")
        ):
            continue
        entry: dict[str, Any] = {"source": rule.source, "revision": rule.revision}
        target = rule.target if rule.kind == "rename" else rule.default
        if target:
            entry["target"] = target
        if rule.mandatory:
            entry["mandatory"] = True
        changes.append(entry)
    return sorted(changes, key=lambda c: (c["revision"], c["source"] or ""))


def overview(rt: Runtime) -> dict[str, Any]:
    s = rt.settings
    latest = [
        v
        for v in latest_versions(rt.catalog.versions_json())
        if v in rt.catalog.releases()
    ]
    return {
        "latest": latest,
        "upstream_url": s.upstream_url.rstrip("/"),
        "branches": _branches(rt),
        "server": {
            "version": __version__,
            "contact": s.server_contact,
            "allow_defaults": s.allow_defaults,
            "repository_allow_list": s.repository_allow_list,
            "max_custom_rootfs_size_mb": s.max_custom_rootfs_size_mb,
            "max_defaults_length": s.max_defaults_length,
        },
    }


@router.get("/json/v1/overview.json")
def overview_json(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Branches, versions, targets and this server's limits."""
    return overview(rt)


@router.get("/json/v1/branches.json")
def branches_json(rt: Annotated[Runtime, Depends(runtime)]) -> list[dict[str, Any]]:
    return list(_branches(rt).values())


@router.get("/json/v1/latest.json")
def latest_json(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    return {"latest": overview(rt)["latest"]}


def version_of(path: str) -> str:
    if path == "snapshots":
        return "SNAPSHOT"
    if path.startswith("releases/") and path.count("/") == 1:
        return path.removeprefix("releases/")
    raise NotFound(
        f"{path} is not a release path; use releases/<version> or snapshots."
    )


def _meta(rt: Runtime, path: str, target: str) -> TargetMeta:
    version = version_of(path)
    meta = rt.catalog.target(version, target)
    if meta is None:
        raise NotFound(
            f"{version} has no target {target} on this server; see "
            "/json/v1/overview.json for the targets of each branch."
        )
    return meta


def flat_index(entries: list[dict[str, str]]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for entry in entries:
        name = strip_abi(entry.get("Package", ""), entry.get("ABIVersion"))
        flat.setdefault(name, entry.get("Version", ""))
    return dict(sorted(flat.items()))


@router.get("/json/v1/{path:path}/targets/{target}/{subtarget}/index.json")
def target_index(
    path: str, target: str, subtarget: str, rt: Annotated[Runtime, Depends(runtime)]
) -> dict[str, Any]:
    """Target and kmod packages with versions (ABI-free names)."""
    meta = _meta(rt, path, f"{target}/{subtarget}")
    entries = rt.catalog.index_entries(meta.version, f"target:{meta.target}")
    if not entries and meta.index_state != "ok":
        raise NotFound(meta.index_state)
    return {"architecture": meta.arch, "packages": flat_index(entries)}


@router.get("/json/v1/{path:path}/packages/{arch}-index.json")
def arch_index(
    path: str, arch: str, rt: Annotated[Runtime, Depends(runtime)]
) -> dict[str, str]:
    """Every feed package of one architecture: ``{name: version}``."""
    entries = rt.catalog.index_entries(version_of(path), f"arch:{arch}")
    if not entries:
        raise NotFound(f"No package index of {arch} is known for {path}.")
    return flat_index(entries)


@router.get("/json/v1/{path:path}/targets/{target}/{subtarget}/{profile}.json")
def profile_json(
    path: str,
    target: str,
    subtarget: str,
    profile: str,
    rt: Annotated[Runtime, Depends(runtime)],
) -> dict[str, Any]:
    """profiles.json of the target with one profile merged in, or ``{}``."""
    meta = _meta(rt, path, f"{target}/{subtarget}")
    profile_id = meta.resolve_profile(profile)
    if profile_id is None:
        return {}
    body = {k: v for k, v in meta.profiles.items() if k != "profiles"}
    body.update(meta.profile(profile_id))
    body["id"] = profile_id
    epoch = int(meta.profiles.get("source_date_epoch") or 0)
    body["build_at"] = datetime.fromtimestamp(epoch, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    return body


@router.get("/api/v1/revision/{version}/{target}/{subtarget}")
def revision(
    version: str, target: str, subtarget: str, rt: Annotated[Runtime, Depends(runtime)]
) -> JSONResponse:
    """The upstream revision (``version_code``) of a target."""
    meta = rt.catalog.target(version, f"{target}/{subtarget}")
    if meta is None:
        raise NotFound(
            f"{version} {target}/{subtarget} is not known to this server; see "
            "/json/v1/overview.json."
        )
    body = {"revision": meta.version_code}
    headers = {"Cache-Control": "no-cache"} if is_unversioned(version) else {}
    return JSONResponse(body, headers=headers)
