"""The broker's database engine, with writes serialised on SQLite and PostgreSQL.

Delegating a subnet reads what is taken and then writes its choice. Two
brokers (threads or processes on one database) must never both read before
either writes, or they pick overlapping blocks. The database enforces that:

- SQLite has no row locks, so every writing transaction starts with
  ``BEGIN IMMEDIATE``, which takes the file's write lock before the first
  read. pysqlite would otherwise begin only before the first write, after
  the reads, and never with IMMEDIATE; so meshforge issues BEGIN itself.
- PostgreSQL locks the pool rows (``SELECT … FOR UPDATE``) before reading
  the assignments, and the pool table while a pool is added.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.orm import Session

from meshforge.net6.models import Pool

log = logging.getLogger(__name__)

BEGIN_OPTION = "net6_sqlite_begin"
# How long a SQLite writer waits for another one's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def writer(engine: Engine) -> Engine:
    """The same engine; its transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})


def locked_pools(session: Session, community: str | None = None) -> list[Pool]:
    """The pools, locked until commit on PostgreSQL (SQLite is locked whole).

    Every allocation and reservation locks all pools, not only its
    community's, so that two communities' joins are serialised too: gateway
    names are unique across the mesh.
    """
    rows = list(session.scalars(select(Pool).order_by(Pool.id).with_for_update()))
    return [row for row in rows if community is None or row.community == community]


def lock_pool_table(session: Session) -> None:
    """Keep other pools from being added until this transaction ends.

    Row locks cannot stop an insert, so two overlapping pools added at once
    would both pass the overlap check without this.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE net6_pools IN EXCLUSIVE MODE"))


def _sqlite_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
    )
    event.listen(engine, "connect", _take_over_begin)
    event.listen(engine, "begin", _begin)
    return engine


def _take_over_begin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # pysqlite emits no BEGIN of its own


def _begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")
