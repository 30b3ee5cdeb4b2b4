"""Paths and helpers shared by the stand-in tests."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "data" / "upstream-samples"
BERLIN = SAMPLES / "berlin4apk-22.03-SNAPSHOT-ci"
IN_CI = os.environ.get("CI", "").lower() == "true"
# What the build worker gives a builder: a clean environment.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def need_tool(name: str) -> None:
    """Skip outside CI, fail inside CI, when a host tool is missing."""
    if shutil.which(name, path=CLEAN_ENV["PATH"]):
        return
    message = f"{name} is not installed"
    if IN_CI:
        pytest.fail(f"{message}; CI must provide it (scripts/system-deps.sh)")
    pytest.skip(f"{message}; install it to run this test")


def extract_builder(archive: Path, dest: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    (top,) = dest.iterdir()
    return top


def make(builder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    need_tool("make")
    return subprocess.run(
        ["make", *args],
        cwd=builder,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_fwtool_metadata(image: bytes) -> tuple[bytes, dict[str, object], int]:
    """Split an image into its body and its fwtool metadata; check the CRC.

    Written from the format (DOMAIN 5.2), independently of the stand-in:
    trailer = magic, crc32, type, size, big-endian, at the very end.
    """
    magic, crc, kind, size = struct.unpack(">IIB3xI", image[-16:])
    assert magic == 0x46577830
    assert kind == 1
    start = len(image) - size
    # Reflected CRC32, initial ~0, no final XOR, over everything before
    # the trailer.
    expected = zlib.crc32(image[:-16]) ^ 0xFFFFFFFF
    assert crc == expected
    header, text = image[start : start + 8], image[start + 8 : -16]
    assert header == bytes(8)
    return image[:start], json.loads(text), crc
