"""``make info``, ``make manifest`` and ``make image`` of a generated builder.

The builder is generated from the real 22.03-SNAPSHOT samples and runs with
the same clean environment the build worker gives it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from standin.generate import generate_archive
from tests.unit.standin.standin_helpers import (
    BERLIN,
    CLEAN_ENV,
    extract_builder,
    make,
    need_tool,
    read_fwtool_metadata,
)

X86_MANIFEST = BERLIN / "targets/x86/64/openwrt-x86-64-generic.manifest"
PREFIX = "openwrt-22.03-snapshot-r20142-e500494771"


def _manifest(text: str) -> dict[str, str]:
    pairs = (line.split(" - ", 1) for line in text.splitlines())
    return dict((name, version) for name, version in pairs)


def _index_versions(path: Path) -> dict[str, str]:
    versions, name = {}, ""
    for line in path.read_text().splitlines():
        if line.startswith("Package: "):
            name = line.removeprefix("Package: ")
        elif line.startswith("Version: "):
            versions[name] = line.removeprefix("Version: ")
    return versions


def test_make_info_shows_target_revision_and_profile(x86_builder: Path) -> None:
    result = make(x86_builder, "info")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == 'Current Target: "x86/64"'
    assert lines[1] == 'Current Architecture: "x86_64"'
    assert lines[2] == 'Current Revision: "r20142-e500494771"'
    assert lines[3].startswith("Default Packages: base-files busybox ca-bundle")
    assert lines[4:7] == ["Available Profiles:", "", "generic:"]
    assert lines[7] == "    Generic x86/64"
    assert lines[8].startswith("    Packages: kmod-amazon-ena kmod-amd-xgbe")
    assert lines[9] == "    hasImageMetadata: 0"


def test_ath79_info_lists_supported_devices(ath79_builder: Path) -> None:
    result = make(ath79_builder, "info")

    assert 'Current Architecture: "mips"' in result.stdout
    assert "    8devices Carambola2\n" in result.stdout
    assert "    SupportedDevices: 8dev,carambola2 carambola2\n" in result.stdout


def test_manifest_resolves_rsync_with_real_versions(x86_builder: Path) -> None:
    result = make(x86_builder, "manifest", "PROFILE=generic", "PACKAGES=rsync")

    assert result.returncode == 0, result.stderr
    installed = _manifest(result.stdout)
    feed = _index_versions(BERLIN / "packages/x86_64/packages/Packages")
    assert installed["rsync"] == feed["rsync"]
    assert installed["libzstd"] == feed["libzstd"]
    # libc comes from the builder's own repository, at the image's version.
    assert installed["libc"] == _manifest(X86_MANIFEST.read_text())["libc"]
    assert result.stdout.splitlines() == sorted(result.stdout.splitlines())


def test_default_manifest_equals_the_real_image_manifest(x86_builder: Path) -> None:
    # The real x86 image also lists grub2*, which the 22.03 build adds for
    # its own boot loader step; everything else must match exactly.
    real = _manifest(X86_MANIFEST.read_text())
    expected = {k: v for k, v in real.items() if not k.startswith("grub2")}

    result = make(x86_builder, "manifest", "PROFILE=generic")

    assert result.returncode == 0, result.stderr
    assert _manifest(result.stdout) == expected


def test_strip_abi_prints_plain_library_names(x86_builder: Path) -> None:
    result = make(x86_builder, "manifest", "PROFILE=generic", "STRIP_ABI=1")

    installed = _manifest(result.stdout)
    assert (
        installed["libubox"] == _manifest(X86_MANIFEST.read_text())["libubox20220515"]
    )
    assert "libubox20220515" not in installed


def test_unknown_package_fails_like_opkg(x86_builder: Path) -> None:
    result = make(x86_builder, "manifest", "PROFILE=generic", "PACKAGES=luci2s")

    assert result.returncode == 2  # make's status when a recipe fails
    assert "Unknown package 'luci2s'." in result.stdout.splitlines()
    assert "Collected errors:\n * opkg_install_cmd: Cannot install package " in (
        result.stderr
    )
    assert "Error 255" in result.stderr  # opkg's own exit status


def test_unknown_profile_fails(x86_builder: Path, tmp_path: Path) -> None:
    result = make(x86_builder, "image", "PROFILE=nope", f"BIN_DIR={tmp_path}")

    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == 'Profile "nope" does not exist!'
    assert "Error 1" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def x86_image(
    x86_builder: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    need_tool("mksquashfs")
    need_tool("mke2fs")
    files = tmp_path_factory.mktemp("files")
    (files / "etc/uci-defaults").mkdir(parents=True)
    (files / "etc/uci-defaults/99-mesh").write_text("uci set system.@system[0]=x\n")
    bin_dir = tmp_path_factory.mktemp("bin")
    result = make(
        x86_builder,
        "image",
        "PROFILE=generic",
        "PACKAGES=rsync -ppp -ppp-mod-pppoe",
        f"FILES={files}",
        f"BIN_DIR={bin_dir}",
        "EXTRA_IMAGE_NAME=Mesh_Node",
    )
    return bin_dir, result


def test_image_writes_the_real_file_names(x86_image: tuple[Path, object]) -> None:
    bin_dir, _ = x86_image
    stem = f"{PREFIX}-mesh-node-x86-64-generic"
    # Without ROOTFS_FILESYSTEM: every file system the profile lists.
    assert sorted(p.name for p in bin_dir.iterdir()) == [
        f"{stem}-ext4-combined-efi.img.gz",
        f"{stem}-ext4-combined.img.gz",
        f"{stem}-ext4-rootfs.img.gz",
        f"{stem}-squashfs-combined-efi.img.gz",
        f"{stem}-squashfs-combined.img.gz",
        f"{stem}-squashfs-rootfs.img.gz",
        f"{stem}.manifest",
        "profiles.json",
        "sha256sums",
    ]


def _unpack(image: Path, dest: Path) -> Path:
    body, _, _ = read_fwtool_metadata(image.read_bytes())
    squashfs = dest / "rootfs.squashfs"
    squashfs.write_bytes(gzip.decompress(body))
    need_tool("unsquashfs")
    subprocess.run(
        ["unsquashfs", "-d", str(dest / "root"), str(squashfs)],
        check=True,
        capture_output=True,
        env=CLEAN_ENV,
    )
    return dest / "root"


def test_image_rootfs_lists_packages_and_files(
    x86_image: tuple[Path, object], tmp_path: Path
) -> None:
    bin_dir, _ = x86_image
    (image,) = bin_dir.glob("*-squashfs-combined.img.gz")

    root = _unpack(image, tmp_path)

    status = (root / "usr/lib/opkg/status").read_text()
    rsync = _index_versions(BERLIN / "packages/x86_64/packages/Packages")["rsync"]
    assert f"Package: rsync\nVersion: {rsync}\n" in status
    assert "Status: install user installed" in status
    assert "Package: libzstd\n" in status
    assert "Package: ppp\n" not in status
    assert (root / "etc/uci-defaults/99-mesh").read_text().startswith("uci set")
    assert (
        "DISTRIB_REVISION='r20142-e500494771'"
        in (root / "etc/openwrt_release").read_text()
    )


def test_image_carries_fwtool_metadata(x86_image: tuple[Path, object]) -> None:
    bin_dir, _ = x86_image
    (image,) = bin_dir.glob("*-squashfs-combined.img.gz")

    _, metadata, _ = read_fwtool_metadata(image.read_bytes())

    assert metadata["metadata_version"] == "1.1"
    assert metadata["version"] == {
        "dist": "OpenWrt",
        "version": "22.03-SNAPSHOT",
        "revision": "r20142-e500494771",
        "target": "x86/64",
        "board": "generic",
    }


def test_sha256sums_and_profiles_json_match_files(
    x86_image: tuple[Path, object],
) -> None:
    bin_dir, _ = x86_image
    for line in (bin_dir / "sha256sums").read_text().splitlines():
        digest, name = line.split(" *")
        assert hashlib.sha256((bin_dir / name).read_bytes()).hexdigest() == digest

    document = json.loads((bin_dir / "profiles.json").read_text())
    assert document["version_code"] == "r20142-e500494771"
    assert document["target"] == "x86/64"
    assert list(document["profiles"]) == ["generic"]
    profile = document["profiles"]["generic"]
    assert profile["image_prefix"] == f"{PREFIX}-mesh-node-x86-64-generic"
    listed = {(i["filesystem"], i["type"]): i for i in profile["images"]}
    assert len(listed) == len(profile["images"]) == 6
    types = {kind: i for (fs, kind), i in listed.items() if fs == "squashfs"}
    assert sorted(types) == ["combined", "combined-efi", "rootfs"]
    for kind in ("combined", "combined-efi"):
        data = (bin_dir / types[kind]["name"]).read_bytes()
        body, _, _ = read_fwtool_metadata(data)
        assert types[kind]["sha256"] == hashlib.sha256(data).hexdigest()
        assert types[kind]["sha256_unsigned"] == hashlib.sha256(body).hexdigest()
    # As upstream: the bare rootfs has no trailer, so both hashes agree.
    rootfs = types["rootfs"]
    data = (bin_dir / rootfs["name"]).read_bytes()
    assert rootfs["sha256"] == rootfs["sha256_unsigned"]
    assert rootfs["sha256"] == hashlib.sha256(data).hexdigest()
    assert gzip.decompress(data)[:4] == b"hsqs"


def test_manifest_file_lists_what_was_installed(
    x86_image: tuple[Path, object],
) -> None:
    bin_dir, _ = x86_image
    (manifest,) = bin_dir.glob("*.manifest")
    installed = _manifest(manifest.read_text())
    assert "rsync" in installed and "libzstd" in installed
    assert "ppp" not in installed


def test_sysupgrade_image_is_a_squashfs_with_metadata(
    ath79_builder: Path, tmp_path: Path
) -> None:
    need_tool("mksquashfs")
    result = make(
        ath79_builder, "image", "PROFILE=8dev_carambola2", f"BIN_DIR={tmp_path}"
    )

    assert result.returncode == 0, result.stderr
    (image,) = tmp_path.glob("*-squashfs-sysupgrade.bin")
    assert image.name == (
        "openwrt-22.03-snapshot-r20128-b6cbab1ad7-ath79-generic-8dev_carambola2"
        "-squashfs-sysupgrade.bin"
    )
    body, metadata, _ = read_fwtool_metadata(image.read_bytes())
    assert body[:4] == b"hsqs"  # squashfs magic, little endian
    assert metadata["supported_devices"] == ["8dev,carambola2", "carambola2"]


def test_same_request_gives_the_same_bytes(x86_builder: Path, tmp_path: Path) -> None:
    need_tool("mksquashfs")
    need_tool("mke2fs")
    for run in ("a", "b"):
        result = make(
            x86_builder, "image", "PROFILE=generic", f"BIN_DIR={tmp_path / run}"
        )
        assert result.returncode == 0, result.stderr
    first = (tmp_path / "a/sha256sums").read_text()
    assert first == (tmp_path / "b/sha256sums").read_text()


def test_too_big_rootfs_writes_no_image(x86_builder: Path, tmp_path: Path) -> None:
    need_tool("mksquashfs")
    need_tool("mke2fs")
    files = tmp_path / "files"
    files.mkdir()
    # Random bytes do not compress, so the squashfs stays over 1 MiB.
    (files / "blob").write_bytes(hashlib.shake_256(b"x").digest(3 * 1024 * 1024))
    bin_dir = tmp_path / "bin"

    result = make(
        x86_builder,
        "image",
        "PROFILE=generic",
        f"FILES={files}",
        f"BIN_DIR={bin_dir}",
        "ROOTFS_PARTSIZE=1",
    )

    assert result.returncode == 0  # like Build/check-size: a warning only
    warned = [line for line in result.stderr.splitlines() if "is too big" in line]
    assert len(warned) == 6  # each image of both file systems
    assert sum("-ext4-" in line for line in warned) == 3
    assert not list(bin_dir.glob("*.img.gz"))
    document = json.loads((bin_dir / "profiles.json").read_text())
    assert document["profiles"]["generic"]["images"] == []


def test_feed_signatures_are_checked(x86_builder: Path) -> None:
    result = make(x86_builder, "manifest", "PROFILE=generic")
    assert result.stderr.count("Signature check passed.") == 6  # remote feeds


def test_tampered_feed_is_dropped_like_opkg(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(BERLIN, mirror)
    feed = mirror / "packages/x86_64/packages"
    changed = (feed / "Packages").read_bytes().replace(b"Version: 3.", b"Version: 9.")
    (feed / "Packages.gz").write_bytes(gzip.compress(changed))
    archive = generate_archive(mirror, "x86/64", mirror.as_uri(), tmp_path / "a")
    builder = extract_builder(archive, tmp_path / "ib")

    result = make(builder, "manifest", "PROFILE=generic", "PACKAGES=rsync")

    assert result.returncode == 2
    assert "Signature check failed." in result.stderr
    assert "Unknown package 'rsync'." in result.stdout


def test_size_limit_counts_the_listed_packages(
    x86_builder: Path, tmp_path: Path
) -> None:
    # Defaults + rsync pack to about 5.7 MB in the real index: more than a
    # 1 MiB partition, although the stand-in's squashfs is only a few KiB.
    need_tool("mksquashfs")
    need_tool("mke2fs")
    args = ("image", "PROFILE=generic", "PACKAGES=rsync")

    small = make(x86_builder, *args, f"BIN_DIR={tmp_path / 'a'}", "ROOTFS_PARTSIZE=1")
    roomy = make(x86_builder, *args, f"BIN_DIR={tmp_path / 'b'}", "ROOTFS_PARTSIZE=16")

    assert "is too big" in small.stderr
    assert not list((tmp_path / "a").glob("*.img.gz"))
    assert "is too big" not in roomy.stderr
    assert len(list((tmp_path / "b").glob("*.img.gz"))) == 6  # ext4 and squashfs
