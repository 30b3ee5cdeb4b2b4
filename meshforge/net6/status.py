"""``meshforge net6 gateway status``: what this gateway sees of the mesh."""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass, field
from typing import Any

from meshforge.errors import FormatError, Net6Error
from meshforge.net6.ping import ping6
from meshforge.net6.prefixes import host_address, parse_prefix
from meshforge.net6.schemas import BundleOut, StatusReport

log = logging.getLogger(__name__)


@dataclass
class GatewayStatus:
    tinc_up: bool
    routes: list[str]
    pings: dict[str, bool]
    survives_server_outage: bool = True
    warnings: list[str] = field(default_factory=list)

    def report(self) -> StatusReport:
        return StatusReport(tinc_up=self.tinc_up, routes=self.routes, pings=self.pings)


def collect(bundle: BundleOut, ping_count: int = 3) -> GatewayStatus:
    """Link state, babel routes and pings to the servers and one peer."""
    own = str(host_address(parse_prefix(bundle.subnet)))
    targets = {f"server {a}": a for a in bundle.server_addresses}
    for name, address in sorted(bundle.peer_addresses.items())[:1]:
        targets[f"gateway {name} {address}"] = address
    pings = {
        label: ping6(addr, own, ping_count) is not None
        for label, addr in targets.items()
    }
    return GatewayStatus(
        tinc_up=link_up(bundle.interface),
        routes=babel_routes(),
        pings=pings,
        survives_server_outage=bundle.survives_server_outage,
        warnings=list(bundle.warnings),
    )


def link_up(interface: str) -> bool:
    links = _ip_json(["link", "show", "dev", interface], missing_ok=True)
    return bool(links) and "UP" in links[0].get("flags", [])


def babel_routes() -> list[str]:
    """Prefixes babeld installed with a next hop; withdrawn ones have none."""
    routes = _ip_json(["-6", "route", "show", "proto", "babel"])
    return sorted(r["dst"] for r in routes if r.get("gateway") and "dst" in r)


def _ip_json(args: list[str], missing_ok: bool = False) -> list[dict[str, Any]]:
    try:
        done = subprocess.run(["ip", "-j", *args], capture_output=True, timeout=10)
    except FileNotFoundError as exc:
        raise Net6Error(
            "The `ip` command is missing; install iproute2 (apt-get install "
            "iproute2) and run the command again."
        ) from exc
    if done.returncode != 0:
        if missing_ok:
            return []
        raise FormatError(f"`ip {' '.join(args)}` failed: {done.stderr.decode()}")
    try:
        parsed: list[dict[str, Any]] = json.loads(done.stdout or b"[]")
    except json.JSONDecodeError as exc:
        raise FormatError(f"`ip -j {' '.join(args)}` printed no JSON.") from exc
    return parsed
