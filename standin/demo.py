"""``make run``: the sample mirror plus meshforge, all on loopback.

1. builds the local sample mirror in ``var/mirror`` (stand-in ImageBuilders
   included) and serves it on 127.0.0.1:8001 as the "upstream";
2. runs ``meshforge sync`` against it;
3. runs ``meshforge serve --with-worker`` on 127.0.0.1:8000 until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from standin.mirror import MirrorInfo, build_mirror, serve_mirror

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
STOP_GRACE_S = 10


def say(text: str) -> None:
    """What the person who typed ``make run`` should read."""
    sys.stdout.write(f"[demo] {text}\n")
    sys.stdout.flush()


def meshforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "meshforge.cli", *args]


def child_env(info: MirrorInfo, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MESHFORGE_UPSTREAM_URL"] = info.base_url
    env["MESHFORGE_UPSTREAM_KEYS_DIR"] = str(info.keys_dir.resolve())
    env["MESHFORGE_VAR_DIR"] = str(var)
    return env


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _terminate(signum: int, frame: FrameType | None) -> None:
    # ``kill`` or ``timeout`` sends SIGTERM: stop the children as Ctrl-C
    # would, instead of leaving ``meshforge serve`` behind as an orphan.
    raise KeyboardInterrupt


def start_upstream(var: Path, port: int) -> tuple[ThreadingHTTPServer, MirrorInfo]:
    base_url = f"http://{HOST}:{port}"
    info = build_mirror(var / "mirror", base_url)
    try:
        server, _ = serve_mirror(info.root, port, HOST)
    except OSError as exc:
        raise SystemExit(
            f"[demo] Cannot serve the mirror on {HOST}:{port} ({exc}). Stop what "
            "uses that port or pass --mirror-port."
        ) from exc
    return server, info


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        say(f"meshforge serve (pid {process.pid}) did not stop; killing it")
        process.kill()
        process.wait()


def run(var: Path, mirror_port: int, port: int) -> int:
    if not port_is_free(port):
        raise SystemExit(
            f"[demo] {HOST}:{port} is already in use, so meshforge could not "
            "listen there. Stop what uses it or pass --port."
        )
    server, info = start_upstream(var, mirror_port)
    say(f"upstream mirror: {info.base_url} (files in {info.root})")
    say(f"trusted keys:    {info.keys_dir}")
    say(f"stand-in ImageBuilders: {', '.join(sorted(info.archives))}")
    env = child_env(info, var)
    try:
        say("running: meshforge sync")
        synced = subprocess.run(meshforge("sync"), env=env, check=False)
        if synced.returncode:
            say(f"meshforge sync exited with {synced.returncode}; serving anyway")
        say(f"meshforge API + worker: http://{HOST}:{port} (Ctrl-C stops all)")
        args = ("serve", "--host", HOST, "--port", str(port), "--with-worker")
        process = subprocess.Popen(meshforge(*args), env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            say("stopping")
            stop(process)
            return 0
    finally:
        server.shutdown()
        server.server_close()
        say("mirror stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="meshforge demo on loopback")
    default_var = Path(os.environ.get("MESHFORGE_VAR_DIR") or "var")
    parser.add_argument("--var", type=Path, default=default_var)
    parser.add_argument("--mirror-port", type=int, default=8001)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[demo] %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = run(args.var, args.mirror_port, args.port)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
