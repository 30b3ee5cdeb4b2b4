"""Reading release, board, filesystem and EFI from real root samples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from meshforge.client.device import (
    board_identity,
    configured_server,
    load_board,
    read_device,
    read_shell_vars,
    rootfs_type,
)
from meshforge.errors import RouterStateError

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
ROUTERS = SAMPLES / "routers"
ARCHER = ROUTERS / "tplink-archer-c5-v4"
RPI = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus"
UBUS = ROUTERS / "ubus-system-board"
UNIFI = ROUTERS / "openwrt-19.07.3-ath79-generic"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


def test_openwrt_release_is_read_from_the_rpi_sample() -> None:
    device = read_device(RPI)
    release = device.release
    assert (release.version, release.revision) == ("19.07.1", "r10911-c155900f66")
    assert release.target == "brcm2708/bcm2710"
    assert release.arch == "aarch64_cortex-a53"
    assert release.revision_number == 10911
    assert device.board_name == "raspberrypi,3-model-b-plus"
    assert device.model == "Raspberry Pi 3 Model B Plus Rev 1.3"


def test_x86_sample_without_board_json_has_no_board_name() -> None:
    device = read_device(X86)
    assert device.release.version == "23.05-SNAPSHOT"
    assert device.release.target == "x86/64"
    assert device.board_name == ""


def test_os_release_alone_is_enough(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    shutil.copy(X86 / "usr/lib/os-release", tmp_path / "usr/lib/os-release")
    release = read_device(tmp_path).release
    assert (release.version, release.revision) == (
        "23.05-SNAPSHOT",
        "r23633-c7b6cfac40",
    )
    assert (release.target, release.arch) == ("x86/64", "x86_64")


def test_ubus_output_wins_and_unescapes_slashes() -> None:
    board = UBUS / "lede-17.01.1-tplink-cpe510-v1.1.json"
    device = read_device(UNIFI, board)
    # The ubus sample is LEDE 17.01.1 on ar71xx although the folder is 19.07.3.
    assert device.release.version == "17.01.1"
    assert device.release.target == "ar71xx/generic"
    assert device.release.distribution == "LEDE"
    # ubus of this age has no board_name: /etc/board.json of the root fills in.
    assert device.board_name == "ubnt,unifiac-pro"
    assert device.model == "TP-Link CPE510 v1.1"


def test_board_json_alone_gives_identity_but_no_release() -> None:
    assert board_identity(ARCHER, {}) == ("tplink,archer-c5-v4", "TP-Link Archer C5 v4")
    with pytest.raises(RouterStateError, match="Cannot tell which OpenWrt release"):
        read_device(ARCHER)


def test_rootfs_type_from_ubus() -> None:
    assert rootfs_type(Path("/nonexistent"), {"rootfs_type": "ext4"}) == "ext4"


def test_rootfs_type_from_proc_mounts_prefers_rom(tmp_path: Path) -> None:
    # Generated /proc/mounts in the shape of a squashfs+overlay OpenWrt.
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/mounts").write_text(
        "/dev/root /rom squashfs ro,relatime 0 0\n"
        "proc /proc proc rw 0 0\n"
        "overlayfs:/overlay / overlay rw,noatime 0 0\n"
        "/dev/mtdblock5 /overlay jffs2 rw 0 0\n"
    )
    assert rootfs_type(tmp_path, {}) == "squashfs"


def test_rootfs_type_from_proc_mounts_plain_root(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/mounts").write_text("/dev/root / ext4 rw,noatime 0 0\n")
    assert rootfs_type(tmp_path, {}) == "ext4"
    assert rootfs_type(RPI, {}) == ""


def test_efi_is_read_from_sys_firmware(tmp_path: Path) -> None:
    shutil.copytree(X86, tmp_path / "root")
    root = tmp_path / "root"
    assert read_device(root).efi is False
    (root / "sys/firmware/efi").mkdir(parents=True)
    assert read_device(root).efi is True


def test_broken_board_json_is_a_router_state_error(tmp_path: Path) -> None:
    bad = tmp_path / "board.json"
    bad.write_text("{not json")
    with pytest.raises(RouterStateError) as info:
        read_device(RPI, bad)
    assert info.value.exit_code == 11
    assert "not JSON" in info.value.detail


def test_board_json_that_is_a_list_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "board.json"
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(RouterStateError, match="not a JSON object"):
        read_device(RPI, bad)


def test_shell_vars_handles_both_quote_styles(tmp_path: Path) -> None:
    path = tmp_path / "vars"
    path.write_text("A='one two'\nB=\"three\"\n# comment\nnot a line\n")
    assert read_shell_vars(path) == {"A": "one two", "B": "three"}


def test_server_url_from_attendedsysupgrade_config(tmp_path: Path) -> None:
    assert configured_server(tmp_path) == ""
    (tmp_path / "etc/config").mkdir(parents=True)
    # Generated UCI file in the shape attendedsysupgrade-common installs.
    (tmp_path / "etc/config/attendedsysupgrade").write_text(
        "config client 'client'\n\toption url 'http://wrong.invalid'\n\n"
        "config server 'server'\n\toption url 'http://192.0.2.10:8000'\n"
    )
    assert configured_server(tmp_path) == "http://192.0.2.10:8000"


def _fake_ubus(folder: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put a stand-in ``ubus`` first on PATH (this machine is no router)."""
    tool = folder / "ubus"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")


def test_live_ubus_is_run_only_for_the_real_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = UBUS / "lede-snapshot-r4144-x86-64-qemu.json"
    _fake_ubus(
        tmp_path, f'[ "$*" = "call system board" ] && cat {sample}\n', monkeypatch
    )
    assert load_board(Path("/"), None)["release"]["revision"] == "r4144-a131b892ea"
    assert load_board(X86, None) == {}


def test_failing_live_ubus_is_a_router_state_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_ubus(tmp_path, "echo 'Failed to connect to ubus' >&2\nexit 4\n", monkeypatch)
    with pytest.raises(RouterStateError, match="Failed to connect to ubus"):
        load_board(Path("/"), None)
