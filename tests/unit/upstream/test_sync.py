import httpx
import pytest

from meshforge.config import Settings
from meshforge.db.models import PackageIndex, Target
from meshforge.db.session import Database
from meshforge.signing.usign import Keyring
from meshforge.upstream.fetch import Fetcher
from meshforge.upstream.sync import Syncer


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from standin.mirror import build_mirror

    root = tmp_path_factory.mktemp("site") / "site"
    root.mkdir()
    info = build_mirror(root, root.as_uri())
    return root, info


def _syncer(tmp_path, site, **kwargs):
    root, info = site
    db = Database(Settings(var_dir=tmp_path))
    db.migrate()
    fetcher = Fetcher(root.as_uri(), httpx.Client())
    return db, Syncer(db, fetcher, Keyring.from_dir(info.keys_dir), **kwargs)


def test_sync_over_file_urls_stores_targets_and_verified_indexes(tmp_path, site):
    db, syncer = _syncer(tmp_path, site)
    report = syncer.sync_all()
    assert report.errors == []
    assert "22.03-SNAPSHOT" in report.versions and "23.05.4" in report.versions
    with db.session() as session:
        x86 = session.get(Target, ("22.03-SNAPSHOT", "x86/64"))
        old = session.get(Target, ("23.05.4", "x86/64"))
        feeds = {(i.scope, i.feed): i.signed_by for i in session.query(PackageIndex)}
    assert x86 is not None and x86.index_state == "ok"
    assert x86.version_code == "r20142-e500494771"
    assert old is not None and "not available" in old.index_state
    assert feeds[("arch:x86_64", "base")] == "8b8a078914d5f5dd"
    assert feeds[("target:x86/64", "target")] == "8b8a078914d5f5dd"
    assert ("arch:x86_64", "packages") in feeds


def test_filters_limit_what_is_synced(tmp_path, site):
    db, syncer = _syncer(
        tmp_path, site, only_versions=["22.03-SNAPSHOT"], only_targets=["ath79/generic"]
    )
    report = syncer.sync_all()
    assert report.versions == ["22.03-SNAPSHOT"] and report.targets == 1
    with db.session() as session:
        assert [t.target for t in session.query(Target)] == ["ath79/generic"]


def test_untrusted_keys_store_nothing_for_that_target(tmp_path, site):
    root, _ = site
    db = Database(Settings(var_dir=tmp_path))
    db.migrate()
    syncer = Syncer(db, Fetcher(root.as_uri(), httpx.Client()), Keyring())
    report = syncer.sync_all()
    assert any("not among the trusted keys" in e for e in report.errors)
    with db.session() as session:
        assert session.get(Target, ("22.03-SNAPSHOT", "x86/64")) is None
        assert session.query(PackageIndex).count() == 0
