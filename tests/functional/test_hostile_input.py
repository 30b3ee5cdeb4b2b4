"""What a newcomer's attack on the API found, kept fixed."""

from __future__ import annotations

import pytest

BASE = {"version": "22.03-SNAPSHOT", "target": "x86/64", "profile": "generic"}


def _post_raw(live, content: bytes, content_type="application/json"):
    with live.client() as client:
        return client.post(
            "/api/v1/build", content=content, headers={"content-type": content_type}
        )


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_422_json(live_server, literal):
    body = (
        b'{"version":"22.03-SNAPSHOT","target":"x86/64","profile":"generic",'
        b'"rootfs_size_mb":' + literal + b"}"
    )
    response = _post_raw(live_server, body)
    assert response.status_code == 422
    assert response.json()["status"] == 422


def test_not_json_says_so(live_server):
    response = _post_raw(live_server, b"hello")
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_undecodable_body_is_422_with_a_sentence(live_server):
    response = _post_raw(live_server, b'{"version": "\xff"}')
    assert response.status_code == 422
    assert "UTF-8" in response.json()["detail"] or "JSON" in response.json()["detail"]


def test_body_over_the_limit_is_413(live_server):
    huge = b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = _post_raw(live_server, huge)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_unknown_package_header_is_capped(live_server):
    names = [f"nosuch-package-{i:04d}-" + "x" * 80 for i in range(600)]
    with live_server.client() as client:
        response = client.post("/api/v1/build", json={**BASE, "packages": names})
    assert response.status_code == 422
    assert len(response.headers["X-Unknown-Package"]) < 700
    assert "more)" in response.headers["X-Unknown-Package"]
    assert len(response.json()["missing"]) == 600


def test_rejected_input_is_not_echoed_whole(live_server):
    names = ["bad name " + "y" * 5000] * 3
    with live_server.client() as client:
        response = client.post("/api/v1/build", json={**BASE, "packages": names})
    assert response.status_code == 422
    assert len(response.content) < 5000


def test_long_store_names_are_404_json(live_server):
    with live_server.client() as client:
        response = client.get(f"/store/{'a' * 64}/{'b' * 300}")
    assert response.status_code == 404 and response.json()["status"] == 404


@pytest.mark.parametrize(
    "change,phrase",
    [
        ({"version": ""}, "This server builds for the branches"),
        ({"version": "SNAPSHOT"}, "offers no version of branch SNAPSHOT"),
        ({"target": "X86/64"}, "lower case"),
    ],
)
def test_sentences_point_somewhere_real(live_server, change, phrase):
    with live_server.client() as client:
        response = client.post("/api/v1/build", json={**BASE, **change})
    assert response.status_code == 400
    assert phrase in response.json()["detail"]


def test_lower_case_snapshot_is_understood(live_server):
    with live_server.client() as client:
        upper = client.post("/api/v1/build", json={**BASE, "packages": ["libacl"]})
        lower = client.post(
            "/api/v1/build",
            json={**BASE, "version": "22.03-snapshot", "packages": ["libacl"]},
        )
    assert upper.json()["request_hash"] == lower.json()["request_hash"]


def test_unoffered_filesystem_and_wrong_versions_are_refused_up_front(live_server):
    with live_server.client() as client:
        fs = client.post(
            "/api/v1/build",
            json={
                **BASE,
                "target": "ath79/generic",
                "profile": "8dev_carambola2",
                "filesystem": "ext4",
            },
        )
        versions = client.post(
            "/api/v1/build", json={**BASE, "packages_versions": {"rsync": "9.9.9-1"}}
        )
    assert fs.status_code == 422 and fs.json()["filesystems"] == [
        "initramfs",
        "squashfs",
    ]
    assert versions.status_code == 422
    assert "rsync 9.9.9-1" in versions.json()["detail"]


def test_head_of_a_build_has_the_get_headers(live_server):
    with live_server.client() as client:
        queued = client.post("/api/v1/build", json={**BASE, "packages": ["libattr"]})
        digest = queued.json()["request_hash"]
        get = client.get(f"/api/v1/build/{digest}")
        head = client.head(f"/api/v1/build/{digest}")
    assert head.status_code == get.status_code
    assert head.content == b""
    assert head.headers["x-imagebuilder-status"] == get.headers["x-imagebuilder-status"]


def test_root_and_missing_index(live_server):
    with live_server.client() as client:
        root = client.get("/")
        index = client.get("/json/v1/releases/23.05.4/targets/x86/64/index.json")
    assert root.status_code == 200 and root.json()["docs"] == "/docs"
    assert index.status_code == 404 and "not available" in index.json()["detail"]


def test_repository_paths_cannot_climb_out_of_the_allow_list(make_server):
    live = make_server(
        worker=False, repository_allow_list=["https://feed.example.org/openwrt/"]
    )
    with live.client() as client:
        inside = client.post(
            "/api/v1/build",
            json={**BASE, "repositories": {"x": "https://feed.example.org/openwrt/x"}},
        )
        climbing = client.post(
            "/api/v1/build",
            json={
                **BASE,
                "repositories": {"x": "https://feed.example.org/openwrt/../etc"},
            },
        )
        other_host = client.post(
            "/api/v1/build",
            json={
                **BASE,
                "repositories": {"x": "https://feed.example.org.evil/openwrt/"},
            },
        )
    assert "Repository not allowed" not in inside.json()["detail"]
    assert climbing.status_code == 400 and other_host.status_code == 400
