"""One server and three gateways in namespaces: join, ping, outage, HMAC.

The tests run in file order on one package-scoped mesh: each step builds on
the one before, as an operator's day would.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from net6_mesh import POOL, SERVER_ADDR, Mesh  # type: ignore[import-not-found, unused-ignore]  # found via pytest sys.path

pytestmark = [pytest.mark.netns, pytest.mark.timeout(240)]

GW1 = "2001:db8:100:100::1"
GW2 = "2001:db8:100:200::1"
GW2_NET = "2001:db8:100:200::/56"
CONVERGE_S = 30.0


@pytest.fixture(scope="module")
def joined(mesh: Mesh) -> Mesh:
    out = mesh.meshforge(
        "srv",
        "net6",
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(mesh.root / "srv"),
        "--pool",
        POOL,
    )
    assert "link 2001:db8:100::/64" in out
    mesh.start_server()
    mesh.start_broker()

    gw1_url, gw2_url = mesh.invite("gw1"), mesh.invite("gw2")
    mesh.join("gw1", gw1_url, "--start")
    started = time.monotonic()
    mesh.join("gw2", gw2_url, "--start", "--address", "203.0.113.18")
    # gw1 joined first; its periodic fetch brings gw2's host file and ConnectTo.
    mesh.meshforge("gw1", "net6", "gateway", "update", "--dir", str(mesh.root / "gw1"))
    first = mesh.wait_ping("gw1", GW1, GW2, CONVERGE_S)
    assert first is not None, "gw1 never reached gw2 after both joined"
    mesh.timings["join_to_first_ping_s"] = time.monotonic() - started
    return mesh


def test_gateways_get_aligned_disjoint_subnets(joined: Mesh) -> None:
    state1 = json.loads((joined.root / "gw1" / "gateway.json").read_text())
    state2 = json.loads((joined.root / "gw2" / "gateway.json").read_text())

    assert state1["bundle"]["subnet"] == "2001:db8:100:100::/56"
    assert state2["bundle"]["subnet"] == GW2_NET


def test_ping_from_gw1_subnet_to_gw2_subnet(joined: Mesh) -> None:
    assert joined.ping("gw1", GW1, GW2, count=3)
    assert GW2_NET in joined.babel_routes("gw1")


def test_gw1_holds_gw2_host_file_and_dials_it(joined: Mesh) -> None:
    tinc_conf = (joined.root / "gw1" / "tinc" / "tinc.conf").read_text()

    assert (joined.root / "gw1" / "tinc" / "hosts" / "gw2").exists()
    assert "ConnectTo = gw2" in tinc_conf
    assert "ConnectTo = srv" in tinc_conf


def test_status_pings_and_reports_to_broker(joined: Mesh) -> None:
    out = joined.meshforge(
        "gw1", "net6", "gateway", "status", "--dir", str(joined.root / "gw1")
    )
    listing = json.loads(joined.meshforge(None, "net6", "gateways", "--json"))
    gw1 = next(row for row in listing if row["name"] == "gw1")

    assert "tinc link librenet6: up" in out
    assert f"ping server {SERVER_ADDR}: ok" in out
    assert f"ping gateway gw2 {GW2}: ok" in out
    assert gw1["state"] == "up"
    assert gw1["survives_server_outage"] is True


def test_wrong_hmac_key_learns_no_routes(joined: Mesh) -> None:
    folder = joined.root / "gw3"
    joined.join("gw3", joined.invite("gw3"), "--no-start", "--address", "198.51.100.18")
    conf = folder / "babeld.conf"
    good = conf.read_text()
    conf.write_text(_with_wrong_key(good))
    joined.exec("gw3", _tincd(folder))
    joined.wait_link("gw3", "librenet6")
    joined.exec("gw3", _babeld(folder))

    # Honest neighbours converge in about 5 s at hello-interval 1.
    time.sleep(10)
    assert joined.babel_routes("gw3") == []

    conf.write_text(good)
    _restart_babeld(joined, folder)
    deadline = time.monotonic() + CONVERGE_S
    while GW2_NET not in joined.babel_routes("gw3"):
        assert time.monotonic() < deadline, "gw3 learnt nothing with the right key"
        time.sleep(0.5)


def test_gateways_keep_talking_without_server(joined: Mesh) -> None:
    joined.stop_server_daemons()
    stopped = time.monotonic()

    # The server never carries gw1 -> gw2 (its babeld passes no gateway routes
    # on), so traffic should not even pause; allow a few seconds all the same.
    waited = joined.wait_ping("gw1", GW1, GW2, 10.0)
    assert waited is not None, "gw1 lost gw2 when the server stopped"
    joined.timings["ping_after_server_stop_s"] = time.monotonic() - stopped
    time.sleep(5)  # past babeld's neighbour timeouts at hello-interval 1

    assert joined.ping("gw1", GW1, GW2, count=3)
    assert GW2_NET in joined.babel_routes("gw1")
    assert joined.babel_routes("gw1") == [GW2_NET]  # the server's are gone
    out = joined.meshforge(
        "gw1", "net6", "gateway", "status", "--dir", str(joined.root / "gw1")
    )
    assert f"ping server {SERVER_ADDR}: FAILED" in out
    assert f"ping gateway gw2 {GW2}: ok" in out


def test_leave_removes_gateway_everywhere(joined: Mesh) -> None:
    joined.meshforge(
        "gw3", "net6", "gateway", "leave", "--dir", str(joined.root / "gw3")
    )
    joined.meshforge(
        "gw1", "net6", "gateway", "update", "--dir", str(joined.root / "gw1")
    )
    listing = json.loads(joined.meshforge(None, "net6", "gateways", "--json"))

    assert [row["name"] for row in listing] == ["gw1", "gw2"]
    assert not (joined.root / "gw1" / "tinc" / "hosts" / "gw3").exists()
    assert joined.ping("gw1", GW1, GW2, count=3)


def _with_wrong_key(conf: str) -> str:
    lines = []
    for line in conf.splitlines():
        if line.startswith("key id "):
            line = line.rsplit(" ", 1)[0] + " " + "ab" * 32
        lines.append(line)
    assert lines != conf.splitlines(), "babeld.conf carried no key"
    return "\n".join(lines) + "\n"


def _tincd(folder: Path) -> list[str]:
    from meshforge.net6.daemons import tincd_argv

    return tincd_argv(folder)


def _babeld(folder: Path) -> list[str]:
    from meshforge.net6.daemons import babeld_argv

    return babeld_argv(folder)


def _restart_babeld(mesh: Mesh, folder: Path) -> None:
    import os
    import signal

    from meshforge.net6.daemons import read_pid

    pid = read_pid(folder / "babeld.pid")
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while (folder / "babeld.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    mesh.exec("gw3", _babeld(folder))
