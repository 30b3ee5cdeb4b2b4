"""The gateway agent against a real broker on loopback."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from meshforge.errors import InvitationError, Net6Error
from meshforge.net6 import gateway, tinc, urls
from meshforge.net6.api import create_app
from meshforge.net6.store import Broker

pytestmark = pytest.mark.skipif(
    shutil.which("tincd") is None, reason="the gateway makes its keys with tincd"
)


@pytest.mark.parametrize(
    ("url", "insecure", "base"),
    [
        ("https://broker.example.org/join/abc", False, "https://broker.example.org"),
        ("https://b.example/net6/join/abc", False, "https://b.example/net6"),
        ("http://127.0.0.1:8600/join/abc", False, "http://127.0.0.1:8600"),
        ("http://[::1]:8600/join/abc", False, "http://[::1]:8600"),
        ("http://198.51.100.2:8600/join/abc", True, "http://198.51.100.2:8600"),
    ],
)
def test_invitation_urls(url: str, insecure: bool, base: str) -> None:
    parsed = urls.parse_invitation(url, insecure)

    assert (parsed.base_url, parsed.token) == (base, "abc")


def test_plain_http_to_another_host_is_refused() -> None:
    with pytest.raises(InvitationError, match="--insecure"):
        urls.parse_invitation("http://198.51.100.2/join/abc")


@pytest.mark.parametrize("url", ["https://b.example/abc", "ftp://b/join/x", "join"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvitationError, match="not an invitation URL"):
        urls.parse_invitation(url)


@pytest.fixture
def live_broker(mesh_broker: Broker) -> Iterator[tuple[Broker, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(broker=mesh_broker), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "broker did not start"
        time.sleep(0.05)
    yield mesh_broker, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_join_update_and_leave(
    live_broker: tuple[Broker, str], tmp_path: Path, public_key: str
) -> None:
    broker, base = live_broker
    token = broker.invite("gw1", 56, "default", _hour()).token
    folder = tmp_path / "gw1"

    state = gateway.join(
        gateway.JoinOptions(f"{base}/join/{token}", folder, lan="lan0")
    )
    saved = json.loads((folder / "gateway.json").read_text())
    other = broker.redeem(
        broker.invite("gw2", 56, "default", _hour()).token,
        public_key,
        address="203.0.113.18",
    )
    updated = gateway.update(folder)
    broker.revoke(other.gateway.name)
    gateway.update(folder)

    assert state.bundle.subnet == "2001:db8:100:100::/56"
    assert saved["token"] == state.token
    assert oct((folder / "gateway.json").stat().st_mode & 0o777) == "0o600"
    assert oct((folder / "tinc" / "rsa_key.priv").stat().st_mode & 0o777) == "0o600"
    assert oct((folder / "tinc" / "tinc-up").stat().st_mode & 0o777) == "0o755"
    assert "ConnectTo = gw2" in updated.bundle.files["tinc/tinc.conf"]
    assert not (folder / "tinc" / "hosts" / "gw2").exists()
    assert (folder / "tinc" / "hosts" / "srv").exists()

    assert gateway.leave(folder) == []
    assert not (folder / "gateway.json").exists()
    assert [gw.name for gw in broker.gateways()] == []


def test_join_with_a_used_invitation_says_why(
    live_broker: tuple[Broker, str], tmp_path: Path, public_key: str
) -> None:
    broker, base = live_broker
    token = broker.invite("gw1", 56, "default", _hour()).token
    broker.redeem(token, public_key)

    with pytest.raises(InvitationError, match="already used"):
        gateway.join(gateway.JoinOptions(f"{base}/join/{token}", tmp_path / "g"))


def _hour() -> timedelta:
    return timedelta(hours=1)


def test_adopt_takes_over_an_imported_gateway(
    live_broker: tuple[Broker, str], tmp_path: Path, public_key: str
) -> None:
    broker, base = live_broker
    text = f"Address = 203.0.113.50\nSubnet = 2001:db8:100:a00::/56\n{public_key}\n"
    broker.import_host_file("default", "oldgw", text)
    token = broker.issue_gateway_token("oldgw")
    folder = tmp_path / "old"
    (folder / "tinc").mkdir(parents=True)
    (folder / "tinc" / "rsa_key.priv").write_text("kept")

    state = gateway.adopt(folder, base, token)

    assert state.bundle.subnet == "2001:db8:100:a00::/56"
    assert "Name = oldgw" in (folder / "tinc" / "tinc.conf").read_text()
    assert (folder / "tinc" / "rsa_key.priv").read_text() == "kept"
    with pytest.raises(Net6Error, match=r"rsa_key\.priv is missing"):
        gateway.adopt(tmp_path / "empty", base, token)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"lan": "br lan"}, "--lan 'br lan' is not an interface name"),
        ({"address": "x;y"}, "--address 'x;y' is not an IP address"),
        ({"port": 70000}, "--port 70000 is not a port number"),
    ],
)
def test_bad_join_options_are_refused_before_keys_or_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any], says: str
) -> None:
    def no_keys() -> None:
        raise AssertionError("keys were made for a join that cannot work")

    monkeypatch.setattr(tinc, "generate_keypair", no_keys)
    url = "https://broker.example.org/join/" + "t" * 43
    options = dataclasses.replace(gateway.JoinOptions(url, tmp_path / "g"), **extra)

    with pytest.raises(Net6Error, match=re.escape(says)):
        gateway.join(options)


def test_a_cut_invitation_token_is_explained(tmp_path: Path) -> None:
    options = gateway.JoinOptions("https://b.example.org/join/abc", tmp_path / "g")

    with pytest.raises(Net6Error, match="copy the whole URL"):
        gateway.join(options)


def test_join_into_a_member_folder_is_refused_and_keeps_the_invitation(
    live_broker: tuple[Broker, str], tmp_path: Path
) -> None:
    broker, base = live_broker
    folder = tmp_path / "gw1"
    first = broker.invite("gw1", 60, "default", _hour()).token
    second = broker.invite("gw2", 60, "default", _hour()).token
    gateway.join(gateway.JoinOptions(f"{base}/join/{first}", folder, lan="lan0"))

    with pytest.raises(Net6Error, match="gateway leave --dir"):
        gateway.join(gateway.JoinOptions(f"{base}/join/{second}", folder))

    gateway.join(gateway.JoinOptions(f"{base}/join/{second}", tmp_path / "gw2"))
    assert [gw.name for gw in broker.gateways()] == ["gw1", "gw2"]


def test_leave_after_the_operator_revoked_still_cleans_up(
    live_broker: tuple[Broker, str], tmp_path: Path
) -> None:
    broker, base = live_broker
    folder = tmp_path / "gw1"
    token = broker.invite("gw1", 60, "default", _hour()).token
    gateway.join(gateway.JoinOptions(f"{base}/join/{token}", folder, lan="lan0"))
    broker.revoke("gw1")

    assert gateway.leave(folder) == []
    assert not (folder / "gateway.json").exists()
    assert not (folder / "tinc" / "rsa_key.priv").exists()
    with pytest.raises(Net6Error, match="has left it"):
        gateway.leave(folder)


def test_check_broker_url() -> None:
    assert urls.check_broker_url("https://b.example.org/") == "https://b.example.org"
    for bad in ("ftp://b.example.org", "not a url", "https://"):
        with pytest.raises(Net6Error, match="not a broker URL"):
            urls.check_broker_url(bad)


def test_adopt_with_a_bad_broker_url_names_the_url(tmp_path: Path) -> None:
    with pytest.raises(Net6Error, match="'ftp://x' is not a broker URL"):
        gateway.adopt(tmp_path, "ftp://x", "t" * 43)
