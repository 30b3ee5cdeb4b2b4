"""Redeem and reserve from a process of its own, for the allocation race test.

Run as ``python race_worker.py DATABASE_URL GO_FILE KEY_FILE JOB...`` where a
job is ``redeem:TOKEN`` or ``reserve:PREFIX:HOLDER``. It opens its own Broker
on the shared database, waits until GO_FILE exists (so that every process
starts at the same moment), runs each job in a thread of its own and prints
one JSON object: ``{"subnets": [...], "errors": [...]}``, where an error is
``[job kind, "ExceptionName: message"]``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker

START_WAIT_S = 60.0


def run_job(broker: Broker, job: str, key: str) -> str:
    """Do one job; return the prefix it took."""
    kind, _, rest = job.partition(":")
    if kind == "redeem":
        return broker.redeem(rest, key).gateway.subnet
    prefix, _, holder = rest.rpartition(":")
    return str(broker.reserve("race", prefix, holder))


def main(url: str, go_file: Path, key: str, jobs: list[str]) -> None:
    broker = Broker(Net6Settings(database_url=url))
    subnets: list[str] = []
    errors: list[list[str]] = []

    def work(job: str) -> None:
        try:
            subnets.append(run_job(broker, job, key))
        except Exception as exc:  # reported to the test, which judges it
            errors.append([job.partition(":")[0], f"{type(exc).__name__}: {exc}"])

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    deadline = time.monotonic() + START_WAIT_S
    while not go_file.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    broker.engine.dispose()
    print(json.dumps({"subnets": subnets, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]).read_text(), sys.argv[4:])
