"""JSON bodies of the broker's API, shared by the server and the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class JoinRequest(BaseModel):
    token: str = Field(min_length=20, max_length=100)
    public_key: str = Field(max_length=4096)
    # A host name or an IP address: it goes into other nodes' host files.
    address: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.:-]{1,253}$")
    port: int | None = Field(default=None, ge=1, le=65535)
    lan: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.@-]{1,15}$")
    babeld_version: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,32}$")


class BundleOut(BaseModel):
    name: str
    subnet: str
    netname: str
    interface: str
    files: dict[str, str]
    connect_to: list[str]
    server_addresses: list[str]
    peer_addresses: dict[str, str]
    survives_server_outage: bool
    warnings: list[str]


class JoinResponse(BaseModel):
    gateway_token: str
    bundle: BundleOut


class StatusReport(BaseModel):
    tinc_up: bool
    routes: list[str] = Field(default_factory=list, max_length=10000)
    pings: dict[str, bool] = Field(default_factory=dict)


class StatusAnswer(BaseModel):
    survives_server_outage: bool
    warnings: list[str]


class InvitationIn(BaseModel):
    name: str
    size: str | int = "/56"
    expires: str | None = None
    community: str | None = None


class InvitationOut(BaseModel):
    name: str
    size: int
    url: str
    token: str
    expires_at: datetime


class GatewayOut(BaseModel):
    name: str
    community: str
    subnet: str
    address: str | None
    port: int | None
    created_at: datetime
    last_seen: datetime | None
    state: str
    survives_server_outage: bool
    warning: str | None
    last_status: dict[str, Any] | None
