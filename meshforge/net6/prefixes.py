"""IPv6 prefix arithmetic for delegations out of a pool.

Every delegation is aligned on its own size and never overlaps another one or
the server's link prefix. The functions here are pure: the store passes in
what is taken and saves what comes out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv6Network

from meshforge.errors import Net6Error, PoolExhausted

MIN_PREFIXLEN = 48
MAX_PREFIXLEN = 64
# Where a pool may come from: global unicast and unique local addresses.
POOL_SPACES = (IPv6Network("2000::/3"), IPv6Network("fc00::/7"))


def parse_prefix(text: str) -> IPv6Network:
    """Read an IPv6 prefix written as ``2001:db8::/48``, strictly."""
    try:
        return IPv6Network(text.strip(), strict=True)
    except ValueError as exc:
        raise Net6Error(
            f"{text!r} is not an IPv6 prefix with its host bits zero ({exc}); "
            "write it like 2001:db8:100::/48."
        ) from exc


def parse_size(text: str | int) -> int:
    """Read a delegation size given as ``/56``, ``56`` or 56."""
    raw = str(text).strip().lstrip("/")
    if not raw.isdigit():
        raise Net6Error(f"{text!r} is not a prefix size; write it like /56.")
    size = int(raw)
    if size < MIN_PREFIXLEN:
        raise Net6Error(
            f"A delegation of /{size} is larger than a /{MIN_PREFIXLEN}, the most "
            f"one gateway gets; ask for /{MIN_PREFIXLEN} to /{MAX_PREFIXLEN}."
        )
    if size > MAX_PREFIXLEN:
        raise Net6Error(
            f"A delegation of /{size} is smaller than a /{MAX_PREFIXLEN}, which a "
            f"LAN with SLAAC needs; ask for /{MIN_PREFIXLEN} to /{MAX_PREFIXLEN}."
        )
    return size


def check_pool(net: IPv6Network) -> IPv6Network:
    """Return net if it can be a pool: routed unicast, room for a /64."""
    if net.prefixlen > MAX_PREFIXLEN:
        raise Net6Error(
            f"A pool of {net} cannot hold even one /64; give a /64 or larger."
        )
    if not any(net.subnet_of(space) for space in POOL_SPACES):
        raise Net6Error(
            f"{net} is not global unicast (2000::/3) or unique local (fc00::/7) "
            "space, so it cannot be routed to a LAN; give the prefix your "
            "provider delegated to you."
        )
    return net


def first_free(
    pool: IPv6Network, size: int, taken: Iterable[IPv6Network]
) -> IPv6Network | None:
    """Return the lowest aligned /size inside pool that overlaps nothing taken.

    Runs in O(n log n) over the taken prefixes, so that a /48 with thousands of
    /64s does not mean enumerating 65,536 candidates.
    """
    if size < pool.prefixlen:
        return None
    block = 1 << (128 - size)
    start = int(pool.network_address)
    end = start + pool.num_addresses
    candidate = start
    for used in sorted(taken, key=lambda net: int(net.network_address)):
        used_start = int(used.network_address)
        used_end = used_start + used.num_addresses
        if used_end <= candidate:
            continue
        if candidate + block <= used_start:
            break
        candidate = _align_up(used_end, block)
    if candidate + block > end:
        return None
    return IPv6Network((candidate, size))


def allocate(
    pools: Iterable[IPv6Network], size: int, taken: Iterable[IPv6Network]
) -> IPv6Network:
    """Delegate a /size from the first of pools that still has room."""
    pool_list = list(pools)
    taken_list = list(taken)
    for pool in pool_list:
        inside = [net for net in taken_list if net.overlaps(pool)]
        found = first_free(pool, size, inside)
        if found is not None:
            return found
    names = ", ".join(str(pool) for pool in pool_list) or "none"
    raise PoolExhausted(
        f"No free /{size} is left in the pools ({names}); add a pool with "
        "`meshforge net6 pool add`, revoke unused gateways, or ask for a "
        "smaller size.",
        size=size,
    )


def check_within(pools: Iterable[IPv6Network], prefix: IPv6Network) -> IPv6Network:
    """Return the pool that holds prefix, or explain that none does."""
    for pool in pools:
        if prefix.subnet_of(pool):
            return pool
    raise Net6Error(
        f"{prefix} lies in none of this community's pools; add its pool "
        "first with `meshforge net6 pool add`."
    )


def host_address(prefix: IPv6Network, index: int = 1) -> ipaddress.IPv6Address:
    """The index-th address of a prefix: ``::1`` is the gateway's own."""
    return prefix.network_address + index


def _align_up(value: int, block: int) -> int:
    return -(-value // block) * block
