"""The SQLite engine: writers wait for each other, then give up with advice."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from meshforge.errors import Net6Busy
from meshforge.net6 import database
from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker


def _sqlite_broker(tmp_path: Path) -> Broker:
    broker = Broker(Net6Settings(database_url=f"sqlite:///{tmp_path / 'n.db'}"))
    broker.create_schema()
    return broker


def test_a_writer_waits_for_another_writers_lock(tmp_path: Path) -> None:
    broker = _sqlite_broker(tmp_path)
    other = sqlite3.connect(
        tmp_path / "n.db", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    started = time.monotonic()
    release.start()

    broker.add_pool("default", "2001:db8:100::/48")

    release.join()
    other.close()
    assert time.monotonic() - started >= 0.25
    assert [str(p) for p in broker.pools()] == ["2001:db8:100::/48"]


def test_a_lock_held_too_long_is_a_busy_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    broker = _sqlite_broker(tmp_path)
    other = sqlite3.connect(
        tmp_path / "n.db", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")

    with pytest.raises(Net6Busy, match="try again") as caught:
        broker.add_pool("default", "2001:db8:100::/48")

    other.execute("ROLLBACK")
    other.close()
    assert caught.value.status == 503
    assert broker.pools() == []
