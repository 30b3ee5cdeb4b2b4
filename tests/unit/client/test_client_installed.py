"""User-installed packages from real opkg status files and from apk world."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshforge.client.installed import read_installed
from meshforge.errors import RouterStateError

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
ROUTERS = SAMPLES / "routers"
RPI = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus"
UNIFI = ROUTERS / "openwrt-19.07.3-ath79-generic"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


def _count_from_sample(root: Path) -> int:
    """Installed stanzas minus auto-installed ones, counted with plain regexes."""
    text = (root / "usr/lib/opkg/status").read_text()
    stanzas = [s for s in re.split(r"\n\s*\n", text) if s.strip()]
    installed = [
        s for s in stanzas if re.search(r"^Status: \S+ \S+ installed$", s, re.M)
    ]
    auto = [s for s in installed if re.search(r"^Auto-Installed: yes$", s, re.M)]
    return len(installed) - len(auto)


@pytest.mark.parametrize("root", [RPI, X86], ids=["rpi-19.07.1", "x86-23.05-snap"])
def test_user_package_count_matches_the_sample(root: Path) -> None:
    packages = read_installed(root)
    assert packages.manager == "opkg"
    assert len(packages.user) == _count_from_sample(root)
    assert len(packages.all) == len(
        re.findall(r"^Package:", (root / "usr/lib/opkg/status").read_text(), re.M)
    )


def test_rpi_named_packages() -> None:
    user = read_installed(RPI).user
    assert user["luci"] == "git-20.029.45734-adbbd5c-1"
    assert user["iwinfo"] == "2019-10-16-07315b6f-1"
    assert user["opkg"] == "2020-01-25-c09fe209-1"
    assert "batctl-default" in user
    # Pulled in as dependencies: present, but not the owner's choice.
    for name in ("liblucihttp0", "libc", "luci-app-opkg", "cgi-io"):
        assert name not in user
        assert name in read_installed(RPI).all


def test_x86_abi_suffixes_are_stripped() -> None:
    user = read_installed(X86).user
    assert "libusb-1.0" in user and "libusb-1.0-0" not in user
    assert "libustream-mbedtls" in user
    assert "libf2fs" in user
    assert "luci-ssl" in user and "dnsmasq" in user
    assert "kernel" not in user and "iwinfo" not in user


def test_not_installed_stanzas_are_skipped(tmp_path: Path) -> None:
    # Generated status file: one installed, one only wanted.
    (tmp_path / "usr/lib/opkg").mkdir(parents=True)
    (tmp_path / "usr/lib/opkg/status").write_text(
        "Package: a\nVersion: 1-1\nStatus: install user installed\n\n"
        "Package: b\nVersion: 2-1\nStatus: install user not-installed\n\n"
        "Package: c\nVersion: 3-1\nStatus: install ok half-configured\n"
    )
    assert read_installed(tmp_path).user == {"a": "1-1"}


def test_apk_world_and_installed_db(tmp_path: Path) -> None:
    # Generated apk files in the documented shapes (DOMAIN §4.3, §2.1).
    (tmp_path / "etc/apk").mkdir(parents=True)
    (tmp_path / "lib/apk/db").mkdir(parents=True)
    (tmp_path / "etc/apk/world").write_text("luci\nfoo=1.2-r1\nbar>=2\nbaz@testing\n")
    (tmp_path / "lib/apk/db/installed").write_text(
        "C:Q1abc=\nP:luci\nV:25.330.1~abc-r1\n\nP:foo\nV:1.2-r1\n\nP:libfoo\nV:3-r1\n"
    )
    packages = read_installed(tmp_path)
    assert packages.manager == "apk"
    assert packages.user == {
        "bar": "",
        "baz": "",
        "foo": "1.2-r1",
        "luci": "25.330.1~abc-r1",
    }
    assert packages.all["libfoo"] == "3-r1"


def test_no_database_is_an_error() -> None:
    with pytest.raises(RouterStateError, match="No package database") as info:
        read_installed(UNIFI)
    assert info.value.exit_code == 11
