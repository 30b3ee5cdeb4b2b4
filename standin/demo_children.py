"""The demo's child processes: what to call them when they end, how to stop them.

A build runs ``make`` in a process group of its own, so when ``meshforge
serve`` is killed its builds would run on as orphans. The demo registers as
a child subreaper (Linux) so that they are handed to it, and it stops them.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
STOP_GRACE_S = 10.0


def become_subreaper() -> bool:
    """Let orphaned grandchildren become the demo's children (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        logger.debug("no prctl here; orphaned builds are not adopted")
        return False


def describe_status(status: int) -> str:
    """``Popen.returncode`` in words: an exit status or the signal that killed."""
    if status >= 0:
        return f"exited with status {status}"
    try:
        name = signal.Signals(-status).name
    except ValueError:
        name = "an unknown signal"
    return f"was killed by signal {-status} ({name})"


def shell_status(status: int) -> int:
    """The status a shell reports for a child: 128 + signal when killed."""
    return 128 - status if status < 0 else status


def stop(process: subprocess.Popen[bytes], name: str) -> None:
    """SIGINT (as Ctrl-C would), then SIGKILL if it outlives the grace time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) did not stop; killing it", name, process.pid)
        process.kill()
        process.wait()


def own_children(proc: Path = Path("/proc")) -> list[int]:
    """Pids whose parent is this process, read from ``/proc/<pid>/stat``."""
    me, found = os.getpid(), []
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name is in parentheses and may itself hold ") ".
        fields = text.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(stat.parent.name))
    return sorted(found)


def stop_orphans(grace_s: float = STOP_GRACE_S) -> list[int]:
    """SIGTERM every adopted process group, SIGKILL what is left; reap all."""
    orphans = own_children()
    for pid in orphans:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    waiting = set(orphans)
    while waiting and time.monotonic() < deadline:
        waiting = {pid for pid in waiting if not _reaped(pid)}
        time.sleep(0.05)
    for pid in waiting:
        _signal_group(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return orphans


def _signal_group(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid
