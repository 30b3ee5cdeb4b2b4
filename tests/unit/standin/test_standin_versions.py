from __future__ import annotations

import itertools

import pytest

from standin.imagebuilder.standin_ib import versions
from standin.imagebuilder.standin_ib.packages import parse_depends


def test_tilde_sorts_before_release_and_letters_before_symbols() -> None:
    chain = ["1.0~rc1", "1.0", "1.0a", "1.0+b"]
    for lower, higher in itertools.pairwise(chain):
        assert versions.compare(lower, higher) < 0
        assert versions.compare(higher, lower) > 0


@pytest.mark.parametrize(
    ("left", "right", "sign"),
    [
        ("1.35.0-5", "1.35.0-16", -1),  # revision after the last dash
        ("2.86-16", "2.86-16", 0),
        ("1503-r20142-e500494771", "1503-r20142-e500494770", 1),
        ("1:0.1-1", "9.9-1", 1),  # epoch first
        ("6.6.110~484466e2-r1", "6.6.110-r1", -1),
        ("010", "10", 0),  # leading zeros do not count
    ],
)
def test_compare(left: str, right: str, sign: int) -> None:
    result = versions.compare(left, right)
    assert (result > 0) - (result < 0) == sign


def test_bare_operators_include_equal() -> None:
    assert versions.satisfies("1.2", "<", "1.2")
    assert not versions.satisfies("1.2", "<<", "1.2")
    assert versions.satisfies("1.2", ">", "1.2")
    assert versions.satisfies("1.3", ">>", "1.2")


def test_depends_alternatives_and_constraints() -> None:
    groups = parse_depends("libc, b (>= 1.2), c | d (=5.1-1)")
    assert [[str(dep) for dep in group] for group in groups] == [
        ["libc"],
        ["b (>= 1.2)"],
        ["c", "d (= 5.1-1)"],
    ]
    assert groups[2][1].allows("5.1-1")
    assert not groups[1][0].allows("1.1")
