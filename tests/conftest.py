"""Shared fixtures: the real services and the sample data."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "upstream-samples"
KEYS = ROOT / "data" / "keys" / "usign"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, port: int) -> None:
    """Skip outside CI, fail inside CI, when a service is not running."""
    if _reachable(port):
        return
    message = f"{name} is not running on 127.0.0.1:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI must start it (see .ci/run)")
    pytest.skip(f"{message}; start {name} to run this test")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own, dropped afterwards."""
    need_service("PostgreSQL", 5432)
    import sqlalchemy as sa

    schema = f"mf_test_{uuid.uuid4().hex[:10]}"
    base = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", 6379)
    return "redis://127.0.0.1:6379/0"
