"""One unpacked ImageBuilder and the three make targets meshforge uses.

Every value that reaches the make command line is checked against a strict
pattern first, although it travels as an argv item and never through a
shell: make itself splits PACKAGES on spaces and expands ``$``, and the
request layer may one day forget a check (CVE-2024-54143).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable
from pathlib import Path

from meshforge.config import get_settings
from meshforge.errors import BadRequest, BuildError, ConfigError
from meshforge.imagebuilder.failures import (
    MakeResult,
    explain_failure,
    logs,
    storage_error,
)
from meshforge.imagebuilder.locks import FileLock
from meshforge.imagebuilder.outputs import (
    MakeInfo,
    ProfileInfo,
    check_revision,
    parse_info,
    parse_manifest,
)
from meshforge.imagebuilder.overlay import overlaid, overlay_files
from meshforge.imagebuilder.runner import run_make

log = logging.getLogger(__name__)

PACKAGE_NAME = re.compile(r"^-?[A-Za-z0-9][A-Za-z0-9._-]*$", re.ASCII)
PROFILE_NAME = re.compile(r"^[\w.,-]+$", re.ASCII)
_IMAGE_NAME = re.compile(r"^[A-Za-z0-9._-]*$")
# make splits words on blanks and expands '$', so paths stay plain.
_MAKE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]*$")
FILESYSTEMS = frozenset(
    {"squashfs", "ext4", "ubifs", "erofs", "jffs2", "jffs2-nand", "targz", "cpiogz"}
)
_NOT_IMAGES = (".manifest", ".buildinfo", ".json", ".sig", ".asc", "sha256sums")

__all__ = ["Builder", "MakeInfo", "MakeResult", "ProfileInfo", "check_revision"]


class Builder:
    """An unpacked ImageBuilder folder; make runs in it one at a time."""

    def __init__(
        self,
        path: Path,
        *,
        timeout_s: float | None = None,
        on_release: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.timeout_s = timeout_s or float(get_settings().job_timeout_s)
        # Two makes in one folder would share build_dir/ and corrupt images.
        self._run_lock_path = path / ".meshforge-run.lock"
        self._info: MakeInfo | None = None
        self._finalizer = weakref.finalize(self, on_release or _nothing)

    def release(self) -> None:
        """Let the cache evict this builder again (also done when collected)."""
        self._finalizer()

    def __enter__(self) -> Builder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def info(self) -> MakeInfo:
        if self._info is None:
            result = self._run(["info"])
            if result.returncode != 0:
                raise explain_failure(result, "")
            self._info = parse_info(result.stdout)
        return self._info

    def manifest(
        self,
        profile: str,
        packages: list[str],
        *,
        repositories: str | None = None,
        repository_keys: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Package name to version that ``make image`` would install."""
        args = ["manifest", *_profile_args(profile, packages), "STRIP_ABI=1"]
        result = self._run(
            args, overlay_files(self.path, repositories, repository_keys)
        )
        if result.returncode != 0:
            raise explain_failure(result, profile)
        return parse_manifest(result.stdout)

    def image(
        self,
        profile: str,
        packages: list[str],
        bin_dir: Path,
        *,
        extra_image_name: str,
        files: Path | None = None,
        rootfs_partsize: int | None = None,
        filesystem: str | None = None,
        repositories: str | None = None,
        repository_keys: dict[str, str] | None = None,
        source_date_epoch: int | None = None,
    ) -> MakeResult:
        """Build images into ``bin_dir``; raise BuildError when none result."""
        args = ["image", *_profile_args(profile, packages)]
        args += _image_args(bin_dir, extra_image_name, files)
        args += _rootfs_args(rootfs_partsize, filesystem)
        overlay = overlay_files(self.path, repositories, repository_keys)
        result = self._run(args, overlay, source_date_epoch)
        if result.returncode != 0:
            raise explain_failure(result, profile)
        _check_images(result, bin_dir)
        return result

    def _run(
        self,
        args: list[str],
        overlay: dict[Path, str] | None = None,
        source_date_epoch: int | None = None,
    ) -> MakeResult:
        lock = FileLock(self._run_lock_path)
        with lock.exclusive(), overlaid(self.path, overlay or {}):
            return run_make(self.path, args, self.timeout_s, source_date_epoch)


def _nothing() -> None:
    return None


def _profile_args(profile: str, packages: list[str]) -> list[str]:
    if not PROFILE_NAME.fullmatch(profile):
        raise BadRequest(
            f"The profile {profile!r} contains characters a profile id never has; "
            "use letters, digits, '_', '.', ',' and '-' only."
        )
    for name in packages:
        if not PACKAGE_NAME.fullmatch(name):
            raise BadRequest(
                f"The package name {name!r} is not a valid OpenWrt package name "
                "(letters, digits, '.', '_' and '-', optionally prefixed by '-' "
                "to remove a default package); fix or drop it."
            )
    return [f"PROFILE={profile}", f"PACKAGES={' '.join(packages)}"]


def _image_args(bin_dir: Path, extra_image_name: str, files: Path | None) -> list[str]:
    if not _IMAGE_NAME.fullmatch(extra_image_name):
        raise BadRequest(
            f"The extra image name {extra_image_name!r} may only hold letters, "
            "digits, '.', '_' and '-'."
        )
    args = [f"BIN_DIR={_make_path(bin_dir)}"]
    if extra_image_name:
        args.append(f"EXTRA_IMAGE_NAME={extra_image_name}")
    if files is not None:
        args.append(f"FILES={_make_path(files)}")
    return args


def _rootfs_args(partsize: int | None, filesystem: str | None) -> list[str]:
    args = []
    if partsize is not None:
        if isinstance(partsize, bool) or not isinstance(partsize, int) or partsize < 1:
            raise BadRequest(
                f"The root file system size {partsize!r} is not a positive number "
                "of megabytes."
            )
        args.append(f"ROOTFS_PARTSIZE={partsize}")
    if filesystem is not None:
        if filesystem not in FILESYSTEMS:
            raise BadRequest(
                f"The file system {filesystem!r} is not one the ImageBuilder "
                f"knows; use one of {', '.join(sorted(FILESYSTEMS))}."
            )
        args.append(f"ROOTFS_FILESYSTEM={filesystem}")
    return args


def _make_path(path: Path) -> str:
    text = str(path.absolute())
    if not _MAKE_PATH.fullmatch(text):
        raise ConfigError(
            f"The folder {text} cannot be passed to make, which would split it "
            "at blanks or expand '$' in it; choose a var_dir whose path has "
            "only letters, digits and '._/+-'."
        )
    return text


def _check_images(result: MakeResult, bin_dir: Path) -> None:
    images = (
        [p.name for p in bin_dir.iterdir() if _is_image(p)] if bin_dir.is_dir() else []
    )
    too_big = storage_error(result.output)
    if images:
        if too_big is not None:
            log.warning("some images were too big and dropped: %s", too_big.detail)
        return
    # Build/check-size deletes an oversized image and make still exits 0.
    if too_big is not None:
        too_big.extra.update(logs(result))
        raise too_big
    raise BuildError(
        f"The ImageBuilder finished but wrote no image into {bin_dir}; the "
        "profile may build no image with these options. Its output is attached.",
        permanent=False,
        **logs(result),
    )


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.endswith(_NOT_IMAGES)
