"""``make info``, ``make manifest`` and ``make image``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import ext4, images, rootfs
from .builder import BadVariable, Builder, Profile, UsageError
from .feeds import FeedError, load_index
from .info import render_info
from .resolve import Outcome, Resolver, build_package_list

OPKG_FAILED = 255  # opkg's exit status when an install fails
# Size of an ext4 rootfs where no ROOTFS_PARTSIZE applies: OpenWrt's Kconfig
# default for CONFIG_TARGET_ROOTFS_PARTSIZE.
EXT4_DEFAULT_MB = 104


def env_words(name: str) -> list[str]:
    return os.environ.get(name, "").split()


def env_path(name: str, topdir: Path) -> Path | None:
    """A folder named by a make variable; relative ones start at the builder."""
    value = os.environ.get(name, "")
    return topdir / value if value else None


def resolve(builder: Builder, profile: Profile | None) -> Outcome:
    device = profile.packages if profile else []
    names = build_package_list(builder.default_packages, device, env_words("PACKAGES"))
    index = load_index(builder.topdir, builder.arch_packages)
    outcome = Resolver(index).install(names)
    for line in outcome.stdout_lines():
        print(line)
    for line in outcome.stderr_lines():
        print(line, file=sys.stderr)
    return outcome


def manifest_lines(outcome: Outcome, strip_abi: bool) -> list[str]:
    lines = []
    for package in outcome.selection.packages.values():
        name = package.stripped_name if strip_abi else package.name
        lines.append(f"{name} - {package.version}")
    return sorted(lines)


def selected_profile(builder: Builder) -> Profile | None:
    name = os.environ.get("PROFILE", "")
    return builder.profile(name) if name else None


def cmd_info(builder: Builder) -> int:
    sys.stdout.write(render_info(builder))
    return 0


def cmd_manifest(builder: Builder) -> int:
    outcome = resolve(builder, selected_profile(builder))
    if not outcome.ok:
        return OPKG_FAILED
    strip = os.environ.get("STRIP_ABI", "") == "1"
    sys.stdout.write("".join(f"{line}\n" for line in manifest_lines(outcome, strip)))
    return 0


def cmd_image(builder: Builder) -> int:
    profile = selected_profile(builder)
    todo = [profile] if profile else builder.profiles
    default = builder.topdir / "bin" / "targets" / builder.target
    bin_dir = env_path("BIN_DIR", builder.topdir) or default
    requested = os.environ.get("ROOTFS_FILESYSTEM", "")
    # Every profile is checked first, so that a bad value writes nothing.
    plans = [(item, filesystems(item, requested)) for item in todo]
    for item, chosen in plans:
        status = build_profile(builder, item, chosen, bin_dir)
        if status:
            return status
    return 0


def filesystems(profile: Profile, requested: str) -> list[str]:
    """What to make: ``ROOTFS_FILESYSTEM`` or every kind the profile lists."""
    offered = images.offered_filesystems(profile)
    built = [name for name in offered if name in images.BUILT_FILESYSTEMS]
    if not requested:
        return built
    if requested not in offered:
        raise BadVariable(
            f"ROOTFS_FILESYSTEM={requested}: profile {profile.name} has no "
            f"{requested} images; it offers {' '.join(offered) or 'none'}. "
            "Leave ROOTFS_FILESYSTEM unset to build them all."
        )
    if requested not in built:
        raise BadVariable(
            f"ROOTFS_FILESYSTEM={requested}: the stand-in ImageBuilder cannot "
            f"make {requested} images, only "
            f"{' and '.join(images.BUILT_FILESYSTEMS)}."
        )
    return [requested]


def build_profile(
    builder: Builder, profile: Profile, chosen: list[str], bin_dir: Path
) -> int:
    print(f"Building images for {builder.target} - {profile.name}")
    outcome = resolve(builder, profile)
    if not outcome.ok:
        return OPKG_FAILED
    extra = os.environ.get("EXTRA_IMAGE_NAME", "")
    prefix = f"{images.image_prefix(builder, extra)}-{profile.name}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    work = builder.topdir / "build_dir"
    work.mkdir(exist_ok=True)
    built = []
    with tempfile.TemporaryDirectory(prefix="standin-", dir=work) as scratch:
        root = stage_root(builder, outcome, Path(scratch))
        for filesystem in chosen:
            plan = ImagePlan(builder, profile, prefix, filesystem, bin_dir)
            built += write_images(plan, outcome, root, Path(scratch))
    write_outputs(builder, profile, outcome, prefix, built, bin_dir)
    return 0


def stage_root(builder: Builder, outcome: Outcome, scratch: Path) -> Path:
    root = scratch / "root"
    root.mkdir()
    rootfs.stage(root, builder, outcome.selection, env_words("DISABLED_SERVICES"))
    files = env_path("FILES", builder.topdir)
    if files is not None:
        rootfs.overlay(root, files)
    if os.environ.get("ADD_LOCAL_KEY", "") == "1":
        print("ADD_LOCAL_KEY=1: the stand-in has no local signing key to add.")
    return root


@dataclass(frozen=True)
class ImagePlan:
    """The images of one file system for one profile, and where they go."""

    builder: Builder
    profile: Profile
    prefix: str
    filesystem: str
    bin_dir: Path

    def paths(self) -> list[Path]:
        specs = images.image_specs(self.profile, self.filesystem)
        return [self.bin_dir / f"{self.prefix}-{spec['suffix']}" for spec in specs]


def write_images(
    plan: ImagePlan, outcome: Outcome, root: Path, scratch: Path
) -> list[images.Image]:
    """Make one file system, check its size, write its images."""
    absent, limit = absent_size(outcome), size_limit(plan.builder)
    made = make_filesystem(plan, root, scratch, absent)
    if made is None or images.too_big(plan.paths(), made[1] + absent, limit):
        return []
    written = images.make_images(
        plan.builder, plan.profile, plan.prefix, plan.filesystem, made[0]
    )
    for image in written:
        (plan.bin_dir / image.name).write_bytes(image.data)
    return written


def make_filesystem(
    plan: ImagePlan, root: Path, scratch: Path, absent: int
) -> tuple[Path, int] | None:
    """The file system image and the bytes it uses; None if ext4 cannot fit."""
    epoch = plan.builder.source_date_epoch
    if plan.filesystem == "squashfs":
        made = rootfs.make_squashfs(root, scratch / "root.squashfs", epoch)
        return made, made.stat().st_size
    # An ext4 file system is as big as its partition: what must fit is
    # checked before mke2fs, which would fail on a tree too large.
    partition = size_limit(plan.builder) or EXT4_DEFAULT_MB * 1024 * 1024
    if images.too_big(plan.paths(), ext4.tree_size(root) + absent, partition):
        return None
    made = ext4.make_ext4(root, scratch / "root.ext4", epoch, partition)
    return made, ext4.used_bytes(made)


def size_limit(builder: Builder) -> int | None:
    megabytes = os.environ.get("ROOTFS_PARTSIZE", "") or builder.meta.get(
        "rootfs_partsize_mb"
    )
    return int(megabytes) * 1024 * 1024 if megabytes else None


def absent_size(outcome: Outcome) -> int:
    """The packed size (``Size:`` of the real index) of every listed package.

    The root file system holds only the package list, so this stands in for
    the files a real image would carry. libc and kernel have no size here.
    """
    sizes = (p.fields.get("Size", "0") for p in outcome.selection.packages.values())
    return sum(int(size) for size in sizes if size.isdigit())


def write_outputs(
    builder: Builder,
    profile: Profile,
    outcome: Outcome,
    prefix: str,
    built: list[images.Image],
    bin_dir: Path,
) -> None:
    manifest = "".join(f"{line}\n" for line in manifest_lines(outcome, False))
    (bin_dir / f"{prefix}.manifest").write_text(manifest)
    path = bin_dir / "profiles.json"
    previous = path.read_text() if path.is_file() else None
    path.write_text(images.profiles_json(builder, profile, prefix, built, previous))
    (bin_dir / "sha256sums").write_text(images.sha256sums(bin_dir))


COMMANDS = {"info": cmd_info, "manifest": cmd_manifest, "image": cmd_image}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in COMMANDS:
        print(f"usage: standin_ib {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    topdir = Path(os.environ.get("TOPDIR") or Path.cwd())
    try:
        return COMMANDS[argv[1]](Builder.load(topdir))
    except UsageError as exc:
        print(exc)
        return 1
    except BadVariable as exc:
        print(exc, file=sys.stderr)
        return 1
    except (OSError, ValueError, FeedError, subprocess.CalledProcessError) as exc:
        print(f"stand-in ImageBuilder: {exc}", file=sys.stderr)
        return 1
