from __future__ import annotations

import hashlib
import json
import tarfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from meshforge.signing.usign import Keyring, parse_public_key
from standin.mirror import DEMO_KEY_COMMENT, MirrorInfo, start_mirror
from tests.unit.standin.standin_helpers import BERLIN, SAMPLES

X86 = "releases/22.03-SNAPSHOT/targets/x86/64"
ARCHIVE = "openwrt-imagebuilder-22.03-SNAPSHOT-x86-64.Linux-x86_64.tar.xz"


@pytest.fixture(scope="module")
def mirror(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ThreadingHTTPServer, MirrorInfo]]:
    server, info = start_mirror(tmp_path_factory.mktemp("m") / "mirror")
    yield server, info
    server.shutdown()
    server.server_close()


def _get(info: MirrorInfo, path: str) -> tuple[bytes, str | None]:
    with urllib.request.urlopen(f"{info.base_url}/{path}", timeout=10) as reply:
        return reply.read(), reply.headers["Content-Length"]


def test_layout_of_the_download_site(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    versions = json.loads((info.root / ".versions.json").read_text())
    assert versions["versions_list"] == [
        "23.05.5",
        "23.05.4",
        "22.03-SNAPSHOT",
        "19.07.10",
    ]
    assert versions["stable_version"] == "23.05.5"
    targets = json.loads(
        (info.root / "releases/22.03-SNAPSHOT/.targets.json").read_text()
    )
    assert targets == {"ath79/generic": "mips_24kc", "x86/64": "x86_64"}
    overview = json.loads((info.root / "releases/19.07.10/.overview.json").read_text())
    assert overview["release"] == "19.07.10"
    assert {"ath79/generic", "ramips/mt7621"} <= {
        p["target"] for p in overview["profiles"]
    }
    assert (info.root / X86 / ARCHIVE).is_file()
    assert (info.root / "releases/22.03-SNAPSHOT/packages/x86_64/feeds.conf").is_file()


def test_releases_without_index_have_no_builder(
    mirror: tuple[object, MirrorInfo],
) -> None:
    _, info = mirror
    folder = info.root / "releases/23.05.4/targets/x86/64"
    assert [p.name for p in folder.iterdir()] == ["profiles.json"]
    assert not (info.root / "releases/23.05.4/packages").exists()


def test_copies_are_byte_identical(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    pairs = [
        (f"{X86}/profiles.json", BERLIN / "targets/x86/64/profiles.json"),
        (
            f"{X86}/packages/Packages.sig",
            BERLIN / "targets/x86/64/packages/Packages.sig",
        ),
        (
            "releases/23.05.5/targets/ath79/generic/profiles.json",
            SAMPLES / "openwrt-23.05.5/targets/ath79/generic/profiles.json",
        ),
    ]
    for rel, source in pairs:
        assert (info.root / rel).read_bytes() == source.read_bytes()


def test_sha256sums_keep_real_lines_and_add_the_builder(
    mirror: tuple[object, MirrorInfo],
) -> None:
    _, info = mirror
    lines = (info.root / X86 / "sha256sums").read_text().splitlines()
    real = (BERLIN / "targets/x86/64/sha256sums").read_text().splitlines()

    assert set(real) <= set(lines)
    digest = hashlib.sha256((info.root / X86 / ARCHIVE).read_bytes()).hexdigest()
    assert f"{digest} *{ARCHIVE}" in lines
    assert len(lines) == len(real) + 1


def test_signatures_verify_with_the_trusted_keys(
    mirror: tuple[object, MirrorInfo],
) -> None:
    _, info = mirror
    keyring = Keyring.from_dir(info.keys_dir)
    assert set(keyring.fingerprints) == {"8b8a078914d5f5dd", info.demo_fingerprint}

    sums = (info.root / X86 / "sha256sums").read_bytes()
    signature = (info.root / X86 / "sha256sums.sig").read_text()
    assert (
        keyring.verify(sums, signature, "sha256sums").fingerprint
        == info.demo_fingerprint
    )

    packages = info.root / X86 / "packages"
    signed = keyring.verify(
        (packages / "Packages").read_bytes(),
        (packages / "Packages.sig").read_text(),
        "x",
    )
    assert signed.fingerprint == "8b8a078914d5f5dd"


def test_demo_key_says_what_it_is(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    public = parse_public_key((info.keys_dir / info.demo_fingerprint).read_text())
    assert public.comment == DEMO_KEY_COMMENT
    assert not (info.root / "demo.sec").exists()
    assert info.demo_secret_key.parent != info.root


def test_readme_tells_copies_from_generated(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    readme = (info.root / "MIRROR-README.md").read_text()
    copies, generated = readme.split("## Generated here")
    assert f"`{X86}/profiles.json` = `berlin4apk-22.03-SNAPSHOT-ci/" in copies
    assert f"`{X86}/{ARCHIVE}`: meshforge stand-in" in generated
    assert "`.versions.json`: lists" in generated
    assert f"`{X86}/sha256sums`" in generated


def test_serve_returns_exact_bytes(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    for rel in (f"{X86}/{ARCHIVE}", f"{X86}/packages/Packages.gz", ".versions.json"):
        body, length = _get(info, rel)
        assert body == (info.root / rel).read_bytes()
        assert length == str(len(body))


@pytest.mark.parametrize(
    "path", ["../mirror-keys/demo.sec", "%2e%2e/mirror-keys/demo.sec", "releases/"]
)
def test_serve_refuses_escapes_and_listings(
    mirror: tuple[object, MirrorInfo], path: str
) -> None:
    _, info = mirror
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(info, path)
    assert caught.value.code == 404


def test_builder_feeds_point_at_the_mirror(mirror: tuple[object, MirrorInfo]) -> None:
    _, info = mirror
    with tarfile.open(info.archives["22.03-SNAPSHOT x86/64"]) as tar:
        member = next(
            m for m in tar.getmembers() if m.name.endswith("repositories.conf")
        )
        conf = tar.extractfile(member).read().decode()  # type: ignore[union-attr]  # a file
    url = f"{info.base_url}/releases/22.03-SNAPSHOT/targets/x86/64/packages"
    assert f"src/gz openwrt_core {url}" in conf.splitlines()


def test_serve_refuses_a_symlink_out_of_the_mirror(
    mirror: tuple[object, MirrorInfo],
) -> None:
    _, info = mirror
    link = info.root / "outside-link"
    link.symlink_to(info.demo_secret_key)
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            _get(info, "outside-link")
        assert caught.value.code == 404
    finally:
        link.unlink()
