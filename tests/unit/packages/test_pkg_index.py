"""Parsing stanzas into packages and the universe's name indexes."""

from __future__ import annotations

import pytest

from meshforge.errors import FormatError, UpstreamError
from meshforge.packages.index import (
    Dependency,
    Package,
    Universe,
    imagebuilder_packages,
)
from meshforge.packages.release import Release, load_universe
from meshforge.upstream.opkg import parse_stanzas
from tests.unit.packages.conftest import BERLIN, LEDE, OPENWRT_24, load_folder

STANZA = """\
Package: libubox20240329
Version: 2024.03.29~eb9bcb64-r1
Depends: libc, libblobmsg-json20240329, a | b (>= 2), c (< 3)
Provides: libubox
Conflicts: libubox-old (<< 2020)
ABIVersion: 20240329
Status: unknown hold not-installed
Architecture: mips_24kc
Size: 21034
"""


def test_stanza_fields() -> None:
    pkg = Package.from_stanza(next(parse_stanzas(STANZA)), "base")
    assert pkg.stripped_name == "libubox"
    assert pkg.provided_names == ("libubox20240329", "libubox")
    assert pkg.depends[2] == (Dependency("a"), Dependency("b", ">=", "2"))
    assert pkg.depends[3] == (Dependency("c", "<=", "3"),)  # bare < means <=
    assert pkg.conflicts == (Dependency("libubox-old", "<<", "2020"),)
    assert pkg.held and pkg.size == 21034 and pkg.source == "base"


def test_bad_dependency_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="Cannot read the dependency"):
        Dependency.parse("foo (>= )")


def test_universe_indexes_provided_names() -> None:
    universe = Universe(
        [
            Package("nftables-json", "1.1.1-r1", provides=("nftables",), arch="x86_64"),
            Package(
                "nftables-nojson", "1.1.1-r1", provides=("nftables",), arch="x86_64"
            ),
            Package("foreign", "1", arch="mips_24kc"),
        ],
        arch="x86_64",
    )
    assert "nftables" in universe and "nftables-json" in universe
    assert "iptables" not in universe
    assert universe.provided_by["nftables"] == ["nftables-json", "nftables-nojson"]
    assert universe.arch_priority(universe.by_name["foreign"][0]) == 0


def test_index_json_v2() -> None:
    data = {
        "version": 2,
        "architecture": "aarch64_cortex-a53",
        "packages": {"libubox": "2025.07.23~49056d17-r1", "luci": "26.1~abc-r1"},
    }
    universe = Universe.from_index_json(data)
    assert universe.format == "apk" and universe.arch == "aarch64_cortex-a53"
    assert universe.version_of("libubox") == "2025.07.23~49056d17-r1"
    with pytest.raises(FormatError):
        Universe.from_index_json({"version": 2})


def _count_stanzas(folder) -> int:
    return sum(
        (p / "Packages").read_text().count("\nPackage: ")
        + (p / "Packages").read_text().startswith("Package: ")
        for p in folder.iterdir()
    )


def test_lede_feeds_load_every_stanza() -> None:
    feeds = LEDE / "packages" / "mips_24kc"
    universe = Universe(arch="mips_24kc")
    for folder in sorted(feeds.iterdir()):
        universe.add(load_folder(folder))
    assert len(universe) == _count_stanzas(feeds) == 4211
    assert universe.version_of("tcpdump") == "4.9.2-1"


def test_release_without_target_index_is_refused() -> None:
    with pytest.raises(UpstreamError, match="No package index"):
        load_universe(Release(str(LEDE), "ar71xx/generic"))


def test_kernel_and_libc_inferred_like_the_builders(universe_24: Universe) -> None:
    # The README of the oracle lists the status file it assumed.
    assert universe_24.version_of("kernel") == (
        "6.6.110~484466e2719a743506c36b4bb2103582-r1"
    )
    assert universe_24.version_of("libc") == "1.2.5-r4"
    assert universe_24.by_name["libc"][0].source == "imagebuilder (inferred)"
    assert imagebuilder_packages(universe_24) == []  # already present


def test_berlin_libc_matches_its_manifest() -> None:
    universe = load_universe(Release(str(BERLIN), "x86/64"))
    manifest = (BERLIN / "targets/x86/64/openwrt-x86-64-generic.manifest").read_text()
    assert f"libc - {universe.version_of('libc')}\n" in manifest
    assert f"kernel - {universe.version_of('kernel')}\n" in manifest


def test_24_universe_has_every_feed(universe_24: Universe) -> None:
    expected = sum(
        read.count("\nPackage: ") + read.startswith("Package: ")
        for read in (p.read_text() for p in OPENWRT_24.rglob("Packages"))
    )
    assert len(universe_24) == expected + 2  # plus inferred libc and kernel
