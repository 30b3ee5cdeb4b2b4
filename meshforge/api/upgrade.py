"""``/api/v1/upgrade-check``: what a device could move to (no build)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from meshforge.api.deps import runtime
from meshforge.api.tree import flat_index
from meshforge.packages.upgrade import check_upgrade
from meshforge.requests.model import PackageName, PackageVersion, Str, Target
from meshforge.runtime import Runtime
from meshforge.upstream.releases import offered_versions

router = APIRouter(prefix="/api/v1", tags=["upgrades"])


class UpgradeCheckRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    distro: Str = "openwrt"
    version: Str
    target: Target
    revision: Str = ""  # the device's rNNNNN-hash, for snapshots
    installed: dict[PackageName, PackageVersion] = Field(max_length=5000)


class _TargetIndexes(Mapping[str, Mapping[str, str]]):
    """Package versions of one target per release, read only when asked."""

    def __init__(self, rt: Runtime, target: str, versions: list[str]) -> None:
        self.rt, self.target, self.versions = rt, target, versions
        self.loaded: dict[str, dict[str, str]] = {}

    def __getitem__(self, version: str) -> Mapping[str, str]:
        if version not in self.loaded:
            meta = self.rt.catalog.target(version, self.target)
            if meta is None or version not in self.versions:
                raise KeyError(version)
            index = self.rt.catalog.index_entries(version, f"target:{self.target}")
            index += self.rt.catalog.index_entries(version, f"arch:{meta.arch}")
            self.loaded[version] = flat_index(index)
        return self.loaded[version]

    def __iter__(self) -> Iterator[str]:
        return iter(self.versions)

    def __len__(self) -> int:
        return len(self.versions)


def _revision_number(revision: str) -> int | None:
    number = revision.removeprefix("r").split("-", 1)[0]
    return int(number) if number.isdigit() else None


@router.post("/upgrade-check", responses={204: {"description": "nothing newer"}})
def upgrade_check(
    body: UpgradeCheckRequest, rt: Annotated[Runtime, Depends(runtime)]
) -> Response:
    """Newest release of the device's branch and of the next branch, package
    updates and the replacements that apply; 204 when nothing changes."""
    releases = rt.catalog.releases()
    versions = [
        v for v in offered_versions(rt.catalog.versions_json()) if v in releases
    ]
    check = check_upgrade(
        body.distro,
        body.version,
        body.target,
        body.installed,
        versions_list=versions,
        indexes=_TargetIndexes(rt, body.target, versions),
        revision=_revision_number(body.revision),
    )
    if check is None:
        return Response(status_code=204)
    answer: dict[str, Any] = {"status": 200, "detail": "upgrade available"}
    answer.update(check.to_json())
    return JSONResponse(answer)
