"""The replacement table: schema, semantics, and real router samples."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshforge.errors import ConfigError
from meshforge.packages.replacements import (
    RULES_FILE,
    apply_rules,
    load_rule_set,
    load_rules,
)
from meshforge.packages.upgrade import installed_from_status
from tests.conftest import SAMPLES

ROUTERS = SAMPLES / "routers"
RPI_19 = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus/usr/lib/opkg/status"
X86_23 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64/usr/lib/opkg/status"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_shipped_table_is_valid_and_has_the_domain_changes() -> None:
    rule_set = load_rule_set()
    by_id = {r.id: r for r in rule_set.rules}
    assert (by_id["firewall4"].source, by_id["firewall4"].revision) == (
        "firewall",
        18611,
    )
    assert by_id["owut"].revision == 26792
    assert by_id["luci-app-package-manager"].revision == 27897
    assert by_id["apk"].kind == "choice" and by_id["apk"].revision == 28056
    assert {r.id for r in rule_set.rules if r.revision == 21994} == {
        "libustream-mbedtls",
        "px5g-mbedtls",
        "wpad-basic-mbedtls",
    }
    assert rule_set.branches["24.10"] == 27990


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "rename", "target": None}, "target"),
        ({"kind": "explode"}, "kind"),
        ({"release": "24.10"}, "rules/0"),  # both revision and release
        ({"source": "bad name"}, "source"),
    ],
)
def test_schema_rejects_broken_rules(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    rule = {
        "id": "x",
        "kind": "rename",
        "source": "a",
        "target": "b",
        "revision": 1,
        "note": "n",
    }
    rule.update(change)
    rule = {k: v for k, v in rule.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        load_rules(_write(tmp_path, {"rules": [rule]}))


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    rule = {"id": "x", "kind": "remove", "source": "a", "revision": 1, "note": "n"}
    with pytest.raises(ConfigError, match="repeats"):
        load_rules(_write(tmp_path, {"rules": [rule, rule]}))


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_rules(tmp_path / "absent.yaml")


# --- semantics on generated rules (not upstream data) ----------------------

GENERATED = {
    "rules": [
        {
            "id": "r",
            "kind": "rename",
            "source": "old",
            "target": "new",
            "revision": 10,
            "note": "t",
        },
        {
            "id": "s",
            "kind": "split",
            "source": "big",
            "targets": ["big-core", "big-extra"],
            "default": "big-core",
            "revision": 20,
            "note": "t",
        },
        {
            "id": "c",
            "kind": "choice",
            "source": "tool",
            "when": [{"installed": ["libssl-openssl*"], "target": "tool-openssl"}],
            "default": "tool-mbedtls",
            "revision": 30,
            "note": "t",
        },
        {"id": "d", "kind": "remove", "source": "gone", "revision": 40, "note": "t"},
        {
            "id": "chain",
            "kind": "rename",
            "source": "new",
            "target": "newer",
            "revision": 50,
            "note": "t",
        },
    ]
}


def test_each_kind(tmp_path: Path) -> None:
    rules = load_rules(_write(tmp_path, GENERATED))
    packages = {"old": "1", "big": "2", "tool": "3", "gone": "4", "keep": "5"}
    result = apply_rules(rules, packages, 0, 45)
    assert result.packages == ["new", "big-core", "tool-mbedtls", "keep"]
    assert result.versions == {"keep": "5"}
    split = next(a for a in result.applied if a.rule == "s")
    assert split.alternatives == ("big-extra",)
    chosen = apply_rules(rules, ["tool"], 0, 45, installed=["tool", "libssl-openssl3"])
    assert chosen.packages == ["tool-openssl"]
    assert apply_rules(rules, ["old"], 0, 60).packages == ["newer"]  # chained
    assert apply_rules(rules, ["old"], 10, 45).packages == ["old"]  # already past
    assert not apply_rules(rules, ["keep"], 0, 60).changed


# --- real router root filesystems -------------------------------------------


def test_19_07_router_to_24_10() -> None:
    installed = installed_from_status(RPI_19.read_text())
    assert len(installed) == 153
    rule_set = load_rule_set()
    to = rule_set.branches["24.10"]
    result = apply_rules(rule_set.rules, installed, 10911, to, to_release="24.10.4")
    moved = {(a.removed, a.added) for a in result.applied}
    assert moved == {
        (("firewall",), ("firewall4",)),
        (("luci-app-opkg",), ("luci-app-package-manager",)),
    }
    assert "opkg" in result.packages  # 24.10 branched off before apk (28056)
    assert len(result.packages) == 153


def test_23_05_router_to_snapshot_follows_its_tls_library() -> None:
    installed = installed_from_status(X86_23.read_text())
    assert "libustream-mbedtls" in installed  # ABI suffix stripped
    rule_set = load_rule_set()
    start = rule_set.branches["23.05"]
    result = apply_rules(rule_set.rules, installed, start, 32500, to_release="SNAPSHOT")
    added = {a.rule: a.added for a in result.applied}
    assert added["apk"] == ("apk-mbedtls",)
    assert added["luci-i18n-package-manager"] == ("luci-i18n-package-manager-pl",)
    assert "kmod-nf-conntrack6" not in result.packages
    with_openssl = [*installed, "libustream-openssl20201210"]
    again = apply_rules(rule_set.rules, installed, start, 32500, installed=with_openssl)
    assert {a.rule: a.added for a in again.applied}["apk"] == ("apk-openssl",)


def test_release_and_target_bound_rules() -> None:
    rules = load_rules(RULES_FILE)
    plain = apply_rules(
        rules, ["luci", "luci-i18n-base-en"], 1, 1, to_release="23.05.5"
    )
    assert plain.packages == ["luci"]
    media = apply_rules(
        rules, ["luci"], 1, 1, to_release="24.10.1", device_target="mediatek/filogic"
    )
    assert media.packages == ["luci", "fitblk"]
    x86 = apply_rules(
        rules, ["luci"], 1, 1, to_release="24.10.1", device_target="x86/64"
    )
    assert x86.packages == ["luci"]
