"""An ICMPv6 echo, so that ``status`` needs no ping binary on the gateway.

Uses a raw socket (root or CAP_NET_RAW, which tincd and babeld need anyway).
For ICMPv6 raw sockets the kernel fills in the checksum itself.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import struct
import time

from meshforge.errors import Net6Error

log = logging.getLogger(__name__)

ECHO_REQUEST = 128
ECHO_REPLY = 129
HEADER = struct.Struct("!BBHHH")


def ping6(
    destination: str, source: str | None = None, count: int = 3, timeout_s: float = 1.0
) -> float | None:
    """Round-trip time in seconds of the first answered echo, or None."""
    ident = os.getpid() & 0xFFFF
    with _raw_socket() as sock:
        if source is not None and not _bound(sock, source):
            return None
        for seq in range(1, count + 1):
            rtt = _one_echo(sock, destination, ident, seq, timeout_s)
            if rtt is not None:
                return rtt
    log.debug("no echo reply from %s after %d tries", destination, count)
    return None


def _raw_socket() -> socket.socket:
    try:
        return socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except PermissionError as exc:
        raise Net6Error(
            "Pinging needs a raw ICMPv6 socket, which only root (or "
            "CAP_NET_RAW) may open; run the command as root."
        ) from exc


def _bound(sock: socket.socket, source: str) -> bool:
    """Bind to source; False when this host does not hold that address."""
    try:
        sock.bind((source, 0))
    except OSError as exc:
        log.warning(
            "cannot ping from %s (%s); tinc-up adds it when tincd starts",
            source,
            exc.strerror,
        )
        return False
    return True


def _one_echo(
    sock: socket.socket, destination: str, ident: int, seq: int, timeout_s: float
) -> float | None:
    packet = HEADER.pack(ECHO_REQUEST, 0, 0, ident, seq) + b"meshforge-net6"
    started = time.monotonic()
    try:
        sock.sendto(packet, (destination, 0))
    except OSError as exc:
        log.debug("echo to %s not sent: %s", destination, exc)
        time.sleep(timeout_s)
        return None
    deadline = started + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        data, _ = sock.recvfrom(2048)
        if len(data) >= HEADER.size and _is_reply(data, ident, seq):
            return time.monotonic() - started
    return None


def _is_reply(data: bytes, ident: int, seq: int) -> bool:
    fields: tuple[int, int, int, int, int] = HEADER.unpack_from(data)
    kind, _, _, got_ident, got_seq = fields
    return kind == ECHO_REPLY and got_ident == ident and got_seq == seq
