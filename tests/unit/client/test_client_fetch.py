"""Downloading a built image: names and folders from the server are checked."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshforge.client.cli import Context, fetch_image
from meshforge.client.device import read_device
from meshforge.client.download import plain_file_name, store_url
from meshforge.client.plan import TargetPlan
from meshforge.client.server import BuildStatus, Server
from meshforge.errors import ServerUnavailable

ROUTERS = Path(__file__).resolve().parents[3] / "data" / "upstream-samples" / "routers"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"
HASH = "ab" * 32
PAYLOAD = b"generated test image, not an OpenWrt build\n"


def _context(tmp_path: Path, seen: list[str]) -> Context:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=PAYLOAD)

    obj = Context(tmp_path, None, "http://t", None)
    http = httpx.Client(transport=httpx.MockTransport(handle))
    obj.__dict__["server"] = Server("http://t", http=http)
    return obj


def _plan() -> TargetPlan:
    return TargetPlan(
        "same-branch", "23.05-SNAPSHOT", "snapshots", "", "generic", True, {}
    )


def _result(name: str, bin_dir: str = HASH, sha256: str | None = None) -> BuildStatus:
    image: dict[str, Any] = {
        "name": name,
        "type": "combined",
        "filesystem": "squashfs",
        "sha256": sha256 or hashlib.sha256(PAYLOAD).hexdigest(),
    }
    body = {"bin_dir": bin_dir, "images": [image], "request_hash": HASH}
    return BuildStatus(200, "done", HASH, 0, "done", body)


@pytest.mark.parametrize(
    "name",
    [
        "/tmp/x/ABS.img.gz",
        "../../../../tmp/x.img.gz",
        "sub/dir/x.img.gz",
        "..\\x.img.gz",
        "..",
        ".",
        "x\x00.img.gz",
        "a" * 300,
        "",
    ],
)
def test_image_name_that_is_not_a_plain_file_is_refused(
    tmp_path: Path, name: str
) -> None:
    seen: list[str] = []
    out = tmp_path / "out"
    victim = tmp_path / "x.img.gz"
    victim.write_bytes(b"keep")
    with pytest.raises(ServerUnavailable) as info:
        fetch_image(
            _context(tmp_path, seen), read_device(X86), _plan(), _result(name), out
        )
    assert info.value.exit_code == 13
    assert "not a plain file name" in info.value.detail
    assert seen == []
    assert victim.read_bytes() == b"keep"
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("bin_dir", ["../etc", "AB" * 32, "ab" * 31, HASH + "/x"])
def test_bin_dir_must_be_64_lowercase_hex(tmp_path: Path, bin_dir: str) -> None:
    seen: list[str] = []
    with pytest.raises(ServerUnavailable, match="build folder"):
        fetch_image(
            _context(tmp_path, seen),
            read_device(X86),
            _plan(),
            _result("ok.img.gz", bin_dir),
            tmp_path / "out",
        )
    assert seen == []


def test_plain_name_lands_in_output_dir_from_store_url(tmp_path: Path) -> None:
    seen: list[str] = []
    name = "openwrt x86 #1.img.gz"
    path = fetch_image(
        _context(tmp_path, seen), read_device(X86), _plan(), _result(name), tmp_path
    )
    assert path == tmp_path / name
    assert path.read_bytes() == PAYLOAD
    assert seen == [f"http://t/store/{HASH}/openwrt%20x86%20%231.img.gz"]


def test_store_url_and_plain_name_helpers() -> None:
    assert store_url("http://h/", HASH, "a?b.bin") == f"http://h/store/{HASH}/a%3Fb.bin"
    assert plain_file_name("openwrt.bin") == "openwrt.bin"
    with pytest.raises(ServerUnavailable):
        plain_file_name("a/b")


@pytest.mark.parametrize("sha256", ["", "abc", "Z" * 64])
def test_missing_checksum_is_named(tmp_path: Path, sha256: str) -> None:
    seen: list[str] = []
    result = _result("ok.img.gz")
    result.body["images"][0]["sha256"] = sha256
    with pytest.raises(ServerUnavailable, match="no valid SHA-256 checksum"):
        fetch_image(
            _context(tmp_path, seen), read_device(X86), _plan(), result, tmp_path
        )
    assert seen == []
