"""Image download over real loopback HTTP: resume, restart, corruption.

The server here is a small ``http.server`` the test starts on 127.0.0.1;
its image bytes are GENERATED (random), not an OpenWrt image.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from meshforge.client.download import Downloader, Expected
from meshforge.errors import RequestRejected, VerificationError

IMAGE = os.urandom(300_000)
SHA = hashlib.sha256(IMAGE).hexdigest()


@dataclass
class Behaviour:
    """What the test server does; the handler records what it saw."""

    honour_range: bool = True
    drop_after: int | None = None  # close the first response after N bytes
    corrupt: bool = False
    ranges: list[str] = field(default_factory=list)


Site = tuple[str, Behaviour]


def _handler(state: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/store/abc/image.bin":
                self.send_error(404)
                return
            data = bytearray(IMAGE)
            if state.corrupt:
                data[1000] ^= 0xFF
            wanted = self.headers.get("Range", "")
            state.ranges.append(wanted)
            start = int(wanted[6:-1]) if wanted and state.honour_range else 0
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self._send(bytes(data), start)

        def _send(self, data: bytes, start: int) -> None:
            body = data[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"
                )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if state.drop_after is not None:
                self.wfile.write(body[: state.drop_after])
                state.drop_after = None
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    state = Behaviour()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/store/abc/image.bin", state
    server.shutdown()
    server.server_close()


def _fetch(url: str, dest: Path, expected: Expected | None = None) -> Path:
    with httpx.Client(timeout=10) as http:
        return Downloader(http).fetch(url, dest, expected or Expected(SHA, len(IMAGE)))


def test_plain_download_verifies_and_keeps_the_file(site: Site, tmp_path: Path) -> None:
    url, state = site
    path = _fetch(url, tmp_path / "image.bin")
    assert path.read_bytes() == IMAGE
    assert not (tmp_path / "image.bin.part").exists()
    assert state.ranges == [""]


def test_partial_file_is_resumed_with_range(site: Site, tmp_path: Path) -> None:
    url, state = site
    (tmp_path / "image.bin.part").write_bytes(IMAGE[:123_456])
    path = _fetch(url, tmp_path / "image.bin")
    assert path.read_bytes() == IMAGE
    assert state.ranges == ["bytes=123456-"]


def test_dropped_connection_resumes_where_it_stopped(
    site: Site, tmp_path: Path
) -> None:
    url, state = site
    state.drop_after = 50_000
    path = _fetch(url, tmp_path / "image.bin")
    assert path.read_bytes() == IMAGE
    assert state.ranges[0] == ""
    assert state.ranges[1] == "bytes=50000-"


def test_server_ignoring_range_restarts_cleanly(site: Site, tmp_path: Path) -> None:
    url, state = site
    state.honour_range = False
    (tmp_path / "image.bin.part").write_bytes(b"x" * 1000)
    assert _fetch(url, tmp_path / "image.bin").read_bytes() == IMAGE


def test_complete_part_file_gets_416_and_verifies(site: Site, tmp_path: Path) -> None:
    url, state = site
    (tmp_path / "image.bin.part").write_bytes(IMAGE)
    # Without a known size the client has to ask, and the server says 416.
    path = _fetch(url, tmp_path / "image.bin", Expected(SHA))
    assert path.read_bytes() == IMAGE
    assert state.ranges == [f"bytes={len(IMAGE)}-"]


def test_corrupted_download_is_refused_and_deleted(site: Site, tmp_path: Path) -> None:
    url, state = site
    state.corrupt = True
    with pytest.raises(VerificationError, match="SHA-256") as info:
        _fetch(url, tmp_path / "image.bin")
    assert info.value.exit_code == 9
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_refused(site: Site, tmp_path: Path) -> None:
    url, _ = site
    with pytest.raises(VerificationError, match="bytes"):
        _fetch(url, tmp_path / "image.bin", Expected(SHA, len(IMAGE) + 1))
    assert list(tmp_path.iterdir()) == []


def test_a_verified_file_is_not_downloaded_again(site: Site, tmp_path: Path) -> None:
    url, state = site
    (tmp_path / "image.bin").write_bytes(IMAGE)
    _fetch(url, tmp_path / "image.bin")
    assert state.ranges == []


def test_missing_image_is_rejected(site: Site, tmp_path: Path) -> None:
    url, _ = site
    with pytest.raises(RequestRejected, match="404"):
        _fetch(url.replace("abc", "gone"), tmp_path / "image.bin")


def test_stale_part_file_is_discarded_and_downloaded_anew(
    site: Site, tmp_path: Path
) -> None:
    url, state = site
    # Bytes from some other image: resuming onto them can never verify.
    (tmp_path / "image.bin.part").write_bytes(b"\xff" * 5000)
    path = _fetch(url, tmp_path / "image.bin")
    assert path.read_bytes() == IMAGE
    assert state.ranges == ["bytes=5000-", ""]


def test_stale_full_size_part_file_is_discarded(site: Site, tmp_path: Path) -> None:
    url, state = site
    (tmp_path / "image.bin.part").write_bytes(b"\x00" * len(IMAGE))
    path = _fetch(url, tmp_path / "image.bin")
    assert path.read_bytes() == IMAGE
    assert state.ranges == [""]
