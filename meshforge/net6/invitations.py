"""One-use invitations inside a transaction: claim, refuse, void."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshforge.errors import InvitationError
from meshforge.net6.models import Invitation, utcnow

log = logging.getLogger(__name__)


def claim(session: Session, digest: str) -> Invitation:
    """Mark an invitation used, atomically: a second redeemer updates 0 rows."""
    now = utcnow()
    result = session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == digest,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(used_at=now)
    )
    row = session.scalar(select(Invitation).where(Invitation.token_hash == digest))
    if getattr(result, "rowcount", 0) == 1 and row is not None:
        return row
    raise InvitationError(refusal(row))


def refusal(row: Invitation | None) -> str:
    if row is None:
        return "This invitation token is not known; check that it was copied whole."
    if row.used_at is not None:
        return (
            f"The invitation for {row.name!r} was already used; invitations work "
            "once. Ask the operator for a new one."
        )
    expired = f"{row.expires_at:%Y-%m-%d %H:%M}"
    return (
        f"The invitation for {row.name!r} expired (or was revoked) at {expired} "
        "UTC; ask the operator for a new one."
    )


def cancel(session: Session, name: str) -> int:
    """Void unused invitations by letting them expire now."""
    now = utcnow()
    result = session.execute(
        update(Invitation)
        .where(
            Invitation.name == name,
            Invitation.used_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(expires_at=now)
    )
    cancelled: int = getattr(result, "rowcount", 0)
    if cancelled:
        log.info("voided %d unused invitation(s) for %s", cancelled, name)
    return cancelled
