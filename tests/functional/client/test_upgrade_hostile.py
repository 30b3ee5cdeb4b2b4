"""A hostile build server on loopback: `request` writes nothing outside --output-dir.

The server is a small stand-in started by the test; its answers are
GENERATED and only as complete as the client needs to reach the download.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROUTERS = Path(__file__).resolve().parents[3] / "data" / "upstream-samples" / "routers"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"
PAYLOAD = b"generated hostile payload\n"
HASH = "cd" * 32


class Hostile:
    """What the stand-in answers, and every path it was asked for."""

    def __init__(self) -> None:
        self.image_name = ""
        self.paths: list[str] = []

    def answer(self, path: str) -> tuple[int, bytes]:
        self.paths.append(path)
        if path == "/json/v1/overview.json":
            branch = {
                "path": "releases/{version}",
                "versions": ["23.05-SNAPSHOT"],
                "targets": {"x86/64": "x86_64"},
            }
            return 200, json.dumps({"branches": {"23.05": branch}}).encode()
        if path == "/api/v1/build":
            image = {
                "name": self.image_name,
                "type": "combined",
                "filesystem": "squashfs",
                "sha256": hashlib.sha256(PAYLOAD).hexdigest(),
            }
            body = {"request_hash": HASH, "bin_dir": HASH, "images": [image]}
            return 200, json.dumps(body).encode()
        if path.startswith("/store/") or "img" in path:
            return 200, PAYLOAD
        return 404, b'{"detail": "not found"}'


@pytest.fixture
def hostile() -> Iterator[tuple[str, Hostile]]:
    state = Hostile()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._reply()

        def _reply(self) -> None:
            code, body = state.answer(self.path)
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "name", ["/{victim}/ABS.img.gz", "../../../..{victim}/x.img.gz", "sub/x.img.gz"]
)
def test_request_refuses_image_names_with_paths(
    hostile: tuple[str, Hostile], tmp_path: Path, name: str
) -> None:
    url, state = hostile
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "x.img.gz"
    victim.write_bytes(b"keep")
    state.image_name = name.format(victim=victim_dir).replace("//", "/")
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "meshforge.cli", "upgrade", "--server", url]
    argv += ["--root", str(X86), "request", "--output-dir", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 13, done.stderr
    assert "not a plain file name" in done.stderr
    assert "Traceback" not in done.stderr
    assert victim.read_bytes() == b"keep"
    assert sorted(p.name for p in victim_dir.iterdir()) == ["x.img.gz"]
    assert not out.exists() or list(out.rglob("*")) == []
    assert not [p for p in state.paths if p.startswith("/store/") or "img" in p]
