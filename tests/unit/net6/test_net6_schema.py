"""The broker's Alembic migrations: they build exactly the models' tables."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, String, column, inspect, select, text
from sqlalchemy import table as table_

from meshforge.db.session import MIGRATIONS as SERVER_MIGRATIONS
from meshforge.db.session import engine_for
from meshforge.db.session import migrate as migrate_server
from meshforge.net6 import schema
from meshforge.net6.models import Base, Setting
from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'net6.db'}"
    value: str = request.getfixturevalue("postgres_url")
    return value


def new_broker(url: str) -> Broker:
    return Broker(Net6Settings(database_url=url))


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": schema.VERSION_TABLE,
                "include_name": schema.include_name,
            },
        )
        return list(compare_metadata(context, Base.metadata))


def head_of(folder: Path) -> str:
    head = ScriptDirectory(str(folder)).get_current_head()
    assert head is not None
    return head


def version_in(engine: Engine, table: str) -> list[str]:
    with engine.connect() as connection:
        name = column("version_num", String)
        query = select(name).select_from(table_(table))
        return list(connection.scalars(query))


def test_migrated_schema_equals_the_models(url: str) -> None:
    broker = new_broker(url)
    broker.create_schema()

    assert differences(broker.engine) == []
    assert version_in(broker.engine, schema.VERSION_TABLE) == ["0001"]
    assert "alembic_version" not in inspect(broker.engine).get_table_names()
    broker.engine.dispose()


def test_comparison_sees_a_table_that_differs(url: str) -> None:
    # Shows that the empty diff above is a real comparison of both sides.
    broker = new_broker(url)
    broker.create_schema()
    with broker.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_net6_pools_community"))

    found = differences(broker.engine)

    assert [diff[0] for diff in found] == ["add_index"]
    assert found[0][1].name == "ix_net6_pools_community"
    broker.engine.dispose()


def test_schema_creation_is_repeatable_and_keeps_rows(url: str) -> None:
    broker = new_broker(url)
    broker.create_schema()
    key = broker.hmac_key()

    broker.create_schema()

    assert broker.hmac_key() == key
    assert version_in(broker.engine, schema.VERSION_TABLE) == ["0001"]
    broker.engine.dispose()


def test_tables_from_create_all_are_stamped_not_recreated(url: str) -> None:
    broker = new_broker(url)
    Base.metadata.create_all(broker.engine)
    with broker.writing() as session:
        session.add(Setting(key="kept", value="from before migrations"))

    broker.create_schema()

    with broker.session() as session:
        kept = session.scalar(select(Setting.value).where(Setting.key == "kept"))
    assert kept == "from before migrations"
    assert version_in(broker.engine, schema.VERSION_TABLE) == ["0001"]
    broker.engine.dispose()


def test_brokers_starting_together_all_reach_head(url: str) -> None:
    brokers = [new_broker(url) for _ in range(4)]
    failures: list[BaseException] = []

    def start(broker: Broker) -> None:
        try:
            broker.create_schema()
        except BaseException as exc:  # reported to the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(b,)) for b in brokers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert version_in(brokers[0].engine, schema.VERSION_TABLE) == ["0001"]
    for broker in brokers:
        broker.engine.dispose()


@pytest.mark.parametrize("broker_first", [True, False])
def test_broker_and_image_server_share_one_postgres_schema(
    postgres_url: str, broker_first: bool
) -> None:
    broker = new_broker(postgres_url)
    if broker_first:
        broker.create_schema()
    migrate_server(postgres_url)
    if not broker_first:
        broker.create_schema()

    server_engine = engine_for(postgres_url)
    tables = set(inspect(broker.engine).get_table_names())
    assert {"alembic_version", schema.VERSION_TABLE} <= tables
    assert set(Base.metadata.tables) <= tables
    assert version_in(server_engine, "alembic_version") == [head_of(SERVER_MIGRATIONS)]
    assert version_in(broker.engine, schema.VERSION_TABLE) == [
        head_of(schema.MIGRATIONS)
    ]
    assert differences(broker.engine) == []
    assert _server_tables_present(server_engine)
    server_engine.dispose()
    broker.engine.dispose()


def _server_tables_present(engine: Engine) -> bool:
    from meshforge.db.models import Base as ServerBase

    wanted: MetaData = ServerBase.metadata
    return set(wanted.tables) <= set(inspect(engine).get_table_names())


START_ONE = """
import pathlib, sys, time
from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker
broker = Broker(Net6Settings(database_url=sys.argv[1]))
deadline = time.monotonic() + 60
while not pathlib.Path(sys.argv[2]).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
broker.create_schema()
"""


def test_broker_processes_starting_together_all_reach_head(
    url: str, tmp_path: Path
) -> None:
    # Each process has its own Alembic globals, so only the database's locks
    # (advisory lock, BEGIN IMMEDIATE) keep them from both creating tables.
    go = tmp_path / "go"
    argv = [sys.executable, "-c", START_ONE, url, str(go)]
    processes = [subprocess.Popen(argv, stderr=subprocess.PIPE) for _ in range(4)]
    time.sleep(1.5)  # the imports take about a second
    go.touch()
    errors = [p.communicate(timeout=120)[1].decode() for p in processes]

    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    engine = new_broker(url).engine
    assert version_in(engine, schema.VERSION_TABLE) == ["0001"]
    engine.dispose()
