"""Image files, their fwtool metadata trailer, and what goes beside them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .builder import Builder, Profile

FWTOOL_MAGIC = 0x46577830  # "FWx0"
FWTOOL_METADATA = 1
_TRAILER = struct.Struct(">IIB3xI")

# Image types the stand-in makes from a root filesystem; the others in a
# profiles.json (factory, kernel, initramfs, iso) need real firmware.
# Upstream appends metadata to sysupgrade-capable images, not to a bare rootfs.
WITH_METADATA = ("sysupgrade", "combined", "combined-efi")
BUILT_TYPES = (*WITH_METADATA, "rootfs")
BUILT_FILESYSTEMS = ("ext4", "squashfs")
GZIP_CHUNK = 1024 * 1024
# An ext4 image is mostly zeros; level 6 packs it to the same size as level 9
# (1 GiB: 1043656 bytes either way) in less than half the time.
GZIP_LEVEL = 6


def fwtool_crc(data: bytes, state: int = 0xFFFFFFFF) -> int:
    """fwtool's running CRC32: reflected, initial ~0, no final XOR."""
    return zlib.crc32(data, state ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def append_metadata(image: bytes, metadata: dict[str, Any]) -> bytes:
    """``fwtool -I``: 8-byte header + JSON, then the 16-byte trailer."""
    chunk = bytes(8) + json.dumps(metadata, separators=(",", ":")).encode()
    crc = fwtool_crc(image + chunk)
    size = len(chunk) + _TRAILER.size
    trailer = _TRAILER.pack(FWTOOL_MAGIC, crc, FWTOOL_METADATA, size)
    return image + chunk + trailer


def sanitize(text: str) -> str:
    """The ImageBuilder's ``sanitize``: lower case, ``_`` and spaces to ``-``."""
    return text.lower().replace("_", "-").replace(" ", "-")


def image_prefix(builder: Builder, extra: str) -> str:
    """``openwrt-[<ver>-][<rev>-][<extra>-]<t>-<s>`` as in include/image.mk."""
    version = builder.version_number
    parts = ["openwrt"]
    if version != "SNAPSHOT":
        parts.append(sanitize(version))
        if "SNAPSHOT" in version:
            parts.append(sanitize(builder.version_code))
    if extra:
        parts.append(sanitize(extra))
    parts.append(builder.target.replace("/", "-"))
    return "-".join(parts)


def fwtool_metadata(builder: Builder, profile: Profile) -> dict[str, Any]:
    return {
        "metadata_version": "1.1",
        "compat_version": "1.0",
        "supported_devices": profile.supported_devices,
        "version": {
            "dist": "OpenWrt",
            "version": builder.version_number,
            "revision": builder.version_code,
            "target": builder.target,
            "board": profile.name,
        },
    }


@dataclass(frozen=True)
class Image:
    name: str
    type: str
    filesystem: str
    data: bytes
    sha256_unsigned: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_json(self) -> dict[str, str]:
        return {
            "filesystem": self.filesystem,
            "name": self.name,
            "sha256": self.sha256,
            "sha256_unsigned": self.sha256_unsigned,
            "type": self.type,
        }


def image_specs(profile: Profile, filesystem: str) -> list[dict[str, Any]]:
    """The profile's images of one file system that the stand-in makes."""
    return [
        spec
        for spec in profile.data.get("images", [])
        if spec.get("filesystem") == filesystem and spec["type"] in BUILT_TYPES
    ]


def offered_filesystems(profile: Profile) -> list[str]:
    """File systems of the profile's images that could be made from a rootfs."""
    specs = profile.data.get("images", [])
    found = {s.get("filesystem") for s in specs if s["type"] in BUILT_TYPES}
    return sorted(str(name) for name in found if name)


def make_images(
    builder: Builder, profile: Profile, prefix: str, filesystem: str, rootfs: Path
) -> list[Image]:
    images = []
    raw = packed = None
    for spec in image_specs(profile, filesystem):
        if spec["suffix"].endswith(".gz"):
            # As on x86: the disk image is gzipped, then the metadata appended.
            body = packed = packed or gzip_file(rootfs)
        else:
            body = raw = raw or rootfs.read_bytes()
        signed = body
        if spec["type"] in WITH_METADATA:
            signed = append_metadata(body, fwtool_metadata(builder, profile))
        name = f"{prefix}-{spec['suffix']}"
        unsigned = hashlib.sha256(body).hexdigest()
        images.append(Image(name, spec["type"], filesystem, signed, unsigned))
    return images


def gzip_file(path: Path) -> bytes:
    """gzip without a name or time; read in chunks, as ext4 is partition-sized."""
    packed = io.BytesIO()
    target = gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, compresslevel=GZIP_LEVEL)
    with path.open("rb") as source, target:
        shutil.copyfileobj(source, target, GZIP_CHUNK)
    return packed.getvalue()


def too_big(names: list[Path], size: int, limit: int | None) -> bool:
    """``Build/check-size``: warn and leave the images out when over the limit.

    ``size`` is the root file system as it would fill the partition plus the
    packed size of the packages the stand-in lists but does not hold, so
    that a limit bites where a real image's would.
    """
    if limit is None or size <= limit:
        return False
    for path in names:
        print(
            f"    WARNING: Image file {path} is too big: {size} > {limit}",
            file=sys.stderr,
        )
    return True


def profiles_json(
    builder: Builder,
    profile: Profile,
    prefix: str,
    images: list[Image],
    previous: str | None = None,
) -> str:
    """The upstream ``profiles.json``; earlier profiles of the same build stay.

    Like ``json_overview_image_info.py``, which merges every image of the
    output folder, profiles built before into the same BIN_DIR are kept.
    """
    entry = {
        "device_packages": profile.packages,
        "image_prefix": prefix,
        "images": [image.to_json() for image in images],
        "supported_devices": profile.supported_devices,
        "titles": profile.data.get("titles", []),
    }
    document = {
        "arch_packages": builder.arch_packages,
        "default_packages": builder.default_packages,
        "metadata_version": 1,
        "profiles": {profile.name: entry},
        "source_date_epoch": builder.source_date_epoch,
        "target": builder.target,
        "version_code": builder.version_code,
        "version_number": builder.version_number,
    }
    earlier = json.loads(previous) if previous else {}
    if earlier.get("version_code") == builder.version_code and (
        earlier.get("target") == builder.target
    ):
        document["profiles"] = {**earlier["profiles"], profile.name: entry}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def sha256sums(folder: Path) -> str:
    lines = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.name != "sha256sums":
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{digest} *{path.name}\n")
    return "".join(lines)
