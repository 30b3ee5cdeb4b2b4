"""The build queue: Huey on SQLite (embedded) or on Redis (production).

The queue only carries request hashes; the state of each build lives in the
database, so the API never asks the queue what a build is doing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey import Huey, RedisHuey, SqliteHuey

from meshforge.config import Settings

log = logging.getLogger(__name__)

BuildFn = Callable[[str], None]


class BuildQueue:
    """Enqueues hashes; a worker consumes them with ``build_fn``."""

    def __init__(self, settings: Settings, build_fn: BuildFn) -> None:
        self.settings = settings
        self.huey = _make_huey(settings)
        self._task = self.huey.task(name="meshforge.build")(build_fn)

    def enqueue(self, request_hash: str) -> None:
        self._task(request_hash)
        log.info("queued build %s", request_hash)

    def consumer(self, threads: int) -> object:
        return self.huey.create_consumer(
            workers=threads, worker_type="thread", periodic=False, max_delay=1.0
        )

    def flush(self) -> None:
        self.huey.flush()


def _make_huey(settings: Settings) -> Huey:
    name = settings.queue_name
    if settings.queue == "redis":
        return RedisHuey(name, url=settings.redis_url, results=False)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.queue_path), results=False)
