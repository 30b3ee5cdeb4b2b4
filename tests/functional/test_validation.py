"""Requests refused before anything is queued, with asu's status codes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from meshforge.db.models import Build

BASE = {"version": "22.03-SNAPSHOT", "target": "x86/64", "profile": "generic"}


def _post(live, body):
    with live.client() as client:
        return client.post("/api/v1/build", json=body)


def _count(live) -> int:
    with live.runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Build)) or 0)


def test_unknown_package_is_422_naming_each(live_server):
    response = _post(live_server, {**BASE, "packages": ["rsync", "nosuch", "zzz-x"]})
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert body["missing"] == ["nosuch", "zzz-x"]
    assert "nosuch" in body["detail"] and "zzz-x" in body["detail"]
    assert response.headers["X-Unknown-Package"] == "nosuch, zzz-x"


@pytest.mark.parametrize(
    "change,status,phrase",
    [
        ({"version": "99.99.1"}, 400, "Unsupported branch: 99.99"),
        ({"version": "22.03.99"}, 400, "Unsupported version: 22.03.99"),
        ({"target": "nosuch/target"}, 400, "Unsupported target: nosuch/target"),
        ({"distro": "lede"}, 400, "Unsupported distro: lede"),
        ({"defaults": "echo hi"}, 400, "defaults"),
        ({"rootfs_size_mb": 5000}, 422, "rootfs_size_mb"),
        ({"repositories": {"x": "https://example.org/x"}}, 400, "Repository not"),
    ],
)
def test_refusals_say_what_is_wrong(live_server, change, status, phrase):
    before = _count(live_server)
    response = _post(live_server, {**BASE, **change})
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert phrase in body["detail"]
    assert body["detail"].endswith(".")
    assert _count(live_server) == before


def test_unknown_profile_on_ath79(live_server):
    body = {**BASE, "target": "ath79/generic", "profile": "tplink_nosuch"}
    response = _post(live_server, body)
    assert response.status_code == 400
    assert "8dev_carambola2" in response.json()["detail"]


@pytest.mark.parametrize(
    "change",
    [
        {"packages": ["rsync; touch /tmp/pwned"]},
        {"packages": ["$(touch /tmp/pwned)"]},
        {"packages": ["rsync PROFILE=x"]},
        {"packages": ["`id`"]},
        {"profile": "generic PACKAGES=evil"},
        {"profile": "$(id)"},
        {"version": "22.03-SNAPSHOT;id"},
        {"packages": "rsync"},
    ],
)
def test_injection_attempts_are_refused_before_queueing(live_server, change):
    before = _count(live_server)
    response = _post(live_server, {**BASE, **change})
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["errors"]
    assert "not valid" in body["detail"]
    assert _count(live_server) == before


def test_release_without_index_is_listed_and_refused(live_server):
    with live_server.client() as client:
        overview = client.get("/json/v1/overview.json").json()
        assert "23.05.4" in overview["branches"]["23.05"]["versions"]
        response = client.post("/api/v1/build", json={**BASE, "version": "23.05.4"})
    assert response.status_code == 400
    assert "index" in response.json()["detail"]


def test_unknown_hash_is_404(live_server):
    with live_server.client() as client:
        response = client.get("/api/v1/build/" + "0" * 64)
        head = client.head("/api/v1/build/" + "0" * 64)
    assert response.status_code == 404 and head.status_code == 404
    assert response.json()["status"] == 404
    assert "request hash" in response.json()["detail"]


def test_queue_limit_gives_529(make_server):
    live = make_server(worker=False, max_pending_jobs=1)
    first = _post(live, {**BASE, "packages": ["rsync"]})
    second = _post(live, {**BASE, "packages": ["libacl"]})
    assert first.status_code == 202
    assert second.status_code == 529
    body = second.json()
    assert body["status"] == 529 and "queue contains too many" in body["detail"]
    # A stored or queued build is still answered while the queue is full.
    assert _post(live, {**BASE, "packages": ["rsync"]}).status_code == 202


def test_unknown_version_is_looked_up_upstream_once(make_server):
    from meshforge.db.models import Release, Target

    live = make_server(worker=False)
    with live.runtime.db.session() as session:
        session.query(Target).filter_by(version="19.07.10").delete()
        session.query(Release).filter_by(version="19.07.10").delete()
    live.runtime.catalog.forget_releases()
    body = {
        "version": "19.07.10",
        "target": "ath79/generic",
        "profile": "8dev_carambola2",
    }
    response = _post(live, body)
    # Found upstream on the miss: refused for its missing index, not unknown.
    assert response.status_code == 400
    assert "index" in response.json()["detail"]
    assert "Unsupported version" not in response.json()["detail"]
