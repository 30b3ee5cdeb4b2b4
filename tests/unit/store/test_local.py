import hashlib

import pytest

from meshforge.errors import NotFound
from meshforge.signing.usign import Keyring, SecretKey
from meshforge.store.local import LocalStore

HASH = "a" * 64


def _bin(tmp_path):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "image.bin").write_bytes(b"image")
    (folder / "x.manifest").write_text("rsync - 1\n")
    (folder / "sha256sums").write_text("forged *image.bin\n")
    (folder / "sub").mkdir()
    return folder


def test_put_dir_writes_own_checksums_and_signature(tmp_path):
    key = SecretKey.generate("test secret key")
    store = LocalStore(tmp_path / "store", key)
    items = store.put_dir(HASH, _bin(tmp_path))
    assert sorted(i.name for i in items) == ["image.bin", "x.manifest"]
    sums_path, size = store.open(HASH, "sha256sums")
    sums = sums_path.read_bytes()
    assert size == len(sums)
    assert f"{hashlib.sha256(b'image').hexdigest()} *image.bin".encode() in sums
    assert b"forged" not in sums
    signature = store.open(HASH, "sha256sums.sig")[0].read_text()
    assert Keyring([key.public]).verify(sums, signature, "sums") == key.public


@pytest.mark.parametrize(
    "request_hash,name",
    [
        (HASH, "../x"),
        (HASH, ".."),
        (HASH, "a/b"),
        ("../" + "a" * 61, "x"),
        ("A" * 64, "image.bin"),
        (HASH, "/etc/passwd"),
        (HASH, "missing.bin"),
    ],
)
def test_open_refuses_escapes_and_unknown_files(tmp_path, request_hash, name):
    store = LocalStore(tmp_path / "store")
    store.put_dir(HASH, _bin(tmp_path))
    with pytest.raises(NotFound):
        store.open(request_hash, name)


def test_put_dir_replaces_and_delete_removes(tmp_path):
    store = LocalStore(tmp_path / "store")
    folder = _bin(tmp_path)
    store.put_dir(HASH, folder)
    (folder / "image.bin").write_bytes(b"second")
    store.put_dir(HASH, folder)
    assert store.open(HASH, "image.bin")[0].read_bytes() == b"second"
    store.delete(HASH)
    with pytest.raises(NotFound):
        store.open(HASH, "image.bin")
