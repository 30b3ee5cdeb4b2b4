"""Settings, read from ``MESHFORGE_*`` environment variables.

Every setting has an embedded default, so that ``make run`` works on a fresh
machine; production overrides the database, queue and upstream.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESHFORGE_", extra="ignore")

    # Where state lives.
    var_dir: Path = VAR
    database_url: str = ""  # empty: SQLite in var_dir
    queue: Literal["embedded", "redis"] = "embedded"
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "meshforge"

    # Upstream download site and the keys its signatures must verify against.
    upstream_url: str = "https://downloads.openwrt.org"
    upstream_keys_dir: Path = Path("data/keys/usign")
    sync_interval_s: int = 3600
    sync_versions: list[str] = Field(default_factory=list)  # empty: all
    sync_targets: list[str] = Field(default_factory=list)  # empty: all
    http_timeout_s: float = 60.0

    # Limits and policy, named as in asu's overview.json.
    server_contact: str = "see the operator of this server"
    allow_defaults: bool = False
    repository_allow_list: list[str] = Field(default_factory=list)
    max_custom_rootfs_size_mb: int = 1024
    max_defaults_length: int = 20480
    max_pending_jobs: int = 200
    max_request_bytes: int = 1024 * 1024

    # Build lifetimes (seconds), from asu cbb01ea.
    build_ttl: int = 7 * 24 * 3600
    build_ttl_unversioned: int = 24 * 3600
    build_defaults_ttl: int = 30 * 60
    build_failure_ttl: int = 3600
    job_timeout_s: int = 600

    # usign secret key that signs each build's sha256sums (none: unsigned).
    signing_key: Path | None = None

    # Builders: where archives are unpacked, and how much disk they may use.
    builder_cache_max_bytes: int = 20 * 1024**3
    worker_threads: int = 1

    @property
    def sqlite_path(self) -> Path:
        return self.var_dir / "meshforge.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def store_dir(self) -> Path:
        return self.var_dir / "store"

    @property
    def builder_cache_dir(self) -> Path:
        return self.var_dir / "builders"

    @property
    def queue_path(self) -> Path:
        return self.var_dir / "queue.db"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
