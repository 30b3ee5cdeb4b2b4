from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from standin.demo_children import describe_status, shell_status
from tests.unit.standin.standin_helpers import ROOT


@pytest.mark.parametrize(
    ("status", "words", "shell"),
    [
        (0, "exited with status 0", 0),
        (3, "exited with status 3", 3),
        (-9, "was killed by signal 9 (SIGKILL)", 137),
        (-15, "was killed by signal 15 (SIGTERM)", 143),
    ],
)
def test_status_in_words(status: int, words: str, shell: int) -> None:
    assert describe_status(status) == words
    assert shell_status(status) == shell


# Run in a process of its own: a subreaper adopts orphans for good, and
# stop_orphans signals every child of the process that calls it.
ADOPT = textwrap.dedent(
    """
    import json, os, subprocess, time
    from standin import demo_children

    assert demo_children.become_subreaper()
    # A build's make runs in its own session; its parent then dies.
    subprocess.run(["sh", "-c", "setsid sleep 300 & echo $!"], check=True,
                   stdout=open("pid", "w"))
    orphan = int(open("pid").read())
    time.sleep(0.2)
    seen = demo_children.own_children()
    stopped = demo_children.stop_orphans(grace_s=5)
    alive = os.path.exists(f"/proc/{orphan}")
    print(json.dumps({"orphan": orphan, "seen": seen, "stopped": stopped,
                      "alive": alive}))
    """
)


def test_orphaned_builds_are_adopted_and_stopped(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ADOPT],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    report = json.loads(done.stdout)
    assert report["seen"] == [report["orphan"]]
    assert report["stopped"] == [report["orphan"]]
    assert report["alive"] is False
