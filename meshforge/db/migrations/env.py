"""Alembic environment: runs migrations on the engine meshforge hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, engine_from_config, pool

from meshforge.db.models import Base


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    """Leave LibreNet6's tables, which have their own history, alone."""
    return not (type_ == "table" and (name or "").startswith("net6_"))


def run() -> None:
    config = context.config
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        section = config.get_section(config.config_ini_section) or {}
        engine = engine_from_config(
            section, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
