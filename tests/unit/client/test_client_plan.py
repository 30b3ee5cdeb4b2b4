"""Package changes, upgrade plans and the request body each sample would send."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshforge import __version__
from meshforge.client.changes import PackageChange
from meshforge.client.cli import choose_plan, notify_line, render_check
from meshforge.client.device import read_device
from meshforge.client.installed import read_installed
from meshforge.client.plan import Planner, build_request
from meshforge.client.server import Server
from meshforge.errors import NoMatchingImage

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
ROUTERS = SAMPLES / "routers"
RPI = ROUTERS / "openwrt-19.07.1-rpi-3-model-b-plus"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


UPSTREAM = "http://t/dl"
X86_PROFILES = SAMPLES / "openwrt-23.05.4/targets/x86/64/profiles.json"
RPI_PROFILES = SAMPLES / "openwrt-23.05.4/targets/bcm27xx/bcm2710/profiles.json"


def _x86_index() -> dict[str, Any]:
    """GENERATED flat feed index for the x86 sample: one update, one gap."""
    packages = dict(read_installed(X86).user)
    packages["luci-ssl"] = "git-99.999.99999-test-1"
    del packages["beep"]
    return packages


def _x86_server(fake: Any) -> Server:
    index = _x86_index()
    routes: dict[str, Any] = {
        "/json/v1/overview.json": fake.overview(UPSTREAM),
        "/dl/releases/23.05.4/targets/x86/64/profiles.json": fake.load_json(
            X86_PROFILES
        ),
        "/json/v1/releases/23.05.4/packages/x86_64-index.json": index,
        "/json/v1/releases/23.05.4/targets/x86/64/index.json": {
            "architecture": "x86_64",
            "packages": {"kmod-e1000": "5.15.162-1"},
        },
    }
    server: Server = fake.server(routes)
    return server


def test_x86_sample_plan_and_request_body(fake: Any) -> None:
    device, installed = read_device(X86), read_installed(X86)
    plan = Planner(_x86_server(fake)).plan_version(device, installed, "23.05.4")
    assert (plan.profile, plan.version_code) == ("generic", "r24012-d8dd03c46f")
    assert PackageChange("remove", "beep", installed.user["beep"]) in plan.changes
    updates = {c.name: c.new_version for c in plan.changes if c.kind == "update"}
    assert updates == {
        "kmod-e1000": "5.15.162-1",
        "luci-ssl": "git-99.999.99999-test-1",
    }

    body = build_request(plan, device)
    assert body["client"] == f"meshforge/{__version__}"
    assert body["target"] == "x86/64" and body["version"] == "23.05.4"
    assert body["version_code"] == "r24012-d8dd03c46f"
    assert body["diff_packages"] is True
    assert "filesystem" not in body  # the sample has no rootfs information
    versions = body["packages_versions"]
    assert len(versions) == len(installed.user) - 1
    assert versions["luci-ssl"] == "git-99.999.99999-test-1"
    # Kernel modules come from the target index, which wraps its map.
    assert versions["kmod-e1000"] == "5.15.162-1"
    assert "packages" not in body


def _rpi_server(fake: Any, index: dict[str, Any] | None) -> Server:
    routes: dict[str, Any] = {
        "/json/v1/overview.json": fake.overview(UPSTREAM),
        "/dl/releases/23.05.6/targets/bcm27xx/bcm2710/profiles.json": fake.load_json(
            RPI_PROFILES
        ),
    }
    if index is not None:
        routes["/json/v1/releases/23.05.6/packages/aarch64_cortex-a53-index.json"] = (
            index
        )
        routes["/json/v1/releases/23.05.6/targets/bcm27xx/bcm2710/index.json"] = {}
    server: Server = fake.server(routes)
    return server


def _rpi_on_bcm27xx() -> Any:
    from dataclasses import replace

    device = read_device(RPI)
    # 19.07's brcm2708 became bcm27xx; the test moves the board to the new
    # target name so that the served 23.05 branch applies.
    return replace(device, release=replace(device.release, target="bcm27xx/bcm2710"))


def test_rpi_sample_next_branch_without_index_sends_packages(fake: Any) -> None:
    device, installed = _rpi_on_bcm27xx(), read_installed(RPI)
    check = Planner(_rpi_server(fake, None)).check(device, installed)
    assert check.same_branch is None  # 19.07 is not offered any more
    plan = check.next_branch
    assert plan is not None and plan.version == "23.05.6" and plan.upgrade
    assert plan.profile == "rpi-3"
    assert [(c.kind, c.name, c.new_name) for c in plan.changes] == [
        ("rename", "firewall", "firewall4")
    ]

    body = build_request(plan, device)
    assert body["profile"] == "rpi-3"
    assert "packages_versions" not in body
    assert len(body["packages"]) == len(installed.user)
    assert "firewall4" in body["packages"] and "firewall" not in body["packages"]
    assert body["packages"] == sorted(body["packages"])


def test_check_json_reports_current_and_offers(fake: Any) -> None:
    device, installed = read_device(X86), read_installed(X86)
    check = Planner(_x86_server(fake)).check(device, installed)
    data = check.to_json()
    assert data["current"]["version"] == "23.05-SNAPSHOT"
    assert data["current"]["package_manager"] == "opkg"
    assert data["upstream_url"] == UPSTREAM
    assert len(data["current"]["user_packages"]) == len(installed.user)
    # 23.05-SNAPSHOT's files are not served: profile falls back, code unknown.
    assert data["same_branch"]["version"] == "23.05-SNAPSHOT"
    assert data["same_branch"]["version_code"] == ""
    assert data["same_branch"]["upgrade"] is False
    assert data["same_branch"]["upgrade_known"] is False
    assert data["next_branch"]["version"] == "24.10.5"
    assert data["upgrade_available"] is True


def test_profiles_fall_back_to_the_server_profile_json(fake: Any) -> None:
    routes: dict[str, Any] = {
        "/json/v1/overview.json": fake.overview(UPSTREAM),
        "/json/v1/releases/24.10.5/targets/x86/64/generic.json": {
            "id": "generic",
            "version_code": "r29087-d9c5716d1d",
        },
    }
    server = fake.server(routes)
    plan = Planner(server).plan_version(
        read_device(X86), read_installed(X86), "24.10.5"
    )
    assert (plan.profile, plan.version_code) == ("generic", "r29087-d9c5716d1d")
    assert plan.upgrade is True


def test_upstream_override_is_used(fake: Any) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(404, json={"detail": "no"})

    routes: dict[str, Any] = {"/json/v1/overview.json": fake.overview(UPSTREAM)}
    server = fake.server(routes, record)
    Planner(server, "http://t/mirror").plan_version(
        read_device(X86), read_installed(X86), "24.10.5"
    )
    assert "http://t/mirror/releases/24.10.5/targets/x86/64/profiles.json" in seen


ATH79 = ROUTERS / "openwrt-19.07.3-ath79-generic"
ATH79_1907 = SAMPLES / "openwrt-19.07.10/targets/ath79/generic/profiles.json"


def _ath79_root(tmp_path: Path) -> Path:
    """The 19.07.3 ath79 sample, GENERATED Archer C7 board and opkg status."""
    shutil.copytree(ATH79, tmp_path, dirs_exist_ok=True)
    (tmp_path / "etc/board.json").write_text(
        '{"model": {"id": "tplink,archer-c7-v2", "name": "TP-Link Archer C7 v2"}}'
    )
    status = tmp_path / "usr/lib/opkg/status"
    status.parent.mkdir(parents=True)
    status.write_text(
        "Package: tcpdump\nVersion: 4.9.3-1\nStatus: install user installed\n\n"
    )
    return tmp_path


def _dropped_board_server(fake: Any) -> Server:
    """19.07 builds the Archer C7 v2; a GENERATED 21.02.7 no longer does."""
    overview = fake.overview(UPSTREAM)
    targets = {"ath79/generic": "mips_24kc"}
    overview["branches"] = {
        "19.07": {
            "path": "releases/{version}",
            "versions": ["19.07.10"],
            "targets": targets,
        },
        "21.02": {
            "path": "releases/{version}",
            "versions": ["21.02.7"],
            "targets": targets,
        },
    }
    routes: dict[str, Any] = {
        "/json/v1/overview.json": overview,
        "/dl/releases/19.07.10/targets/ath79/generic/profiles.json": fake.load_json(
            ATH79_1907
        ),
        "/dl/releases/21.02.7/targets/ath79/generic/profiles.json": {
            "version_code": "r16847-f8282da11e",
            "profiles": {"tplink_archer-c7-v5": {"supported_devices": []}},
        },
    }
    server: Server = fake.server(routes)
    return server


def test_next_branch_without_the_board_keeps_the_same_branch(
    fake: Any, tmp_path: Path
) -> None:
    root = _ath79_root(tmp_path)
    device, installed = read_device(root), read_installed(root)
    assert device.board_name == "tplink,archer-c7-v2"
    check = Planner(_dropped_board_server(fake)).check(device, installed)
    assert check.same_branch is not None
    assert check.same_branch.version == "19.07.10"
    assert check.same_branch.profile == "tplink_archer-c7-v2"
    assert check.same_branch.upgrade is True
    assert check.next_branch is None
    assert check.next_branch_unavailable.startswith(
        "21.02.7 is not available for this device: No profile of ath79/generic"
    )
    assert check.to_json()["next_branch_unavailable"] == check.next_branch_unavailable
    text = render_check(check)
    assert "same branch   19.07.10 r11427-9ce6aa9d8d" in text
    assert "next branch   21.02.7 is not available for this device" in text
    assert notify_line(check, False).startswith("upgrade available: 19.07.3")


def test_request_picks_same_branch_and_explains_the_next(
    fake: Any, tmp_path: Path
) -> None:
    root = _ath79_root(tmp_path)
    device, installed = read_device(root), read_installed(root)
    planner = Planner(_dropped_board_server(fake))
    assert choose_plan(planner, device, installed, None, False).version == "19.07.10"
    with pytest.raises(NoMatchingImage, match=r"21\.02\.7 is not available") as info:
        choose_plan(planner, device, installed, None, True)
    assert info.value.exit_code == 15
