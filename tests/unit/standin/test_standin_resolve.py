"""The resolver against real opkg runs over the official 24.10.4 indexes.

data/upstream-samples/openwrt-24.10.4/opkg-resolution/ holds what the
ImageBuilder's own opkg installed for each package list; the stand-in must
choose exactly the same packages and versions.
"""

from __future__ import annotations

import pytest

from standin.imagebuilder.standin_ib.feeds import Index
from standin.imagebuilder.standin_ib.resolve import Resolver, build_package_list
from tests.unit.standin.standin_helpers import BERLIN, SAMPLES

OPENWRT_24 = SAMPLES / "openwrt-24.10.4"
ORACLE = OPENWRT_24 / "opkg-resolution"
# The oracle's status file assumed these two installed (see its README).
ASSUMED = (
    "Package: libc\nVersion: 1.2.5-r4\nArchitecture: x86_64\n\n"
    "Package: kernel\nVersion: 6.6.110~484466e2719a743506c36b4bb2103582-r1\n"
    "Architecture: x86_64\n"
)


@pytest.fixture(scope="module")
def index_24() -> Index:
    index = Index("x86_64")
    paths = [OPENWRT_24 / "targets/x86/64/packages/Packages"]
    paths += sorted(OPENWRT_24.glob("targets/x86/64/kmods/*/Packages"))
    paths += sorted(OPENWRT_24.glob("packages/x86_64/*/Packages"))
    for path in paths:
        index.add_text(path.read_text(), path.parent.name)
    index.add_text(ASSUMED, "imagebuilder")
    return index


def _requested(name: str) -> list[str]:
    return (ORACLE / f"{name}.cmd.txt").read_text().splitlines()[1].split()


@pytest.mark.parametrize(
    "name",
    [
        "01-defaults-generic",
        "02-luci",
        "03-luci-tcpdump",
        "05-dnsmasq-full-plus-dnsmasq",
        "09-collectd-statistics",
    ],
)
def test_same_packages_as_real_opkg(index_24: Index, name: str) -> None:
    outcome = Resolver(index_24).install(_requested(name))

    mine = sorted(
        f"{p.name} - {p.version}" for p in outcome.selection.packages.values()
    )
    assert outcome.ok
    assert mine == (ORACLE / f"{name}.manifest.txt").read_text().splitlines()


def test_unknown_package_reports_like_opkg(index_24: Index) -> None:
    outcome = Resolver(index_24).install(_requested("06-unknown-luci2s"))

    stdout = (ORACLE / "06-unknown-luci2s.stdout.txt").read_text().splitlines()
    stderr = (ORACLE / "06-unknown-luci2s.stderr.txt").read_text().splitlines()
    assert outcome.stdout_lines() == stdout[:1]
    assert outcome.stderr_lines() == stderr


def test_provider_with_version_meets_versioned_dependency(index_24: Index) -> None:
    # luci-mod-status needs libiwinfo (>= 2023.01.21); only the ABI-named
    # libiwinfo20230701 provides it.
    outcome = Resolver(index_24).install(["luci-mod-status"])
    assert "libiwinfo20230701" in outcome.selection.packages


def test_missing_dependency_is_reported_for_the_package_asked_for() -> None:
    index = Index("x86_64")
    index.add_text((BERLIN / "packages/x86_64/packages/Packages").read_text(), "p")

    outcome = Resolver(index).install(["rsync"])  # libc is not in this feed

    assert not outcome.ok
    assert "libc" in outcome.unsatisfied["rsync"]
    assert " * opkg_install_cmd: Cannot install package rsync." in (
        outcome.stderr_lines()
    )
    assert "rsync" not in outcome.selection.packages


def test_abi_suffixed_library_is_found_by_its_plain_name() -> None:
    index = Index("x86_64")
    index.add_text((BERLIN / "packages/x86_64/base/Packages").read_text(), "base")
    package = Resolver(index).pick_requested("libubox")
    assert package is not None
    assert package.name == "libubox20220515"
    assert package.stripped_name == "libubox"


def test_package_list_rules_remove_and_put_user_first() -> None:
    names = build_package_list(
        ["ppp", "dnsmasq", "uci"], ["-wpad-basic", "kmod-x"], ["luci", "-ppp"]
    )
    assert names == ["luci", "dnsmasq", "kernel", "kmod-x", "uci"]


def test_user_removal_also_drops_a_user_duplicate() -> None:
    assert build_package_list(["a"], [], ["b", "-a", "a"]) == ["b", "kernel"]


def test_conflict_with_an_installed_name_fails(index_24: Index) -> None:
    # nftables-nojson declares Conflicts: nftables-json.
    outcome = Resolver(index_24).install(["nftables-json", "nftables-nojson"])

    assert outcome.conflicts == {"nftables-nojson": ["nftables-json"]}
    assert " * opkg_install_cmd: Cannot install package nftables-nojson." in (
        outcome.stderr_lines()
    )
    assert "nftables-nojson" not in outcome.selection.packages
