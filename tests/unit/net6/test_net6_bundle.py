"""A gateway's bundle: host files, ConnectTo, scripts and the outage check."""

from __future__ import annotations

from datetime import UTC, datetime

from meshforge.net6.bundle import MeshView, outage_risk, render_gateway_bundle
from meshforge.net6.views import GatewayView, ServerView

KEY = "-----BEGIN RSA PUBLIC KEY-----\nTESTKEY\n-----END RSA PUBLIC KEY-----"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _gw(name: str, subnet: str, address: str | None = None) -> GatewayView:
    return GatewayView(
        name=name,
        community="default",
        subnet=subnet,
        public_key=KEY,
        address=address,
        port=None,
        lan="lan0",
        babeld_version="1.12.1",
        created_at=NOW,
        last_seen=None,
        last_status=None,
        revoked_at=None,
    )


SRV = ServerView(
    "srv", "default", f"Address = 198.51.100.2 655\n{KEY}\n", "2001:db8:100::/64", None
)
GW1 = _gw("gw1", "2001:db8:100:100::/56")
GW2 = _gw("gw2", "2001:db8:100:200::/56", "203.0.113.18")
GW3 = _gw("gw3", "2001:db8:100:300::/56")


def _mesh(*gateways: GatewayView) -> MeshView:
    return MeshView("librenet6", "librenet6", 1.0, "ab" * 32, [SRV], list(gateways))


def test_bundle_carries_every_peer_and_dials_reachable_ones() -> None:
    bundle = render_gateway_bundle(GW1, _mesh(GW1, GW2, GW3))

    assert sorted(bundle.files) == [
        "babeld.conf",
        "tinc/hosts/gw1",
        "tinc/hosts/gw2",
        "tinc/hosts/gw3",
        "tinc/hosts/srv",
        "tinc/tinc-down",
        "tinc/tinc-up",
        "tinc/tinc.conf",
    ]
    assert bundle.connect_to == ["srv", "gw2"]
    assert "ConnectTo = gw3" not in bundle.files["tinc/tinc.conf"]
    assert bundle.files["tinc/hosts/gw2"].startswith("Address = 203.0.113.18 655\n")
    assert bundle.files["tinc/hosts/gw3"].startswith("Subnet = 2001:db8:100:300::/56")
    assert bundle.server_addresses == ["2001:db8:100::1"]
    assert bundle.peer_addresses == {
        "gw2": "2001:db8:100:200::1",
        "gw3": "2001:db8:100:300::1",
    }


def test_tinc_up_puts_the_subnet_on_the_lan() -> None:
    up = render_gateway_bundle(GW1, _mesh(GW1)).files["tinc/tinc-up"].splitlines()

    assert "ip -6 addr replace 2001:db8:100:100::1/64 dev lan0" in up
    assert "ip -6 route replace 2001:db8:100:100::/56 dev lan0 proto static" in up


def test_babeld_of_old_versions_gets_no_key() -> None:
    old = _gw("old", "2001:db8:100:400::/56")
    object.__setattr__(old, "babeld_version", "1.9.1")

    new_conf = render_gateway_bundle(GW1, _mesh(GW1)).files["babeld.conf"]
    old_conf = render_gateway_bundle(old, _mesh(old)).files["babeld.conf"]

    assert "key id librenet6 type hmac-sha256 value " + "ab" * 32 in new_conf
    assert "key" not in old_conf.replace("# Generated", "")


def test_all_behind_nat_is_reported_as_cut_off() -> None:
    risk = outage_risk(GW1, [GW1, GW3])
    bundle = render_gateway_bundle(GW1, _mesh(GW1, GW3))

    assert risk is not None and "cut off" in risk
    assert bundle.survives_server_outage is False
    assert bundle.warnings == [risk]


def test_one_reachable_peer_keeps_everyone_connected() -> None:
    assert outage_risk(GW1, [GW1, GW2, GW3]) is None
    assert outage_risk(GW2, [GW1, GW2]) is None
    assert outage_risk(GW1, [GW1]) is None  # no peers to lose
