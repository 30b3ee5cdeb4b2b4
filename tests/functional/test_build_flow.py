"""A real build, end to end over HTTP, on both backends."""

from __future__ import annotations

import concurrent.futures
import hashlib

from sqlalchemy import func, select

from meshforge.db.models import Build

REQUEST = {
    "version": "22.03-SNAPSHOT",
    "target": "x86/64",
    "profile": "generic",
    "packages": ["rsync"],
}


def _builds(live) -> int:
    with live.runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Build)) or 0)


def test_build_download_and_cache_hit(make_server):
    live = make_server()
    with live.client() as client:
        first = client.post("/api/v1/build", json=REQUEST)
        assert first.status_code == 202, first.text
        body = first.json()
        # A fast worker may already have taken the job when the answer is made.
        assert body["status"] == 202 and body["detail"] in ("queued", "started")
        assert first.headers["X-Queue-Position"] == str(body["queue_position"])
        done = live.wait_for(body["request_hash"])
        assert done.status_code == 200, done.text
        result = done.json()
        assert result["status"] == 200 and result["detail"] == "done"
        assert result["request_hash"] == body["request_hash"] == result["bin_dir"]
        assert result["version_code"] == "r20142-e500494771"
        assert "rsync" in result["manifest"] and "libzstd" in result["manifest"]
        assert result["images"], result
        for image in result["images"]:
            download = client.get(f"/store/{result['bin_dir']}/{image['name']}")
            assert download.status_code == 200
            assert int(download.headers["content-length"]) == len(download.content)
            assert hashlib.sha256(download.content).hexdigest() == image["sha256"]
        sums = client.get(f"/store/{result['bin_dir']}/sha256sums").text
        for image in result["images"]:
            assert f"{image['sha256']} *{image['name']}" in sums

        again = client.post("/api/v1/build", json=REQUEST)
        assert again.status_code == 200
        assert again.json()["request_hash"] == body["request_hash"]
        assert _builds(live) == 1
        with live.runtime.db.session() as session:
            build = session.get(Build, body["request_hash"])
            assert build is not None and build.attempts == 1


def test_fifty_concurrent_identical_requests_make_one_build(make_server):
    live = make_server(worker=False)
    request = {**REQUEST, "packages": ["rsync", "libacl"]}

    def post(_: int) -> tuple[int, str]:
        with live.client() as client:
            response = client.post("/api/v1/build", json=request)
            return response.status_code, response.json()["request_hash"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(post, range(50)))
    assert {status for status, _ in results} == {202}
    assert len({digest for _, digest in results}) == 1
    assert _builds(live) == 1


def test_alias_from_supported_devices_shares_the_hash(make_server):
    live = make_server(worker=False)
    request = {"version": "22.03-SNAPSHOT", "target": "ath79/generic", "packages": []}
    with live.client() as client:
        by_id = client.post(
            "/api/v1/build", json={**request, "profile": "8dev_carambola2"}
        )
        by_board = client.post(
            "/api/v1/build", json={**request, "profile": "8dev,carambola2"}
        )
        by_alias = client.post(
            "/api/v1/build", json={**request, "profile": "carambola2"}
        )
    hashes = {r.json()["request_hash"] for r in (by_id, by_board, by_alias)}
    assert by_id.status_code == 202 and len(hashes) == 1


def test_signed_checksums_build_log_and_expiry(make_server, tmp_path):
    from datetime import UTC, datetime, timedelta

    from meshforge.signing.usign import Keyring, SecretKey

    key = SecretKey.generate("meshforge test secret key")
    key_file = tmp_path / "server.sec"
    key_file.write_text(key.to_text())
    live = make_server(signing_key=key_file)
    with live.client() as client:
        queued = client.post("/api/v1/build", json=REQUEST).json()
        result = live.wait_for(queued["request_hash"]).json()
        base = f"/store/{result['bin_dir']}"
        sums = client.get(f"{base}/sha256sums").content
        signature = client.get(f"{base}/sha256sums.sig").text
        log = client.get(f"{base}/build.log").text
    assert Keyring([key.public]).verify(sums, signature, "sha256sums") == key.public
    assert "make image" in log or "image" in log.split("\n")[0]
    assert "--- exit status 0 ---" in log

    with live.runtime.db.session() as session:
        build = session.get(Build, queued["request_hash"])
        build.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert live.runtime.builds.purge_expired(live.runtime.store) == 1
    with live.client() as client:
        assert client.get(f"{base}/sha256sums").status_code == 404
        assert client.get(f"/api/v1/build/{queued['request_hash']}").status_code == 404
        again = client.post("/api/v1/build", json=REQUEST)
    assert again.status_code == 202
    assert live.wait_for(queued["request_hash"]).status_code == 200


def test_snapshot_requests_are_pinned_to_the_upstream_revision(make_server):
    from datetime import UTC, datetime

    from meshforge.db.models import Target

    live = make_server(worker=False)
    with live.client() as client:
        first = client.post("/api/v1/build", json=REQUEST).json()
        with live.runtime.db.session() as session:
            target = session.get(Target, ("22.03-SNAPSHOT", "x86/64"))
            target.version_code = "r20143-0123456789"
            target.synced_at = datetime.now(UTC)
        live.runtime.catalog._targets.clear()
        second = client.post("/api/v1/build", json=REQUEST).json()
        stale = client.post(
            "/api/v1/build", json={**REQUEST, "version_code": "r20142-e500494771"}
        )
    assert first["request_hash"] != second["request_hash"]
    assert first["revision"] == "r20142-e500494771"
    assert second["revision"] == "r20143-0123456789"
    assert stale.status_code == 400
    assert "r20143-0123456789" in stale.json()["detail"]


def test_request_repositories_reach_the_builder_for_that_build_only(
    make_server, mirror
):
    feeds = f"{mirror.url}/releases/22.03-SNAPSHOT/packages/x86_64/"
    live = make_server(repository_allow_list=[feeds])
    custom = {
        **REQUEST,
        "packages": ["rsync"],
        "repositories_mode": "append",
        "repositories": {"extra_feed": feeds + "packages"},
    }
    with live.client() as client:
        bad_key = client.post(
            "/api/v1/build", json={**custom, "repository_keys": ["x"]}
        )
        queued = client.post("/api/v1/build", json=custom).json()
        done = live.wait_for(queued["request_hash"])
        plain = client.post("/api/v1/build", json=REQUEST).json()
        plain_done = live.wait_for(plain["request_hash"])
    assert bad_key.status_code == 400 and "usign" in bad_key.json()["detail"]
    assert done.status_code == 200, done.text
    assert "extra_feed" in done.json()["stderr"]
    assert plain_done.status_code == 200
    assert "extra_feed" not in plain_done.json()["stderr"]
