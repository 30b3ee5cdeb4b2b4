from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from meshforge.errors import BuildTimeout
from meshforge.imagebuilder.runner import run_make
from tests.unit.imagebuilder.ib_factories import wait_for

# Generated test Makefile: prints its environment, or hangs with a child.
MAKEFILE = """\
env:
\t@env | sort
slow:
\t@sleep 60 & echo $$! > child.pid; sleep 60
args:
\t@printf '%s\\n' "$(PACKAGES)" "$(PROFILE)"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "Makefile").write_text(MAKEFILE)
    return tmp_path


def environment(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def test_environment_is_clean(folder, monkeypatch):
    monkeypatch.setenv("MESHFORGE_SECRET", "do-not-leak")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")

    env = environment(run_make(folder, ["env"], 30).stdout)

    assert env.pop("PATH") == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert env.pop("HOME") == str(folder)
    assert env.pop("LANG") == "C.UTF-8"
    assert env.pop("TZ") == "UTC"
    # Only variables that make itself and the shell add may remain.
    assert set(env) <= {
        "MAKEFLAGS",
        "MAKELEVEL",
        "MFLAGS",
        "PWD",
        "SHLVL",
        "OLDPWD",
        "_",
    }


def test_source_date_epoch_only_when_given(folder):
    assert "SOURCE_DATE_EPOCH" not in environment(run_make(folder, ["env"], 30).stdout)
    env = environment(
        run_make(folder, ["env"], 30, source_date_epoch=1760891865).stdout
    )
    assert env["SOURCE_DATE_EPOCH"] == "1760891865"


def test_arguments_arrive_verbatim(folder):
    result = run_make(folder, ["args", "PACKAGES=luci -ppp", "PROFILE=a;b"], 30)
    assert result.stdout.splitlines() == ["luci -ppp", "a;b"]
    assert result.returncode == 0


def test_timeout_kills_the_process_group(folder):
    started = time.monotonic()
    with pytest.raises(BuildTimeout) as caught:
        run_make(folder, ["slow"], 1)

    assert time.monotonic() - started < 15
    assert not caught.value.permanent
    assert "did not finish within 1 seconds" in caught.value.detail
    assert wait_for(folder / "child.pid", 1)
    child = int((folder / "child.pid").read_text())
    assert _gone(child)


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except FileNotFoundError:
            return True
        if state in "ZX":  # killed, waiting for init to reap it
            return True
        time.sleep(0.05)
    os.kill(pid, 9)
    return False
