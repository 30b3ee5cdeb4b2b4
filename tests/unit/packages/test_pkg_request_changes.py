import pytest

from meshforge.packages.replacements import for_request
from meshforge.packages.upgrade import check_upgrade


@pytest.mark.parametrize(
    "version,target,packages,expected",
    [
        ("24.10.4", "x86/64", ["auc", "luci"], ["owut", "luci"]),
        ("22.03.5", "x86/64", ["firewall"], ["firewall4"]),
        (
            "SNAPSHOT",
            "x86/64",
            ["opkg", "luci-app-opkg"],
            ["apk-mbedtls", "luci-app-package-manager"],
        ),
        ("19.07.10", "ath79/generic", ["firewall", "auc"], ["firewall", "auc"]),
        (
            "24.10.4",
            "x86/64",
            ["luci-i18n-base-en", "luci-i18n-base-de"],
            ["luci-i18n-base-de"],
        ),
    ],
)
def test_requests_follow_the_changes_up_to_their_branch(
    version, target, packages, expected
):
    assert sorted(for_request(packages, version, target).packages) == sorted(expected)


def test_mediatek_24_10_gets_fitblk():
    assert "fitblk" in for_request(["luci"], "24.10.4", "mediatek/filogic").packages
    assert "fitblk" not in for_request(["luci"], "24.10.4", "x86/64").packages


def test_a_branch_with_only_a_snapshot_is_no_upgrade_target():
    check = check_upgrade(
        "openwrt",
        "19.07.1",
        "ath79/generic",
        {"firewall": "1"},
        versions_list=["23.05.5", "22.03-SNAPSHOT", "19.07.10"],
        indexes={},
    )
    assert check is not None
    assert check.next_branch_latest == "23.05.5"
