import pytest

from meshforge.errors import FormatError, SignatureError
from meshforge.signing.usign import (
    Keyring,
    SecretKey,
    parse_public_key,
    parse_secret_key,
)
from tests.conftest import KEYS, SAMPLES


def test_fingerprint_vector():
    blob = "RWSrHfFmlHslUcLbXFIRp+eEikWF9z1N77IJiX5Bt/nJd1a/x+L+SU89"
    key = parse_public_key(f"untrusted comment: x\n{blob}\n")
    assert key.fingerprint == "ab1df166947b2551"


def test_every_committed_key_is_named_by_its_fingerprint():
    keyring = Keyring.from_dir(KEYS)
    assert sorted(p.name for p in KEYS.iterdir()) == keyring.fingerprints


def test_real_index_verifies_and_tampering_is_caught():
    folder = SAMPLES / "berlin4apk-22.03-SNAPSHOT-ci/packages/x86_64/base"
    data = (folder / "Packages").read_bytes()
    signature = (folder / "Packages.sig").read_text()
    keyring = Keyring.from_dir(KEYS)
    assert keyring.verify(data, signature, "base").fingerprint == "8b8a078914d5f5dd"
    with pytest.raises(SignatureError, match="does not match"):
        keyring.verify(data + b"\n", signature, "base")


def test_unknown_key_is_refused_with_its_fingerprint():
    secret = SecretKey.generate("test secret key")
    with pytest.raises(SignatureError, match=secret.keynum.hex()):
        Keyring.from_dir(KEYS).verify(b"x", secret.sign(b"x"), "x")


def test_generated_key_round_trips():
    secret = SecretKey.generate("demo secret key")
    again = parse_secret_key(secret.to_text())
    assert again.key == secret.key and again.keynum == secret.keynum
    public = parse_public_key(secret.public.to_text())
    assert Keyring([public]).verify(b"data", again.sign(b"data"), "d") == public


def test_garbage_is_a_format_error():
    with pytest.raises(FormatError):
        parse_public_key("untrusted comment: x\nnot base64!!\n")
    with pytest.raises(FormatError):
        parse_public_key("")
