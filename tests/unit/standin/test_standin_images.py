from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from standin.imagebuilder.standin_ib import images
from standin.imagebuilder.standin_ib.builder import Builder, Profile
from tests.unit.standin.standin_helpers import read_fwtool_metadata


def _builder(version: str, code: str = "r24012-d8dd03c46f") -> Builder:
    meta: dict[str, Any] = {
        "target": "ath79/generic",
        "arch_packages": "mips_24kc",
        "version_number": version,
        "version_code": code,
        "source_date_epoch": 1721081658,
        "default_packages": ["base-files"],
        "profiles": {},
    }
    return Builder(Path("."), meta)


@pytest.mark.parametrize(
    ("version", "extra", "prefix"),
    [
        ("23.05.4", "", "openwrt-23.05.4-ath79-generic"),
        ("23.05.4", "Mesh_Node 1", "openwrt-23.05.4-mesh-node-1-ath79-generic"),
        (
            "23.05-SNAPSHOT",
            "x",
            "openwrt-23.05-snapshot-r24012-d8dd03c46f-x-ath79-generic",
        ),
        ("SNAPSHOT", "x", "openwrt-x-ath79-generic"),
    ],
)
def test_image_prefix(version: str, extra: str, prefix: str) -> None:
    assert images.image_prefix(_builder(version), extra) == prefix


def test_metadata_trailer_reads_back() -> None:
    profile = Profile("tplink_archer-c7-v5", {"supported_devices": ["tplink,c7"]})
    metadata = images.fwtool_metadata(_builder("23.05.4"), profile)

    image = images.append_metadata(b"hsqs" + bytes(1000), metadata)

    body, read, _ = read_fwtool_metadata(image)
    assert body == b"hsqs" + bytes(1000)
    assert read == metadata
    assert read["version"]["board"] == "tplink_archer-c7-v5"  # type: ignore[index]  # JSON object


def test_running_crc_chains_like_fwtool() -> None:
    whole = images.fwtool_crc(b"abcdef")
    assert images.fwtool_crc(b"def", images.fwtool_crc(b"abc")) == whole


def test_profiles_json_keeps_earlier_profiles_of_the_same_build() -> None:
    builder = _builder("23.05.4")
    first = images.profiles_json(builder, Profile("a", {}), "p-a", [])
    both = json.loads(images.profiles_json(builder, Profile("b", {}), "p-b", [], first))
    assert sorted(both["profiles"]) == ["a", "b"]

    other = _builder("23.05.4", "r1-0000000000")
    alone = json.loads(images.profiles_json(other, Profile("b", {}), "p-b", [], first))
    assert sorted(alone["profiles"]) == ["b"]
