"""User-installed packages from real opkg status files and from apk world."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from meshforge.client.device import Release
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


def _opkg_root(tmp_path: Path, status: bytes) -> Path:
    (tmp_path / "usr/lib/opkg").mkdir(parents=True)
    (tmp_path / "usr/lib/opkg/status").write_bytes(status)
    return tmp_path


@pytest.mark.parametrize(
    "status",
    [b"", b"\n\n", bytes(range(256)) * 4, b"Package: \x01bad\nStatus: i u installed\n"],
)
def test_empty_or_garbage_opkg_status_is_exit_11(tmp_path: Path, status: bytes) -> None:
    with pytest.raises(RouterStateError, match="empty or damaged") as info:
        read_installed(_opkg_root(tmp_path, status))
    assert info.value.exit_code == 11


def test_invalid_opkg_names_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="meshforge.client.installed")
    # Generated status file: one good stanza, two damaged names.
    root = _opkg_root(
        tmp_path,
        b"Package: tcpdump\nVersion: 4.9-1\nStatus: install user installed\n\n"
        b"Package: ../x\nVersion: 1\nStatus: install user installed\n\n"
        b"Package: a\x07b\nVersion: 1\nStatus: install user installed\n",
    )
    assert read_installed(root).user == {"tcpdump": "4.9-1"}
    assert caplog.text.count("not a valid package name") == 2


def _apk_root(tmp_path: Path, world: bytes) -> Path:
    (tmp_path / "etc/apk").mkdir(parents=True)
    (tmp_path / "etc/apk/world").write_bytes(world)
    return tmp_path


def test_apk_world_negations_spaces_and_control_bytes(tmp_path: Path) -> None:
    root = _apk_root(tmp_path, b"!ppp luci  tcpdump>=4\tmtr\nbad\x01name\n!odhcpd\n")
    assert list(read_installed(root).user) == ["luci", "mtr", "tcpdump"]


def test_empty_apk_world_is_exit_11(tmp_path: Path) -> None:
    with pytest.raises(RouterStateError, match="empty or damaged"):
        read_installed(_apk_root(tmp_path, b"!ppp\n"))


@pytest.mark.parametrize(
    ("version", "revision", "manager"),
    [
        ("24.10.5", "r28427-6df0e3d02a", "opkg"),
        ("23.05-SNAPSHOT", "r23633-c7b6cfac40", "opkg"),
        ("25.12.2", "r32713-f919e7899d", "apk"),
        ("SNAPSHOT", "r28100-0123456789", "apk"),
        ("SNAPSHOT", "r27000-0123456789", "opkg"),
    ],
)
def test_both_databases_choose_by_release(
    tmp_path: Path, version: str, revision: str, manager: str
) -> None:
    root = _opkg_root(
        tmp_path, b"Package: tcpdump\nVersion: 4.9-1\nStatus: install user installed\n"
    )
    _apk_root(root, b"luci\n")
    release = Release("OpenWrt", version, revision, "x86/64")
    packages = read_installed(root, release)
    assert packages.manager == manager
    expected = ["tcpdump"] if manager == "opkg" else ["luci"]
    assert list(packages.user) == expected
