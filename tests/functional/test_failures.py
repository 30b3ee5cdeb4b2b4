"""Builds that fail end in `failed` with a reason; refusing to sync bad data."""

from __future__ import annotations

import shutil

from meshforge.db.models import Target

BASE = {"version": "22.03-SNAPSHOT", "target": "x86/64", "profile": "generic"}


def test_too_big_image_fails_with_reason_and_is_cached(make_server):
    live = make_server()
    with live.client() as client:
        queued = client.post(
            "/api/v1/build", json={**BASE, "rootfs_size_mb": 1, "packages": ["rsync"]}
        )
        assert queued.status_code == 202, queued.text
        failed = live.wait_for(queued.json()["request_hash"])
        body = failed.json()
        assert failed.status_code == 500 and body["status"] == 500
        assert failed.headers["X-Imagebuilder-Status"] == "failed"
        assert "exceed device storage" in body["detail"]
        assert body["error_kind"] == "permanent"
        again = client.post(
            "/api/v1/build", json={**BASE, "rootfs_size_mb": 1, "packages": ["rsync"]}
        )
        assert again.status_code == 500


def test_tampered_index_signature_keeps_old_data(make_server, mirror, tmp_path):
    live = make_server(worker=False)
    key = ("22.03-SNAPSHOT", "x86/64")
    with live.runtime.db.session() as session:
        before = session.get(Target, key)
        assert before is not None and before.index_state == "ok"
        stamp = before.synced_at
    index = mirror.root / "releases/22.03-SNAPSHOT/packages/x86_64/base/Packages.gz"
    backup = tmp_path / "Packages.gz"
    shutil.copy(index, backup)
    try:
        import gzip

        text = gzip.decompress(backup.read_bytes()) + b"\nPackage: evil\nVersion: 1\n"
        index.write_bytes(gzip.compress(text))
        report = live.runtime.syncer().sync_all()
    finally:
        shutil.copy(backup, index)
    assert any("does not match" in error for error in report.errors)
    with live.runtime.db.session() as session:
        after = session.get(Target, key)
        assert after is not None and after.synced_at == stamp
    assert "evil" not in live.runtime.catalog.universe(
        live.runtime.catalog.target(*key)
    )


def _evil_archive(path, member_name, link_target=None):
    import io
    import tarfile

    with tarfile.open(path, "w:xz") as tar:
        info = tarfile.TarInfo("openwrt-imagebuilder/Makefile")
        data = b"all:\n\ttrue\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo(member_name)
        if link_target is None:
            evil.size = 4
            tar.addfile(evil, io.BytesIO(b"evil"))
        else:
            evil.type = tarfile.SYMTYPE
            evil.linkname = link_target
            tar.addfile(evil)


import pytest  # noqa: E402  # kept beside the tests that use it


@pytest.mark.parametrize(
    "member,link",
    [
        ("openwrt-imagebuilder/../../escaped", None),
        ("openwrt-imagebuilder/etc-link", "/etc"),
    ],
)
def test_archive_escaping_its_folder_is_refused(
    make_server, mirror, tmp_path, member, link
):
    import hashlib

    from meshforge.signing.usign import parse_secret_key

    folder = mirror.root / "releases/22.03-SNAPSHOT/targets/x86/64"
    archive = next(folder.glob("openwrt-imagebuilder-*.tar.xz"))
    saved = {
        p.name: p.read_bytes()
        for p in (archive, folder / "sha256sums", folder / "sha256sums.sig")
    }
    try:
        _evil_archive(archive, member, link)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        lines = [
            f"{digest} *{archive.name}" if line.endswith(archive.name) else line
            for line in saved["sha256sums"].decode().splitlines()
        ]
        sums = ("\n".join(lines) + "\n").encode()
        (folder / "sha256sums").write_bytes(sums)
        key = parse_secret_key(mirror.demo_key.read_text())
        (folder / "sha256sums.sig").write_text(key.sign(sums))
        live = make_server()
        with live.client() as client:
            queued = client.post("/api/v1/build", json={**BASE, "packages": ["rsync"]})
            failed = live.wait_for(queued.json()["request_hash"])
    finally:
        for name, data in saved.items():
            (folder / name).write_bytes(data)
    assert failed.status_code == 500
    assert failed.json()["detail"].startswith("Error: ")
    assert not any(p.name == "escaped" for p in tmp_path.parent.rglob("escaped"))
    assert "is unsafe" in failed.json()["detail"]
    assert failed.json()["error_kind"] == "permanent"


def test_a_build_whose_worker_died_is_failed_then_requeued(make_server):
    from datetime import UTC, datetime, timedelta

    from meshforge.builds import states
    from meshforge.db.models import Build

    live = make_server(worker=False)
    request = {**BASE, "packages": ["libattr"]}
    with live.client() as client:
        digest = client.post("/api/v1/build", json=request).json()["request_hash"]
        stale = datetime.now(UTC) - timedelta(seconds=states.LOST_AFTER_S + 5)
        with live.runtime.db.session() as session:
            build = session.get(Build, digest)
            build.state, build.started_at, build.heartbeat_at = "started", stale, stale
        lost = client.get(f"/api/v1/build/{digest}")
        again = client.post("/api/v1/build", json=request)
    assert lost.status_code == 500
    assert lost.json()["error_kind"] == "transient"
    assert "worker" in lost.json()["detail"]
    assert again.status_code == 202 and again.json()["detail"] == "queued"


def test_a_running_build_keeps_its_heartbeat(make_server, monkeypatch):
    import time

    from meshforge.builds import states
    from meshforge.db.models import Build

    monkeypatch.setattr(states, "HEARTBEAT_S", 0.05)
    live = make_server(worker=False)
    worker = live.runtime.worker
    digest = None
    with live.client() as client:
        digest = client.post(
            "/api/v1/build", json={**BASE, "packages": ["libacl"]}
        ).json()["request_hash"]
    original = worker._make
    beats = []

    def slow_make(job, builder, tmp, blog):
        with live.runtime.db.session() as session:
            first = session.get(Build, digest).heartbeat_at
        time.sleep(0.5)
        with live.runtime.db.session() as session:
            beats.append((first, session.get(Build, digest).heartbeat_at))
        return original(job, builder, tmp, blog)

    monkeypatch.setattr(worker, "_make", slow_make)
    worker.run(digest)
    assert beats and beats[0][1] > beats[0][0]
    assert live.wait_for(digest).status_code == 200
