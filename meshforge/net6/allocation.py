"""Pools and assignments inside one writing transaction of the broker.

Each function takes the caller's session. Those that read what is taken
before writing lock the pools first (see meshforge.net6.database), so that
two brokers never pick overlapping subnets.
"""

from __future__ import annotations

from ipaddress import IPv6Network

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshforge.errors import Net6Error
from meshforge.net6 import prefixes
from meshforge.net6.database import locked_pools
from meshforge.net6.models import Assignment, Pool, Server


def pools_of(session: Session, community: str | None) -> list[Pool]:
    query = select(Pool).order_by(Pool.id)
    if community is not None:
        query = query.where(Pool.community == community)
    return list(session.scalars(query))


def pool_networks(
    session: Session, community: str | None, lock: bool = False
) -> list[IPv6Network]:
    """The community's pools as networks; lock=True before allocating."""
    rows = locked_pools(session, community) if lock else pools_of(session, community)
    return [prefixes.parse_prefix(row.prefix) for row in rows]


def taken_prefixes(session: Session) -> list[IPv6Network]:
    return [
        prefixes.parse_prefix(p) for p in session.scalars(select(Assignment.prefix))
    ]


def allocate(session: Session, community: str, size: int) -> IPv6Network:
    """Pick a free /size; the caller's transaction holds the pool lock."""
    pools = pool_networks(session, community, lock=True)
    return prefixes.allocate(pools, size, taken_prefixes(session))


def reserve(session: Session, community: str, net: IPv6Network, holder: str) -> None:
    """Record net for holder, refused when it overlaps anything taken."""
    prefixes.check_within(pool_networks(session, community, lock=True), net)
    for held in taken_prefixes(session):
        if held.overlaps(net):
            raise Net6Error(
                f"{net} overlaps {held}, which is already assigned; import "
                "each prefix once."
            )
    assign(session, net, holder)


def reserve_unless_held(
    session: Session, community: str, net: IPv6Network, holder: str
) -> None:
    """Reserve net for holder, unless holder holds it already (an import).

    A hold left by revoking the same holder ends: it holds the prefix again.
    """
    existing = session.scalar(select(Assignment).where(Assignment.prefix == str(net)))
    if existing is None:
        reserve(session, community, net, holder)
    elif existing.holder == holder:
        existing.hold_until = None
    else:
        raise Net6Error(
            f"{net} of host file {holder!r} is already held by "
            f"{existing.holder!r}; fix one of the two first."
        )


def assign(session: Session, net: IPv6Network, holder: str) -> None:
    """Record net as holder's; flushed, so later checks in the session see it."""
    session.add(
        Assignment(prefix=str(net), pool_id=pool_id(session, net), holder=holder)
    )
    session.flush()


def pool_id(session: Session, net: IPv6Network) -> int:
    for pool in session.scalars(select(Pool)):
        if net.subnet_of(prefixes.parse_prefix(pool.prefix)):
            return pool.id
    raise Net6Error(f"{net} lies in no pool.")


def subnet_in_pools(
    subnets: list[str], pools: list[IPv6Network], name: str
) -> IPv6Network:
    for text in subnets:
        try:
            net = IPv6Network(text, strict=True)
        except ValueError:
            continue
        if any(net.subnet_of(pool) for pool in pools):
            return net
    raise Net6Error(
        f"Host file {name!r} has no IPv6 Subnet inside this community's pools "
        f"({', '.join(map(str, pools)) or 'none'}); add the pool first."
    )


def is_server_link(session: Session, holder: str, prefix: str) -> bool:
    query = select(Server.id).where(Server.name == holder, Server.link_prefix == prefix)
    return session.scalar(query) is not None
