"""Submitting builds and reading their state.

Concurrent identical requests create exactly one job: the database's primary
key on the request hash decides which request inserts the row, and only that
one enqueues.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import overload

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from meshforge.builds import states
from meshforge.builds.queue import BuildQueue
from meshforge.config import Settings
from meshforge.db.models import Build
from meshforge.db.session import Database
from meshforge.errors import NotFound, Overloaded
from meshforge.requests.hashing import NormalisedRequest
from meshforge.store.base import Store

log = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(UTC)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything meshforge writes is UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class BuildView:
    build: Build
    queue_position: int


class BuildService:
    def __init__(self, settings: Settings, db: Database, queue: BuildQueue) -> None:
        self.settings = settings
        self.db = db
        self.queue = queue

    # --- reading ---------------------------------------------------------

    def lookup(self, request_hash: str) -> Build | None:
        """The stored build if it can still be served, else ``None``."""
        with self.db.session() as session:
            build = session.get(Build, request_hash)
        if build is None or not self._servable(build):
            return None
        return build

    def view(self, request_hash: str) -> BuildView:
        """What a client polling a hash sees, failures included."""
        with self.db.session() as session:
            build = session.get(Build, request_hash)
        if (
            build is not None
            and build.state in (states.DONE, states.EXPIRED)
            and not self._servable(build)
        ):
            build = None  # expired: its files may be gone
        if build is not None and self._lost(build):
            build = self._give_up(build)
        if build is None:
            raise NotFound(
                "could not find provided request hash: no build with this hash is "
                "known or it has expired. Submit the build request again."
            )
        return BuildView(build, self.queue_position(build))

    def _servable(self, build: Build) -> bool:
        if build.state in states.ACTIVE:
            return not self._lost(build)
        if build.state == states.FAILED and not build.error_permanent:
            return False
        expires = aware(build.expires_at)
        return expires is None or expires > now()

    def _lost(self, build: Build) -> bool:
        """A started build whose worker stopped its heartbeat is lost."""
        if build.state != states.STARTED:
            return False
        beat = aware(build.heartbeat_at or build.started_at)
        return beat is not None and now() - beat > timedelta(
            seconds=states.LOST_AFTER_S
        )

    def _give_up(self, build: Build) -> Build:
        """Record a lost build as a transient failure, once."""
        detail = (
            "The worker building this image stopped (it was killed or lost its "
            "connection). Submit the same request again to retry."
        )
        with self.db.session() as session:
            session.execute(
                update(Build)
                .where(Build.request_hash == build.request_hash)
                .where(Build.state == states.STARTED)
                .where(Build.heartbeat_at == build.heartbeat_at)
                .values(
                    state=states.FAILED,
                    error=detail,
                    error_permanent=False,
                    finished_at=now(),
                    imagebuilder_status="failed",
                )
            )
            fresh = session.get(Build, build.request_hash)
        log.warning("build %s lost its worker", build.request_hash[:12])
        return fresh or build

    def queue_position(self, build: Build) -> int:
        if build.state != states.QUEUED:
            return 0
        with self.db.session() as session:
            ahead = session.scalar(
                select(func.count())
                .select_from(Build)
                .where(Build.state == states.QUEUED)
                .where(Build.enqueued_at < build.enqueued_at)
            )
        return int(ahead or 0)

    def pending(self) -> int:
        with self.db.session() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Build)
                .where(Build.state == states.QUEUED)
            )
        return int(count or 0)

    # --- submitting ------------------------------------------------------

    def submit(self, request: NormalisedRequest, client: str) -> BuildView:
        """Create the build for ``request`` or join the one already there."""
        pending = self.pending()
        if pending >= self.settings.max_pending_jobs:
            raise Overloaded(
                "server overload, queue contains too many build requests: "
                f"{pending}. Try again in a few minutes."
            )
        request_hash = request.request_hash
        if self._insert(request, client) or self._revive(request_hash, client):
            self.queue.enqueue(request_hash)
        return self.view(request_hash)

    def _insert(self, request: NormalisedRequest, client: str) -> bool:
        row = Build(
            request_hash=request.request_hash,
            state=states.QUEUED,
            request=request.as_dict(),
            client=client,
            version=request.version,
            target=request.target,
            profile=request.profile,
            imagebuilder_status="init",
            enqueued_at=now(),
            stdout="",
            stderr="",
            error_permanent=False,
            attempts=0,
        )
        try:
            with self.db.session() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    def _revive(self, request_hash: str, client: str) -> bool:
        """Re-queue an expired, lost or transiently failed build, atomically.

        The conditional UPDATE lets exactly one of several racing requests
        win; the others see a queued build and only report it.
        """
        with self.db.session() as session:
            build = session.get(Build, request_hash)
            if build is None or self._servable(build):
                return False
            result = session.execute(
                update(Build)
                .where(Build.request_hash == request_hash)
                .where(Build.state == build.state)
                .where(Build.enqueued_at == build.enqueued_at)
                .values(
                    state=states.QUEUED,
                    client=client,
                    imagebuilder_status="init",
                    enqueued_at=now(),
                    started_at=None,
                    finished_at=None,
                    heartbeat_at=None,
                    result=None,
                    error=None,
                    error_permanent=False,
                    stdout="",
                    stderr="",
                )
            )
        revived = bool(getattr(result, "rowcount", 0) == 1)
        if revived:
            log.info("re-queued build %s", request_hash)
        return revived

    # --- housekeeping ----------------------------------------------------

    def purge_expired(self, store: Store) -> int:
        """Delete the stored files of expired builds; keep their rows for stats."""
        with self.db.session() as session:
            expired = list(
                session.scalars(
                    select(Build.request_hash)
                    .where(Build.state == states.DONE)
                    .where(Build.expires_at < now())
                )
            )
            for request_hash in expired:
                store.delete(request_hash)
            if expired:
                session.execute(
                    update(Build)
                    .where(Build.request_hash.in_(expired))
                    .values(state=states.EXPIRED)
                )
        if expired:
            log.info("purged %d expired builds", len(expired))
        return len(expired)
