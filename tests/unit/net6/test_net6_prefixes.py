"""Prefix allocation: alignment, no overlap, exhaustion and reuse."""

from __future__ import annotations

import contextlib
from ipaddress import IPv6Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshforge.errors import Net6Error, PoolExhausted
from meshforge.net6.prefixes import (
    allocate,
    check_pool,
    first_free,
    parse_prefix,
    parse_size,
)

POOL = IPv6Network("2001:db8:100::/48")
LINK = IPv6Network("2001:db8:100::/64")


def test_first_56_skips_the_reserved_link_64() -> None:
    first = allocate([POOL], 56, [LINK])
    second = allocate([POOL], 56, [LINK, first])

    assert first == IPv6Network("2001:db8:100:100::/56")
    assert second == IPv6Network("2001:db8:100:200::/56")


def test_small_delegation_fills_the_gap_before_a_large_one() -> None:
    taken = [IPv6Network("2001:db8:100:100::/56")]

    assert allocate([POOL], 60, taken) == IPv6Network("2001:db8:100::/60")
    assert allocate([POOL], 48, []) == POOL


def test_a_whole_pool_delegation_needs_an_empty_pool() -> None:
    with pytest.raises(PoolExhausted, match="No free /48"):
        allocate([POOL], 48, [LINK])


def test_exhaustion_names_the_pools_and_what_to_do() -> None:
    small = IPv6Network("2001:db8:100::/62")
    taken = list(small.subnets(new_prefix=64))

    with pytest.raises(PoolExhausted) as caught:
        allocate([small], 64, taken)

    assert "2001:db8:100::/62" in caught.value.detail
    assert "pool add" in caught.value.detail
    assert caught.value.status == 409


def test_second_pool_is_used_when_the_first_is_full() -> None:
    full = IPv6Network("2001:db8:100::/63")
    spare = IPv6Network("2001:db8:200::/48")
    taken = list(full.subnets(new_prefix=64))

    assert allocate([full, spare], 64, taken) == IPv6Network("2001:db8:200::/64")


def test_size_larger_than_the_pool_finds_nothing() -> None:
    assert first_free(IPv6Network("2001:db8:100::/56"), 48, []) is None


@pytest.mark.parametrize("text", ["/47", "65", "/0", "big", "/128"])
def test_sizes_outside_48_to_64_are_refused(text: str) -> None:
    with pytest.raises(Net6Error):
        parse_size(text)


def test_sizes_are_read_with_or_without_slash() -> None:
    assert parse_size("/56") == 56
    assert parse_size(60) == 60


def test_prefix_with_host_bits_is_refused() -> None:
    with pytest.raises(Net6Error, match="host bits"):
        parse_prefix("2001:db8:100::1/48")


sizes = st.lists(st.sampled_from([52, 56, 60, 62, 64]), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(sizes=sizes, pool_len=st.sampled_from([48, 52, 56]))
def test_allocations_are_aligned_inside_and_disjoint(
    sizes: list[int], pool_len: int
) -> None:
    pool = IPv6Network(("2001:db8:100::", pool_len))
    taken: list[IPv6Network] = []
    for size in sizes:
        try:
            net = allocate([pool], size, taken)
        except PoolExhausted:
            # Exhaustion is only allowed when no aligned block is free.
            assert not _any_free(pool, size, taken)
            continue
        assert net.prefixlen == size
        assert int(net.network_address) % net.num_addresses == 0
        assert net.subnet_of(pool)
        assert not any(net.overlaps(other) for other in taken)
        taken.append(net)


@settings(max_examples=100, deadline=None)
@given(sizes=sizes, data=st.data())
def test_released_prefixes_are_reused(sizes: list[int], data: st.DataObject) -> None:
    pool = IPv6Network("2001:db8:100::/52")
    taken: list[IPv6Network] = []
    for size in sizes:
        with contextlib.suppress(PoolExhausted):
            taken.append(allocate([pool], size, taken))
    released = data.draw(st.sampled_from(taken))
    remaining = [net for net in taken if net != released]

    again = allocate([pool], released.prefixlen, remaining)

    # The lowest free aligned block is at or below the released one.
    assert int(again.network_address) <= int(released.network_address)
    assert not any(again.overlaps(other) for other in remaining)


@settings(max_examples=30, deadline=None)
@given(size=st.sampled_from([60, 62, 64]))
def test_a_pool_fills_exactly_to_its_capacity(size: int) -> None:
    pool = IPv6Network("2001:db8:100::/56")
    taken: list[IPv6Network] = []
    capacity = 2 ** (size - 56)
    for _ in range(capacity):
        taken.append(allocate([pool], size, taken))

    with pytest.raises(PoolExhausted):
        allocate([pool], size, taken)
    assert len(set(taken)) == capacity


def _any_free(pool: IPv6Network, size: int, taken: list[IPv6Network]) -> bool:
    if size < pool.prefixlen:
        return False
    return any(
        not any(candidate.overlaps(other) for other in taken)
        for candidate in pool.subnets(new_prefix=size)
    )


def test_size_errors_say_which_way_is_wrong() -> None:
    with pytest.raises(Net6Error, match="larger than a /48"):
        parse_size("/47")
    with pytest.raises(Net6Error, match="smaller than a /64"):
        parse_size("/65")
    with pytest.raises(Net6Error, match="not a prefix size"):
        parse_size("/56.5")


def test_pools_come_from_routed_unicast_space() -> None:
    assert check_pool(parse_prefix("fd00:1::/48")) == parse_prefix("fd00:1::/48")
    with pytest.raises(Net6Error, match="global unicast"):
        check_pool(parse_prefix("fe80::/64"))
    with pytest.raises(Net6Error, match="even one /64"):
        check_pool(parse_prefix("2001:db8::/96"))
