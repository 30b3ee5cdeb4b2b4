"""Fixtures for the broker: a Broker on SQLite or PostgreSQL, and a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker
from meshforge.net6.tinc import parse_host_file

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"
GSOC_HOST = SAMPLES / "librenet6/gsoc/etc/tinc/librenet6/hosts/server_gsoc"
POOL = "2001:db8:100::/48"


@pytest.fixture(scope="session")
def public_key() -> str:
    """A real RSA public key block (the GSoC server's, from the samples)."""
    return parse_host_file("server_gsoc", GSOC_HOST.read_text()).public_key


@pytest.fixture(params=["sqlite", "postgres"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'net6.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = Net6Settings(database_url=url, var_dir=tmp_path, release_grace_s=3600)
    made = Broker(settings)
    made.create_schema()
    yield made
    made.engine.dispose()


@pytest.fixture
def mesh_broker(broker: Broker, public_key: str) -> Broker:
    """A broker with one server and one pool, as `net6 init` leaves it."""
    broker.add_pool("default", POOL)
    host = f"Address = 198.51.100.2 655\nSubnet = 2001:db8:100::/64\n{public_key}\n"
    broker.register_server("srv", "default", host, "2001:db8:100::/64")
    return broker
