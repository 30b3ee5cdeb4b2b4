from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshforge.config import Settings
from standin import demo
from standin.demo import DemoRefused, child_env, meshforge, start_upstream
from standin.mirror import MirrorInfo
from tests.unit.standin.standin_helpers import ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield busy.getsockname()[1]


def test_upstream_is_served_where_the_builders_point(tmp_path: Path) -> None:
    port = _free_port()
    server, info = start_upstream(tmp_path / "var", port)
    try:
        assert info.base_url == f"http://127.0.0.1:{port}"
        assert info.root == tmp_path / "var" / "mirror"
        with urllib.request.urlopen(f"{info.base_url}/.versions.json") as reply:
            assert "22.03-SNAPSHOT" in json.load(reply)["versions_list"]
    finally:
        server.shutdown()
        server.server_close()
    assert meshforge("sync")[1:] == ["-m", "meshforge.cli", "sync"]


def _info(tmp_path: Path) -> MirrorInfo:
    keys = tmp_path / "mirror-keys" / "trusted"
    return MirrorInfo(
        root=tmp_path / "mirror",
        base_url="http://127.0.0.1:1",
        keys_dir=keys,
        demo_secret_key=tmp_path / "mirror-keys" / "demo.sec",
        demo_fingerprint="0" * 16,
        versions=[],
        archives={},
    )


def test_var_moves_all_of_meshforges_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settings a person may have exported for a real server must not pull
    # the demo's database or queue out of its folder.
    monkeypatch.setenv("MESHFORGE_DATABASE_URL", "postgresql://127.0.0.1/test")
    monkeypatch.setenv("MESHFORGE_QUEUE", "redis")
    monkeypatch.chdir(tmp_path)

    env = child_env(_info(tmp_path), Path("demo-a"))

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    var = tmp_path / "demo-a"
    assert settings.var_dir == var  # absolute: children may run elsewhere
    assert settings.effective_database_url == f"sqlite:///{var}/meshforge.db"
    assert settings.queue == "embedded"
    assert settings.queue_path == var / "queue.db"
    assert settings.store_dir == var / "store"
    assert settings.builder_cache_dir == var / "builders"
    assert env["MESHFORGE_UPSTREAM_URL"] == "http://127.0.0.1:1"


def test_ports_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHFORGE_DEMO_PORT", "18010")
    monkeypatch.setenv("MESHFORGE_DEMO_MIRROR_PORT", "18011")
    monkeypatch.setenv("MESHFORGE_VAR_DIR", "var2")

    args = demo.parser().parse_args([])
    assert (args.port, args.mirror_port, args.var) == (18010, 18011, Path("var2"))

    args = demo.parser().parse_args(["--port", "9000", "--var", "v3"])
    assert (args.port, args.mirror_port, args.var) == (9000, 18011, Path("v3"))


def test_a_bad_port_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESHFORGE_DEMO_PORT", "80000")
    with pytest.raises(DemoRefused, match="MESHFORGE_DEMO_PORT=80000 is not a TCP"):
        demo.parser()


def test_help_describes_every_option() -> None:
    parser = demo.parser()
    # argparse lists its options only in the private _actions.
    options = [a for a in parser._actions if a.dest != "help"]

    assert sorted(a.dest for a in options) == ["mirror_port", "port", "var"]
    for action in options:
        assert action.help and "default:" in action.help, action.dest
    text = parser.format_help()
    for name in ("MESHFORGE_DEMO_PORT", "MESHFORGE_DEMO_MIRROR_PORT", "make run"):
        assert name in text


@pytest.mark.parametrize("which", ["port", "mirror_port"])
def test_taken_port_is_refused_before_the_mirror_is_touched(
    tmp_path: Path, taken_port: int, which: str
) -> None:
    var = tmp_path / "var"
    (var / "mirror").mkdir(parents=True)
    served = var / "mirror" / ".versions.json"
    served.write_text("what a running demo serves\n")
    ports = {"port": _free_port(), "mirror_port": _free_port(), which: taken_port}

    with pytest.raises(DemoRefused) as refused:
        demo.run(var, ports["mirror_port"], ports["port"])

    message = str(refused.value.code)
    assert f"Port {taken_port} on 127.0.0.1" in message
    env = "MESHFORGE_DEMO_PORT" if which == "port" else "MESHFORGE_DEMO_MIRROR_PORT"
    assert f"{env}=<port> make run" in message
    assert served.read_text() == "what a running demo serves\n"
    assert sorted(p.name for p in var.rglob("*")) == [".versions.json", "mirror"]


def test_mirror_bound_late_still_leaves_the_files(
    tmp_path: Path, taken_port: int
) -> None:
    # The port was free when checked but is taken by the time it is bound.
    served = tmp_path / "mirror" / ".versions.json"
    served.parent.mkdir()
    served.write_text("old\n")

    with pytest.raises(DemoRefused, match=f"127.0.0.1:{taken_port}"):
        start_upstream(tmp_path, taken_port)

    assert served.read_text() == "old\n"


def test_one_state_folder_one_demo(tmp_path: Path) -> None:
    with demo.var_lock(tmp_path):
        assert (tmp_path / "demo.lock").read_text() == f"{os.getpid()}\n"
        refused = pytest.raises(DemoRefused, match=f"pid {os.getpid()}")
        with refused, demo.var_lock(tmp_path):
            pass  # pragma: no cover - the lock is refused
    with demo.var_lock(tmp_path):  # free again once the first demo ended
        pass


def _start_demo(var: Path, port: int, mirror_port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHFORGE_")}
    command = [sys.executable, "-m", "standin.demo", "--var", str(var)]
    command += ["--port", str(port), "--mirror-port", str(mirror_port)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"the demo did not listen on {port} within 60 s")


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


@pytest.mark.timeout(120)
def test_two_demos_keep_apart_and_a_dead_server_is_named(tmp_path: Path) -> None:
    ports = [_free_port() for _ in range(4)]
    first = _start_demo(tmp_path / "a", ports[0], ports[1])
    second = _start_demo(tmp_path / "b", ports[2], ports[3])
    try:
        _wait_listening(ports[0], first)
        _wait_listening(ports[2], second)
        for var in ("a", "b"):
            assert (tmp_path / var / "queue.db").is_file()
            assert (tmp_path / var / "meshforge.db").is_file()
        (server,) = _children(first.pid)
        os.kill(server, signal.SIGKILL)
        output, _ = first.communicate(timeout=30)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.communicate(timeout=30)

    assert first.returncode == 128 + signal.SIGKILL
    assert (
        f"[demo] meshforge serve --with-worker (pid {server}) was killed by "
        "signal 9 (SIGKILL); stopping the rest" in output
    )
    assert output.rstrip().endswith("[demo] mirror stopped")
    assert second.returncode == 0  # Ctrl-C: a clean stop


def test_a_port_left_in_time_wait_counts_as_free() -> None:
    # The server side closes first, as a stopped demo does: its end of the
    # connection stays in TIME_WAIT after the listener is gone.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
    time.sleep(0.1)
    client.close()

    assert demo.port_is_free(port)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
        assert not demo.port_is_free(port)
