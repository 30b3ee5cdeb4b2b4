"""babeld configuration, field by field."""

from __future__ import annotations

from ipaddress import IPv6Network

import pytest

from meshforge.errors import Net6Error
from meshforge.net6.babel import (
    BabelOptions,
    new_hmac_key,
    render_gateway,
    render_server,
    supports_hmac,
)

KEY = "0f" * 32
SUBNET = IPv6Network("2001:db8:100:100::/56")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_gateway_announces_only_its_subnet_and_signs() -> None:
    text = render_gateway(BabelOptions("librenet6", 1, KEY), SUBNET)

    assert _lines(text) == [
        f"key id librenet6 type hmac-sha256 value {KEY}",
        "default hello-interval 1",
        "interface librenet6 type tunnel key librenet6",
        "in ip 2001:db8:100:100::/56 le 128 deny",
        "in ip 2000::/3 le 128 allow",
        "in ip ::/0 le 0 allow",
        "in deny",
        "out ip 2001:db8:100:100::/56 eq 56 allow",
        "out deny",
        "redistribute ip 2001:db8:100:100::/56 eq 56 metric 128",
        "redistribute local deny",
        "redistribute deny",
    ]


def test_gateway_without_hmac_has_no_key_lines() -> None:
    lines = _lines(render_gateway(BabelOptions("librenet6", 4.0, None), SUBNET))

    assert lines[0] == "default hello-interval 4"
    assert lines[1] == "interface librenet6 type tunnel"
    assert not any("key" in line for line in lines)


def test_server_announces_link_and_optionally_the_default_route() -> None:
    link = IPv6Network("2001:db8:100::/64")
    plain = _lines(render_server(BabelOptions("ln6", 2.5, KEY), link, False))
    uplink = _lines(render_server(BabelOptions("ln6", 2.5, KEY), link, True))

    assert plain[1:] == [
        "default hello-interval 2.5",
        "interface ln6 type tunnel key librenet6",
        "redistribute ip 2001:db8:100::/64 eq 64 allow",
        "redistribute local ip 2001:db8:100::/64 le 128 allow",
        "redistribute local deny",
        "redistribute deny",
        "out ip 2001:db8:100::/64 le 128 allow",
        "out deny",
    ]
    assert "redistribute ip ::/0 le 0 allow" in uplink
    assert "redistribute ip ::/0 le 0 allow" not in plain
    assert uplink[-5:] == [
        "redistribute local deny",
        "redistribute deny",
        "out ip 2001:db8:100::/64 le 128 allow",
        "out ip ::/0 le 0 allow",
        "out deny",
    ]


@pytest.mark.parametrize("key", ["", "XYZ", "0f" * 65, "abc"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(Net6Error, match="HMAC key"):
        render_gateway(BabelOptions("librenet6", 1, key), SUBNET)


def test_new_keys_are_32_random_bytes() -> None:
    first, second = new_hmac_key(), new_hmac_key()

    assert len(bytes.fromhex(first)) == 32
    assert first != second


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.12.1", True),
        ("babeld-1.13", True),
        ("1.11", False),
        ("1.8.4", False),
        ("2.0", True),
        (None, False),
        ("unknown", False),
    ],
)
def test_hmac_needs_babeld_1_12(version: str | None, expected: bool) -> None:
    assert supports_hmac(version) is expected
