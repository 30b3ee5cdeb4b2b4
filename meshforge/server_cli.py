"""Server-side commands: ``serve``, ``worker`` and ``sync``."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import click

from meshforge.config import get_settings
from meshforge.errors import MeshforgeError
from meshforge.runtime import Runtime

log = logging.getLogger(__name__)


def _start_consumer(rt: Runtime, threads: int) -> Any:
    consumer: Any = rt.queue.consumer(threads)
    consumer.start()
    return consumer


def _periodic_sync(rt: Runtime, stop: threading.Event) -> None:
    """Refresh upstream metadata so new releases appear without a restart."""
    while not stop.wait(rt.settings.sync_interval_s):
        try:
            report = rt.syncer().sync_all()
            rt.catalog.forget_releases()
            log.info(
                "periodic sync: %d targets, %d indexes, %d errors",
                report.targets,
                report.indexes,
                len(report.errors),
            )
        except MeshforgeError as exc:
            log.warning("periodic sync failed, keeping old data: %s", exc.detail)
        rt.builds.purge_expired(rt.store)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--with-worker", is_flag=True, help="Also run a build worker inside.")
@click.option("--no-periodic-sync", is_flag=True, help="Do not refresh metadata.")
def serve(host: str, port: int, with_worker: bool, no_periodic_sync: bool) -> None:
    """Run the HTTP API (and, with --with-worker, one build worker)."""
    import uvicorn

    from meshforge.api.app import create_app

    settings = get_settings()
    rt = Runtime(settings)
    app = create_app(settings, rt)
    stop = threading.Event()
    consumer = _start_consumer(rt, settings.worker_threads) if with_worker else None
    if not no_periodic_sync:
        threading.Thread(target=_periodic_sync, args=(rt, stop), daemon=True).start()
    click.echo(f"meshforge API on http://{host}:{port} (docs: /docs)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        stop.set()
        if consumer is not None:
            consumer.stop(graceful=True)


@click.command()
@click.option("--threads", default=None, type=int, help="Builds run at once.")
def worker(threads: int | None) -> None:
    """Run a build worker that takes jobs from the configured queue."""
    settings = get_settings()
    rt = Runtime(settings)
    count = threads or settings.worker_threads
    consumer = _start_consumer(rt, count)
    click.echo(f"meshforge worker: {count} thread(s) on the {settings.queue} queue")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    while not stopping.is_set():
        time.sleep(0.5)
    click.echo("stopping after the running builds finish…")
    consumer.stop(graceful=True)


class _ProgressBar:
    """A terminal progress bar fed by the syncer's progress calls."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, count: int, step: str) -> None:
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(count, 1),
                label="sync",
                show_pos=True,
                item_show_func=lambda item: item,
            )
            self.bar.__enter__()
            return
        self.bar.current_item = step
        self.bar.update(count)
        if self.bar.pos >= self.bar.length and count:
            self.bar.__exit__(None, None, None)


@click.command()
@click.option("--version", "versions", multiple=True, help="Only these versions.")
@click.option("--target", "targets", multiple=True, help="Only these targets.")
def sync(versions: tuple[str, ...], targets: tuple[str, ...]) -> None:
    """Fetch release metadata and package indexes from the upstream site."""
    settings = get_settings()
    rt = Runtime(settings)
    syncer = rt.syncer()
    if versions:
        syncer.only_versions = set(versions)
    if targets:
        syncer.only_targets = set(targets)
    click.echo(f"syncing from {settings.upstream_url} ({len(rt.keyring)} trusted keys)")
    started = time.monotonic()
    report = syncer.sync_all(progress=_ProgressBar())
    elapsed = time.monotonic() - started
    click.echo(
        f"{len(report.versions)} versions, {report.targets} targets, "
        f"{report.indexes} indexes in {elapsed:.1f} s"
    )
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        raise SystemExit(3)
