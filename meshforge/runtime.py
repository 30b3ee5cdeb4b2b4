"""The parts of a running meshforge server, built once from settings."""

from __future__ import annotations

from functools import cached_property

import httpx

from meshforge.builds.queue import BuildQueue
from meshforge.builds.service import BuildService
from meshforge.builds.worker import Worker
from meshforge.config import Settings
from meshforge.db.session import Database
from meshforge.imagebuilder.cache import BuilderCache
from meshforge.signing.usign import Keyring
from meshforge.store.local import LocalStore
from meshforge.upstream.catalog import Catalog
from meshforge.upstream.fetch import Fetcher
from meshforge.upstream.sync import Syncer


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings)
        self.db.migrate()
        self.catalog = Catalog(self.db)
        self.store = LocalStore(settings.store_dir)

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

    def syncer(self) -> Syncer:
        fetcher = Fetcher(self.settings.upstream_url, self.http)
        return Syncer(
            self.db,
            fetcher,
            self.keyring,
            only_versions=self.settings.sync_versions,
            only_targets=self.settings.sync_targets,
        )
