"""A LibreNet6 mesh in network namespaces this test run creates itself.

Topology (IPv4 from the documentation ranges, only inside these namespaces):

    srv 198.51.100.2 ──┐                 ┌── nat1 203.0.113.2 ── gw1 192.0.2.2
                       ├── net (router) ─┤
    gw3 198.51.100.18 ─┘                 └── nat2 203.0.113.18 ── gw2 192.0.2.18
                                              (forwards tinc port 655 to gw2)

The broker runs in srv; every gateway joins with an invitation over plain
http (``--insecure``) inside these namespaces. Everything is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from meshforge.net6 import daemons

IN_CI = os.environ.get("CI", "").lower() == "true"
TOOLS = ("ip", "iptables", "tincd", "babeld")
BROKER = "198.51.100.2"
BROKER_PORT = 8600
POOL = "2001:db8:100::/48"
SERVER_ADDR = "2001:db8:100::1"


def missing_requirements() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if os.geteuid() != 0:
        missing.append("root")
    if not Path("/dev/net/tun").exists():
        missing.append("/dev/net/tun")
    return missing


def run(argv: list[str], timeout: float = 60, check: bool = True) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{argv} failed ({done.returncode}): {done.stderr}")
    return done.stdout


@dataclass
class Mesh:
    prefix: str
    root: Path
    env: dict[str, str]
    made: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    broker: subprocess.Popen[bytes] | None = None

    def ns(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def exec(
        self, short: str, argv: list[str], timeout: float = 60, check: bool = True
    ) -> str:
        return run(["ip", "netns", "exec", self.ns(short), *argv], timeout, check)

    def meshforge(self, short: str | None, *args: str, timeout: float = 90) -> str:
        argv = [sys.executable, "-m", "meshforge.cli", *args]
        if short is not None:
            argv = ["ip", "netns", "exec", self.ns(short), *argv]
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=self.root,
        )
        if done.returncode != 0:
            raise AssertionError(f"meshforge {args} failed: {done.stderr}")
        return done.stdout

    def ping(self, short: str, source: str, destination: str, count: int = 1) -> bool:
        code = (
            "import sys; from meshforge.net6.ping import ping6; "
            f"sys.exit(0 if ping6({destination!r}, {source!r}, {count}, 1.0) "
            "is not None else 1)"
        )
        argv = ["ip", "netns", "exec", self.ns(short), sys.executable, "-c", code]
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0

    def wait_ping(
        self, short: str, source: str, destination: str, limit_s: float
    ) -> float | None:
        """Seconds until the first answered ping, or None within limit_s."""
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            if self.ping(short, source, destination):
                return time.monotonic() - started
            time.sleep(0.2)
        return None

    def babel_routes(self, short: str) -> list[str]:
        out = self.exec(short, ["ip", "-6", "route", "show", "proto", "babel"])
        return [line.split()[0] for line in out.splitlines() if " via " in line]

    def invite(self, name: str) -> str:
        out = self.meshforge(
            None,
            "net6",
            "invite",
            name,
            "--size",
            "/56",
            "--expires",
            "1h",
            "--url",
            f"http://{BROKER}:{BROKER_PORT}",
        )
        return out.strip().splitlines()[-1]

    def join(self, short: str, url: str, *extra: str) -> str:
        return self.meshforge(
            short,
            "net6",
            "gateway",
            "join",
            url,
            "--dir",
            str(self.root / short),
            "--lan",
            "lan0",
            "--insecure",
            *extra,
        )

    def start_server(self) -> None:
        folder = self.root / "srv"
        self.exec("srv", daemons.tincd_argv(folder))
        self.wait_link("srv", "librenet6")
        self.exec("srv", daemons.babeld_argv(folder))

    def stop_server_daemons(self) -> None:
        for name in ("babeld", "tinc"):
            pid = daemons.read_pid(self.root / "srv" / f"{name}.pid")
            assert pid is not None, f"server {name} has no pid file"
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.exec("srv", ["ip", "link", "show", "librenet6"], check=False):
            assert time.monotonic() < deadline, "server tincd did not stop"
            time.sleep(0.1)

    def wait_link(self, short: str, interface: str, limit_s: float = 20) -> None:
        deadline = time.monotonic() + limit_s
        while not self.exec(short, ["ip", "link", "show", interface], check=False):
            assert time.monotonic() < deadline, f"{interface} missing in {short}"
            time.sleep(0.1)

    # --- topology ------------------------------------------------------------

    def add_ns(self, short: str) -> None:
        run(["ip", "netns", "add", self.ns(short)])
        self.made.append(self.ns(short))
        self.exec(short, ["ip", "link", "set", "lo", "up"])

    def link(
        self, a: str, a_if: str, a_addr: str, b: str, b_if: str, b_addr: str
    ) -> None:
        run(
            [
                "ip",
                "link",
                "add",
                a_if,
                "netns",
                self.ns(a),
                "type",
                "veth",
                "peer",
                "name",
                b_if,
                "netns",
                self.ns(b),
            ]
        )
        for short, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            self.exec(short, ["ip", "addr", "add", addr, "dev", ifname])
            self.exec(short, ["ip", "link", "set", ifname, "up"])

    def build(self) -> None:
        for short in ("net", "srv", "nat1", "gw1", "nat2", "gw2", "gw3"):
            self.add_ns(short)
        self.link("net", "e-srv", "198.51.100.1/28", "srv", "wan", "198.51.100.2/28")
        self.link("net", "e-gw3", "198.51.100.17/28", "gw3", "wan", "198.51.100.18/28")
        self.link("net", "e-nat1", "203.0.113.1/28", "nat1", "wan", "203.0.113.2/28")
        self.link("net", "e-nat2", "203.0.113.17/28", "nat2", "wan", "203.0.113.18/28")
        self.link("nat1", "lan", "192.0.2.1/28", "gw1", "wan", "192.0.2.2/28")
        self.link("nat2", "lan", "192.0.2.17/28", "gw2", "wan", "192.0.2.18/28")
        for short in ("net", "nat1", "nat2"):
            # Written directly: procps' sysctl may be missing on a bare system.
            forward = "echo 1 > /proc/sys/net/ipv4/ip_forward"
            self.exec(short, ["sh", "-c", forward])
        for short, via in (
            ("srv", "198.51.100.1"),
            ("gw3", "198.51.100.17"),
            ("nat1", "203.0.113.1"),
            ("nat2", "203.0.113.17"),
            ("gw1", "192.0.2.1"),
            ("gw2", "192.0.2.17"),
        ):
            self.exec(short, ["ip", "route", "add", "default", "via", via])
        for short in ("nat1", "nat2"):
            self.exec(
                short,
                [
                    "iptables",
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    "wan",
                    "-j",
                    "MASQUERADE",
                ],
            )
        for proto in ("tcp", "udp"):
            self.exec(
                "nat2",
                [
                    "iptables",
                    "-t",
                    "nat",
                    "-A",
                    "PREROUTING",
                    "-i",
                    "wan",
                    "-p",
                    proto,
                    "--dport",
                    "655",
                    "-j",
                    "DNAT",
                    "--to-destination",
                    "192.0.2.18",
                ],
            )
        for short in ("gw1", "gw2", "gw3"):
            # No dummy module here: a veth pair stands in for the LAN.
            run(
                [
                    "ip",
                    "-n",
                    self.ns(short),
                    "link",
                    "add",
                    "lan0",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "lan1",
                ]
            )
            for ifname in ("lan0", "lan1"):
                self.exec(short, ["ip", "link", "set", ifname, "up"])

    def start_broker(self) -> None:
        argv = [
            "ip",
            "netns",
            "exec",
            self.ns("srv"),
            sys.executable,
            "-m",
            "meshforge.cli",
            "net6",
            "serve",
            "--host",
            BROKER,
            "--port",
            str(BROKER_PORT),
        ]
        log = (self.root / "broker.log").open("wb")
        self.broker = subprocess.Popen(
            argv, env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._broker_answers():
                return
            time.sleep(0.2)
        raise AssertionError((self.root / "broker.log").read_text())

    def _broker_answers(self) -> bool:
        url = f"http://{BROKER}:{BROKER_PORT}/admin"
        code = f"import httpx; httpx.get({url!r}, timeout=1)"
        argv = ["ip", "netns", "exec", self.ns("srv"), sys.executable, "-c", code]
        return subprocess.run(argv, capture_output=True).returncode == 0

    def teardown(self) -> None:
        if self.broker is not None:
            self.broker.terminate()
            self.broker.wait(timeout=10)
        for name in self.made:
            pids = run(["ip", "netns", "pids", name], check=False).split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        time.sleep(0.2)
        for name in reversed(self.made):
            run(["ip", "netns", "del", name], check=False)
