"""usign (signify-compatible) keys and signatures.

A usign file is two lines: ``untrusted comment: …`` and a base64 blob. Public
keys are ``Ed`` + 8-byte key number + 32-byte Ed25519 key; signatures are
``Ed`` + key number + 64-byte Ed25519 signature over the raw file bytes;
secret keys are ``Ed`` ``BK`` + rounds + salt + checksum + key number + key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from meshforge.errors import FormatError, SignatureError

_PUB = struct.Struct("!2s8s32s")
_SIG = struct.Struct("!2s8s64s")
_SEC = struct.Struct("!2s2sI16s8s8s64s")


@dataclass(frozen=True)
class PublicKey:
    keynum: bytes
    key: bytes
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        return self.keynum.hex()

    def to_text(self) -> str:
        blob = _PUB.pack(b"Ed", self.keynum, self.key)
        return _two_lines(self.comment, blob)


@dataclass(frozen=True)
class Signature:
    keynum: bytes
    signature: bytes

    @property
    def fingerprint(self) -> str:
        return self.keynum.hex()


@dataclass(frozen=True)
class SecretKey:
    keynum: bytes
    key: bytes  # 64 bytes: seed followed by the public key
    comment: str = ""

    @classmethod
    def generate(cls, comment: str) -> SecretKey:
        signing = SigningKey.generate()
        full = bytes(signing) + bytes(signing.verify_key)
        return cls(keynum=os.urandom(8), key=full, comment=comment)

    @property
    def public(self) -> PublicKey:
        comment = self.comment.replace("secret key", "public key")
        return PublicKey(self.keynum, self.key[32:], comment)

    def sign(self, data: bytes, comment: str | None = None) -> str:
        """Return the text of a ``.sig`` file for ``data``."""
        signed = SigningKey(self.key[:32]).sign(data).signature
        blob = _SIG.pack(b"Ed", self.keynum, signed)
        text = comment or f"signed by key {self.keynum.hex()}"
        return _two_lines(text, blob)

    def to_text(self) -> str:
        checksum = hashlib.sha512(self.key).digest()[:8]
        blob = _SEC.pack(b"Ed", b"BK", 0, bytes(16), checksum, self.keynum, self.key)
        return _two_lines(self.comment, blob)


def _two_lines(comment: str, blob: bytes) -> str:
    encoded = base64.b64encode(blob).decode()
    return f"untrusted comment: {comment}\n{encoded}\n"


def _blob(text: str, what: str) -> tuple[str, bytes]:
    # The real 19.07 key f94b9dd6febac963 has no comment line and no final
    # newline, so the blob is the last non-empty line, not line two.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise FormatError(f"The {what} is empty; expected a usign file.")
    comment = ""
    if len(lines) > 1 and lines[0].startswith("untrusted comment:"):
        comment = lines[0].removeprefix("untrusted comment:").strip()
    try:
        return comment, base64.b64decode(lines[-1], validate=True)
    except binascii.Error as exc:
        raise FormatError(f"The {what} is not valid base64 ({exc}).") from exc


def parse_public_key(text: str) -> PublicKey:
    comment, blob = _blob(text, "public key")
    if len(blob) != _PUB.size or blob[:2] != b"Ed":
        raise FormatError("The public key is not an Ed25519 usign key (42 bytes).")
    _, keynum, key = _PUB.unpack(blob)
    return PublicKey(keynum, key, comment)


def parse_signature(text: str) -> Signature:
    _, blob = _blob(text, "signature")
    if len(blob) != _SIG.size or blob[:2] != b"Ed":
        raise FormatError("The signature is not an Ed25519 usign signature.")
    _, keynum, signature = _SIG.unpack(blob)
    return Signature(keynum, signature)


def parse_secret_key(text: str) -> SecretKey:
    comment, blob = _blob(text, "secret key")
    if len(blob) != _SEC.size or blob[:4] != b"EdBK":
        raise FormatError("The secret key is not an Ed25519 usign secret key.")
    _, _, rounds, _, checksum, keynum, key = _SEC.unpack(blob)
    if rounds != 0:
        raise FormatError("Password-protected usign keys are not supported.")
    if hashlib.sha512(key).digest()[:8] != checksum:
        raise FormatError("The secret key checksum does not match its key.")
    return SecretKey(keynum, key, comment)


class Keyring:
    """Trusted public keys, looked up by fingerprint."""

    def __init__(self, keys: list[PublicKey] | None = None) -> None:
        self._keys = {key.fingerprint: key for key in keys or []}

    @classmethod
    def from_dir(cls, folder: Path) -> Keyring:
        keys = []
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if path.is_file() and not path.name.endswith((".pem", ".sec")):
                keys.append(parse_public_key(path.read_text()))
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def fingerprints(self) -> list[str]:
        return sorted(self._keys)

    def add(self, key: PublicKey) -> None:
        self._keys[key.fingerprint] = key

    def verify(self, data: bytes, signature_text: str, what: str) -> PublicKey:
        """Check ``signature_text`` over ``data``; return the key that signed it."""
        signature = parse_signature(signature_text)
        key = self._keys.get(signature.fingerprint)
        if key is None:
            raise SignatureError(
                f"The signature of {what} was made by key {signature.fingerprint}, "
                "which is not among the trusted keys "
                f"({', '.join(self.fingerprints) or 'none configured'}). "
                "Add that key to the upstream key folder if you trust it.",
                fingerprint=signature.fingerprint,
            )
        try:
            VerifyKey(key.key).verify(data, signature.signature)
        except BadSignatureError as exc:
            raise SignatureError(
                f"The signature of {what} does not match its content: the file "
                "was changed or corrupted after signing. Nothing from it was used.",
                fingerprint=signature.fingerprint,
            ) from exc
        return key
