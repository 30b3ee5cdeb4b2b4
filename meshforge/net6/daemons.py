"""Starting and stopping a node's tincd and babeld, each with files in its folder.

Every path is explicit (pid file, log, state) so that several nodes can run
on one machine, one per network namespace, without touching /etc or /run.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from meshforge.errors import Net6Error

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
PACKAGES = {"tincd": "tinc", "babeld": "babeld"}


def tincd_argv(directory: Path) -> list[str]:
    return [
        "tincd",
        "-c", str(directory / "tinc"),
        f"--pidfile={directory / 'tinc.pid'}",
        f"--logfile={directory / 'tinc.log'}",
    ]  # fmt: skip


def babeld_argv(directory: Path) -> list[str]:
    return [
        "babeld", "-D",
        "-c", str(directory / "babeld.conf"),
        "-I", str(directory / "babeld.pid"),
        "-L", str(directory / "babeld.log"),
        "-S", str(directory / "babeld.state"),
    ]  # fmt: skip


def start(directory: Path, interface: str) -> None:
    """Start tincd, wait for its interface, then start babeld on it."""
    _run(tincd_argv(directory))
    _wait_for_interface(interface)
    _run(babeld_argv(directory))
    log.info("tincd and babeld started from %s", directory)


def stop(directory: Path) -> list[str]:
    """Stop both daemons of a folder; returns the names of those stopped."""
    stopped = []
    for name in ("babeld", "tinc"):
        pid = read_pid(directory / f"{name}.pid")
        if pid is not None and _terminate(pid):
            stopped.append(name)
    return stopped


def reload_tincd(directory: Path) -> bool:
    """SIGHUP makes tincd re-read tinc.conf and the host files."""
    pid = read_pid(directory / "tinc.pid")
    if pid is None or not _alive(pid):
        return False
    os.kill(pid, signal.SIGHUP)
    return True


def restart_babeld(directory: Path) -> None:
    pid = read_pid(directory / "babeld.pid")
    if pid is not None:
        _terminate(pid)
    _run(babeld_argv(directory))


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _run(argv: list[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=START_TIMEOUT_S)
    except FileNotFoundError as exc:
        package = PACKAGES.get(argv[0], argv[0])
        raise Net6Error(
            f"{argv[0]} is not installed; install it (apt-get install {package}) "
            "and run the command again."
        ) from exc
    except subprocess.CalledProcessError as exc:
        output = (exc.stderr or b"").decode(errors="replace").strip()
        raise Net6Error(f"{argv[0]} did not start: {output}") from exc


def _wait_for_interface(interface: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if Path("/sys/class/net", interface).exists():
            return
        time.sleep(0.1)
    raise Net6Error(
        f"tincd started but interface {interface} did not appear within "
        f"{START_TIMEOUT_S:.0f} s; read tinc.log in the gateway folder."
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminate(pid: int) -> bool:
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True
