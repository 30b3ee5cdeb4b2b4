"""Bearer tokens: invitations, gateway credentials and operator logins.

Only the SHA-256 of a token is stored, so a copy of the database lets nobody
redeem an invitation or speak for a gateway. The tokens carry 32 random bytes,
enough that a fast unsalted hash is safe.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from meshforge.errors import Net6Error

TOKEN_BYTES = 32
DURATION_RE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# An invitation is a bearer secret; one that lives longer than a year is a
# leak waiting to happen (and larger numbers overflow timedelta).
MAX_DURATION = timedelta(days=366)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def parse_duration(text: str) -> timedelta:
    """Read ``90s``, ``30m``, ``12h``, ``1d`` or ``2w``."""
    match = DURATION_RE.match(text.strip())
    if match is None or int(match[1]) == 0:
        raise Net6Error(
            f"{text!r} is not a duration; write a positive number and a unit "
            "s, m, h, d or w, like 1d."
        )
    seconds = int(match[1]) * UNITS[match[2]]
    if seconds > MAX_DURATION.total_seconds():
        raise Net6Error(
            f"{text!r} is longer than a year, the most an invitation may stay "
            "valid; give a shorter one, like 2w."
        )
    return timedelta(seconds=seconds)
