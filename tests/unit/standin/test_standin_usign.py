"""The stand-in's own Ed25519/usign check (standard library only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meshforge.signing.usign import SecretKey
from standin.imagebuilder.standin_ib.usign import check, ed25519_verify
from tests.unit.standin.standin_helpers import BERLIN

# RFC 8032, section 7.1, TEST 1 (empty message).
RFC_PUBLIC = bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_rfc8032_vector() -> None:
    assert ed25519_verify(RFC_PUBLIC, b"", RFC_SIGNATURE)
    assert not ed25519_verify(RFC_PUBLIC, b"x", RFC_SIGNATURE)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    shutil.copyfile(BERLIN / "keys/8b8a078914d5f5dd.pub", tmp_path / "8b8a078914d5f5dd")
    return tmp_path


@pytest.mark.parametrize(
    "index",
    sorted(BERLIN.glob("**/Packages")),
    ids=lambda p: str(p.relative_to(BERLIN)),
)
def test_every_real_index_verifies(keys: Path, index: Path) -> None:
    signature = index.with_name("Packages.sig").read_text()
    assert check(index.read_bytes(), signature, keys)
    assert not check(index.read_bytes() + b"\n", signature, keys)


def test_unknown_key_fails(tmp_path: Path) -> None:
    index = BERLIN / "targets/x86/64/packages/Packages"
    assert not check(
        index.read_bytes(), (index.parent / "Packages.sig").read_text(), tmp_path
    )


def test_agrees_with_pynacl_signatures(tmp_path: Path) -> None:
    key = SecretKey.generate("test key")
    (tmp_path / key.public.fingerprint).write_text(key.public.to_text())
    data = b"Package: x\nVersion: 1\n"
    assert check(data, key.sign(data), tmp_path)
