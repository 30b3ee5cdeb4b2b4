"""What the broker hands out: plain snapshots of its rows.

Callers never hold a live ORM session; the store turns each row into one of
these before its transaction ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meshforge.net6.models import Gateway, Server


@dataclass(frozen=True)
class GatewayView:
    name: str
    community: str
    subnet: str
    public_key: str
    address: str | None
    port: int | None
    lan: str | None
    babeld_version: str | None
    created_at: datetime
    last_seen: datetime | None
    last_status: dict[str, Any] | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ServerView:
    name: str
    community: str
    host_file: str
    link_prefix: str | None
    directory: str | None


@dataclass(frozen=True)
class Invite:
    name: str
    size: int
    community: str
    token: str  # shown once; only its hash is stored
    expires_at: datetime


@dataclass(frozen=True)
class Redeemed:
    gateway: GatewayView
    token: str  # the gateway's own credential, shown once


def gateway_view(row: Gateway) -> GatewayView:
    return GatewayView(
        name=row.name,
        community=row.community,
        subnet=row.subnet,
        public_key=row.public_key,
        address=row.address,
        port=row.port,
        lan=row.lan,
        babeld_version=row.babeld_version,
        created_at=row.created_at,
        last_seen=row.last_seen,
        last_status=row.last_status,
        revoked_at=row.revoked_at,
    )


def server_view(row: Server) -> ServerView:
    return ServerView(
        name=row.name,
        community=row.community,
        host_file=row.host_file,
        link_prefix=row.link_prefix,
        directory=row.directory,
    )
