"""What the operator sees: each gateway's state and its outage risk."""

from __future__ import annotations

from datetime import datetime, timedelta

from meshforge.errors import Net6Error
from meshforge.net6.bundle import outage_risk
from meshforge.net6.models import utcnow
from meshforge.net6.schemas import GatewayOut
from meshforge.net6.store import Broker
from meshforge.net6.views import GatewayView


def state_of(gw: GatewayView, down_after_s: int, now: datetime) -> str:
    """``up``, ``down`` (stale or failing report) or ``never seen``."""
    if gw.last_seen is None:
        return "never seen"
    if now - gw.last_seen > timedelta(seconds=down_after_s):
        return "down"
    status = gw.last_status or {}
    return "up" if status.get("tinc_up") else "down"


def gateway_overview(broker: Broker) -> list[GatewayOut]:
    gateways = broker.gateways()
    now = utcnow()
    rows = []
    for gw in gateways:
        risk = outage_risk(gw, gateways)
        rows.append(
            GatewayOut(
                name=gw.name,
                community=gw.community,
                subnet=gw.subnet,
                address=gw.address,
                port=gw.port,
                created_at=gw.created_at,
                last_seen=gw.last_seen,
                state=state_of(gw, broker.settings.down_after_s, now),
                survives_server_outage=risk is None,
                warning=risk,
                last_status=gw.last_status,
            )
        )
    return rows


def pick_community(broker: Broker, community: str | None) -> str:
    """The named community, or the only one there is."""
    known = broker.communities()
    if community is not None:
        if community not in known:
            raise Net6Error(
                f"Community {community!r} has no pool; known: {', '.join(known)}."
            )
        return community
    if len(known) == 1:
        return known[0]
    raise Net6Error(
        "Name the community (--community, or `community` in the API): this "
        "broker serves "
        f"{', '.join(known) or 'none yet; run `meshforge net6 init` first'}."
    )
