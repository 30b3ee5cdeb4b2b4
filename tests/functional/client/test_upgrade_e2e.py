"""The upgrade client against a real meshforge server on loopback.

The server is the lead's ``live_server`` / ``make_server`` (synced from the
stand-in mirror, which serves the real 22.03-SNAPSHOT sample). The router is
a GENERATED root folder: a stock 22.03-SNAPSHOT x86/64 install plus rsync,
with the package versions of that sample's indexes, an older revision and
two older package versions, so that an upgrade exists.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from meshforge.client.device import read_device
from meshforge.client.download import Downloader, Expected
from meshforge.client.images import choose_image
from meshforge.client.installed import read_installed
from meshforge.client.plan import Planner, build_request
from meshforge.client.server import RetryPolicy, Server

MIRROR_CODE = "r20142-e500494771"
INDEX_VERSIONS = {
    "base-files": "1503-r20142-e500494771",
    "busybox": "1.35.0-5",
    "ca-bundle": "20211016-1",
    "dnsmasq": "2.86-16",
    "dropbear": "2022.82-2",
    "e2fsprogs": "1.46.5-2",
    "firewall4": "2022-10-18-7ae5e14b-1",
    "fstools": "2022-06-02-93369be0-2",
    "kmod-amazon-ena": "5.10.179-1",
    "kmod-amd-xgbe": "5.10.179-1",
    "kmod-bnx2": "5.10.179-1",
    "kmod-button-hotplug": "5.10.179-3",
    "kmod-e1000": "5.10.179-1",
    "kmod-e1000e": "5.10.179-1",
    "kmod-forcedeth": "5.10.179-1",
    "kmod-fs-vfat": "5.10.179-1",
    "kmod-igb": "5.10.179-1",
    "kmod-igc": "5.10.179-1",
    "kmod-ixgbe": "5.10.179-1",
    "kmod-nft-offload": "5.10.179-1",
    "kmod-r8169": "5.10.179-1",
    "kmod-tg3": "5.10.179-1",
    "libgcc": "11.2.0-4",
    "libustream-wolfssl": "2022-12-08-9217ab46-2",
    "logd": "2021-08-03-205defb5-2",
    "mkf2fs": "1.14.0-3",
    "mtd": "26",
    "netifd": "2022-08-25-76d2d41b-1",
    "nftables-json": "1.0.2-2.1",
    "odhcp6c": "2022-08-05-7d21e8d8-18",
    "odhcpd-ipv6only": "2023-01-02-4a673e1c-2",
    "opkg": "2022-02-24-d038e5b6-1",
    "partx-utils": "2.37.4-1",
    "ppp": "2.4.9.git-2021-01-04-3",
    "ppp-mod-pppoe": "2.4.9.git-2021-01-04-3",
    "procd": "2022-06-01-7a009685-2",
    "procd-seccomp": "2022-06-01-7a009685-2",
    "procd-ujail": "2022-06-01-7a009685-2",
    "rsync": "3.2.7-1",
    "uci": "2021-10-22-f84f49f0-6",
    "uclient-fetch": "2023-04-13-007d9454-1",
    "urandom-seed": "3",
    "urngd": "2020-01-21-c7f7b6b6-1",
}
OLDER = {"busybox": "1.35.0-4", "rsync": "3.2.6-1"}
AUTO = {"libc": "1.2.3-4", "libzstd": "1.5.2-1"}


def make_root(
    folder: Path,
    *,
    revision: str = "r20000-0123456789",
    older: dict[str, str] | None = None,
    efi: bool = False,
) -> Path:
    """Write the GENERATED router root described in the module docstring."""
    (folder / "etc").mkdir(parents=True)
    (folder / "etc/openwrt_release").write_text(
        "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='22.03-SNAPSHOT'\n"
        f"DISTRIB_REVISION='{revision}'\nDISTRIB_TARGET='x86/64'\n"
        "DISTRIB_ARCH='x86_64'\n"
    )
    versions = {**INDEX_VERSIONS, **(OLDER if older is None else older)}
    stanzas = [_stanza(name, version, auto=False) for name, version in versions.items()]
    stanzas += [_stanza(name, version, auto=True) for name, version in AUTO.items()]
    (folder / "usr/lib/opkg").mkdir(parents=True)
    (folder / "usr/lib/opkg/status").write_text("\n".join(stanzas))
    # squashfs below an overlay, as /proc/mounts shows it on a router.
    (folder / "proc").mkdir()
    (folder / "proc/mounts").write_text(
        "/dev/root /rom squashfs ro,relatime 0 0\n"
        "overlayfs:/overlay / overlay rw,noatime 0 0\n"
    )
    if efi:
        (folder / "sys/firmware/efi").mkdir(parents=True)
    return folder


def _stanza(name: str, version: str, *, auto: bool) -> str:
    lines = [
        f"Package: {name}",
        f"Version: {version}",
        "Depends: libc",
        "Status: install user installed",
        "Architecture: x86_64",
        "Installed-Time: 1700000000",
    ]
    if auto:
        lines.append("Auto-Installed: yes")
    return "\n".join(lines) + "\n"


def upgrade(url: str, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``meshforge upgrade`` as a separate process, as cron would."""
    argv = [
        sys.executable,
        "-m",
        "meshforge.cli",
        "upgrade",
        "--server",
        url,
        "--root",
        str(root),
        *args,
    ]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=240, check=False
    )


def test_check_reports_snapshot_update_and_package_changes(
    live_server: Any, tmp_path: Path
) -> None:
    root = make_root(tmp_path / "router")
    done = upgrade(live_server.url, root, "check", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["current"]["version"] == "22.03-SNAPSHOT"
    assert len(report["current"]["user_packages"]) == len(INDEX_VERSIONS)
    same = report["same_branch"]
    assert same["version"] == "22.03-SNAPSHOT"
    assert same["version_code"] == MIRROR_CODE
    assert same["profile"] == "generic" and same["upgrade"] is True
    updates = {
        c["name"]: (c["old_version"], c["new_version"])
        for c in same["changes"]
        if c["kind"] == "update"
    }
    assert updates == {
        "busybox": ("1.35.0-4", "1.35.0-5"),
        "rsync": ("3.2.6-1", "3.2.7-1"),
    }
    assert report["upgrade_available"] is True

    table = upgrade(live_server.url, root, "check")
    assert "22.03-SNAPSHOT r20000-0123456789" in table.stdout
    assert "busybox 1.35.0-4 → 1.35.0-5" in table.stdout


def test_notify_is_silent_when_up_to_date_and_exits_10_otherwise(
    live_server: Any, tmp_path: Path
) -> None:
    old = make_root(tmp_path / "old")
    found = upgrade(live_server.url, old, "notify")
    assert found.returncode == 10, found.stderr
    assert found.stdout.count("\n") == 1
    assert f"r20000-0123456789 → 22.03-SNAPSHOT {MIRROR_CODE}" in found.stdout

    current = make_root(tmp_path / "current", revision=MIRROR_CODE, older={})
    args = ("notify", "--packages", "--same-branch")
    quiet = upgrade(live_server.url, current, *args)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    # The mirror also serves 23.05, the next branch: that is an upgrade too.
    following = upgrade(live_server.url, current, "notify")
    assert following.returncode == 10
    assert following.stdout.endswith(" → 23.05.5 r24106-10cc5fcd00\n")
    assert following.stderr == ""


def test_request_builds_downloads_verifies_and_prints_sysupgrade(
    live_server: Any, tmp_path: Path
) -> None:
    root = make_root(tmp_path / "router", efi=True)
    out = tmp_path / "images"
    done = upgrade(
        live_server.url,
        root,
        "request",
        "--output-dir",
        str(out),
        "--install",
        "--dry-run",
    )
    assert done.returncode == 0, done.stderr
    [image] = out.iterdir()
    assert image.name.endswith("-x86-64-generic-squashfs-combined-efi.img.gz")
    lines = done.stdout.splitlines()
    assert lines[-2:] == [f"sysupgrade --test {image}", f"sysupgrade {image}"]
    assert "queued" in done.stderr or "building" in done.stderr
    assert "build finished" in done.stderr

    body = _finished_build(live_server.url, root)
    listed = {i["name"]: i["sha256"] for i in body["images"]}
    assert hashlib.sha256(image.read_bytes()).hexdigest() == listed[image.name]
    assert body["manifest"]["rsync"] == "3.2.7-1"


def _finished_build(url: str, root: Path) -> dict[str, Any]:
    """The same request through the library: a cache hit, answered at once."""
    server = Server(url)
    device, installed = read_device(root), read_installed(root)
    plan = Planner(server).check(device, installed).same_branch
    assert plan is not None
    result = server.submit(build_request(plan, device))
    assert result.done, result
    return result.body


def test_corrupted_image_on_the_server_is_refused(
    make_server: Any, tmp_path: Path
) -> None:
    live = make_server()
    root = make_root(tmp_path / "router")
    first = upgrade(live.url, root, "request", "--output-dir", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr

    body = _finished_build(live.url, root)
    image = choose_image(body["images"], "x86/64", "squashfs", False)
    stored, _ = live.runtime.store.open(body["request_hash"], image.name)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))

    second = upgrade(live.url, root, "request", "--output-dir", str(tmp_path / "b"))
    assert second.returncode == 9, second.stderr
    assert "SHA-256" in second.stderr and "must not be flashed" in second.stderr
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []


def test_529_then_success(make_server: Any, tmp_path: Path) -> None:
    live = make_server(max_pending_jobs=0)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        # The first back-off is where the queue drains; later waits are polls.
        waits.append(seconds)
        live.settings.max_pending_jobs = 200

    server = Server(live.url, policy=RetryPolicy(poll_interval=0.2), sleep=wait)
    root = make_root(tmp_path / "router")
    device, installed = read_device(root), read_installed(root)
    plan = Planner(server).check(device, installed).same_branch
    assert plan is not None
    result = server.build(build_request(plan, device))
    assert result.done and waits[0] == RetryPolicy().first_delay

    image = choose_image(result.body["images"], "x86/64", "squashfs", False)
    url = server.url(f"/store/{result.body['bin_dir']}/{image.name}")
    path = Downloader(server.http).fetch(
        url, tmp_path / image.name, Expected(image.sha256, image.size)
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == image.sha256

    # Resume: the start of the image is here from an interrupted run.
    again = tmp_path / "again" / image.name
    again.parent.mkdir()
    again.with_name(image.name + ".part").write_bytes(path.read_bytes()[:1000])
    codes: list[int] = []
    hooks = {"response": [lambda response: codes.append(response.status_code)]}
    with httpx.Client(event_hooks=hooks) as http:
        resumed = Downloader(http).fetch(url, again, Expected(image.sha256))
    assert resumed.read_bytes() == path.read_bytes()
    assert codes == [206]


def test_unknown_version_is_a_sentence_and_exit_12(
    live_server: Any, tmp_path: Path
) -> None:
    root = make_root(tmp_path / "router")
    done = upgrade(live_server.url, root, "request", "--version", "21.02.9")
    assert done.returncode == 12, done.stderr
    assert done.stderr.startswith("error: The server offers no version 21.02.9")


def test_check_asks_the_servers_upgrade_check_first(
    live_server: Any, tmp_path: Path
) -> None:
    root = make_root(tmp_path / "router", efi=False)
    seen: list[tuple[str, int]] = []

    def record(response: httpx.Response) -> None:
        seen.append((response.request.url.path, response.status_code))

    http = httpx.Client(timeout=30, event_hooks={"response": [record]})
    server = Server(live_server.url, http=http)
    check = Planner(server).check(read_device(root), read_installed(root))
    posted = [status for path, status in seen if path == "/api/v1/upgrade-check"]
    assert posted == [200]
    assert check.next_branch is not None and check.next_branch.version == "23.05.5"
