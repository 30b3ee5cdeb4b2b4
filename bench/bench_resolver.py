"""Package resolution on the real OpenWrt 24.10.4 x86/64 feeds.

- cold_start_s: parse all seven signed feed indexes (Packages.gz, ~10,700
  stanzas) into a Universe and compute which packages are installable at
  all, median of a few rounds;
- first_resolution_ms: the first request on a fresh Universe;
- warm_ms: the default set of the generic profile plus luci, as the
  ImageBuilder would install it, per request on a warm Universe (target
  under 50 ms), with p50/p95/max over many requests;
- refusal_ms: the warm time to refuse defaults + dnsmasq-full (the conflict
  with the default dnsmasq) with a structured error.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from meshforge.errors import ResolutionError
from meshforge.packages.index import Universe
from meshforge.packages.release import Release, defaults_from_make_info, load_universe
from meshforge.packages.resolver import expand_request, resolve

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "data" / "upstream-samples" / "openwrt-24.10.4"
MAKE_INFO = RELEASE / "imagebuilder-outputs" / "make-info.txt"
TARGET_MS = 50.0


def _load() -> Universe:
    return load_universe(Release(str(RELEASE), "x86/64"), arch="x86_64")


def _request(extra: list[str]) -> list[str]:
    info = defaults_from_make_info(MAKE_INFO.read_text())
    return expand_request(info.defaults, info.profiles["generic"], extra, False)


def _cold(rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        _load()
        times.append(time.perf_counter() - start)
    return times


def _timed_ms(universe: Universe, names: list[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        resolve(universe, names)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _refusal_ms(universe: Universe, names: list[str], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            resolve(universe, names)
        except ResolutionError:
            times.append((time.perf_counter() - start) * 1000)
    if len(times) != rounds:
        raise RuntimeError("defaults + dnsmasq-full was not refused")
    return statistics.median(times)


def main(rounds: int = 200) -> dict[str, Any]:
    cold = _cold(5)
    universe = _load()
    names = _request(["luci"])
    start = time.perf_counter()
    installed = len(resolve(universe, names).installed)
    first_ms = (time.perf_counter() - start) * 1000
    warm = sorted(_timed_ms(universe, names, rounds))
    refusal = _refusal_ms(universe, _request(["dnsmasq-full"]), 50)
    p95 = warm[int(len(warm) * 0.95) - 1]
    return {
        "packages_in_universe": len(universe),
        "requested": len(names),
        "installed": installed,
        "cold_start_s": round(statistics.median(cold), 3),
        "cold_start_max_s": round(max(cold), 3),
        "first_resolution_ms": round(first_ms, 2),
        "warm_p50_ms": round(statistics.median(warm), 2),
        "warm_p95_ms": round(p95, 2),
        "warm_max_ms": round(warm[-1], 2),
        "refusal_p50_ms": round(refusal, 2),
        "target_ms": TARGET_MS,
        "met": p95 < TARGET_MS,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
