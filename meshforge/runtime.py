"""The parts of a running meshforge server, built once from settings."""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property

import httpx

from meshforge.builds.queue import BuildQueue
from meshforge.builds.service import BuildService
from meshforge.builds.worker import Worker
from meshforge.config import Settings
from meshforge.db.session import Database
from meshforge.errors import ConfigError, MeshforgeError
from meshforge.imagebuilder.cache import BuilderCache
from meshforge.signing.usign import Keyring, SecretKey, parse_secret_key
from meshforge.store.local import LocalStore
from meshforge.upstream.catalog import Catalog
from meshforge.upstream.fetch import Fetcher
from meshforge.upstream.sync import Syncer

log = logging.getLogger(__name__)
REFRESH_AFTER_S = 60.0


def _signer(settings: Settings) -> SecretKey | None:
    if settings.signing_key is None:
        return None
    try:
        text = settings.signing_key.read_text()
    except OSError as exc:
        raise ConfigError(
            f"MESHFORGE_SIGNING_KEY names {settings.signing_key}, which cannot be "
            f"read ({exc.strerror}). Fix the path or unset it."
        ) from exc
    return parse_secret_key(text)


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings)
        self.db.migrate()
        self.catalog = Catalog(self.db)
        self.store = LocalStore(settings.store_dir, _signer(settings))
        self._refresh_lock = threading.Lock()
        self._refreshed: dict[tuple[str, str | None], float] = {}

    @cached_property
    def http(self) -> httpx.Client:
        return httpx.Client(timeout=self.settings.http_timeout_s, follow_redirects=True)

    @cached_property
    def keyring(self) -> Keyring:
        return Keyring.from_dir(self.settings.upstream_keys_dir)

    @cached_property
    def worker(self) -> Worker:
        cache = BuilderCache(
            self.settings.builder_cache_dir,
            self.settings.builder_cache_max_bytes,
            self.http,
            self.keyring,
            timeout_s=float(self.settings.job_timeout_s),
        )
        return Worker(self.settings, self.db, self.store, cache)

    @cached_property
    def queue(self) -> BuildQueue:
        # The task body is looked up on the worker only when a job runs, so
        # the API process never sets up builders.
        return BuildQueue(
            self.settings, lambda request_hash: self.worker.run(request_hash)
        )

    @cached_property
    def builds(self) -> BuildService:
        return BuildService(self.settings, self.db, self.queue)

    def refresh_on_miss(self, version: str, target: str | None = None) -> None:
        """Look upstream for a version or target a request named, at most
        once a minute for each, so that unknown names cannot flood upstream."""
        key = (version, target)
        with self._refresh_lock:
            last = self._refreshed.get(key, 0.0)
            if time.monotonic() - last < REFRESH_AFTER_S:
                return
            self._refreshed[key] = time.monotonic()
        try:
            self.syncer().refresh(version, target)
        except MeshforgeError as exc:
            log.warning("refresh of %s %s failed: %s", version, target, exc.detail)
        self.catalog.forget_releases()

    def syncer(self) -> Syncer:
        fetcher = Fetcher(self.settings.upstream_url, self.http)
        return Syncer(
            self.db,
            fetcher,
            self.keyring,
            only_versions=self.settings.sync_versions,
            only_targets=self.settings.sync_targets,
        )
