"""Cached ``POST /api/v1/build`` under load, against a bare ASGI app.

Both run as one uvicorn process on loopback; wrk drives 64 connections at
each in turn. Also times one stand-in build from request to 200, split into
queue wait, builder set-up and build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REQUEST = {
    "version": "22.03-SNAPSHOT",
    "target": "x86/64",
    "profile": "generic",
    "packages": ["rsync"],
}
CONNECTIONS = 64
DURATION_S = 10


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _uvicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(argv, env=env)


def _wrk(url: str, body: dict[str, Any], workdir: Path) -> dict[str, float]:
    script = workdir / "post.lua"
    payload = json.dumps(body).replace('"', '\\"')
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{payload}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{DURATION_S}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return _parse_wrk(out)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _parse_wrk(text: str) -> dict[str, float]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)\b", text)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if not (rps and p99 and p50):
        raise RuntimeError(f"unexpected wrk output:\n{text}")
    return {
        "requests_per_s": float(rps.group(1)),
        "p50_ms": _ms(*p50.groups()),
        "p99_ms": _ms(*p99.groups()),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def _build_once(base: str, var_dir: Path) -> dict[str, float]:
    started = time.monotonic()
    response = httpx.post(f"{base}/api/v1/build", json=REQUEST, timeout=30)
    digest = response.json()["request_hash"]
    while response.status_code == 202:
        time.sleep(0.05)
        response = httpx.get(f"{base}/api/v1/build/{digest}", timeout=30)
    total = time.monotonic() - started
    if response.status_code != 200:
        raise RuntimeError(f"the build failed: {response.text}")
    import sqlite3

    with sqlite3.connect(var_dir / "meshforge.db") as db:
        wait, setup, build = db.execute(
            "SELECT queue_wait_s, setup_s, build_s FROM builds WHERE request_hash=?",
            (digest,),
        ).fetchone()
    return {
        "request_to_200_s": round(total, 3),
        "queue_wait_s": round(wait, 3),
        "builder_setup_s": round(setup, 3),
        "build_s": round(build, 3),
    }


def main() -> dict[str, Any]:
    from standin.mirror import build_mirror, serve_mirror

    workdir = Path(tempfile.mkdtemp(prefix="meshforge-bench-"))
    site = workdir / "site"
    site.mkdir()
    mirror, mirror_url = serve_mirror(site, port=0)
    info = build_mirror(site, mirror_url)
    env = {
        **os.environ,
        "MESHFORGE_VAR_DIR": str(workdir / "var"),
        "MESHFORGE_UPSTREAM_URL": mirror_url,
        "MESHFORGE_UPSTREAM_KEYS_DIR": str(info.keys_dir),
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(
            [sys.executable, "-m", "meshforge.cli", "sync"],
            env=env,
            check=True,
            capture_output=True,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "meshforge.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        procs.append(worker)
        port = _port()
        procs.append(_uvicorn("meshforge.api.asgi:app", port, env))
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/json/v1/overview.json")
        build = _build_once(base, workdir / "var")
        cached = _wrk(f"{base}/api/v1/build", REQUEST, workdir)
        bare_port = _port()
        procs.append(_uvicorn("bench.bare_app:app", bare_port, env))
        _wait_http(f"http://127.0.0.1:{bare_port}/")
        bare = _wrk(f"http://127.0.0.1:{bare_port}/", REQUEST, workdir)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        mirror.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = cached["requests_per_s"] / bare["requests_per_s"]
    return {
        "cached_post": cached,
        "bare_asgi": bare,
        "ratio": round(ratio, 3),
        "targets": {"ratio_min": 0.5, "p99_ms_max": 50},
        "met": ratio >= 0.5 and cached["p99_ms"] < 50 and cached["non_2xx"] == 0,
        "one_build": build,
        "connections": CONNECTIONS,
        "duration_s": DURATION_S,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
