"""tinc 1.0 files: tinc.conf, host files, tinc-up/down, and key generation.

meshforge writes only options that tinc 1.0.36 (Debian 12) and tinc 1.1 both
read, so a mesh can mix the two. The mesh runs in switch mode, as the original
LibreNet6 design did: babeld's link-local multicast then crosses the tunnel
like any Ethernet segment, with no per-node ``fe80::`` Subnet lines.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from meshforge.errors import FormatError, Net6Error

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
# What an Address line may hold: an IP address or a DNS name, nothing more.
ADDRESS_RE = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")
DEFAULT_PORT = 655
PEM_BEGIN = "-----BEGIN RSA PUBLIC KEY-----"
PEM_END = "-----END RSA PUBLIC KEY-----"
KEYGEN_TIMEOUT_S = 120
BASE64_RE = re.compile(r"[A-Za-z0-9+/]{1,76}={0,2}")


@dataclass
class HostFile:
    """One ``hosts/<Name>`` file: how to reach a node and its public key."""

    name: str
    public_key: str
    addresses: list[str] = field(default_factory=list)
    port: int | None = None
    subnets: list[str] = field(default_factory=list)
    ed25519: str | None = None

    def render(self) -> str:
        lines = [f"Address = {address}" for address in self.addresses]
        if self.port is not None:
            lines.append(f"Port = {self.port}")
        lines += [f"Subnet = {subnet}" for subnet in self.subnets]
        if self.ed25519:
            lines.append(f"Ed25519PublicKey = {self.ed25519}")
        lines.append(self.public_key.strip())
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


def check_name(name: str) -> str:
    """Return name if tinc accepts it as a node name, else explain."""
    if not NAME_RE.fullmatch(name):
        raise Net6Error(
            f"{name!r} cannot be a tinc node name: use 1-64 letters, digits "
            "or underscores (no dashes or dots)."
        )
    return name


def check_address(address: str) -> str:
    """Return address if it can stand on a host file's Address line."""
    if not ADDRESS_RE.fullmatch(address):
        raise Net6Error(
            f"{address!r} is not an IP address or host name; give the public "
            "IPv4 address or DNS name where tinc's port reaches this node."
        )
    return address


def parse_host_file(name: str, text: str) -> HostFile:
    """Read a tinc 1.0 or 1.1 host file; keys are case-insensitive."""
    pem = _extract_pem(text)
    if pem is None:
        raise FormatError(
            f"Host file {name!r} holds no RSA public key block; tinc 1.0 "
            "needs one. Regenerate it with `tincd -n NET -K`."
        )
    host = HostFile(name=check_name(name), public_key=pem)
    for key, value in _options(text):
        _apply_option(host, key, value)
    return host


def _extract_pem(text: str) -> str | None:
    """The RSA public key block alone, its body checked to be base64.

    Only this block of a key a gateway sends is ever copied into host files,
    so nothing else it wrote (an Address or Subnet line) reaches other nodes.
    """
    start = text.find(PEM_BEGIN)
    end = text.find(PEM_END)
    if start < 0 or end < start:
        return None
    body = text[start + len(PEM_BEGIN) : end].split()
    if not body or not all(BASE64_RE.fullmatch(line) for line in body):
        return None
    return "\n".join([PEM_BEGIN, *body, PEM_END])


def _options(text: str) -> list[tuple[str, str]]:
    options = []
    in_pem = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-----BEGIN"):
            in_pem = True
        if in_pem or not line:
            in_pem = in_pem and not line.startswith("-----END")
            continue
        key, _, value = line.replace("=", " ", 1).partition(" ")
        options.append((key.strip().lower(), value.strip()))
    return options


def _apply_option(host: HostFile, key: str, value: str) -> None:
    if key == "address":
        host.addresses.append(value)
    elif key == "port":
        host.port = _port(host.name, value)
    elif key == "subnet":
        host.subnets.append(value.split("#", 1)[0].strip())
    elif key == "ed25519publickey":
        host.ed25519 = value


def _port(name: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise FormatError(f"Host file {name!r} has Port {value!r}, not 1-65535.")
    return int(value)


def render_tinc_conf(
    name: str, interface: str, connect_to: list[str], port: int | None = None
) -> str:
    """tinc.conf for a node of the mesh; ConnectTo repeats, one per peer."""
    lines = [
        f"Name = {check_name(name)}",
        "Mode = switch",
        "DeviceType = tap",
        f"Interface = {interface}",
        "AddressFamily = ipv4",
    ]
    if port is not None:
        lines.append(f"Port = {port}")
    lines += [f"ConnectTo = {check_name(peer)}" for peer in connect_to]
    return "\n".join(lines) + "\n"


def render_tinc_up(commands: list[str]) -> str:
    """A POSIX shell script that tincd runs with $INTERFACE set."""
    body = [
        "#!/bin/sh",
        "# Generated by meshforge net6; rewritten on update.",
        "set -e",
    ]
    body.append('ip link set "$INTERFACE" up')
    body += commands
    return "\n".join(body) + "\n"


def render_tinc_down(commands: list[str]) -> str:
    body = ["#!/bin/sh", "# Generated by meshforge net6; rewritten on update."]
    body += [f"{command} || true" for command in commands]
    body.append('ip link set "$INTERFACE" down || true')
    return "\n".join(body) + "\n"


def generate_keypair(bits: int = 2048) -> KeyPair:
    """Let tincd make an RSA key pair in a scratch folder we own."""
    with tempfile.TemporaryDirectory(prefix="meshforge-tinc-") as tmp:
        folder = Path(tmp)
        (folder / "hosts").mkdir()
        (folder / "tinc.conf").write_text("Name = keygen\n")
        _run_keygen(folder, bits)
        private = (folder / "rsa_key.priv").read_text()
        public = _extract_pem((folder / "hosts" / "keygen").read_text())
    if public is None:
        raise FormatError("tincd -K wrote no RSA public key; check its version.")
    log.debug("generated a %d-bit tinc key", bits)
    return KeyPair(private_pem=private, public_pem=public)


def _run_keygen(folder: Path, bits: int) -> None:
    argv = ["tincd", "-c", str(folder), f"--generate-keys={bits}"]
    try:
        subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=KEYGEN_TIMEOUT_S,
        )
    except FileNotFoundError as exc:
        raise Net6Error(
            "tincd is not installed; install Debian's tinc package "
            "(apt-get install tinc) and run the command again."
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise Net6Error(
            f"tincd could not generate keys: {exc.stderr.decode(errors='replace')}"
        ) from exc
