"""Tokens and durations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshforge.errors import Net6Error
from meshforge.net6.tokens import hash_token, new_token, parse_duration, same_hash


def test_tokens_are_long_random_and_url_safe() -> None:
    first, second = new_token(), new_token()

    assert first != second
    assert len(first) == 43
    assert set(first) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_hash_is_sha256_hex_and_compares() -> None:
    digest = hash_token("abc")

    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert same_hash("abc", digest)
    assert not same_hash("abd", digest)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43200), ("1d", 86400), ("2w", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "0d", "-1d", "1y", "d1"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(Net6Error, match="duration"):
        parse_duration(text)


def test_a_duration_over_a_year_is_refused() -> None:
    assert parse_duration("52w").days == 364
    with pytest.raises(Net6Error, match="longer than a year"):
        parse_duration("99999999999w")
