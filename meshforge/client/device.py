"""What the running system is: release, board, root filesystem, EFI.

Everything is read below a root folder, so that the same code runs on a
router (root ``/``) and in tests against a copied root filesystem. The one
live source is ``ubus call system board``, used only when the root is ``/``
and no saved board output was given.
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshforge.errors import RouterStateError

log = logging.getLogger(__name__)

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")


@dataclass(frozen=True)
class Release:
    """The OpenWrt release the device runs."""

    distribution: str
    version: str
    revision: str
    target: str
    arch: str = ""

    @property
    def revision_number(self) -> int | None:
        """The ``NNNNN`` of ``rNNNNN-hash``; ``None`` when there is none."""
        head = self.revision.split("-", 1)[0]
        if head.startswith("r") and head[1:].isdigit():
            return int(head[1:])
        return None


@dataclass(frozen=True)
class Device:
    """Everything the client needs to know about the system it upgrades."""

    release: Release
    board_name: str
    model: str
    rootfs_type: str
    efi: bool
    board: dict[str, Any] = field(default_factory=dict, compare=False)


def read_text(path: Path) -> str:
    """A file of the device as text; unreadable means :class:`RouterStateError`."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RouterStateError(
            f"Cannot read {path}: {exc.strerror or exc}. Run as root, or check "
            "--root and the file's permissions."
        ) from exc


def read_shell_vars(path: Path) -> dict[str, str]:
    """Read ``KEY='value'`` / ``KEY="value"`` lines; ``{}`` if the file is absent."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in read_text(path).splitlines():
        key, sep, raw = line.partition("=")
        if not sep or not key.strip().isidentifier():
            continue
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            words = [raw.strip().strip("'\"")]
        values[key.strip()] = " ".join(words)
    return values


def read_release(root: Path, board: dict[str, Any]) -> Release:
    """Merge the release from ubus, /etc/openwrt_release and os-release.

    ubus wins, then openwrt_release, then os-release: the first two are
    written by base-files from the same build variables, os-release lowers
    ``VERSION_ID`` and is only a fallback.
    """
    ubus = _object_field(board, "release", "the ubus board output")
    distrib = read_shell_vars(root / "etc/openwrt_release")
    osrel: dict[str, str] = {}
    for rel in OS_RELEASE_PATHS:
        osrel = osrel or read_shell_vars(root / rel)

    def pick(ubus_key: str, distrib_key: str, os_key: str) -> str:
        value = ubus.get(ubus_key) or distrib.get(distrib_key) or osrel.get(os_key)
        if not isinstance(value, str | None):
            raise RouterStateError(
                f"The ubus board output has a release {ubus_key} that is not "
                "text. Save `ubus call system board` again for --board-json."
            )
        return value or ""

    release = Release(
        distribution=pick("distribution", "DISTRIB_ID", "NAME"),
        version=pick("version", "DISTRIB_RELEASE", "VERSION"),
        revision=pick("revision", "DISTRIB_REVISION", "BUILD_ID"),
        target=pick("target", "DISTRIB_TARGET", "OPENWRT_BOARD"),
        arch=pick("arch", "DISTRIB_ARCH", "OPENWRT_ARCH"),
    )
    if not release.version or not release.target:
        raise RouterStateError(
            f"Cannot tell which OpenWrt release runs under {root}: neither "
            "/etc/openwrt_release, os-release nor the ubus board output name "
            "a version and target. Check --root, or pass --board-json with "
            "the output of `ubus call system board`."
        )
    return release


def load_board(root: Path, board_json: Path | None) -> dict[str, Any]:
    """The ``ubus call system board`` object: from a file, live, or ``{}``."""
    if board_json is not None:
        return _read_json(board_json, "the saved `ubus call system board` output")
    if root == Path("/") and shutil.which("ubus"):
        return _ubus_board()
    return {}


def _ubus_board() -> dict[str, Any]:
    proc = subprocess.run(
        ["ubus", "call", "system", "board"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise RouterStateError(
            f"`ubus call system board` failed ({proc.returncode}): "
            f"{proc.stderr.strip()}. Is ubusd running? Pass --board-json with a "
            "saved copy of its output instead."
        )
    return _parse_object(proc.stdout, "`ubus call system board`")


def _object_field(data: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    """``data[key]`` when it is an object, ``{}`` when absent."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise RouterStateError(
            f"In {what}, '{key}' is not a JSON object. Save the output of "
            "`ubus call system board` again and pass it with --board-json."
        )
    return value


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RouterStateError(
            f"Cannot read {what} at {path}: {exc}. Check the path and its permissions."
        ) from exc
    return _parse_object(text, f"{what} at {path}")


def _parse_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RouterStateError(
            f"{what} is not JSON ({exc.msg}, line {exc.lineno}); save the output again."
        ) from exc
    if not isinstance(value, dict):
        raise RouterStateError(f"{what} is not a JSON object; save it again.")
    return value


def board_identity(root: Path, board: dict[str, Any]) -> tuple[str, str]:
    """``(board_name, model)`` from ubus, else /etc/board.json, else sysinfo."""
    name = _text_field(board, "board_name", "the ubus board output")
    model = _text_field(board, "model", "the ubus board output")
    board_file = root / "etc/board.json"
    if not name and board_file.is_file():
        data = _read_json(board_file, "/etc/board.json")
        ids = _object_field(data, "model", "/etc/board.json")
        name = _text_field(ids, "id", "/etc/board.json")
        model = model or _text_field(ids, "name", "/etc/board.json")
    sysinfo = root / "tmp/sysinfo/board_name"
    if not name and sysinfo.is_file():
        name = read_text(sysinfo).strip()
    return name, model


def _text_field(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str):
        raise RouterStateError(
            f"In {what}, '{key}' is not text. Save the output of `ubus call "
            "system board` again and pass it with --board-json."
        )
    return value


def rootfs_type(root: Path, board: dict[str, Any]) -> str:
    """The root filesystem type, ``""`` if nothing tells.

    ubus reports ``rootfs_type`` since 21.02. Older systems, and roots given
    as folders, fall back to ``/proc/mounts``: an overlay root sits on the
    read-only ``/rom``, whose type (squashfs) is what images are built as;
    otherwise the type mounted on ``/`` (ext4 on x86) is the answer.
    """
    if board.get("rootfs_type"):
        return _text_field(board, "rootfs_type", "the ubus board output")
    mounts = _mount_types(root / "proc/mounts")
    return mounts.get("/rom") or mounts.get("/", "")


def _mount_types(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    types: dict[str, str] = {}
    for line in read_text(path).splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] not in ("overlay", "rootfs"):
            types[fields[1]] = fields[2]
    return types


def read_device(root: Path, board_json: Path | None = None) -> Device:
    """Read the device below ``root`` (``/`` on a router)."""
    board = load_board(root, board_json)
    release = read_release(root, board)
    name, model = board_identity(root, board)
    device = Device(
        release=release,
        board_name=name,
        model=model,
        rootfs_type=rootfs_type(root, board),
        efi=(root / "sys/firmware/efi").exists(),
        board=board,
    )
    log.debug("device below %s: %s", root, device)
    return device


def configured_server(root: Path) -> str:
    """``server.url`` of the attended-sysupgrade UCI config, ``""`` if unset.

    The LuCI app and owut read the same option, so a router already set up
    for them needs no ``--server``.
    """
    path = root / "etc/config/attendedsysupgrade"
    if not path.is_file():
        return ""
    section = ""
    for line in read_text(path).splitlines():
        words = _uci_words(line)
        if len(words) >= 2 and words[0] == "config":
            section = words[1]
        elif len(words) >= 3 and words[:2] == ["option", "url"] and section == "server":
            return words[2]
    return ""


def _uci_words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return []
