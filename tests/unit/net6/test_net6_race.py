"""Joins and imports at the same instant never leave overlapping subnets.

Each redemption or reservation reads what is taken and then writes its
choice, so the database must serialise the two steps: SQLite by taking the
write lock when the transaction begins, PostgreSQL by locking the community's
pool rows. The race runs in threads of one broker and in two processes with
brokers of their own on the same database. Redemptions of sizes /52 to /64
come out of an empty pool while an import reserves blocks at the same low
addresses, so an unserialised pair would overlap.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from ipaddress import IPv6Network
from pathlib import Path

from meshforge.net6.store import Broker
from tests.unit.net6.race_worker import run_job

WORKER = Path(__file__).with_name("race_worker.py")
ROOT = Path(__file__).resolve().parents[3]
RACE_POOL = "2001:db8:300::/48"
SIZES = [52, 56, 60, 64, 58, 62, 54, 63]
IMPORTED = [
    "2001:db8:300::/56",
    "2001:db8:300::/60",
    "2001:db8:300:100::/56",
    "2001:db8:300:10::/60",
    "2001:db8:300:1::/64",
    "2001:db8:300:1000::/52",
    "2001:db8:300:40::/58",
    "2001:db8:300:2::/63",
]
HOUR = timedelta(hours=1)
PROCESS_TIMEOUT_S = 120


def _jobs(broker: Broker, prefix: str, count: int) -> list[str]:
    """Invitations of mixed sizes, interleaved with imports of old blocks."""
    broker.add_pool("race", RACE_POOL)
    sizes = itertools.cycle(SIZES)
    redeems = [
        "redeem:" + broker.invite(f"{prefix}{i}", next(sizes), "race", HOUR).token
        for i in range(count)
    ]
    reserves = [f"reserve:{net}:old{i}" for i, net in enumerate(IMPORTED)]
    return [
        job for pair in itertools.zip_longest(redeems, reserves) for job in pair if job
    ]


def _overlaps(subnets: list[str]) -> list[tuple[str, str]]:
    nets = [IPv6Network(s) for s in subnets]
    return [
        (str(a), str(b)) for a, b in itertools.combinations(nets, 2) if a.overlaps(b)
    ]


def _check(broker: Broker, taken: list[str], errors: list[list[str]]) -> None:
    stored = [prefix for prefix, _, _ in broker.assignments()]
    assert _overlaps(stored) == []
    assert _overlaps(taken) == []
    # Joins all succeed; an import may only be refused as overlapping.
    assert [e for kind, e in errors if kind == "redeem"] == []
    refused = [e for _, e in errors if "overlaps" in e and "already assigned" in e]
    assert [e for _, e in errors if e not in refused] == []
    assert len(taken) + len(errors) == 16 + len(IMPORTED)
    assert sorted(taken) == sorted(set(stored) - {"2001:db8:100::/64"})


def test_threads_joining_and_importing_at_once_never_overlap(
    mesh_broker: Broker, public_key: str
) -> None:
    jobs = _jobs(mesh_broker, "t", 16)
    taken: list[str] = []
    errors: list[list[str]] = []
    barrier = threading.Barrier(len(jobs))

    def work(job: str) -> None:
        barrier.wait()
        try:
            taken.append(run_job(mesh_broker, job, public_key))
        except Exception as exc:  # collected so the assertions can judge it
            errors.append([job.partition(":")[0], f"{type(exc).__name__}: {exc}"])

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    _check(mesh_broker, taken, errors)


def test_processes_joining_and_importing_at_once_never_overlap(
    mesh_broker: Broker, public_key: str, tmp_path: Path
) -> None:
    jobs = _jobs(mesh_broker, "p", 16)
    key_file = tmp_path / "key.pem"
    key_file.write_text(public_key)
    go = tmp_path / "go"
    url = mesh_broker.settings.effective_database_url
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), url, str(go), str(key_file), *half],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for half in (jobs[0::2], jobs[1::2])
    ]
    time.sleep(2)  # both have imported meshforge and wait for the go file
    go.touch()
    results = [
        json.loads(worker.communicate(timeout=PROCESS_TIMEOUT_S)[0])
        for worker in workers
    ]

    taken = [s for result in results for s in result["subnets"]]
    _check(mesh_broker, taken, [e for result in results for e in result["errors"]])


def _add_at_once(broker: Broker, wanted: list[str]) -> list[str]:
    barrier = threading.Barrier(len(wanted))
    errors: list[str] = []

    def add(community: str, prefix: str) -> None:
        barrier.wait()
        try:
            broker.add_pool(community, prefix)
        except Exception as exc:  # collected so the assertions can judge it
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [
        threading.Thread(target=add, args=(f"c{i}", p)) for i, p in enumerate(wanted)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_overlapping_pools_added_at_once_are_refused_but_one(broker: Broker) -> None:
    errors = []
    for base in ("500", "600", "700", "800"):
        # Nested, so every two of them overlap.
        wanted = [f"2001:db8:{base}::/{n}" for n in (44, 48, 52, 56, 60, 64)]
        errors += _add_at_once(broker, wanted)

    assert len(broker.pools()) == 4
    assert len(errors) == 4 * 5
    assert all("must be disjoint" in error for error in errors)
