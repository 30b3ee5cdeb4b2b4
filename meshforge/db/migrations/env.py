"""Alembic environment: runs migrations on the engine meshforge hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, engine_from_config, pool

from meshforge.db.models import Base


def run() -> None:
    config = context.config
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        section = config.get_section(config.config_ini_section) or {}
        engine = engine_from_config(
            section, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
