from __future__ import annotations

import base64
import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from meshforge.errors import BuildError, SignatureError
from meshforge.imagebuilder.cache import BuilderCache
from meshforge.imagebuilder.locks import FileLock
from meshforge.signing.usign import Keyring, SecretKey
from tests.unit.imagebuilder.ib_factories import Upstream, make_upstream

ROOT = Path(__file__).resolve().parents[3]
GIB = 1024**3


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    return make_upstream(tmp_path / "site")


@pytest.fixture
def http():
    # file:// URLs never reach the client; any use of it fails the test.
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected HTTP request to {request.url}")

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        yield client


def cache_for(tmp_path: Path, http, keyring: Keyring, max_bytes: int = GIB):
    return BuilderCache(tmp_path / "cache", max_bytes, http, keyring, timeout_s=30)


def test_obtain_downloads_verifies_and_unpacks(tmp_path, upstream, http):
    cache = cache_for(tmp_path, http, upstream.keyring)
    steps: list[str] = []

    builder = cache.obtain(upstream.url, "1.2.3", "x86/64", steps.append)

    assert steps == ["download_imagebuilder", "unpack_imagebuilder"]
    assert builder.path == tmp_path / "cache" / "builders" / upstream.sha256
    assert (builder.path / "Makefile").is_file()
    assert builder.info().target == "x86/64"
    assert not list((tmp_path / "cache" / "tmp").iterdir())


def test_second_obtain_reuses_the_unpacked_builder(tmp_path, upstream, http):
    cache = cache_for(tmp_path, http, upstream.keyring)
    first = cache.obtain(upstream.url, "1.2.3", "x86/64")
    (first.path / "marker").write_text("kept")
    first.release()
    steps: list[str] = []

    second = cache.obtain(upstream.url, "1.2.3", "x86/64", steps.append)

    assert steps == []
    assert (second.path / "marker").read_text() == "kept"


def tamper_sums(upstream: Upstream) -> None:
    sums = upstream.folder / "sha256sums"
    sums.write_bytes(sums.read_bytes() + b"0" * 64 + b" *extra\n")


def tamper_signature(upstream: Upstream) -> None:
    sig = upstream.folder / "sha256sums.sig"
    comment, blob = sig.read_text().splitlines()
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01  # one bit of the Ed25519 signature
    sig.write_text(f"{comment}\n{base64.b64encode(bytes(raw)).decode()}\n")


@pytest.mark.parametrize("tamper", [tamper_sums, tamper_signature])
def test_tampered_signature_is_refused(tmp_path, upstream, http, tamper):
    tamper(upstream)
    cache = cache_for(tmp_path, http, upstream.keyring)

    with pytest.raises(BuildError, match="does not match its content") as caught:
        cache.obtain(upstream.url, "1.2.3", "x86/64")
    assert isinstance(caught.value.__cause__, SignatureError)
    assert caught.value.permanent
    assert not list((tmp_path / "cache" / "builders").iterdir())


def test_untrusted_key_and_missing_signature_are_refused(tmp_path, upstream, http):
    stranger = Keyring([SecretKey.generate("other").public])
    with pytest.raises(BuildError, match="not among the trusted keys"):
        cache_for(tmp_path, http, stranger).obtain(upstream.url, "1.2.3", "x86/64")

    (upstream.folder / "sha256sums.sig").unlink()
    with pytest.raises(BuildError, match="has no signature file"):
        cache_for(tmp_path, http, upstream.keyring).obtain(
            upstream.url, "1.2.3", "x86/64"
        )


def test_archive_with_wrong_sha256_is_discarded(tmp_path, upstream, http):
    upstream.publish_sums(sha256="f" * 64)  # signed, but not the archive's hash
    cache = cache_for(tmp_path, http, upstream.keyring)

    with pytest.raises(BuildError, match="has sha256") as caught:
        cache.obtain(upstream.url, "1.2.3", "x86/64")

    assert not caught.value.permanent
    assert not list((tmp_path / "cache" / "builders").iterdir())
    assert not list((tmp_path / "cache" / "state").glob("*.json"))
    assert not list((tmp_path / "cache" / "tmp").iterdir())


def test_unpublished_target_is_transient(tmp_path, upstream, http):
    cache = cache_for(tmp_path, http, upstream.keyring)
    with pytest.raises(BuildError, match="not published yet") as caught:
        cache.obtain((tmp_path / "nowhere").as_uri(), "1.2.3", "x86/64")
    assert not caught.value.permanent


def test_network_failure_is_transient(tmp_path, upstream):
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(fail)) as client:
        cache = cache_for(tmp_path, client, upstream.keyring)
        with pytest.raises(BuildError, match="Could not fetch") as caught:
            cache.obtain("http://mirror.test/t/x86/64", "1.2.3", "x86/64")
    assert not caught.value.permanent


def test_snapshot_signature_mismatch_is_transient(tmp_path, http):
    site = make_upstream(tmp_path / "site", version="SNAPSHOT")
    sums = site.folder / "sha256sums"
    sums.write_bytes(sums.read_bytes() + b"\n")
    cache = cache_for(tmp_path, http, site.keyring)
    with pytest.raises(BuildError, match="does not match") as caught:
        cache.obtain(site.url, "SNAPSHOT", "x86/64")
    assert not caught.value.permanent


def test_obtain_over_http_streams_the_archive(tmp_path, upstream):
    served: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        served.append(request.url.path)
        path = upstream.folder / request.url.path.rsplit("/", 1)[-1]
        if not path.exists():
            return httpx.Response(404)
        return httpx.Response(200, content=path.read_bytes())

    with httpx.Client(transport=httpx.MockTransport(serve)) as client:
        cache = cache_for(tmp_path, client, upstream.keyring)
        builder = cache.obtain("http://mirror.test/t/x86/64", "1.2.3", "x86/64")

    assert (builder.path / "Makefile").is_file()
    assert served == [
        "/t/x86/64/sha256sums",
        "/t/x86/64/sha256sums.sig",
        f"/t/x86/64/{upstream.archive.name}",
    ]


def test_eviction_drops_least_recently_used_but_never_one_in_use(tmp_path, http):
    key = SecretKey.generate("test")
    sites = [
        make_upstream(tmp_path / f"s{n}", f"1.0.{n}", os.urandom(40_000), key=key)
        for n in range(3)
    ]
    cache = cache_for(tmp_path, http, Keyring([key.public]), max_bytes=70_000)
    builders = tmp_path / "cache" / "builders"

    held = cache.obtain(sites[0].url, "1.0.0", "x86/64")  # kept in use
    cache.obtain(sites[1].url, "1.0.1", "x86/64").release()
    assert len(list(builders.iterdir())) == 2

    cache.obtain(sites[2].url, "1.0.2", "x86/64").release()

    left = sorted(p.name for p in builders.iterdir())
    assert left == sorted([sites[0].sha256, sites[2].sha256])
    assert (held.path / "Makefile").is_file()

    del held  # a Builder nobody references any more is released
    gc.collect()
    assert cache.evict(keep=sites[2].sha256) < 70_000
    assert [p.name for p in builders.iterdir()] == [sites[2].sha256]


def setup_lock(tmp_path: Path, upstream: Upstream) -> FileLock:
    return FileLock(tmp_path / "cache" / "locks" / f"{upstream.sha256}.setup")


def test_concurrent_threads_set_up_once(tmp_path, upstream, http):
    cache = cache_for(tmp_path, http, upstream.keyring)
    steps: list[str] = []
    paths: list[Path] = []

    def obtain() -> None:
        builder = cache.obtain(upstream.url, "1.2.3", "x86/64", steps.append)
        paths.append(builder.path)

    threads = [threading.Thread(target=obtain) for _ in range(6)]
    with setup_lock(tmp_path, upstream).exclusive():  # all of them must queue
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert paths == []
    for thread in threads:
        thread.join()

    assert steps.count("unpack_imagebuilder") == 1
    assert len(paths) == 6
    assert len(set(paths)) == 1


CHILD = """
import sys, time
from pathlib import Path
import httpx
from meshforge.imagebuilder.cache import BuilderCache
from meshforge.imagebuilder.locks import FileLock
from meshforge.signing.usign import Keyring, parse_public_key

keyring = Keyring([parse_public_key(Path(sys.argv[2]).read_text())])
cache = BuilderCache(Path(sys.argv[1]), 2**30, httpx.Client(), keyring)
print("ready", flush=True)
builder = cache.obtain(sys.argv[3], "1.2.3", "x86/64", lambda s: print(s, flush=True))
print("path", builder.path, time.time(), flush=True)
"""


def test_concurrent_processes_set_up_once(tmp_path, upstream):
    public = tmp_path / "key.pub"
    public.write_text(upstream.key.public.to_text())
    argv = [sys.executable, "-c", CHILD, str(tmp_path / "cache"), str(public)]
    lock = setup_lock(tmp_path, upstream)
    with lock.exclusive():
        children = [
            subprocess.Popen(
                [*argv, upstream.url], stdout=subprocess.PIPE, text=True, cwd=ROOT
            )
            for _ in range(3)
        ]
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
        time.sleep(0.5)  # let each reach the lock
        released = time.time()
    outputs = [child.communicate(timeout=120)[0] for child in children]

    assert [child.returncode for child in children] == [0, 0, 0]
    joined = "".join(outputs)
    assert joined.count("unpack_imagebuilder") == 1
    done = [line.split() for line in joined.splitlines() if line.startswith("path")]
    expected = str(tmp_path / "cache" / "builders" / upstream.sha256)
    assert [path for _, path, _ in done] == [expected] * 3
    assert all(float(stamp) >= released for _, _, stamp in done)


def test_stale_temporary_entries_are_swept_on_start(tmp_path, http, upstream):
    tmp = tmp_path / "cache" / "tmp"
    tmp.mkdir(parents=True)
    stale, fresh = tmp / "stale.abc", tmp / "fresh.abc"
    stale.mkdir()
    (stale / "half.tar.zst").write_bytes(b"x")
    fresh.mkdir()
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))

    cache_for(tmp_path, http, upstream.keyring)

    assert not stale.exists()
    assert fresh.exists()


def serving(folder: Path, up: list[bool]) -> httpx.Client:
    def serve(request: httpx.Request) -> httpx.Response:
        if not up[0]:
            raise httpx.ConnectError("connection refused", request=request)
        path = folder / request.url.path.rsplit("/", 1)[-1]
        if not path.exists():
            return httpx.Response(404)
        return httpx.Response(200, content=path.read_bytes())

    return httpx.Client(transport=httpx.MockTransport(serve))


@pytest.mark.parametrize(("version", "reused"), [("1.2.3", True), ("SNAPSHOT", False)])
def test_cached_release_builder_is_used_while_upstream_is_down(
    tmp_path, version, reused
):
    site = make_upstream(tmp_path / "site", version=version)
    up = [True]
    url = "http://mirror.test/t/x86/64"
    with serving(site.folder, up) as client:
        cache = cache_for(tmp_path, client, site.keyring)
        first = cache.obtain(url, version, "x86/64")
        up[0] = False
        if reused:
            assert cache.obtain(url, version, "x86/64").path == first.path
        else:
            with pytest.raises(BuildError, match="Could not fetch"):
                cache.obtain(url, version, "x86/64")


def test_growth_during_builds_counts_towards_the_bound(tmp_path, http):
    key = SecretKey.generate("test")
    sites = [
        make_upstream(tmp_path / f"s{n}", f"1.0.{n}", os.urandom(40_000), key=key)
        for n in range(2)
    ]
    cache = cache_for(tmp_path, http, Keyring([key.public]), max_bytes=100_000)
    first = cache.obtain(sites[0].url, "1.0.0", "x86/64")
    (first.path / "build_dir").mkdir()
    (first.path / "build_dir" / "rootfs.img").write_bytes(b"0" * 50_000)
    first.release()

    cache.obtain(sites[1].url, "1.0.1", "x86/64")

    assert not first.path.exists()
