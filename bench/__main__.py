"""``make bench``: run every benchmark and print its figures as JSON.

The figures, with the machine and the date, are copied into BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCHES = ("bench.api_bench", "bench.bench_resolver", "bench.bench_net6")


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def main() -> int:
    only = sys.argv[1:]
    results: dict[str, Any] = {"machine": machine()}
    failed = False
    for name in BENCHES:
        if only and name.split(".")[-1] not in only:
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        try:
            results[name] = importlib.import_module(name).main()
        except Exception as exc:  # report every benchmark, even after a failure
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            failed = True
    text = json.dumps(results, indent=2)
    print(text)
    out = Path("var") / "bench-results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
