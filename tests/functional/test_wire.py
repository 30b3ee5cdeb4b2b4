"""What the real clients rely on, read from their code (DOMAIN.md §2)."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES

ORIGIN = {"Origin": "https://firmware-selector.openwrt.org"}


def test_overview_lists_branches_versions_targets(live_server):
    with live_server.client() as client:
        overview = client.get("/json/v1/overview.json?1733300000000").json()
    branch = overview["branches"]["22.03"]
    assert branch["versions"] == ["22.03-SNAPSHOT"]
    assert branch["targets"] == {"ath79/generic": "mips_24kc", "x86/64": "x86_64"}
    assert branch["branch_off_rev"] == 19160 and branch["enabled"] is True
    assert overview["upstream_url"] == live_server.settings.upstream_url
    assert overview["server"]["max_defaults_length"] == 20480
    assert "23.05.5" in overview["latest"]


def test_branches_json_is_the_same_objects_as_a_list(live_server):
    with live_server.client() as client:
        branches = client.get("/json/v1/branches.json").json()
        overview = client.get("/json/v1/overview.json").json()
    assert branches == list(overview["branches"].values())


def test_redirects_carry_cors_headers(live_server):
    with live_server.client() as client:
        for path in (
            "/api/overview",
            "/api/v1/overview",
            "/overview",
            "/api/v1/latest",
            "//json/v1/overview.json",
        ):
            url = live_server.url + path  # a full URL: "//x" alone names a host
            response = client.get(url, headers=ORIGIN, follow_redirects=False)
            assert response.status_code == 301, path
            assert response.headers["access-control-allow-origin"] == "*"
        followed = client.get(
            "/api/overview?123", headers=ORIGIN, follow_redirects=True
        )
    assert followed.status_code == 200 and "branches" in followed.json()


def test_preflight_allows_post_from_another_origin(live_server):
    headers = {
        **ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    with live_server.client() as client:
        response = client.options("/api/v1/build", headers=headers)
    assert response.status_code == 200
    assert "POST" in response.headers["access-control-allow-methods"]


def test_error_bodies_carry_cors_and_status(live_server):
    with live_server.client() as client:
        response = client.get("/api/v1/build/" + "a" * 64, headers=ORIGIN)
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["status"] == 404


def test_revision_api_returns_version_code(live_server):
    with live_server.client() as client:
        response = client.get("/api/v1/revision/22.03-SNAPSHOT/x86/64?99")
        missing = client.get("/api/v1/revision/22.03-SNAPSHOT/nosuch/x")
    assert response.json() == {"revision": "r20142-e500494771"}
    assert missing.status_code == 404


def test_profile_json_merges_profile_and_resolves_board_names(live_server):
    base = "/json/v1/releases/22.03-SNAPSHOT/targets/ath79/generic"
    with live_server.client() as client:
        by_comma = client.get(f"{base}/8dev,carambola2.json").json()
        by_id = client.get(f"{base}/8dev_carambola2.json").json()
        unknown = client.get(f"{base}/nosuch.json").json()
    assert by_comma == by_id
    assert by_id["id"] == "8dev_carambola2"
    assert by_id["metadata_version"] == 1 and by_id["arch_packages"] == "mips_24kc"
    assert by_id["target"] == "ath79/generic"
    assert by_id["supported_devices"] == ["8dev,carambola2", "carambola2"]
    assert unknown == {}


def test_index_files_list_real_versions(live_server):
    feed = SAMPLES / "berlin4apk-22.03-SNAPSHOT-ci/packages/x86_64/packages/Packages"
    rsync_version = feed.read_text().split("Package: rsync\nVersion: ")[1].split()[0]
    with live_server.client() as client:
        arch = client.get("/json/v1/releases/22.03-SNAPSHOT/packages/x86_64-index.json")
        target = client.get(
            "/json/v1/releases/22.03-SNAPSHOT/targets/x86/64/index.json"
        ).json()
    assert arch.json()["rsync"] == rsync_version
    # ABI-suffixed names are listed without the suffix, as in index v2.
    assert "libubox" in arch.json()
    assert target["architecture"] == "x86_64"
    assert target["packages"]["kmod-e1000"].startswith("5.10.")


def test_real_asu_ci_request_body_is_understood(live_server):
    # The asu CI body targets 24.10.0, which this mirror does not carry: it
    # must be refused with a sentence, not a crash or a validation error.
    body = json.loads((SAMPLES / "asu-requests/openwrt-one-24.10.0.json").read_text())
    with live_server.client() as client:
        response = client.post("/api/v1/build", json=body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Unsupported version: 24.10.0")


def test_docs_and_openapi_are_served(live_server):
    with live_server.client() as client:
        assert client.get("/docs").status_code == 200
        spec = client.get("/openapi.json").json()
    assert "/api/v1/build" in spec["paths"]
