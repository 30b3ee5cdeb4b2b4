"""Version order from opkg's (dpkg's) and apk's rules, with real versions."""

from __future__ import annotations

import pytest

from meshforge.packages.versions import (
    Format,
    compare,
    compare_apk,
    compare_opkg,
    opkg_satisfies,
)


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0~rc1", "1.0"),  # ~ sorts before the end of the string
        ("1.0", "1.0a"),
        ("1.0a", "1.0+b"),  # non-letters weigh more than letters
        ("1.0~rc1", "1.0~rc2"),
        ("9.9", "1:0.1"),  # the epoch wins
        ("1:1.0", "2:0.1"),
        ("1.36.1-r2", "1.36.1-r10"),  # -rN compares numerically
        ("1.2.3-4", "1.2.3-10"),
        ("2024.10.16~38eccbb1-r1", "2024.10.16-r1"),
        ("2024.03.29~eb9bcb64-r1", "2025.07.23~49056d17-r1"),
        ("4.14.169-1", "4.14.169+5.4-rc8-1-1"),  # + and the last '-' split
        ("6.6.73-r1", "6.6.73.2025.01.14~8e4f72b6-r1"),
        ("git-23.132.65998-fa9fb2f-1", "git-23.133.1-aaaaaaa-1"),
        ("1655~6df0e3d02a", "1665~29397011cc"),
        ("1.0", "1.0.0"),
    ],
)
def test_opkg_orders_real_versions(lower: str, higher: str) -> None:
    assert compare_opkg(lower, higher) < 0
    assert compare_opkg(higher, lower) > 0


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.0", "1.0"), ("0:1.0", "1.0"), ("1.01", "1.1"), ("1.0-r01", "1.0-r1")],
)
def test_opkg_equal_versions(a: str, b: str) -> None:
    assert compare_opkg(a, b) == 0


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0_alpha", "1.0_beta"),
        ("1.0_beta", "1.0_pre"),
        ("1.0_pre", "1.0_rc"),
        ("1.0_rc1", "1.0"),  # pre-release suffixes sort before no suffix
        ("1.0", "1.0_cvs"),
        ("1.0_cvs", "1.0_svn"),
        ("1.0_svn", "1.0_git"),
        ("1.0_git", "1.0_hg"),
        ("1.0_hg", "1.0_p1"),
        ("1.0-r1", "1.0-r10"),
        ("1.4-r5", "1.4g-r5"),
        ("8.2.0015", "8.2.002"),  # a leading zero compares as a string
        ("1.02", "1.1"),
        ("6.12.94-r1", "6.12.95-r1"),
        ("2025.07.23-r1", "2025.07.23~49056d17-r1"),  # a hash is not "before"
        ("2025.07.23~49056d17-r1", "2025.07.23~59056d17-r1"),
        ("2025.07.23~49056d17-r1", "2025.12.01~bb84e159-r1"),
    ],
)
def test_apk_orders_real_versions(lower: str, higher: str) -> None:
    assert compare_apk(lower, higher) < 0
    assert compare_apk(higher, lower) > 0


def test_tilde_differs_between_opkg_and_apk() -> None:
    with_hash, plain = "2025.07.23~49056d17-r1", "2025.07.23-r1"
    assert compare(with_hash, plain, "opkg") < 0
    assert compare(with_hash, plain, "apk") > 0


@pytest.mark.parametrize(
    ("version", "op", "wanted", "expected"),
    [
        ("6.6.110-r1", "=", "6.6.110-r1", True),
        ("6.6.110-r2", "=", "6.6.110-r1", False),
        ("1.2", ">=", "1.1", True),
        ("1.0", ">=", "1.1", False),
        ("1.0", "<<", "1.1", True),
        ("1.0", "<<", "1.0", True),  # opkg accepts equality for every operator
        ("1.2", "<=", "1.1", False),
        ("1.2", ">>", "1.1", True),
        ("1.2", None, None, True),
    ],
)
def test_opkg_constraints(
    version: str, op: str | None, wanted: str | None, expected: bool
) -> None:
    assert opkg_satisfies(version, op, wanted) is expected


@pytest.mark.parametrize("format", ["opkg", "apk"])
def test_digit_runs_of_any_length(format: Format) -> None:
    # int() refuses more than 4300 digits; versions come from anyone.
    low, high = "1" + "0" * 5000, "1" + "0" * 4999 + "1"
    assert compare(high, low, format) == 1
    assert compare(low, "9" * 4999, format) == 1
    assert compare(f"2.{low}-r1", f"2.{low}-r1", format) == 0


def test_opkg_leading_zeros_and_non_ascii_digits() -> None:
    assert compare_opkg("1.007", "1.7") == 0
    assert compare_opkg("1." + "0" * 5000 + "8", "1.9") == -1
    # '²' counts as a digit to str.isdigit but int() refuses it.
    assert compare_opkg("1.²", "1.²") == 0
    assert compare_opkg("1.²", "1.0") != 0
