"""A real meshforge server on loopback, synced from a stand-in mirror.

The mirror serves the real upstream samples plus stand-in ImageBuilders over
HTTP on 127.0.0.1; the server runs uvicorn and a Huey consumer in threads, on
SQLite and the embedded queue, or on PostgreSQL and Redis.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from meshforge.api.app import create_app
from meshforge.config import Settings
from meshforge.runtime import Runtime


@dataclass
class Mirror:
    url: str
    root: Path
    keys_dir: Path
    demo_key: Path  # the demo usign secret key that signs sha256sums


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    settings: Settings

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def wait_for(self, request_hash: str, timeout: float = 120) -> httpx.Response:
        """Poll a build until it is no longer queued or started."""
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                response = client.get(f"/api/v1/build/{request_hash}")
                if response.status_code != 202:
                    return response
                time.sleep(0.2)
        raise AssertionError(f"build {request_hash} did not finish in {timeout} s")


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    from standin.mirror import build_mirror, serve_mirror

    root = tmp_path_factory.mktemp("mirror") / "site"
    root.mkdir()
    server, url = serve_mirror(root, port=0)
    info = build_mirror(root, url)
    yield Mirror(url, root, Path(info.keys_dir), Path(info.demo_secret_key))
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(settings: Settings, *, worker: bool = True) -> tuple[LiveServer, Any]:
    rt = Runtime(settings)
    report = rt.syncer().sync_all()
    assert report.targets > 0, report.errors
    app = create_app(settings, rt)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    consumer: Any = rt.queue.consumer(1) if worker else None
    if consumer is not None:
        consumer.start()

    def stop() -> None:
        if consumer is not None:
            consumer.stop(graceful=True)
        server.should_exit = True
        thread.join(10)
        rt.queue.flush()  # leave no keys behind in the shared Redis
        rt.db.engine.dispose()

    return LiveServer(f"http://127.0.0.1:{port}", rt, settings), stop


def settings_for(
    var_dir: Path,
    mirror: Mirror,
    backend: str,
    request: pytest.FixtureRequest,
    **extra: Any,
) -> Settings:
    values: dict[str, Any] = {
        "var_dir": var_dir,
        "upstream_url": mirror.url,
        "upstream_keys_dir": mirror.keys_dir,
        "queue_name": f"mf-test-{uuid.uuid4().hex[:8]}",
        "sync_interval_s": 3600,
        "job_timeout_s": 120,
    }
    if backend == "postgres-redis":
        values["database_url"] = request.getfixturevalue("postgres_url")
        values["redis_url"] = request.getfixturevalue("redis_url")
        values["queue"] = "redis"
    values.update(extra)
    return Settings(**values)


ServerFactory = Callable[..., LiveServer]


@pytest.fixture(params=["sqlite-embedded", "postgres-redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(
    tmp_path: Path, mirror: Mirror, backend: str, request: pytest.FixtureRequest
) -> Iterator[ServerFactory]:
    stops: list[Callable[[], None]] = []

    def factory(*, worker: bool = True, **extra: Any) -> LiveServer:
        settings = settings_for(
            tmp_path / f"var{len(stops)}", mirror, backend, request, **extra
        )
        live, stop = start_server(settings, worker=worker)
        stops.append(stop)
        return live

    yield factory
    for stop in stops:
        stop()


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory,
    mirror: Mirror,
    request: pytest.FixtureRequest,
) -> Iterator[LiveServer]:
    """One shared server (SQLite, embedded queue) for tests that only read."""
    var_dir = tmp_path_factory.mktemp("live")
    settings = settings_for(var_dir, mirror, "sqlite-embedded", request)
    live, stop = start_server(settings)
    yield live
    stop()
