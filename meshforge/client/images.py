"""Which profile the device is, and which built image it must flash.

The profile follows owut: the board name is looked up in the release's
``profiles.json`` (its ids, then each profile's ``supported_devices``),
because ids and board names differ (``raspberrypi,3-model-b-plus`` is
``rpi-3``). Without profiles.json it falls back to auc and LuCI: the board
name with ``,`` → ``_``, and ``generic`` on x86.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from meshforge.client.device import Device
from meshforge.errors import NoMatchingImage, RouterStateError, ServerUnavailable

log = logging.getLogger(__name__)

# Targets whose images are whole disks: one ``generic`` profile, and
# ``combined`` images instead of ``sysupgrade`` ones (owut, LuCI).
DISK_TARGETS = ("x86", "armsr", "loongarch")


def is_disk_target(target: str) -> bool:
    return target.split("/", 1)[0] in DISK_TARGETS


def sanitize_board(board_name: str) -> str:
    return board_name.replace(",", "_")


def resolve_profile(device: Device, profiles: dict[str, Any] | None) -> str:
    """The ImageBuilder profile id of ``device`` for one release."""
    known = (profiles or {}).get("profiles") or {}
    generic_only = isinstance(known, dict) and list(known) == ["generic"]
    if not isinstance(known, dict) or not all(
        isinstance(data, dict) for data in known.values()
    ):
        raise ServerUnavailable(
            f"The profiles.json of {device.release.target} is malformed: "
            "'profiles' is not an object of objects. Tell the server operator."
        )
    if generic_only or (not known and is_disk_target(device.release.target)):
        return "generic"
    if not device.board_name:
        raise RouterStateError(
            "The board name is unknown: no ubus board output, /etc/board.json "
            "or /tmp/sysinfo/board_name. Pass --board-json with the output of "
            "`ubus call system board`."
        )
    if known:
        return _profile_from_list(device, known)
    return sanitize_board(device.board_name)


def _profile_from_list(device: Device, known: dict[str, Any]) -> str:
    wanted = sanitize_board(device.board_name)
    if wanted in known:
        return wanted
    for profile_id, data in known.items():
        devices = data.get("supported_devices") or []
        # A string here would turn ``in`` into a substring test.
        if isinstance(devices, list) and device.board_name in devices:
            return str(profile_id)
    if "generic" in known:
        return "generic"
    raise NoMatchingImage(
        f"No profile of {device.release.target} supports the board "
        f"'{device.board_name}'. The release may have dropped this device; "
        "check the device page of the OpenWrt wiki before upgrading."
    )


@dataclass(frozen=True)
class Image:
    """One image of a build response or of profiles.json."""

    name: str
    type: str
    filesystem: str
    sha256: str
    size: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> Image:
        size = data.get("size") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("name"), str)
            or not isinstance(size, int | None)
            or not isinstance(data.get("sha256", ""), str)
        ):
            raise ServerUnavailable(
                f"The build answer lists a malformed image ({str(data)[:80]}). "
                "Tell the operator of the server."
            )
        return cls(
            name=str(data["name"]),
            type=str(data.get("type", "")),
            filesystem=str(data.get("filesystem", "")),
            sha256=str(data.get("sha256", "")).lower(),
            size=size,
        )


def wanted_types(target: str, efi: bool) -> list[str]:
    """Image types to try, best first.

    owut's choice comes first; auc's order (sysupgrade, combined, sdcard)
    follows as a fallback for targets with vendor-specific sets.
    """
    combined = "combined-efi" if efi else "combined"
    if is_disk_target(target):
        return [combined]
    return ["sysupgrade", combined, "sdcard"]


def choose_image(images: list[Any], target: str, rootfs_type: str, efi: bool) -> Image:
    """The image to flash: the running filesystem and a sysupgrade type.

    An unknown filesystem means squashfs, the default of every flash
    target. A different filesystem is never chosen silently.
    """
    filesystem = rootfs_type or "squashfs"
    parsed = [Image.from_json(item) for item in images]
    for image_type in wanted_types(target, efi):
        for image in parsed:
            if image.type == image_type and image.filesystem == filesystem:
                log.debug("chose image %s", image.name)
                return image
    offered = ", ".join(f"{i.type}/{i.filesystem}" for i in parsed) or "none"
    raise NoMatchingImage(
        f"The build has no {'/'.join(wanted_types(target, efi))} image with a "
        f"{filesystem} root filesystem (offered: {offered}). Request a build "
        "with the filesystem this device runs, or flash by hand."
    )
