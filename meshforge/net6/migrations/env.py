"""Alembic environment of the LibreNet6 broker, apart from the image server's.

The broker may share a PostgreSQL database with the image server, so its
history lives in its own version table and autogenerate looks only at the
broker's tables: the image server's never show up as tables to drop.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, Engine, engine_from_config, pool, text

from meshforge.net6.models import Base, UTCDateTime
from meshforge.net6.schema import ADVISORY_LOCK_KEY, VERSION_TABLE, include_name


def render_item(type_: str, obj: Any, _autogen: AutogenContext) -> str | Literal[False]:
    # Revisions must not import the models they were made from: a later
    # change to UTCDateTime would rewrite history. Its stored form is this.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_name=include_name,
        render_item=render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Brokers starting together would both create the version table;
            # the second waits here, then finds the schema at head.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        context.run_migrations()


def run() -> None:
    config = context.config
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        section = config.get_section(config.config_ini_section) or {}
        engine = engine_from_config(
            section, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
    with engine.connect() as connection:
        migrate(connection)
        connection.commit()


run()
