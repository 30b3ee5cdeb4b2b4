"""Tables: upstream metadata, builds and stored files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Release(Base):
    """A version the upstream offers: a release, an rc or a snapshot."""

    __tablename__ = "releases"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    branch: Mapped[str] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(String(128))
    snapshot: Mapped[bool] = mapped_column(Boolean, default=False)
    targets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Target(Base):
    """One target of one version: its profiles.json and index state."""

    __tablename__ = "targets"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True)
    arch: Mapped[str] = mapped_column(String(64))
    version_code: Mapped[str] = mapped_column(String(64), default="")
    profiles: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "ok" when every index verified; otherwise a sentence saying what is missing.
    index_state: Mapped[str] = mapped_column(Text, default="missing")
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PackageIndex(Base):
    """One verified package index (a feed of an arch, or a target's own)."""

    __tablename__ = "package_indexes"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    feed: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The parsed stanzas (opkg) or name -> version (index.json).
    format: Mapped[str] = mapped_column(String(16))
    entries: Mapped[list[Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    signed_by: Mapped[str] = mapped_column(String(16), default="")
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Build(Base):
    """A build request and its outcome, keyed by the request hash."""

    __tablename__ = "builds"

    request_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    client: Mapped[str] = mapped_column(String(128), default="unknown/0")
    version: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(128))
    imagebuilder_status: Mapped[str] = mapped_column(String(32), default="init")
    enqueued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    error_permanent: Mapped[bool] = mapped_column(Boolean, default=False)
    stdout: Mapped[str] = mapped_column(Text, default="")
    stderr: Mapped[str] = mapped_column(Text, default="")
    queue_wait_s: Mapped[float | None] = mapped_column(Float)
    setup_s: Mapped[float | None] = mapped_column(Float)
    build_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class StoredFile(Base):
    """A file kept in the artefact store, with its checksum and downloads."""

    __tablename__ = "stored_files"

    request_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    downloads: Mapped[int] = mapped_column(Integer, default=0)


class UpstreamFile(Base):
    """A small upstream JSON file kept as read (``.versions.json``)."""

    __tablename__ = "upstream_files"

    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
