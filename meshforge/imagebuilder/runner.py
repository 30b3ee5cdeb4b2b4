"""Run ``make`` in an ImageBuilder folder: argv only, clean environment, timeout.

The command is always an argv list (never a shell string, CVE-2024-54143),
the environment holds only what the ImageBuilder needs so that nothing from
the server process (credentials, proxies, locale) leaks into an image, and a
timeout kills the whole process group, because make leaves children behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from meshforge.errors import BuildTimeout
from meshforge.imagebuilder.failures import MakeResult

log = logging.getLogger(__name__)

PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
_GRACE_S = 5.0


def clean_environment(home: Path, source_date_epoch: int | None) -> dict[str, str]:
    env = {"PATH": PATH, "HOME": str(home), "LANG": "C.UTF-8", "TZ": "UTC"}
    if source_date_epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(int(source_date_epoch))
    return env


def run_make(
    folder: Path,
    args: list[str],
    timeout_s: float,
    source_date_epoch: int | None = None,
) -> MakeResult:
    """Run ``make *args`` in ``folder``; raise BuildTimeout after ``timeout_s``."""
    argv = ["make", *args]
    log.debug("running %s in %s", argv, folder)
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        cwd=folder,
        env=clean_environment(folder, source_date_epoch),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # own process group, so a timeout kills all
        text=True,
        errors="replace",
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise _timeout(argv, timeout_s) from None
    except BaseException:
        _kill_group(process)
        raise
    elapsed = time.monotonic() - started
    log.debug("%s exited %s after %.1fs", argv[:2], process.returncode, elapsed)
    return MakeResult(argv, process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=_GRACE_S)
    # make may exit on SIGTERM while children that ignore it keep running.
    _signal_group(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=_GRACE_S)
    except subprocess.TimeoutExpired:
        log.error("make (pid %s) did not exit after SIGKILL", process.pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, sig)


def _timeout(argv: list[str], timeout_s: float) -> BuildTimeout:
    return BuildTimeout(
        f"The ImageBuilder command '{' '.join(argv[:2])}' did not finish within "
        f"{timeout_s:g} seconds and was stopped. Retry later; if it keeps "
        "happening, the operator can raise MESHFORGE_JOB_TIMEOUT_S."
    )
