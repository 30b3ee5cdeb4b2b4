"""ext4 images of the stand-in: a real file system, chosen by ROOTFS_FILESYSTEM.

The images are read back with e2fsprogs (debugfs, e2fsck, dumpe2fs), not
with the stand-in's own code.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

import pytest

from standin.imagebuilder.standin_ib.ext4 import used_bytes
from tests.unit.standin.standin_helpers import (
    CLEAN_ENV,
    make,
    need_tool,
    read_fwtool_metadata,
)

STEM = "openwrt-22.03-snapshot-r20142-e500494771-x86-64-generic"
EPOCH = 1683378149  # source_date_epoch of the 22.03-SNAPSHOT x86 sample
EXT4_MAGIC_AT = 1024 + 0x38


def _tool(*command: str) -> subprocess.CompletedProcess[str]:
    need_tool(command[0])
    return subprocess.run(
        list(command), capture_output=True, text=True, env=CLEAN_ENV, check=False
    )


def _debugfs(image: Path, request: str) -> str:
    result = _tool("debugfs", "-R", request, str(image))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def both(x86_builder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tool("mksquashfs")
    need_tool("mke2fs")
    files = tmp_path_factory.mktemp("files")
    (files / "etc/config").mkdir(parents=True)
    (files / "etc/config/mesh").write_text("config mesh 'node'\n")
    (files / 'odd "name" here').write_text("quoted\n")
    if os.getuid() == 0:
        # Owned by someone else, as a non-root build's files would be:
        # mke2fs -d copies the owner, and the image must say root anyway.
        for path in [files, *files.rglob("*")]:
            os.chown(path, 1234, 1234)
    bin_dir = tmp_path_factory.mktemp("bin")
    args = ("PROFILE=generic", "PACKAGES=rsync", f"FILES={files}")
    result = make(x86_builder, "image", *args, f"BIN_DIR={bin_dir}")
    assert result.returncode == 0, result.stderr
    return bin_dir


@pytest.fixture(scope="module")
def ext4_image(both: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The combined ext4 image, un-gzipped, without its fwtool trailer."""
    data = (both / f"{STEM}-ext4-combined.img.gz").read_bytes()
    body, metadata, _ = read_fwtool_metadata(data)
    assert metadata["version"] == {
        "dist": "OpenWrt",
        "version": "22.03-SNAPSHOT",
        "revision": "r20142-e500494771",
        "target": "x86/64",
        "board": "generic",
    }
    image = tmp_path_factory.mktemp("ext4") / "rootfs.ext4"
    image.write_bytes(gzip.decompress(body))
    return image


def test_ext4_image_holds_the_status_file(
    ext4_image: Path, both: Path, tmp_path: Path
) -> None:
    status = _debugfs(ext4_image, "cat /usr/lib/opkg/status")

    assert "Package: rsync\nVersion: 3.2.7-1\n" in status
    assert "Status: install user installed" in status
    assert "Package: libzstd\n" in status
    squashfs = tmp_path / "rootfs.squashfs"
    packed = (both / f"{STEM}-squashfs-rootfs.img.gz").read_bytes()
    squashfs.write_bytes(gzip.decompress(packed))
    listing = _tool("unsquashfs", "-cat", str(squashfs), "usr/lib/opkg/status")
    assert status == listing.stdout  # one staged tree, two file systems


def test_ext4_image_passes_fsck(ext4_image: Path) -> None:
    result = _tool("e2fsck", "-f", "-n", str(ext4_image))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "rootfs:" in result.stdout  # the volume label


def test_ext4_files_belong_to_root_at_the_build_time(ext4_image: Path) -> None:
    for path in ("/etc/config/mesh", '"/odd ""name"" here"', "/usr/lib/opkg"):
        stat = _debugfs(ext4_image, f"stat {path}")
        assert "User:     0   Group:     0" in stat, stat
        for field in ("ctime", "atime", "mtime"):
            assert f" {field}: {EPOCH:#x}:00000000" in stat, stat
    assert _debugfs(ext4_image, "cat /etc/config/mesh") == "config mesh 'node'\n"


def test_ext4_size_is_the_partition_and_used_is_read_back(ext4_image: Path) -> None:
    data = ext4_image.read_bytes()
    header = _tool("dumpe2fs", "-h", str(ext4_image)).stdout
    fields = dict(line.split(":", 1) for line in header.splitlines() if ":" in line)
    blocks, free = int(fields["Block count"]), int(fields["Free blocks"])

    assert len(data) == 104 * 1024 * 1024  # x86's default ROOTFS_PARTSIZE
    assert data[EXT4_MAGIC_AT : EXT4_MAGIC_AT + 2] == b"\x53\xef"
    assert used_bytes(ext4_image) == (blocks - free) * int(fields["Block size"])
    assert "has_journal" not in fields["Filesystem features"]


def test_ext4_rootfs_has_no_trailer_and_json_lists_it(both: Path) -> None:
    rootfs = (both / f"{STEM}-ext4-rootfs.img.gz").read_bytes()
    assert gzip.decompress(rootfs)[EXT4_MAGIC_AT : EXT4_MAGIC_AT + 2] == b"\x53\xef"

    document = json.loads((both / "profiles.json").read_text())
    ext4 = [i for i in document["profiles"]["generic"]["images"] if "ext4" in i["name"]]
    assert sorted((i["filesystem"], i["type"]) for i in ext4) == [
        ("ext4", "combined"),
        ("ext4", "combined-efi"),
        ("ext4", "rootfs"),
    ]
    bare = next(i for i in ext4 if i["type"] == "rootfs")
    assert bare["sha256"] == bare["sha256_unsigned"]


@pytest.mark.parametrize("filesystem", ["ext4", "squashfs"])
def test_rootfs_filesystem_builds_only_that_one(
    x86_builder: Path, tmp_path: Path, filesystem: str
) -> None:
    need_tool("mksquashfs")
    need_tool("mke2fs")
    result = make(
        x86_builder,
        "image",
        "PROFILE=generic",
        f"ROOTFS_FILESYSTEM={filesystem}",
        f"BIN_DIR={tmp_path}",
    )

    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.glob("*.img.gz"))
    assert names == [
        f"{STEM}-{filesystem}-combined-efi.img.gz",
        f"{STEM}-{filesystem}-combined.img.gz",
        f"{STEM}-{filesystem}-rootfs.img.gz",
    ]


def test_unoffered_filesystem_is_refused(x86_builder: Path, tmp_path: Path) -> None:
    result = make(
        x86_builder,
        "image",
        "PROFILE=generic",
        "ROOTFS_FILESYSTEM=btrfs",
        f"BIN_DIR={tmp_path}",
    )

    assert result.returncode == 2  # make's status when a recipe fails
    assert result.stderr.splitlines()[0] == (
        "ROOTFS_FILESYSTEM=btrfs: profile generic has no btrfs images; it "
        "offers ext4 squashfs. Leave ROOTFS_FILESYSTEM unset to build them all."
    )
    assert not any(tmp_path.iterdir())


def test_ext4_is_refused_where_the_profile_has_none(
    ath79_builder: Path, tmp_path: Path
) -> None:
    result = make(
        ath79_builder,
        "image",
        "PROFILE=8dev_carambola2",
        "ROOTFS_FILESYSTEM=ext4",
        f"BIN_DIR={tmp_path}",
    )

    assert result.returncode == 2
    assert "profile 8dev_carambola2 has no ext4 images; it offers squashfs" in (
        result.stderr
    )
    assert not any(tmp_path.iterdir())


def test_ext4_too_big_for_its_partition(x86_builder: Path, tmp_path: Path) -> None:
    # Defaults pack to about 5.6 MB: more than a 4 MiB partition, whatever
    # the file system; mke2fs is not even run for ext4.
    need_tool("mksquashfs")
    need_tool("mke2fs")
    result = make(
        x86_builder,
        "image",
        "PROFILE=generic",
        "ROOTFS_FILESYSTEM=ext4",
        "ROOTFS_PARTSIZE=4",
        f"BIN_DIR={tmp_path}",
    )

    assert result.returncode == 0  # Build/check-size only warns
    warned = [line for line in result.stderr.splitlines() if "is too big" in line]
    assert len(warned) == 3
    assert all(f"> {4 * 1024 * 1024}" in line for line in warned)
    assert any(f"{STEM}-ext4-combined.img.gz is too big" in w for w in warned)
    assert not list(tmp_path.glob("*.img.gz"))
