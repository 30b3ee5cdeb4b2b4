"""6to4 uplink: the derived prefix and the rendered commands."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Network

import pytest

from meshforge.errors import Net6Error
from meshforge.net6.sixtofour import plan, sixtofour_prefix


def test_prefix_embeds_the_ipv4_address() -> None:
    assert sixtofour_prefix(IPv4Address("198.51.100.7")) == IPv6Network(
        "2002:c633:6407::/48"
    )
    assert sixtofour_prefix(IPv4Address("192.0.2.1")) == IPv6Network(
        "2002:c000:201::/48"
    )


def test_commands_for_a_named_relay() -> None:
    uplink = plan("198.51.100.7", "203.0.113.99")

    assert uplink.up_commands() == [
        "ip tunnel add tun6to4 mode sit remote any local 198.51.100.7 ttl 64",
        "ip link set tun6to4 up",
        "ip -6 addr add 2002:c633:6407::1/16 dev tun6to4",
        "ip -6 route add 2000::/3 via ::203.0.113.99 dev tun6to4",
    ]
    assert uplink.down_commands() == ["ip tunnel del tun6to4"]
    assert uplink.script().startswith("#!/bin/sh\n")


@pytest.mark.parametrize(
    "local", ["10.1.2.3", "192.168.1.1", "100.64.0.1", "127.0.0.1"]
)
def test_addresses_behind_nat_are_refused(local: str) -> None:
    with pytest.raises(Net6Error, match="public IPv4"):
        plan(local, "203.0.113.99")


def test_malformed_relay_is_refused() -> None:
    with pytest.raises(Net6Error, match="relay"):
        plan("198.51.100.7", "relay.example")
