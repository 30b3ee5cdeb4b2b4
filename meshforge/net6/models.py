"""Tables of the LibreNet6 broker, on their own declarative Base.

The broker keeps its state apart from the image server's, so that either can
run without the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on SQLite too, which drops the offset."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result if result.tzinfo else result.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Mesh-wide values such as the babeld HMAC key."""

    __tablename__ = "net6_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Pool(Base):
    __tablename__ = "net6_pools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community: Mapped[str] = mapped_column(String(64), index=True)
    prefix: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Server(Base):
    """An IPv6-providing node; every gateway dials it and holds its host file."""

    __tablename__ = "net6_servers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    community: Mapped[str] = mapped_column(String(64))
    host_file: Mapped[str] = mapped_column(Text)
    link_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Folder that init wrote on the server's host; the broker keeps its host
    # files current when it runs there too.
    directory: Mapped[str | None] = mapped_column(Text, nullable=True)


class Gateway(Base):
    __tablename__ = "net6_gateways"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    community: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subnet: Mapped[str] = mapped_column(String(64))
    lan: Mapped[str | None] = mapped_column(String(32), nullable=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    babeld_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Assignment(Base):
    """A delegated or reserved prefix; a row here is never handed out twice."""

    __tablename__ = "net6_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(64), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("net6_pools.id"))
    holder: Mapped[str] = mapped_column(String(64))  # gateway or server name
    # Set when the holder is revoked: the prefix is reused only after this.
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Invitation(Base):
    __tablename__ = "net6_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    community: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Operator(Base):
    __tablename__ = "net6_operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
