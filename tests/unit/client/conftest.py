"""Fixtures of the client tests: real upstream files and an in-process server.

The overview.json the fixtures serve is GENERATED in the shape of DOMAIN
§1.8; profiles.json and router files are the real samples.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshforge.client.server import Server

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "upstream-samples"


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def overview(upstream: str = "http://127.0.0.1:9/dl") -> dict[str, Any]:
    """A GENERATED overview.json in the shape of DOMAIN §1.8 (not upstream's).

    Branch names, revisions and the rename table follow the documented
    values; the version lists are trimmed.
    """
    return {
        "latest": ["25.12.2", "24.10.5", "23.05.6"],
        "upstream_url": upstream,
        "branches": {
            "SNAPSHOT": _branch("SNAPSHOT", "snapshots", ["SNAPSHOT"], snapshot=True),
            "25.12": _branch(
                "25.12",
                "releases/{version}",
                ["25.12.2", "25.12.1", "25.12.0-rc1", "25.12-SNAPSHOT"],
                changes=RENAMES,
            ),
            "24.10": _branch(
                "24.10",
                "releases/{version}",
                ["24.10.5", "24.10.4", "24.10-SNAPSHOT"],
                changes=[c for c in RENAMES if c["revision"] <= 27990],
            ),
            "23.05": _branch(
                "23.05",
                "releases/{version}",
                ["23.05.6", "23.05.5", "23.05.4", "23.05-SNAPSHOT"],
                changes=[c for c in RENAMES if c["revision"] <= 23069],
            ),
            "22.03": {
                **_branch("22.03", "releases/{version}", ["22.03.7"]),
                "enabled": False,
            },
        },
    }


RENAMES: list[dict[str, Any]] = [
    {"source": "firewall", "target": "firewall4", "revision": 18611},
    {"source": "kmod-nft-nat6", "revision": 20282, "mandatory": True},
    {"source": "auc", "target": "owut", "revision": 26792},
    {
        "source": "luci-app-opkg",
        "target": "luci-app-package-manager",
        "revision": 27897,
    },
    {"source": "opkg", "target": "apk-mbedtls", "revision": 28056},
]


def _branch(
    name: str,
    path: str,
    versions: list[str],
    *,
    snapshot: bool = False,
    changes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "path": path,
        "enabled": True,
        "snapshot": snapshot,
        "versions": versions,
        "package_changes": changes or [],
        "targets": {
            "ath79/generic": "mips_24kc",
            "x86/64": "x86_64",
            "bcm27xx/bcm2710": "aarch64_cortex-a53",
        },
    }


Handler = Callable[[httpx.Request], httpx.Response]


def routed(routes: dict[str, Any], fallback: Handler | None = None) -> httpx.Client:
    """An in-process ``httpx.Client`` answering ``path → JSON`` from ``routes``.

    A value that is a callable is called with the request instead. Unknown
    paths get the 404 shape of DOMAIN §1.5.
    """

    def handle(request: httpx.Request) -> httpx.Response:
        answer = routes.get(request.url.path)
        if callable(answer):
            response: httpx.Response = answer(request)
            return response
        if answer is not None:
            return httpx.Response(200, json=answer)
        if fallback is not None:
            return fallback(request)
        return httpx.Response(404, json={"status": 404, "detail": "not found"})

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://t")


def no_sleep(_: float) -> None:
    """Tests do not wait for back-off."""


@pytest.fixture
def profiles_2305() -> dict[str, dict[str, Any]]:
    """Real 23.05.4 profiles.json files, by target."""
    base = SAMPLES / "openwrt-23.05.4" / "targets"
    return {
        target: load_json(base / target / "profiles.json")
        for target in ("ath79/generic", "bcm27xx/bcm2710", "x86/64")
    }


class FakeSite:
    """In-process server and download site for the client tests."""

    overview = staticmethod(overview)
    load_json = staticmethod(load_json)
    samples = SAMPLES

    def server(self, routes: dict[str, Any], fallback: Handler | None = None) -> Server:
        return Server("http://t", http=routed(routes, fallback), sleep=no_sleep)


@pytest.fixture
def fake() -> FakeSite:
    return FakeSite()


@pytest.fixture(name="overview")
def overview_fixture() -> Callable[..., dict[str, Any]]:
    return overview
