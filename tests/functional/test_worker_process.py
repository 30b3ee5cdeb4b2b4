"""A worker in another process takes the job from the configured queue."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def _env(settings) -> dict[str, str]:
    env = {
        **os.environ,
        "MESHFORGE_VAR_DIR": str(settings.var_dir),
        "MESHFORGE_UPSTREAM_URL": settings.upstream_url,
        "MESHFORGE_UPSTREAM_KEYS_DIR": str(settings.upstream_keys_dir),
        "MESHFORGE_QUEUE": settings.queue,
        "MESHFORGE_REDIS_URL": settings.redis_url,
        "MESHFORGE_QUEUE_NAME": settings.queue_name,
    }
    if settings.database_url:
        env["MESHFORGE_DATABASE_URL"] = settings.database_url
    return env


def test_separate_worker_process_builds(make_server):
    live = make_server(worker=False)
    request = {
        "version": "22.03-SNAPSHOT",
        "target": "ath79/generic",
        "profile": "8dev_carambola2",
        "packages": [],
    }
    with live.client() as client:
        queued = client.post("/api/v1/build", json=request)
    assert queued.status_code == 202 and queued.json()["detail"] == "queued"
    worker = subprocess.Popen(
        [sys.executable, "-m", "meshforge.cli", "worker"],
        env=_env(live.settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        done = live.wait_for(queued.json()["request_hash"], timeout=90)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert done.status_code == 200, (done.text, output)
    images = done.json()["images"]
    assert [i["type"] for i in images] == ["sysupgrade"]
    assert images[0]["name"].endswith("8dev_carambola2-squashfs-sysupgrade.bin")
    assert worker.returncode == 0, output
