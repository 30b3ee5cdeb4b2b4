"""Profile derivation from board data and image choice on real profiles.json."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from meshforge.client.device import Device, board_identity, read_device
from meshforge.client.images import choose_image, resolve_profile, wanted_types
from meshforge.errors import NoMatchingImage, RouterStateError

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
ROUTERS = SAMPLES / "routers"
ARCHER = ROUTERS / "tplink-archer-c5-v4"
RPI = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus"
UBUS = ROUTERS / "ubus-system-board"
UNIFI = ROUTERS / "openwrt-19.07.3-ath79-generic"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


Profiles = dict[str, dict[str, Any]]


def test_rpi_board_resolves_through_supported_devices(profiles_2305: Profiles) -> None:
    device = read_device(RPI)
    # The board name is not a profile id: only supported_devices finds rpi-3.
    assert (
        "raspberrypi_3-model-b-plus" not in profiles_2305["bcm27xx/bcm2710"]["profiles"]
    )
    assert resolve_profile(device, profiles_2305["bcm27xx/bcm2710"]) == "rpi-3"
    assert resolve_profile(device, None) == "raspberrypi_3-model-b-plus"


def test_unifi_board_is_its_own_profile(profiles_2305: Profiles) -> None:
    device = read_device(UNIFI, UBUS / "lede-17.01.1-tplink-cpe510-v1.1.json")
    device = replace(device, release=replace(device.release, target="ath79/generic"))
    assert resolve_profile(device, profiles_2305["ath79/generic"]) == "ubnt_unifiac-pro"


def test_archer_board_json_gives_the_sanitized_profile() -> None:
    name, _ = board_identity(ARCHER, {})
    device = replace(read_device(RPI), board_name=name)
    device = replace(device, release=replace(device.release, target="ath79/generic"))
    assert resolve_profile(device, None) == "tplink_archer-c5-v4"


def test_x86_is_generic_with_and_without_profiles(profiles_2305: Profiles) -> None:
    device = read_device(X86)
    assert resolve_profile(device, profiles_2305["x86/64"]) == "generic"
    assert resolve_profile(device, None) == "generic"


def test_unknown_board_is_no_matching_image(profiles_2305: Profiles) -> None:
    device = replace(read_device(RPI), board_name="acme,router-9000")
    with pytest.raises(NoMatchingImage, match="acme,router-9000") as info:
        resolve_profile(device, profiles_2305["bcm27xx/bcm2710"])
    assert info.value.exit_code == 15


def test_missing_board_name_is_a_router_state_error() -> None:
    device: Device = read_device(UNIFI, UBUS / "lede-17.01.1-tplink-cpe510-v1.1.json")
    device = replace(device, board_name="")
    with pytest.raises(RouterStateError, match="board name is unknown"):
        resolve_profile(device, None)


def _images(profiles: Profiles, target: str, profile: str) -> list[dict[str, Any]]:
    images: list[dict[str, Any]] = profiles[target]["profiles"][profile]["images"]
    return images


@pytest.mark.parametrize(
    ("efi", "rootfs", "suffix"),
    [
        (False, "ext4", "ext4-combined.img.gz"),
        (True, "ext4", "ext4-combined-efi.img.gz"),
        (False, "squashfs", "squashfs-combined.img.gz"),
        (True, "squashfs", "squashfs-combined-efi.img.gz"),
    ],
)
def test_x86_image_follows_efi_and_filesystem(
    profiles_2305: Profiles, efi: bool, rootfs: str, suffix: str
) -> None:
    image = choose_image(
        _images(profiles_2305, "x86/64", "generic"), "x86/64", rootfs, efi
    )
    assert image.name.endswith(suffix)
    assert len(image.sha256) == 64


def test_rpi_sysupgrade_image_by_filesystem(profiles_2305: Profiles) -> None:
    images = _images(profiles_2305, "bcm27xx/bcm2710", "rpi-3")
    ext4 = choose_image(images, "bcm27xx/bcm2710", "ext4", False)
    assert (ext4.type, ext4.filesystem) == ("sysupgrade", "ext4")
    unknown = choose_image(images, "bcm27xx/bcm2710", "", False)
    assert (unknown.type, unknown.filesystem) == ("sysupgrade", "squashfs")


def test_no_image_of_the_running_filesystem(profiles_2305: Profiles) -> None:
    images = _images(profiles_2305, "ath79/generic", "ubnt_unifiac-pro")
    with pytest.raises(NoMatchingImage, match="ext4") as info:
        choose_image(images, "ath79/generic", "ext4", False)
    assert "kernel/initramfs" in info.value.detail


def test_wanted_types() -> None:
    assert wanted_types("armsr/armv8", True) == ["combined-efi"]
    assert wanted_types("ramips/mt7621", False) == ["sysupgrade", "combined", "sdcard"]


def test_lede_x86_ubus_sample_is_generic() -> None:
    board = UBUS / "lede-snapshot-r4144-x86-64-qemu.json"
    device = read_device(X86, board)
    assert (device.release.version, device.release.target) == ("SNAPSHOT", "x86/64")
    assert device.release.revision_number == 4144
    assert resolve_profile(device, None) == "generic"


def test_missing_board_name_with_profiles_json(profiles_2305: Profiles) -> None:
    device = replace(read_device(RPI), board_name="")
    with pytest.raises(RouterStateError, match="board name is unknown") as info:
        resolve_profile(device, profiles_2305["bcm27xx/bcm2710"])
    assert info.value.exit_code == 11
    x86 = replace(device, release=replace(device.release, target="x86/64"))
    assert resolve_profile(x86, profiles_2305["x86/64"]) == "generic"


def test_supported_devices_as_text_is_not_a_substring_match() -> None:
    device = replace(read_device(RPI), board_name="acme,router")
    profiles = {"profiles": {"big": {"supported_devices": "acme,router-9000"}}}
    with pytest.raises(NoMatchingImage):
        resolve_profile(device, profiles)
