"""Broker and invitation URLs, as operators write them and gateways read them.

An invitation is ``https://broker.example.org[/prefix]/join/<token>``. Plain
http would carry the token and the gateway's credential unprotected, so it is
accepted only towards loopback or when the gateway says --insecure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

from meshforge.errors import InvitationError, Net6Error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Invitation:
    base_url: str
    token: str


def parse_invitation(url: str, insecure: bool = False) -> Invitation:
    """Split ``https://broker/join/<token>``; plain http only when allowed."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if (
        parts.scheme not in ("http", "https")
        or len(segments) < 2
        or segments[-2] != "join"
    ):
        raise InvitationError(
            f"{url!r} is not an invitation URL; it looks like "
            "https://broker.example.org/join/<token>."
        )
    if parts.scheme == "http" and not (insecure or _loopback(parts.hostname)):
        raise InvitationError(
            "The invitation URL uses plain http, which would send the token and "
            "keys unprotected. Use the https URL of the broker, or pass "
            "--insecure on a network you trust."
        )
    prefix = "/".join(segments[:-2])
    base = f"{parts.scheme}://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    return Invitation(base_url=base, token=segments[-1])


def check_broker_url(url: str) -> str:
    """Return an operator's broker URL without its trailing slash, or explain."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Net6Error(
            f"{url!r} is not a broker URL; give the https address gateways "
            "reach the broker at, like https://librenet6.example.org."
        )
    if parts.scheme == "http" and not _loopback(parts.hostname):
        log.warning(
            "invitation URLs on %s use plain http; gateways refuse them "
            "unless they join with --insecure",
            parts.hostname,
        )
    return url.strip().rstrip("/")


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ip_address(host).is_loopback
    except ValueError:
        return False
