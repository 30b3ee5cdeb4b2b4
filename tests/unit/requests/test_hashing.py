import hashlib

import pytest
from pydantic import ValidationError

from meshforge.requests.hashing import NormalisedRequest, packages_hash
from meshforge.requests.model import BuildRequest


def _norm(**changes):
    base = dict(
        distro="openwrt",
        version="22.03-SNAPSHOT",
        version_code="",
        revision="r20142-e500494771",
        target="x86/64",
        profile="generic",
        packages=("rsync",),
        packages_versions=(),
        diff_packages=False,
        defaults="",
        rootfs_size_mb=None,
        filesystem="",
        repositories=(),
        repositories_mode="replace",
        repository_keys=(),
    )
    base.update(changes)
    return NormalisedRequest(**base)


def test_packages_hash_matches_asu_vector():
    # Vector from the asu test-suite (DOMAIN.md §1.3).
    expected = "57aab5949a36e66b535a8cb13e39e9e093181c9000c016990d7be9eb86a9b9e8"
    assert packages_hash(["test2", "test1", "+test1"]) == expected


def test_hash_is_full_sha256_of_canonical_json():
    request = _norm()
    assert request.request_hash == hashlib.sha256(request.canonical()).hexdigest()
    assert len(request.request_hash) == 64
    assert b" " not in request.canonical()


@pytest.mark.parametrize(
    "change",
    [
        {"packages": ("rsync", "tcpdump")},
        {"revision": "r20143-0000000000"},
        {"profile": "other"},
        {"diff_packages": True},
        {"defaults": "echo hi"},
        {"rootfs_size_mb": 256},
        {"filesystem": "ext4"},
        {"version_code": "r1-1"},
        {"repository_keys": ("key",)},
    ],
)
def test_every_field_changes_the_hash(change):
    assert _norm(**change).request_hash != _norm().request_hash


def test_repositories_mode_only_counts_with_repositories():
    assert (
        _norm(repositories_mode="append").request_hash
        == _norm(repositories_mode="replace").request_hash
    )
    with_repo = {"repositories": (("x", "https://e.org/x"),)}
    assert (
        _norm(repositories_mode="append", **with_repo).request_hash
        != _norm(repositories_mode="replace", **with_repo).request_hash
    )


def test_model_ignores_unknown_fields_and_strips_plus():
    request = BuildRequest.model_validate(
        {
            "version": "22.03-SNAPSHOT",
            "target": "x86/64",
            "profile": "generic",
            "packages": ["+rsync", "-ppp"],
            "whatever": 1,
        }
    )
    assert request.packages == ["rsync", "-ppp"]
    assert request.package_names == ["rsync", "-ppp"]


def test_packages_versions_keys_replace_packages():
    request = BuildRequest.model_validate(
        {
            "version": "1",
            "target": "a/b",
            "profile": "p",
            "packages": ["x"],
            "packages_versions": {"y": "1.0~r1+2-1"},
        }
    )
    assert request.package_names == ["y"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("packages", ["rsync; rm -rf /"]),
        ("packages", ["$(reboot)"]),
        ("packages", ["a b"]),
        ("packages", ["lib+plus"]),
        ("profile", "generic PACKAGES=evil"),
        ("profile", "x`id`"),
        ("target", "x86/64/extra"),
        ("version", "22.03;ls"),
        ("packages_versions", {"ok": "1.0 $(id)"}),
        ("repositories", {"r": "ftp://example.org"}),
    ],
)
def test_injection_attempts_are_refused(field, value):
    body = {"version": "22.03-SNAPSHOT", "target": "x86/64", "profile": "generic"}
    body[field] = value
    with pytest.raises(ValidationError):
        BuildRequest.model_validate(body)
