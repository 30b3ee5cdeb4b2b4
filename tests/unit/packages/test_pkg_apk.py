"""apk-era metadata: index v2, apk constraints, the installed database."""

from __future__ import annotations

import json

import pytest

from meshforge.errors import FormatError, ResolutionError
from meshforge.packages.adb import read_adb_index
from meshforge.packages.index import Dependency, Package, Universe
from meshforge.packages.release import Release, load_universe
from meshforge.packages.resolver import expand_request, resolve
from meshforge.packages.upgrade import installed_from_apk_db, world_names
from meshforge.packages.versions import apk_satisfies, satisfies
from tests.conftest import SAMPLES

APK_25 = SAMPLES / "openwrt-25.12.2-thirdparty-homeproxy-x86-64-apk"


def test_real_index_v2_universe() -> None:
    data = json.loads((APK_25 / "targets/x86/64/packages/index.json").read_text())
    universe = Universe.from_index_json(data)
    assert universe.format == "apk"
    assert len(universe) == len(data["packages"])
    assert universe.version_of("kernel") == data["packages"]["kernel"]
    result = resolve(universe, ["base-files", "kernel"])
    assert result.versions()["base-files"] == data["packages"]["base-files"]
    with pytest.raises(ResolutionError) as caught:
        resolve(universe, ["base-files", "no-such-package"])
    assert caught.value.extra["missing"] == ["no-such-package"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("luci", Dependency("luci")),
        ("foo=1.2-r1", Dependency("foo", "=", "1.2-r1")),
        ("bar>=2", Dependency("bar", ">=", "2")),
        ("baz<~1.2", Dependency("baz", "<~", "1.2")),
        ("qux~1.2", Dependency("qux", "~", "1.2")),
    ],
)
def test_world_dependencies(text: str, expected: Dependency) -> None:
    assert Dependency.parse_apk(text) == expected


def test_bad_world_line() -> None:
    with pytest.raises(FormatError):
        Dependency.parse_apk("foo >= 2")


@pytest.mark.parametrize(
    ("version", "op", "wanted", "expected"),
    [
        ("1.2.3-r1", "~", "1.2", True),  # fuzzy: a prefix of tokens
        ("1.3-r1", "~", "1.2", False),
        ("1.2-r1", "=", "1.2-r1", True),
        ("1.2-r1", "<", "1.2-r1", False),  # unlike opkg, no equality quirk
        ("1.2-r1", "<=", "1.2-r1", True),
        ("2025.07.23~49056d17-r1", ">", "2025.07.23-r1", True),
    ],
)
def test_apk_constraints(version: str, op: str, wanted: str, expected: bool) -> None:
    assert apk_satisfies(version, op, wanted) is expected
    assert satisfies(version, op, wanted, "apk") is expected


def test_apk_universe_picks_by_apk_order() -> None:
    universe = Universe(
        [
            Package("app", "1-r1", depends=((Dependency("lib", ">", "1.0-r1"),),)),
            Package("lib", "1.0-r1"),
            Package("lib", "1.0~abc1-r1"),  # apk: a hash sorts after no hash
        ],
        format="apk",
    )
    assert resolve(universe, ["app"]).versions()["lib"] == "1.0~abc1-r1"


def test_installed_db_and_world() -> None:
    # Generated in apk's installed-database shape, not copied from a device.
    db = "C:Q1abc=\nP:luci\nV:26.1~abc-r1\nA:all\n\nP:uci\nV:2025.01.20~16ff0bad-r1\n"
    assert installed_from_apk_db(db) == {
        "luci": "26.1~abc-r1",
        "uci": "2025.01.20~16ff0bad-r1",
    }
    assert world_names("luci\nfoo=1.2-r1\nbar>=2\n") == ["luci", "foo", "bar"]


# --- packages.adb ----------------------------------------------------------

ADB_FEEDS = [
    "targets/x86/64/packages",
    "packages/x86_64/base",
    "packages/x86_64/luci",
    "packages/x86_64/packages",
    "packages/x86_64/routing",
]


@pytest.mark.parametrize("feed", ADB_FEEDS)
def test_adb_index_agrees_with_index_json(feed: str) -> None:
    packages = read_adb_index((APK_25 / feed / "packages.adb").read_bytes(), feed)
    listed = json.loads((APK_25 / feed / "index.json").read_text())["packages"]
    assert {p.stripped_name: p.version for p in packages} == listed


def test_adb_relations() -> None:
    packages = read_adb_index((APK_25 / ADB_FEEDS[0] / "packages.adb").read_bytes())
    by_name = {p.name: p for p in packages}
    kmod = by_name["kmod-3c59x"]
    assert kmod.depends[0] == (
        Dependency("kernel", "=", "6.12.74~88179747d2159675e813164f0cac1785-r1"),
    )
    assert "kmod-3c59x-any" in kmod.provides
    assert by_name["libc"].arch == "x86_64"


def test_not_an_adb() -> None:
    with pytest.raises(FormatError, match="Not an apk v3 package index"):
        read_adb_index(b"Package: foo\n")


def test_apk_release_defaults_and_manifest_closure() -> None:
    release = Release(str(APK_25), "x86/64")
    universe = load_universe(release)
    assert universe.format == "apk" and len(universe) == 1497
    defaults = release.defaults()
    assert defaults is not None
    args = expand_request(
        defaults.defaults, defaults.device_packages("generic"), [], False
    )
    manifest = (APK_25 / "targets/x86/64/openwrt-x86-64-generic.manifest").read_text()
    lines = manifest.splitlines()
    # This third-party build added packages of its own (e.g. homeproxy) on top
    # of the defaults, so the defaults resolve to a subset of its manifest ...
    resolved = resolve(universe, args).manifest()
    assert len(resolved) == 144 and set(resolved) < set(lines)
    # ... and its own package list is closed: resolving it yields it exactly.
    names = [line.split(" - ")[0] for line in lines]
    assert resolve(universe, names).manifest() == lines
