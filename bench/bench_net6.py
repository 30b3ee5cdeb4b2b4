"""LibreNet6 in network namespaces: join-to-first-ping and babel convergence.

Builds the same mesh as tests/integration/net6 (one server, gw1 behind plain
NAT, gw2 behind NAT with the tinc port forwarded), once per round, and times:

- join_to_first_ping_s: gw2 starts `gateway join --start`, gw1 fetches its
  update, until gw1's first answered ping from its subnet to gw2's;
- convergence_s: gw2's daemons running until gw1 has a babel route to gw2;
- server_route_s: gw1's daemons running until it has the server's link route;
- ping_after_server_stop_s: server tincd and babeld killed until the next
  answered gw1 → gw2 ping.

Needs root, ip, iptables, tincd and babeld. Runs everything inside namespaces
it creates and removes; sends nothing outside them.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELPER = ROOT / "tests" / "integration" / "net6" / "net6_mesh.py"
GW1, GW2 = "2001:db8:100:100::1", "2001:db8:100:200::1"
GW2_NET, LINK = "2001:db8:100:200::/56", "2001:db8:100::/64"
LIMIT_S = 60.0


def _helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("net6_mesh", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["net6_mesh"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _until(check: Any, limit_s: float = LIMIT_S) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > limit_s:
            raise TimeoutError(f"not reached within {limit_s} s")
        time.sleep(0.1)
    return time.monotonic() - started


def _round(helper: ModuleType, hello: float, index: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="mf6-bench-"))
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        MESHFORGE_NET6_DATABASE_URL=f"sqlite:///{root / 'net6.db'}",
        MESHFORGE_NET6_HELLO_INTERVAL=str(hello),
    )
    mesh = helper.Mesh(prefix=f"mf6b{os.getpid() % 10000}{index}-", root=root, env=env)
    try:
        mesh.build()
        return _measure(helper, mesh)
    finally:
        mesh.teardown()


def _measure(helper: ModuleType, mesh: Any) -> dict[str, float]:
    mesh.meshforge(
        "srv",
        "net6",
        "init",
        "--name",
        "srv",
        "--address",
        helper.BROKER,
        "--dir",
        str(mesh.root / "srv"),
        "--pool",
        helper.POOL,
    )
    mesh.start_server()
    mesh.start_broker()
    mesh.join("gw1", mesh.invite("gw1"), "--start")
    server_route = _until(lambda: LINK in mesh.babel_routes("gw1"))

    gw2_url = mesh.invite("gw2")
    started = time.monotonic()
    mesh.join("gw2", gw2_url, "--start", "--address", "203.0.113.18")
    joined = time.monotonic()
    mesh.meshforge("gw1", "net6", "gateway", "update", "--dir", str(mesh.root / "gw1"))
    _until(lambda: GW2_NET in mesh.babel_routes("gw1"))
    convergence = time.monotonic() - joined
    _until(lambda: mesh.ping("gw1", GW1, GW2))
    first_ping = time.monotonic() - started

    mesh.stop_server_daemons()
    after_stop = _until(lambda: mesh.ping("gw1", GW1, GW2))
    return {
        "join_to_first_ping_s": round(first_ping, 2),
        "convergence_s": round(convergence, 2),
        "server_route_s": round(server_route, 2),
        "ping_after_server_stop_s": round(after_stop, 2),
    }


def _summary(rounds: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = rounds[0].keys()
    return {
        key: {
            "median": round(statistics.median(r[key] for r in rounds), 2),
            "min": min(r[key] for r in rounds),
            "max": max(r[key] for r in rounds),
        }
        for key in keys
    }


def main() -> dict[str, Any]:
    helper = _helper()
    missing = helper.missing_requirements()
    if missing:
        return {"skipped": f"needs {', '.join(missing)}"}
    rounds = int(os.environ.get("MF6_BENCH_ROUNDS", "3"))
    results: dict[str, Any] = {}
    for hello in (1.0, 4.0):
        count = rounds if hello == 1.0 else 1
        runs = [_round(helper, hello, i) for i in range(count)]
        results[f"hello_interval_{hello:g}s"] = {
            "rounds": count,
            "runs": runs,
            "summary": _summary(runs),
        }
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
    sys.exit(0)
