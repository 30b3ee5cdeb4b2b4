"""Choosing the newest release of the running branch and of the next one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from meshforge.client.releases import (
    branch_of,
    candidate_for,
    is_newer_release,
    newest_release,
    next_branch_candidate,
    package_format,
    release_key,
    same_branch_candidate,
    usable_branches,
)

Overview = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    ("version", "branch"),
    [
        ("24.10.5", "24.10"),
        ("24.10-SNAPSHOT", "24.10"),
        ("SNAPSHOT", "SNAPSHOT"),
        ("25.12.0-rc1", "25.12"),
    ],
)
def test_branch_of(version: str, branch: str) -> None:
    assert branch_of(version) == branch


def test_release_order_puts_candidates_before_the_release() -> None:
    versions = ["24.10.1", "24.10.0", "24.10.0-rc7", "24.10.0-rc2", "23.05.6"]
    ordered = sorted(versions, key=lambda v: release_key(v) or (0, 0, 0, 0))
    assert ordered == ["23.05.6", "24.10.0-rc2", "24.10.0-rc7", "24.10.0", "24.10.1"]
    assert release_key("24.10-SNAPSHOT") is None


def test_newest_release_prefers_finals_then_candidates() -> None:
    assert newest_release(["24.10.10", "24.10.9", "24.10-SNAPSHOT"]) == "24.10.10"
    assert (
        newest_release(["25.12.0-rc1", "25.12.0-rc2", "25.12-SNAPSHOT"])
        == "25.12.0-rc2"
    )
    assert newest_release(["SNAPSHOT"]) is None


def test_same_and_next_branch_for_a_release(overview: Overview) -> None:
    branches = usable_branches(overview(), "ath79/generic")
    same = same_branch_candidate(branches, "23.05.4")
    following = next_branch_candidate(branches, "23.05.4")
    assert same is not None and (same.version, same.path) == (
        "23.05.6",
        "releases/23.05.6",
    )
    assert following is not None and following.version == "24.10.5"


def test_next_branch_skips_disabled_and_unknown_branches(overview: Overview) -> None:
    branches = usable_branches(overview(), "ath79/generic")
    assert "22.03" not in branches
    # 19.07 is not served any more: no same-branch offer, the next is 23.05.
    assert same_branch_candidate(branches, "19.07.3") is None
    following = next_branch_candidate(branches, "19.07.3")
    assert following is not None and following.version == "23.05.6"


def test_newest_branch_has_no_next_and_snapshot_stays_snapshot(
    overview: Overview,
) -> None:
    branches = usable_branches(overview(), "x86/64")
    assert next_branch_candidate(branches, "25.12.2") is None
    assert next_branch_candidate(branches, "SNAPSHOT") is None
    same = same_branch_candidate(branches, "23.05-SNAPSHOT")
    assert same is not None
    assert (same.version, same.path) == ("23.05-SNAPSHOT", "releases/23.05-SNAPSHOT")
    snap = same_branch_candidate(branches, "SNAPSHOT")
    assert snap is not None and snap.path == "snapshots"


def test_targets_filter_branches(overview: Overview) -> None:
    assert usable_branches(overview(), "ramips/mt7621") == {}


def test_candidate_for_and_newer(overview: Overview) -> None:
    branches = usable_branches(overview(), "x86/64")
    found = candidate_for(branches, "24.10.4")
    assert found is not None and found.branch.name == "24.10"
    assert candidate_for(branches, "24.10.3") is None
    assert is_newer_release("23.05.6", "23.05.4")
    assert not is_newer_release("23.05.4", "23.05.4")
    assert not is_newer_release("23.05-SNAPSHOT", "23.05.4")


@pytest.mark.parametrize(
    ("version", "manager"),
    [
        ("24.10.5", "opkg"),
        ("24.10-SNAPSHOT", "opkg"),
        ("25.12.2", "apk"),
        ("SNAPSHOT", "apk"),
        ("19.07.10", "opkg"),
    ],
)
def test_package_format(version: str, manager: str) -> None:
    assert package_format(version) == manager
