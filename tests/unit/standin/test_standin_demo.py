from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

from standin.demo import child_env, meshforge, start_upstream


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_upstream_is_served_where_the_builders_point(tmp_path: Path) -> None:
    port = _free_port()
    server, info = start_upstream(tmp_path / "var", port)
    try:
        assert info.base_url == f"http://127.0.0.1:{port}"
        assert info.root == tmp_path / "var" / "mirror"
        with urllib.request.urlopen(f"{info.base_url}/.versions.json") as reply:
            assert "22.03-SNAPSHOT" in json.load(reply)["versions_list"]
    finally:
        server.shutdown()
        server.server_close()

    env = child_env(info, tmp_path / "var")
    assert env["MESHFORGE_UPSTREAM_URL"] == info.base_url
    assert Path(env["MESHFORGE_UPSTREAM_KEYS_DIR"]) == info.keys_dir.resolve()
    assert env["MESHFORGE_VAR_DIR"] == str(tmp_path / "var")
    assert meshforge("sync")[1:] == ["-m", "meshforge.cli", "sync"]
