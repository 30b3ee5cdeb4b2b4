"""usign signature checks with the standard library only.

The stand-in runs without meshforge or PyNaCl, so Ed25519 verification is
written out here from RFC 8032 (section 5.1.7). It is slow (tens of
milliseconds) but only checks a handful of package indexes per build.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int, int, int]  # extended coordinates X, Y, Z, T


def _add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e = (y1 + x1) * (y2 + x2) % _P - (y1 - x1) * (y2 - x2) % _P
    f = z1 * 2 * z2 % _P - t1 * 2 * _D * t2 % _P
    g = z1 * 2 * z2 % _P + t1 * 2 * _D * t2 % _P
    h = (y1 + x1) * (y2 + x2) % _P + (y1 - x1) * (y2 - x2) % _P
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _same(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (
        a[1] * b[2] - b[1] * a[2]
    ) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


def _decode(data: bytes) -> Point | None:
    number = int.from_bytes(data, "little")
    y = number & ((1 << 255) - 1)
    x = _recover_x(y, number >> 255)
    return None if x is None else (x, y, 1, x * y % _P)


_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
_BASE_X = _recover_x(_BASE_Y, 0) or 0
_BASE: Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % _P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    point_a, point_r = _decode(public), _decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if point_a is None or point_r is None or s >= _Q:
        return False
    digest = hashlib.sha512(signature[:32] + public + message).digest()
    h = int.from_bytes(digest, "little") % _Q
    return _same(_multiply(s, _BASE), _add(point_r, _multiply(h, point_a)))


def _blob(text: str) -> bytes:
    # The blob is the last non-empty line (19.07's key has no comment line).
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    try:
        return base64.b64decode(lines[-1], validate=True) if lines else b""
    except binascii.Error:
        return b""


def check(data: bytes, signature_text: str, keys_dir: Path) -> bool:
    """``usign -V``: the signature's key must be in ``keys_dir`` and match."""
    blob = _blob(signature_text)
    if len(blob) != 74 or blob[:2] != b"Ed":
        return False
    key_file = keys_dir / blob[2:10].hex()
    if not key_file.is_file():
        return False
    key = _blob(key_file.read_text())
    if len(key) != 42 or key[2:10] != blob[2:10]:
        return False
    return ed25519_verify(key[10:], data, blob[10:])
