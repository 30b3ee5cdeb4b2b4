"""Package changes: replacement rules and the target release's index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshforge.client.changes import PackageChange, replace_packages, version_changes
from meshforge.client.device import read_device
from meshforge.client.installed import InstalledPackages, read_installed

ROUTERS = Path(__file__).resolve().parents[3] / "data" / "upstream-samples" / "routers"
RPI = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


OWNER = {
    "auc": "0.3.2-1",
    "luci-app-opkg": "git-23.1-1",
    "opkg": "2023-1",
    "vim": "9.0-1",
    "luci-i18n-base-en": "git-23.1-1",
}


def _owner_on_x86() -> tuple[Any, InstalledPackages]:
    """The x86 sample's release with a GENERATED set of owner packages."""
    everything = {**OWNER, "libustream-openssl20201210": "2023-1"}
    return read_device(X86), InstalledPackages("opkg", OWNER, everything)


def test_same_branch_applies_only_release_wide_rules() -> None:
    device, installed = _owner_on_x86()
    wanted, changes = replace_packages(OWNER, device, installed, "23.05.5")
    assert set(wanted) == set(OWNER) - {"luci-i18n-base-en"}
    assert changes == [PackageChange("remove", "luci-i18n-base-en", "git-23.1-1")]


def test_next_branch_renames_from_the_rules_file() -> None:
    device, installed = _owner_on_x86()
    wanted, changes = replace_packages(OWNER, device, installed, "24.10.5")
    assert wanted == {
        "owut": "",
        "luci-app-package-manager": "",
        "opkg": "2023-1",
        "vim": "9.0-1",
    }
    renames = {(c.name, c.new_name) for c in changes if c.kind == "rename"}
    assert renames == {("auc", "owut"), ("luci-app-opkg", "luci-app-package-manager")}


def test_apk_variant_follows_the_tls_library() -> None:
    device, installed = _owner_on_x86()
    wanted, changes = replace_packages(OWNER, device, installed, "25.12.2")
    assert "apk-openssl" in wanted and "opkg" not in wanted
    assert PackageChange("rename", "opkg", "2023-1", new_name="apk-openssl") in changes


def test_old_device_crosses_every_rename_since_its_revision() -> None:
    device = read_device(RPI)  # 19.07.1: no branch-off known, r10911 counts
    installed = read_installed(RPI)
    wanted, changes = replace_packages(installed.user, device, installed, "23.05.6")
    assert "firewall4" in wanted and "firewall" not in wanted
    assert ("rename", "firewall") in {(c.kind, c.name) for c in changes}


def test_version_changes_updates_and_removals() -> None:
    wanted = {"a": "1-1", "b": "2-1", "gone": "3-1", "new": ""}
    keep, changes = version_changes(wanted, {"a": "1-1", "b": "2-2", "new": "5-1"})
    assert keep == {"a": "1-1", "b": "2-2", "new": "5-1"}
    assert changes == [
        PackageChange("update", "b", "2-1", "b", "2-2"),
        PackageChange("remove", "gone", "3-1"),
    ]
    _, changes = version_changes(
        {"c": "2.0-1", "d": "1.0~rc1-1"}, {"c": "1.9-1", "d": "1.0-1"}
    )
    assert [c.kind for c in changes] == ["downgrade", "update"]
    keep, changes = version_changes(wanted, None)
    assert keep == dict.fromkeys(wanted, "") and changes == []
