"""``POST /api/v1/upgrade-check`` on the mirror's releases."""

from __future__ import annotations

from meshforge.upstream.opkg import parse_stanzas
from tests.conftest import SAMPLES


def _installed(router: str) -> dict[str, str]:
    text = (SAMPLES / "routers" / router / "usr/lib/opkg/status").read_text()
    return {
        s["Package"]: s["Version"]
        for s in parse_stanzas(text)
        if "installed" in s.get("Status", "") and s.get("Auto-Installed") != "yes"
    }


def test_old_release_gets_branch_latest_next_branch_and_replacements(live_server):
    installed = _installed("openwrt-19.07.1-rpi-3-model-b-plus")
    assert "firewall" in installed
    body = {"version": "19.07.1", "target": "ath79/generic", "installed": installed}
    with live_server.client() as client:
        response = client.post("/api/v1/upgrade-check", json=body)
    assert response.status_code == 200, response.text
    check = response.json()
    assert check["status"] == 200
    assert check["branch_latest"] == "19.07.10"
    assert check["next_branch_latest"] == "23.05.5"
    renamed = {
        (r["removed"][0], r["added"][0])
        for r in check["replacements"]
        if r["kind"] == "rename"
    }
    assert ("firewall", "firewall4") in renamed
    assert "firewall4" in check["next_packages"]
    assert "firewall" not in check["next_packages"]


def test_newest_release_answers_204(live_server):
    body = {"version": "23.05.5", "target": "x86/64", "installed": {"rsync": "1"}}
    with live_server.client() as client:
        response = client.post("/api/v1/upgrade-check", json=body)
    assert response.status_code == 204 and response.content == b""


def test_snapshot_device_gets_package_updates(live_server):
    body = {
        "version": "22.03-SNAPSHOT",
        "target": "x86/64",
        "revision": "r20000-0000000000",
        "installed": {"rsync": "3.2.6-1", "libacl": "2.3.1-1"},
    }
    with live_server.client() as client:
        response = client.post("/api/v1/upgrade-check", json=body)
    # 22.03-SNAPSHOT is not a numbered release; the next branch's release is.
    assert response.status_code == 200, response.text
    assert response.json()["next_branch_latest"] == "23.05.5"


def test_bad_request_is_422_with_a_sentence(live_server):
    with live_server.client() as client:
        response = client.post(
            "/api/v1/upgrade-check",
            json={"version": "x", "target": "a/b", "installed": {"bad name": "1"}},
        )
    assert response.status_code == 422
    assert response.json()["status"] == 422
