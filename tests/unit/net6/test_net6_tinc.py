"""tinc files: the real LibreNet6 host file, and what meshforge writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshforge.errors import FormatError, Net6Error
from meshforge.net6.tinc import (
    HostFile,
    check_name,
    generate_keypair,
    parse_host_file,
    render_tinc_conf,
    render_tinc_down,
    render_tinc_up,
)

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
GSOC_HOST = SAMPLES / "librenet6/gsoc/etc/tinc/librenet6/hosts/server_gsoc"


def test_real_gsoc_host_file_is_read() -> None:
    host = parse_host_file("server_gsoc", GSOC_HOST.read_text())

    assert host.addresses == ["192.0.2.33"]
    assert host.subnets == []
    assert host.port is None
    assert host.ed25519 == "0TsmIRZ22zO7wUjlpVljSH/5oT/z/8j+QI8rtTbZw3G"
    assert host.public_key.startswith(
        "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA1F6X"
    )
    assert host.public_key.endswith("-----END RSA PUBLIC KEY-----")


def test_rendered_host_file_reads_back_the_same() -> None:
    key = parse_host_file("server_gsoc", GSOC_HOST.read_text()).public_key
    host = HostFile(
        name="gw1",
        public_key=key,
        addresses=["203.0.113.18 655"],
        port=656,
        subnets=["2001:db8:100:100::/56"],
    )

    text = host.render()
    again = parse_host_file("gw1", text)

    assert text.splitlines()[:3] == [
        "Address = 203.0.113.18 655",
        "Port = 656",
        "Subnet = 2001:db8:100:100::/56",
    ]
    assert again == host


def test_keys_are_case_insensitive_and_equals_optional() -> None:
    key = parse_host_file("server_gsoc", GSOC_HOST.read_text()).public_key
    text = f"address 198.51.100.7\nSUBNET=2001:db8:100:300::/56#20\n{key}\n"

    host = parse_host_file("old", text)

    assert host.addresses == ["198.51.100.7"]
    assert host.subnets == ["2001:db8:100:300::/56"]


def test_host_file_without_rsa_key_is_refused() -> None:
    with pytest.raises(FormatError, match="no RSA public key"):
        parse_host_file("gw", "Address = 192.0.2.1\nEd25519PublicKey = abc\n")


def test_tinc_conf_fields() -> None:
    lines = render_tinc_conf("gw1", "librenet6", ["srv", "gw2"]).splitlines()

    assert lines == [
        "Name = gw1",
        "Mode = switch",
        "DeviceType = tap",
        "Interface = librenet6",
        "AddressFamily = ipv4",
        "ConnectTo = srv",
        "ConnectTo = gw2",
    ]


@pytest.mark.parametrize("name", ["gw-1", "gw.1", "", "a" * 65, "gw 1"])
def test_names_tinc_refuses(name: str) -> None:
    with pytest.raises(Net6Error, match="tinc node name"):
        check_name(name)


def test_scripts_bring_the_interface_up_and_down() -> None:
    up = render_tinc_up(["ip -6 route replace 2001:db8:100::/64 dev lan0 proto static"])
    down = render_tinc_down(["ip -6 route del 2001:db8:100::/64 dev lan0"])

    assert up.startswith("#!/bin/sh\n")
    assert 'ip link set "$INTERFACE" up' in up.splitlines()
    assert up.splitlines()[-1].endswith("proto static")
    # tinc-down must not stop at the first failure: routes may be gone already.
    assert "ip -6 route del 2001:db8:100::/64 dev lan0 || true" in down.splitlines()


@pytest.mark.skipif(shutil.which("tincd") is None, reason="needs tincd (Debian tinc)")
def test_tincd_generates_a_key_pair() -> None:
    pair = generate_keypair()

    assert "-----BEGIN RSA PRIVATE KEY-----" in pair.private_pem
    assert parse_host_file("x", pair.public_pem).public_key == pair.public_pem


def test_key_block_with_foreign_lines_is_refused() -> None:
    text = (
        "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA1F6X\nConnectTo = evil\n"
        "-----END RSA PUBLIC KEY-----\n"
    )

    with pytest.raises(FormatError, match="no RSA public key"):
        parse_host_file("gw", text)
