"""The resolver against real opkg runs (the oracle) and opkg's own rules."""

from __future__ import annotations

import json

import pytest

from meshforge.errors import ResolutionError
from meshforge.packages.index import Dependency, Package, Universe
from meshforge.packages.release import Release, defaults_from_make_info, load_universe
from meshforge.packages.resolver import (
    apply_removals,
    diff_against_defaults,
    expand_request,
    resolve,
)
from tests.unit.packages.conftest import (
    BERLIN,
    LEDE,
    load_folder,
    oracle_args,
    oracle_manifest,
)

# --- the oracle: what OpenWrt 24.10.4's own opkg installed ----------------


@pytest.mark.parametrize(
    "name",
    ["01-defaults-generic", "02-luci", "03-luci-tcpdump", "09-collectd-statistics"],
)
def test_same_set_as_opkg(universe_24: Universe, name: str) -> None:
    result = resolve(universe_24, oracle_args(name))
    assert result.manifest() == oracle_manifest(name)


def test_oracle_lists_match_the_imagebuilder_rule(make_info_24) -> None:
    info = defaults_from_make_info(make_info_24.read_text())
    args = expand_request(info.defaults, info.profiles["generic"], ["luci"], False)
    assert args == oracle_args("02-luci")
    assert len(expand_request(info.defaults, info.profiles["generic"], [], False)) == 44


def test_unknown_package_is_named(universe_24: Universe) -> None:
    with pytest.raises(ResolutionError) as caught:
        resolve(universe_24, oracle_args("06-unknown-luci2s"))
    assert caught.value.extra["missing"] == ["luci2s"]
    assert caught.value.extra["conflicts"] == []
    assert caught.value.status == 422
    assert "'luci2s'" in caught.value.detail


def test_dnsmasq_full_next_to_default_dnsmasq_is_refused(universe_24: Universe) -> None:
    args = oracle_args("05-dnsmasq-full-plus-dnsmasq")
    # opkg itself let it through; without our extra checks we agree with it.
    loose = resolve(universe_24, args, strict=False)
    assert loose.manifest() == oracle_manifest("05-dnsmasq-full-plus-dnsmasq")
    with pytest.raises(ResolutionError) as caught:
        resolve(universe_24, args, defaults=["dnsmasq"])
    body = caught.value.to_json()
    assert body["conflicts"] == [["dnsmasq", "dnsmasq-full"]]
    assert "add '-dnsmasq'" in body["detail"]
    assert json.loads(json.dumps(body)) == body


def test_removing_the_default_fixes_it(universe_24: Universe, make_info_24) -> None:
    info = defaults_from_make_info(make_info_24.read_text())
    args = expand_request(
        info.defaults, info.profiles["generic"], ["-dnsmasq", "dnsmasq-full"], False
    )
    installed = resolve(universe_24, args).installed
    assert "dnsmasq" not in installed and "dnsmasq-full" in installed


def test_virtual_name_follows_what_is_installed(universe_24: Universe) -> None:
    # firewall4 pulls nftables-json; the default 'nftables' then reuses it.
    installed = resolve(universe_24, oracle_args("01-defaults-generic")).installed
    assert "nftables-json" in installed and "nftables-nojson" not in installed
    assert installed["libgcc1"].version == "13.3.0-r4"
    alone = resolve(universe_24, ["nftables"]).installed
    assert "nftables-json" in alone  # several providers: the first sorted


def test_missing_dependency_names_the_needer(universe_24: Universe) -> None:
    broken = Universe(universe_24.packages, arch="x86_64")
    broken.add([Package("needs-ghost", "1", depends=((Dependency("ghost"),),))])
    with pytest.raises(ResolutionError) as caught:
        resolve(broken, ["needs-ghost"])
    assert caught.value.extra["missing"] == ["ghost"]
    assert caught.value.extra["needed_by"] == {"ghost": ["needs-ghost"]}


# --- other real sets ------------------------------------------------------


def test_berlin_22_03_ath79_matches_the_build_manifest() -> None:
    release = Release(str(BERLIN), "ath79/generic")
    universe = load_universe(release)
    defaults = release.defaults()
    assert defaults is not None
    device = defaults.device_packages("8dev_carambola2")
    result = resolve(universe, expand_request(defaults.defaults, device, [], False))
    manifest = release.read(
        "targets/ath79/generic/openwrt-ath79-generic-8dev_carambola2.manifest"
    )
    assert manifest is not None
    assert result.manifest() == manifest.decode().splitlines()
    assert len(result.installed) == 111


def test_berlin_22_03_x86_differs_only_by_grub() -> None:
    # The CI build selects grub2 through the image config, not profiles.json.
    release = Release(str(BERLIN), "x86/64")
    defaults = release.defaults()
    assert defaults is not None
    args = expand_request(
        defaults.defaults, defaults.device_packages("generic"), [], False
    )
    result = resolve(load_universe(release), args)
    manifest = release.read("targets/x86/64/openwrt-x86-64-generic.manifest")
    assert manifest is not None
    expected = set(manifest.decode().splitlines())
    assert expected - set(result.manifest()) == {
        "grub2 - 2.06-3",
        "grub2-bios-setup - 2.06-3",
        "grub2-efi - 2.06-3",
    }
    assert set(result.manifest()) < expected


def test_lede_needs_the_builders_libc() -> None:
    universe = Universe(arch="mips_24kc")
    for folder in sorted((LEDE / "packages" / "mips_24kc").iterdir()):
        universe.add(load_folder(folder))
    with pytest.raises(ResolutionError) as caught:
        resolve(universe, ["tcpdump"])
    assert caught.value.extra["missing"] == ["libc"]
    # A generated stand-in for the ImageBuilder's local libc (not upstream data).
    universe.add([Package("libc", "1.1.16-1", arch="mips_24kc", source="test")])
    installed = resolve(universe, ["tcpdump"]).versions()
    assert installed == {"libc": "1.1.16-1", "libpcap": "1.8.1-1", "tcpdump": "4.9.2-1"}


# --- the request rules (DOMAIN 1.6, 3.2) -----------------------------------


@pytest.mark.parametrize(
    ("req", "defaults", "expected"),
    [
        (["test1"], ["test1", "test2"], ["-test2", "test1"]),
        (["test1"], ["test1"], ["test1"]),
        (["test1"], ["test2", "test3"], ["-test2", "-test3", "test1"]),
        (["test1"], ["test2", "-test3"], ["-test2", "-test3", "test1"]),
        (["z", "x"], ["x", "y", "z"], ["-y", "z", "x"]),
        (["x", "z"], ["x", "y", "z"], ["-y", "x", "z"]),
        (["z", "y"], ["x", "y", "z"], ["-x", "z", "y"]),
    ],
)
def test_asu_diff_vectors(req, defaults, expected) -> None:
    assert diff_against_defaults(req, defaults) == expected


def test_expand_request_applies_removals() -> None:
    got = expand_request(
        ["ppp", "dnsmasq", "uci"], ["kmod-a", "-uci"], ["luci", "-ppp"], False
    )
    assert got == ["luci", "dnsmasq", "kernel", "kmod-a"]
    full = expand_request(["ppp", "dnsmasq"], [], ["luci", "dnsmasq"], True)
    assert full == ["luci", "dnsmasq", "kernel"]
    assert apply_removals(["a", "-a", "b"]) == ["b"]


# --- opkg's selection rules on small generated universes -------------------


def _pkg(name: str, version: str = "1", **kw) -> Package:
    deps = tuple(
        tuple(Dependency.parse(alt) for alt in group.split("|"))
        for group in kw.pop("depends", [])
    )
    conflicts = tuple(Dependency.parse(c) for c in kw.pop("conflicts", []))
    return Package(name, version, depends=deps, conflicts=conflicts, arch="all", **kw)


def test_first_satisfiable_alternative_wins() -> None:
    universe = Universe([_pkg("app", depends=["ghost | b | a"]), _pkg("a"), _pkg("b")])
    assert sorted(resolve(universe, ["app"]).installed) == ["app", "b"]


def test_installed_alternative_is_preferred() -> None:
    universe = Universe([_pkg("app", depends=["a | b"]), _pkg("a"), _pkg("b")])
    assert sorted(resolve(universe, ["b", "app"]).installed) == ["app", "b"]


def test_highest_version_meeting_the_constraint() -> None:
    universe = Universe(
        [
            _pkg("app", depends=["lib (<< 3)"]),
            _pkg("lib", "1.0"),
            _pkg("lib", "2.0"),
            _pkg("lib", "3.0"),
        ]
    )
    assert resolve(universe, ["app"]).versions()["lib"] == "2.0"
    assert resolve(universe, ["lib"]).versions()["lib"] == "3.0"


def test_provider_with_broken_dependencies_is_skipped() -> None:
    universe = Universe(
        [
            _pkg("app", depends=["virt"]),
            _pkg("p-broken", provides=("virt",), depends=["ghost"]),
            _pkg("p-good", provides=("virt",)),
        ]
    )
    assert sorted(resolve(universe, ["app"]).installed) == ["app", "p-good"]


def test_declared_conflict_is_refused_both_ways() -> None:
    universe = Universe([_pkg("a", conflicts=["b"]), _pkg("b")])
    for order in (["a", "b"], ["b", "a"]):
        with pytest.raises(ResolutionError) as caught:
            resolve(universe, order)
        assert caught.value.extra["conflicts"] == [["a", "b"]]


def test_cycles_resolve() -> None:
    universe = Universe([_pkg("a", depends=["b"]), _pkg("b", depends=["a"])])
    assert sorted(resolve(universe, ["a"]).installed) == ["a", "b"]
