"""``make info``, ``make manifest`` and ``make image``."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import images, rootfs
from .builder import Builder, Profile, UsageError
from .feeds import FeedError, load_index
from .info import render_info
from .resolve import Outcome, Resolver, build_package_list

OPKG_FAILED = 255  # opkg's exit status when an install fails


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
    filesystem = os.environ.get("ROOTFS_FILESYSTEM", "") or "squashfs"
    if filesystem != "squashfs":
        raise UsageError(
            f"ROOTFS_FILESYSTEM={filesystem} is not supported: the stand-in "
            "ImageBuilder makes squashfs images only."
        )
    for item in todo:
        status = build_profile(builder, item, bin_dir)
        if status:
            return status
    return 0


def build_profile(builder: Builder, profile: Profile, bin_dir: Path) -> int:
    print(f"Building images for {builder.target} - {profile.name}")
    outcome = resolve(builder, profile)
    if not outcome.ok:
        return OPKG_FAILED
    work = builder.topdir / "build_dir"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="standin-", dir=work) as scratch:
        squashfs = make_rootfs(builder, outcome, Path(scratch))
    write_outputs(builder, profile, outcome, squashfs, bin_dir)
    return 0


def make_rootfs(builder: Builder, outcome: Outcome, scratch: Path) -> bytes:
    root = scratch / "root"
    root.mkdir()
    rootfs.stage(root, builder, outcome.selection, env_words("DISABLED_SERVICES"))
    files = env_path("FILES", builder.topdir)
    if files is not None:
        rootfs.overlay(root, files)
    if os.environ.get("ADD_LOCAL_KEY", "") == "1":
        print("ADD_LOCAL_KEY=1: the stand-in has no local signing key to add.")
    epoch = builder.source_date_epoch
    return rootfs.make_squashfs(root, scratch / "root.squashfs", epoch)


def size_limit(builder: Builder) -> int | None:
    megabytes = os.environ.get("ROOTFS_PARTSIZE", "") or builder.meta.get(
        "rootfs_partsize_mb"
    )
    return int(megabytes) * 1024 * 1024 if megabytes else None


def absent_size(outcome: Outcome) -> int:
    """The packed size (``Size:`` of the real index) of every listed package.

    The squashfs holds only the package list, so this stands in for the
    files a real image would carry. libc and kernel have no size here.
    """
    sizes = (p.fields.get("Size", "0") for p in outcome.selection.packages.values())
    return sum(int(size) for size in sizes if size.isdigit())


def write_outputs(
    builder: Builder,
    profile: Profile,
    outcome: Outcome,
    squashfs: bytes,
    bin_dir: Path,
) -> None:
    extra = os.environ.get("EXTRA_IMAGE_NAME", "")
    prefix = f"{images.image_prefix(builder, extra)}-{profile.name}"
    bin_dir.mkdir(parents=True, exist_ok=True)
    built = []
    limit, absent = size_limit(builder), absent_size(outcome)
    for image in images.make_images(builder, profile, prefix, squashfs):
        path = bin_dir / image.name
        if not images.too_big(image, path, limit, absent):
            path.write_bytes(image.data)
            built.append(image)
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
    except (OSError, ValueError, FeedError, subprocess.CalledProcessError) as exc:
        print(f"stand-in ImageBuilder: {exc}", file=sys.stderr)
        return 1
