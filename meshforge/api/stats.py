"""``/api/v1/stats``: queue length and build statistics."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from meshforge.api.deps import runtime
from meshforge.builds import states
from meshforge.db.models import Build
from meshforge.runtime import Runtime

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])


def _counts(rt: Runtime, column: Any, *where: Any) -> dict[str, int]:
    with rt.db.session() as session:
        rows = session.execute(
            select(column, func.count()).where(*where).group_by(column)
        ).all()
    return {str(key): int(count) for key, count in rows}


@router.get("")
def stats(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Queue length and builds by state."""
    by_state = _counts(rt, Build.state)
    return {"queue_length": by_state.get(states.QUEUED, 0), "builds": by_state}


@router.get("/summary")
def summary(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    by_state = _counts(rt, Build.state)
    return {
        "total": sum(by_state.values()),
        "queued": by_state.get(states.QUEUED, 0),
        "started": by_state.get(states.STARTED, 0),
        "done": by_state.get(states.DONE, 0),
        "failed": by_state.get(states.FAILED, 0),
    }


@router.get("/builds-per-day")
def per_day(rt: Annotated[Runtime, Depends(runtime)], days: int = 30) -> dict[str, int]:
    since = datetime.now(UTC) - timedelta(days=max(1, min(days, 365)))
    with rt.db.session() as session:
        stamps = session.scalars(
            select(Build.enqueued_at).where(Build.enqueued_at >= since)
        ).all()
    return dict(sorted(Counter(s.strftime("%Y-%m-%d") for s in stamps).items()))


@router.get("/builds-by-version")
def by_version(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, int]:
    return _counts(rt, Build.version)


@router.get("/top-packages")
def top_packages(
    rt: Annotated[Runtime, Depends(runtime)], limit: int = 20
) -> dict[str, int]:
    with rt.db.session() as session:
        requests = session.scalars(select(Build.request)).all()
    counter = Counter(p for r in requests for p in r.get("packages", []))
    return dict(counter.most_common(max(1, min(limit, 200))))


@router.get("/build-errors")
def build_errors(rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, int]:
    return _counts(rt, Build.error, Build.state == states.FAILED)
