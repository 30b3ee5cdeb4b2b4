"""The build request as clients send it (asu's BuildRequest, v1)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# Every string that can reach the ImageBuilder command line is held to a
# strict pattern here, before anything else sees it (CVE-2024-54143).
Str = Annotated[str, StringConstraints(pattern=r"^[\w.,-]*$", max_length=128)]
Target = Annotated[str, StringConstraints(pattern=r"^\w+/\w+$", max_length=64)]
Profile = Annotated[str, StringConstraints(pattern=r"^[\w.,-]+$", max_length=128)]
PackageName = Annotated[
    str, StringConstraints(pattern=r"^[+-]?[A-Za-z0-9][\w.+-]*$", max_length=128)
]
PackageVersion = Annotated[
    str, StringConstraints(pattern=r"^[\w+.,~-]*$", max_length=128)
]
RepoName = Annotated[str, StringConstraints(pattern=r"^[\w.-]+$", max_length=64)]
RepoUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=512)]
Filesystem = Literal[
    "squashfs", "ext4", "ubifs", "erofs", "jffs2", "jffs2-nand", "targz", "cpiogz"
]


class BuildRequest(BaseModel):
    """Unknown fields are ignored: LuCI and the firmware selector send extras."""

    model_config = ConfigDict(extra="ignore")

    distro: Str = "openwrt"
    version: Str
    version_code: Str = ""
    target: Target
    profile: Profile
    packages: list[PackageName] = Field(default_factory=list, max_length=1000)
    packages_versions: dict[PackageName, PackageVersion] = Field(
        default_factory=dict, max_length=1000
    )
    diff_packages: bool = False
    defaults: str | None = None
    rootfs_size_mb: int | None = Field(default=None, ge=1)
    filesystem: Filesystem | None = None
    repositories: dict[RepoName, RepoUrl] = Field(default_factory=dict)
    repositories_mode: Literal["append", "replace"] = "replace"
    repository_keys: list[Annotated[str, StringConstraints(max_length=4096)]] = Field(
        default_factory=list, max_length=16
    )
    client: Annotated[str, StringConstraints(max_length=128)] | None = None

    @field_validator("version")
    @classmethod
    def _snapshot_spelling(cls, version: str) -> str:
        # Clients and people type "22.03-snapshot"; upstream spells it upper.
        if version.lower() == "snapshot" or version.lower().endswith("-snapshot"):
            return version[: -len("snapshot")] + "SNAPSHOT"
        return version

    @field_validator("packages")
    @classmethod
    def _no_plus_names(cls, packages: list[str]) -> list[str]:
        # A leading "+" is accepted and dropped, as asu does; "+" elsewhere in
        # a name is not an OpenWrt package name.
        names = [name.removeprefix("+") for name in packages]
        for name in names:
            if "+" in name:
                raise ValueError(f"'{name}' is not a valid package name")
        return names

    @property
    def package_names(self) -> list[str]:
        """The packages asked for: ``packages_versions`` keys win if set."""
        if self.packages_versions:
            return [name.removeprefix("+") for name in self.packages_versions]
        return list(self.packages)
