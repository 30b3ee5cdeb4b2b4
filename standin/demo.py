"""``make run``: the sample mirror plus meshforge, all on loopback.

1. checks that both ports are free and that no other demo uses the state
   folder, before anything is written;
2. serves the local sample mirror (stand-in ImageBuilders included) from
   ``<var>/mirror`` on 127.0.0.1:8001 as the "upstream", building it anew;
3. runs ``meshforge sync`` against it;
4. runs ``meshforge serve --with-worker`` on 127.0.0.1:8000 until Ctrl-C.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from standin import demo_children
from standin.mirror import MirrorInfo, build_mirror, serve_mirror

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT_ENV = "MESHFORGE_DEMO_PORT"
MIRROR_PORT_ENV = "MESHFORGE_DEMO_MIRROR_PORT"
VAR_ENV = "MESHFORGE_VAR_DIR"
SERVE = "meshforge serve --with-worker"
# Settings that would keep state outside --var; the demo overrides them so
# that two demos with different folders share no database and no queue.
CONTAINED = {"MESHFORGE_DATABASE_URL": "", "MESHFORGE_QUEUE": "embedded"}

HELP_EPILOG = f"""\
Defaults come from the environment, so that `make run` can be steered:
  {PORT_ENV}=8010 {MIRROR_PORT_ENV}=8011 {VAR_ENV}=var2 make run
Everything the demo and meshforge keep (mirror, demo key, database, queue,
store, unpacked builders) goes under the state folder. Two demos can run at
once with their own folder and ports.
"""


class DemoRefused(SystemExit):
    """The demo cannot start; the message says why and what to do."""

    def __init__(self, text: str) -> None:
        super().__init__(f"[demo] {text}")


def say(text: str) -> None:
    """What the person who typed ``make run`` should read."""
    sys.stdout.write(f"[demo] {text}\n")
    sys.stdout.flush()


def meshforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "meshforge.cli", *args]


def child_env(info: MirrorInfo, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in CONTAINED.items():
        if env.get(name, value) != value:
            say(f"ignoring {name}={env[name]}: the demo keeps its state in {var}")
    env.update(CONTAINED)
    env["MESHFORGE_UPSTREAM_URL"] = info.base_url
    env["MESHFORGE_UPSTREAM_KEYS_DIR"] = str(info.keys_dir.resolve())
    env[VAR_ENV] = str(var.resolve())
    return env


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers do: a port left in TIME_WAIT by the last demo is
        # free for them, and only a listening socket makes the bind fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def check_ports(port: int, mirror_port: int) -> None:
    """Refuse before anything is written when a port is taken."""
    if port == mirror_port:
        raise DemoRefused(
            f"meshforge and the mirror cannot share port {port}: choose two "
            f"ports, e.g. {PORT_ENV}={port} {MIRROR_PORT_ENV}={port + 1} make run."
        )
    wanted = [("meshforge", port, PORT_ENV, "--port")]
    wanted.append(("the sample mirror", mirror_port, MIRROR_PORT_ENV, "--mirror-port"))
    for what, number, env, option in wanted:
        if not port_is_free(number):
            raise DemoRefused(
                f"Port {number} on {HOST}, which {what} needs, is already in "
                "use (another demo?). Stop what uses it, or choose another "
                f"port: {env}=<port> make run (or {option} <port>)."
            )


@contextmanager
def var_lock(var: Path) -> Iterator[None]:
    """Hold ``<var>/demo.lock`` so that a second demo cannot share the folder.

    flock is released by the kernel even when the demo is killed.
    """
    var.mkdir(parents=True, exist_ok=True)
    with open(var / "demo.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise DemoRefused(
                f"Another demo (pid {holder}) already keeps its state in "
                f"{var}. Stop it, or give this one its own folder and ports: "
                f"{VAR_ENV}=<dir> {PORT_ENV}=<port> {MIRROR_PORT_ENV}=<port> "
                "make run."
            ) from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        yield


def _terminate(signum: int, frame: FrameType | None) -> None:
    # ``kill`` or ``timeout`` sends SIGTERM: stop the children as Ctrl-C
    # would, instead of leaving ``meshforge serve`` behind as an orphan.
    raise KeyboardInterrupt


def start_upstream(var: Path, port: int) -> tuple[ThreadingHTTPServer, MirrorInfo]:
    """Bind the mirror's port first, then (re)build the files it serves."""
    dest = var / "mirror"
    try:
        server, base_url = serve_mirror(dest, port, HOST)
    except OSError as exc:
        raise DemoRefused(
            f"Cannot serve the mirror on {HOST}:{port} ({exc}). Stop what uses "
            f"that port, or choose another: {MIRROR_PORT_ENV}=<port> make run."
        ) from exc
    try:
        return server, build_mirror(dest, base_url)
    except BaseException:
        _close(server)
        raise


def _close(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def run(var: Path, mirror_port: int, port: int) -> int:
    check_ports(port, mirror_port)
    with var_lock(var):
        server, info = start_upstream(var, mirror_port)
        try:
            return serve_meshforge(info, var, port)
        finally:
            _close(server)
            say("mirror stopped")


def serve_meshforge(info: MirrorInfo, var: Path, port: int) -> int:
    say(f"state folder:    {var.resolve()}")
    say(f"upstream mirror: {info.base_url} (files in {info.root})")
    say(f"trusted keys:    {info.keys_dir}")
    say(f"stand-in ImageBuilders: {', '.join(sorted(info.archives))}")
    env = child_env(info, var)
    say("running: meshforge sync")
    synced = subprocess.run(meshforge("sync"), env=env, check=False)
    if synced.returncode:
        status = demo_children.describe_status(synced.returncode)
        say(f"meshforge sync {status}; serving anyway")
    say(f"meshforge API + worker: http://{HOST}:{port} (Ctrl-C stops all)")
    args = ("serve", "--host", HOST, "--port", str(port), "--with-worker")
    process = subprocess.Popen(meshforge(*args), env=env)
    return supervise(process)


def supervise(process: subprocess.Popen[bytes]) -> int:
    """Wait for ``meshforge serve``; if it ends by itself, say how, stop the rest."""
    try:
        status = process.wait()
    except KeyboardInterrupt:
        say("stopping")
        demo_children.stop(process, SERVE)
        return 0
    say(
        f"{SERVE} (pid {process.pid}) {demo_children.describe_status(status)}; "
        "stopping the rest"
    )
    orphans = demo_children.stop_orphans()
    if orphans:
        say(f"stopped builds it left running: pids {orphans}")
    return demo_children.shell_status(status)


def _port(text: str) -> int:
    number = int(text)
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port (1-65535)")
    return number


def _env_port(name: str, default: int) -> int:
    text = os.environ.get(name) or str(default)
    try:
        return _port(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise DemoRefused(f"{name}={text} is not a TCP port (1-65535).") from None


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m standin.demo",
        description="Run the meshforge demo on loopback: a local copy of the "
        "sample download site with stand-in ImageBuilders as the upstream, "
        "`meshforge sync` against it, then the API and a build worker.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--var",
        type=Path,
        default=Path(os.environ.get(VAR_ENV) or "var"),
        metavar="DIR",
        help=f"state folder for the mirror, its demo key and all of meshforge's "
        f"state (database, queue, store, builders); passed to meshforge as "
        f"{VAR_ENV} (default: ${VAR_ENV} or ./var)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=_env_port(PORT_ENV, 8000),
        help=f"port of the meshforge API on {HOST} (default: ${PORT_ENV} or 8000)",
    )
    parser.add_argument(
        "--mirror-port",
        type=_port,
        default=_env_port(MIRROR_PORT_ENV, 8001),
        help=f"port of the sample mirror (the demo's upstream) on {HOST} "
        f"(default: ${MIRROR_PORT_ENV} or 8001)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[demo] %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    demo_children.become_subreaper()
    try:
        code = run(args.var, args.mirror_port, args.port)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
