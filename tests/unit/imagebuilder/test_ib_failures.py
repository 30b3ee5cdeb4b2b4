from __future__ import annotations

import pytest

from meshforge.imagebuilder.failures import MakeResult, explain_failure

OUTPUTS = "data/upstream-samples/openwrt-24.10.4/imagebuilder-outputs"


def failed(stderr: str, stdout: str = "", code: int = 2) -> MakeResult:
    return MakeResult(["make", "manifest", "PROFILE=p"], code, stdout, stderr)


def test_real_opkg_unknown_package(pytestconfig):
    folder = pytestconfig.rootpath / OUTPUTS
    result = failed(
        (folder / "opkg-install-unknown-package.stderr.txt").read_text(),
        (folder / "opkg-install-unknown-package.stdout.txt").read_text(),
        255,
    )

    error = explain_failure(result, "generic")

    assert error.permanent
    assert error.extra["missing"] == ["luci2s"]
    assert error.extra["conflicts"] == []
    assert error.detail.startswith("Impossible package selection (not found: luci2s)")


def test_real_incomplete_ib_failure_is_not_blamed_on_packages(pytestconfig):
    stderr = (
        pytestconfig.rootpath / OUTPUTS / "manifest-generic-incomplete-ib.stderr.txt"
    ).read_text()

    error = explain_failure(failed(stderr), "generic")

    assert not error.permanent
    assert "'make manifest' exited with code 2" in error.detail
    assert error.extra["stderr"].endswith("Error 2\n")


# The outputs below are written by hand in the shapes opkg, apk and the
# ImageBuilder Makefile print; they are not captured upstream output.
OPKG_CONFLICT = """\
Collected errors:
 * check_conflicts_for: The following packages conflict with dnsmasq-full:
 * check_conflicts_for: \tdnsmasq *
 * opkg_install_cmd: Cannot install package dnsmasq-full.
"""
OPKG_CLASH = """\
Collected errors:
 * check_data_file_clashes: Package wpad-basic wants to install file /usr/sbin/hostapd
\tBut that file is already provided by package  * wpad-mini
 * opkg_install_cmd: Cannot install package wpad-basic.
"""
APK_MISSING = """\
ERROR: unable to select packages:
  opkg (no such package):
    required by: world[opkg]
"""
APK_CONFLICT = """\
ERROR: unable to select packages:
  nftables-json:
    conflicts: nftables-nojson[nftables=1.1.6-r1]
    satisfies: world[nftables-json]
"""


@pytest.mark.parametrize(
    ("stderr", "missing", "conflicts"),
    [
        (OPKG_CONFLICT, [], ["dnsmasq", "dnsmasq-full"]),
        (OPKG_CLASH, [], ["wpad-basic", "wpad-mini"]),
        (APK_MISSING, ["opkg"], []),
        (APK_CONFLICT, [], ["nftables-json", "nftables-nojson"]),
    ],
)
def test_package_selection_shapes(stderr, missing, conflicts):
    error = explain_failure(failed(stderr), "p")
    assert error.permanent
    assert (error.extra["missing"], error.extra["conflicts"]) == (missing, conflicts)
    assert "Impossible package selection" in error.detail


def test_image_too_big_names_image_and_limit():
    stderr = (
        "WARNING: Image file /ib/build_dir/tmp/openwrt-ath79-generic-x-squashfs-"
        "sysupgrade.bin is too big: 8126465 > 7995392\n"
    )
    error = explain_failure(failed(stderr), "x")
    assert error.detail.startswith("Selected packages exceed device storage")
    assert "openwrt-ath79-generic-x-squashfs-sysupgrade.bin" in error.detail
    assert "8126465 bytes, the device allows 7995392" in error.detail
    assert "rootfs_size_mb" in error.detail
    assert error.permanent


def test_out_of_space_is_storage_too():
    error = explain_failure(failed("mkfs.jffs2: write failed (out of space?)\n"), "x")
    assert "exceed device storage" in error.detail


def test_unknown_profile():
    error = explain_failure(failed("", 'Profile "nope" does not exist!\n', 1), "nope")
    assert error.permanent
    assert "has no profile 'nope'" in error.detail


def test_opkg_after_the_apk_switch_gets_a_hint():
    error = explain_failure(failed(APK_MISSING), "p")
    assert "use apk: ask for apk-mbedtls" in error.detail
    assert "conflicting" not in error.detail


@pytest.mark.parametrize(
    ("stderr", "named"),
    [
        (
            "WARNING: Kernel for /b/openwrt-x-factory.bin is too big > 3m\n",
            "the kernel of openwrt-x-factory.bin is over its limit of 3m",
        ),
        ("WARNING: Image file /b/old.bin is too big\n", "the image old.bin is too big"),
        ("something else is too big\n", "an image is too big"),
    ],
)
def test_other_size_warnings(stderr, named):
    error = explain_failure(failed(stderr), "x")
    assert error.detail == (
        f"Selected packages exceed device storage: {named}. Remove packages, or "
        "if the device has room beyond its default partition, try rootfs_size_mb."
    )
