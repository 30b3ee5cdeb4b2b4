"""The update availability check over given releases and indexes."""

from __future__ import annotations

import json

import pytest

from meshforge.errors import BadRequest
from meshforge.packages.index import Universe
from meshforge.packages.upgrade import check_upgrade, installed_from_status, release_key
from tests.conftest import SAMPLES

VERSIONS = json.loads((SAMPLES / "asu-fixtures" / ".versions.json").read_text())


def test_release_order() -> None:
    keys = [release_key(v) for v in ("25.12.0-rc1", "25.12.0", "25.12.1")]
    assert None not in keys
    assert keys == sorted(keys, key=lambda k: k or (0, 0, 0, 0))
    assert len(set(keys)) == 3
    assert release_key("SNAPSHOT") is None


def test_nothing_newer_is_none() -> None:
    assert (
        check_upgrade(
            "openwrt",
            "24.10.4",
            "x86/64",
            {"a": "1"},
            versions_list=["24.10.4"],
            indexes={},
        )
        is None
    )


def test_unknown_distro() -> None:
    with pytest.raises(BadRequest, match="Unsupported distribution"):
        check_upgrade("lede", "17.01.4", "x86/64", {}, versions_list=[], indexes={})


def test_real_router_from_23_05(universe_24: Universe) -> None:
    status = (
        SAMPLES / "routers/openwrt-23.05-SNAPSHOT-r23633-x86-64/usr/lib/opkg/status"
    )
    installed = installed_from_status(status.read_text())
    index_24 = {p.stripped_name: p.version for p in universe_24.packages}
    check = check_upgrade(
        "OpenWrt",
        "23.05.5",
        "x86/64",
        installed,
        versions_list=["23.05.5", "24.10.3", "24.10.4", "25.12.0-rc1"],
        indexes={"24.10.4": index_24},
    )
    assert check is not None
    assert check.branch_latest is None  # 23.05.5 is its branch's newest here
    assert check.next_branch_latest == "24.10.4"  # rc ignored
    assert {a.rule for a in check.replacements} == {
        "luci-app-package-manager",
        "luci-i18n-package-manager",
    }
    assert "luci-app-package-manager" in check.next_packages
    assert "luci-app-package-manager" not in check.missing
    assert "luci-app-opkg" not in check.next_packages
    assert "luci-app-ekooneplstat" in check.missing  # not in the official feeds
    body = check.to_json()
    assert json.loads(json.dumps(body))["next_branch_latest"] == "24.10.4"


def test_updates_inside_the_branch() -> None:
    check = check_upgrade(
        "openwrt",
        "24.10.3",
        "x86/64",
        {"luci": "25.1~aaa", "uci": "2025.01.20~16ff0bad-r1", "gone": "1"},
        versions_list=VERSIONS["versions_list"] + ["24.10.3", "24.10.4"],
        indexes={
            "24.10.4": {"luci": "26.148.37199~3cf713a", "uci": "2025.01.20~16ff0bad-r1"}
        },
    )
    assert check is not None
    assert check.branch_latest == "24.10.4"
    assert [(u.name, u.available) for u in check.updates] == [
        ("luci", "26.148.37199~3cf713a")
    ]
