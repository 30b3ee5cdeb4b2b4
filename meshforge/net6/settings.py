"""Settings of the LibreNet6 broker, from ``MESHFORGE_NET6_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Net6Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESHFORGE_NET6_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite in var_dir
    netname: str = "librenet6"
    interface: str = "librenet6"
    hello_interval: float = 4.0
    # How long a revoked gateway's subnet stays reserved before reuse, so that
    # stale routes to it have expired everywhere.
    release_grace_s: int = 7 * 86400
    default_invite_expiry: str = "1d"
    # Base of invitation URLs, as gateways reach the broker (behind the TLS
    # proxy); empty: the URL of the request that made the invitation.
    public_url: str = ""
    # Gateways whose last report is older than this are shown as down.
    down_after_s: int = 900

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'net6.db'}"
