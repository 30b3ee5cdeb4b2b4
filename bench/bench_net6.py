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

Also, without namespaces: JOINS redemptions of mixed sizes from THREADS
threads at once on one broker, on SQLite and (when it runs on 127.0.0.1) on
PostgreSQL, to show what serialising allocations costs; the run checks that
no two delegations overlap.
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


JOINS, THREADS = 64, 8
JOIN_SIZES = (52, 56, 60, 64, 58, 62, 54, 63)
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _joins_on(url: str) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta
    from ipaddress import IPv6Network
    from itertools import combinations

    from meshforge.net6.settings import Net6Settings
    from meshforge.net6.store import Broker

    broker = Broker(Net6Settings(database_url=url))
    broker.create_schema()
    broker.add_pool("bench", "2001:db8:300::/48")
    key = _sample_key()
    tokens = [
        broker.invite(f"b{i}", JOIN_SIZES[i % 8], "bench", timedelta(hours=1)).token
        for i in range(JOINS)
    ]

    def timed(token: str) -> tuple[float, str]:
        started = time.monotonic()
        subnet = broker.redeem(token, key).gateway.subnet
        return time.monotonic() - started, subnet

    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        done = list(pool.map(timed, tokens))
    wall = time.monotonic() - started
    nets = [IPv6Network(subnet) for _, subnet in done]
    assert not any(a.overlaps(b) for a, b in combinations(nets, 2)), "overlap"
    broker.engine.dispose()
    latencies = sorted(seconds for seconds, _ in done)
    return {
        "joins": JOINS,
        "threads": THREADS,
        "wall_s": round(wall, 3),
        "joins_per_s": round(JOINS / wall, 1),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "latency_p95_ms": round(1000 * latencies[int(0.95 * JOINS) - 1], 1),
    }


def _sample_key() -> str:
    from meshforge.net6.tinc import parse_host_file

    host = "data/upstream-samples/librenet6/gsoc/etc/tinc/librenet6/hosts/"
    text = (ROOT / host / "server_gsoc").read_text()
    return parse_host_file("server_gsoc", text).public_key


def concurrent_joins() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mf6-joins-") as tmp:
        results["sqlite"] = _joins_on(f"sqlite:///{tmp}/net6.db")
    results["postgresql"] = _on_postgres()
    return results


def _on_postgres() -> dict[str, Any]:
    import uuid

    import sqlalchemy as sa

    schema = f"mf_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_BASE)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError:
        return {"skipped": "PostgreSQL is not running on 127.0.0.1:5432"}
    try:
        return _joins_on(f"{PG_BASE}?options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> dict[str, Any]:
    helper = _helper()
    results: dict[str, Any] = {"concurrent_joins": concurrent_joins()}
    missing = helper.missing_requirements()
    if missing:
        results["skipped"] = f"namespaces need {', '.join(missing)}"
        return results
    rounds = int(os.environ.get("MF6_BENCH_ROUNDS", "3"))
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
