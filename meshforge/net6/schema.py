"""The broker's schema, brought to the newest Alembic revision.

The broker keeps its own Alembic history (meshforge/net6/migrations) in its
own version table, so that it can share a PostgreSQL database with the image
server, whose history is meshforge/db/migrations.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "net6_alembic_version"
TABLE_PREFIX = "net6_"
# The revision whose tables equal what create_all made before migrations.
BASELINE = "0001"
# pg_advisory_xact_lock key held while the broker migrates ("net6" in ASCII).
ADVISORY_LOCK_KEY = 0x6E657436
# Alembic's `context` and `op` are module globals that each run replaces, so
# two migrations in one process at once break each other; across processes
# the database's own locks serialise them (see migrations/env.py).
_RUNNING = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    """Alembic settings for the broker's history, run on ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    """Whether autogenerate compares this object: only the broker's tables."""
    if type_ == "table":
        return name is not None and name.startswith(TABLE_PREFIX)
    return True


def upgrade(engine: Engine) -> None:
    """Create or update the broker's tables to the newest revision."""
    config = alembic_config(engine)
    with _RUNNING:
        if _made_by_create_all(engine):
            # Brokers before migrations made their tables with create_all
            # and left no version; their tables are the baseline revision's.
            log.info("stamping the broker's tables as revision %s", BASELINE)
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    log.debug("broker schema at head on %s", engine.url.render_as_string())


def _made_by_create_all(engine: Engine) -> bool:
    tables = set(inspect(engine).get_table_names())
    return VERSION_TABLE not in tables and "net6_gateways" in tables
