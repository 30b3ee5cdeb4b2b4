"""Fixture: the namespace mesh of net6_mesh, built once per package."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helper sits beside this file; name it explicitly, whatever import mode
# pytest uses (tests/ is a package, tests/integration is not).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from net6_mesh import (  # type: ignore[import-not-found, unused-ignore]  # path above
    IN_CI,
    Mesh,
    missing_requirements,
)


@pytest.fixture(scope="package")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    missing = missing_requirements()
    if missing:
        message = f"the namespace test needs {', '.join(missing)}"
        if IN_CI:
            pytest.fail(f"{message}; CI must install it (.ci/run)")
        pytest.skip(message)
    root = tmp_path_factory.mktemp("net6mesh")
    env = dict(os.environ)
    env.update(
        {
            "MESHFORGE_NET6_DATABASE_URL": f"sqlite:///{root / 'net6.db'}",
            "MESHFORGE_NET6_HELLO_INTERVAL": "1",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        }
    )
    mesh = Mesh(prefix=f"mf6-{os.getpid()}-", root=root, env=env)
    try:
        mesh.build()
        yield mesh
    finally:
        mesh.teardown()
