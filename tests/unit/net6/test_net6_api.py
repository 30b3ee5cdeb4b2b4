"""The broker app over HTTP: join, fetch, status, leave, operator API, admin page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshforge.net6.api import create_app
from meshforge.net6.store import Broker


@pytest.fixture
def client(mesh_broker: Broker) -> TestClient:
    return TestClient(create_app(broker=mesh_broker))


@pytest.fixture
def operator(mesh_broker: Broker) -> dict[str, str]:
    return {"Authorization": f"Bearer {mesh_broker.add_operator('alice')}"}


def _invite(client: TestClient, operator: dict[str, str], name: str) -> str:
    response = client.post(
        "/api/v1/invitations",
        headers=operator,
        json={"name": name, "size": "/60", "expires": "1h"},
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    assert url.startswith("http://testserver/join/")
    return url.rsplit("/", 1)[1]


def _join(client: TestClient, token: str, key: str, **extra: object) -> Any:
    body = {"token": token, "public_key": key, "babeld_version": "1.12.1", **extra}
    return client.post("/api/v1/join", json=body).json()


def test_join_returns_config_and_credential(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    answer = _join(client, _invite(client, operator, "gw1"), public_key, lan="lan0")
    bundle = answer["bundle"]

    assert bundle["name"] == "gw1"
    assert bundle["subnet"] == "2001:db8:100:10::/60"
    assert "Name = gw1" in bundle["files"]["tinc/tinc.conf"]
    assert "ConnectTo = srv" in bundle["files"]["tinc/tinc.conf"]
    assert bundle["files"]["tinc/hosts/srv"].startswith("Address = 198.51.100.2 655")
    assert "dev lan0" in bundle["files"]["tinc/tinc-up"]
    assert "key librenet6" in bundle["files"]["babeld.conf"]
    assert len(answer["gateway_token"]) >= 40


def test_second_redeem_and_bad_token_are_forbidden(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    token = _invite(client, operator, "gw1")
    _join(client, token, public_key)

    again = client.post("/api/v1/join", json={"token": token, "public_key": public_key})
    wrong = client.post(
        "/api/v1/join", json={"token": "w" * 43, "public_key": public_key}
    )

    assert again.status_code == 403
    assert "already used" in again.json()["detail"]
    assert wrong.status_code == 403


def test_fetch_shows_new_gateways_and_drops_revoked_ones(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    first = _join(client, _invite(client, operator, "gw1"), public_key)
    auth = {"Authorization": f"Bearer {first['gateway_token']}"}
    _join(client, _invite(client, operator, "gw2"), public_key, address="203.0.113.18")

    with_gw2 = client.get("/api/v1/gateway/bundle", headers=auth).json()
    client.post("/api/v1/gateways/gw2/revoke", headers=operator)
    without = client.get("/api/v1/gateway/bundle", headers=auth).json()

    assert "tinc/hosts/gw2" in with_gw2["files"]
    assert "ConnectTo = gw2" in with_gw2["files"]["tinc/tinc.conf"]
    assert "tinc/hosts/gw2" not in without["files"]
    assert "ConnectTo = gw2" not in without["files"]["tinc/tinc.conf"]


def test_status_report_marks_gateway_up(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    joined = _join(client, _invite(client, operator, "gw1"), public_key)
    auth = {"Authorization": f"Bearer {joined['gateway_token']}"}

    before = client.get("/api/v1/gateways", headers=operator).json()
    answer = client.post(
        "/api/v1/gateway/status",
        headers=auth,
        json={"tinc_up": True, "routes": [], "pings": {}},
    )
    after = client.get("/api/v1/gateways", headers=operator).json()

    assert before[0]["state"] == "never seen"
    assert answer.json() == {"survives_server_outage": True, "warnings": []}
    assert after[0]["state"] == "up"
    assert after[0]["last_seen"] is not None


def test_two_gateways_behind_nat_are_flagged(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    _join(client, _invite(client, operator, "gw1"), public_key)
    _join(client, _invite(client, operator, "gw3"), public_key)

    rows = client.get("/api/v1/gateways", headers=operator).json()

    assert [row["survives_server_outage"] for row in rows] == [False, False]
    assert "cut off" in rows[0]["warning"]


def test_leave_revokes_the_caller(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    joined = _join(client, _invite(client, operator, "gw1"), public_key)
    auth = {"Authorization": f"Bearer {joined['gateway_token']}"}

    assert client.post("/api/v1/gateway/leave", headers=auth).status_code == 200
    assert client.get("/api/v1/gateway/bundle", headers=auth).status_code == 403
    assert client.get("/api/v1/gateways", headers=operator).json() == []


def test_operator_routes_need_a_valid_token(client: TestClient) -> None:
    missing = client.get("/api/v1/gateways")
    wrong = client.get("/api/v1/gateways", headers={"Authorization": "Bearer nope"})

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "operator" in wrong.json()["detail"]


def test_admin_page_login_invite_and_revoke(
    client: TestClient, mesh_broker: Broker, public_key: str
) -> None:
    token = mesh_broker.add_operator("bob")

    assert "Operator token" in client.get("/admin").text
    assert client.post("/admin/login", data={"token": "bad"}).status_code == 401
    client.post("/admin/login", data={"token": token})
    page = client.post(
        "/admin/invite", data={"name": "gw9", "size": "/56", "expires": "1d"}
    ).text
    invite = re.search(r"/join/([A-Za-z0-9_-]+)", page)
    assert invite is not None
    _join(client, invite[1], public_key)
    listing = client.get("/admin").text
    client.post("/admin/revoke/gw9")

    assert "2001:db8:100:100::/56" in listing
    assert "never seen" in listing
    assert (
        "gw9"
        not in client.get(
            "/api/v1/gateways", headers={"Authorization": f"Bearer {token}"}
        ).text
    )


def test_join_writes_server_host_files(
    mesh_broker: Broker, operator: dict[str, str], public_key: str, tmp_path: Path
) -> None:
    folder = tmp_path / "srvdir"
    (folder / "tinc" / "hosts").mkdir(parents=True)
    server = mesh_broker.servers()[0]
    mesh_broker.register_server(
        server.name, server.community, server.host_file, server.link_prefix, str(folder)
    )
    (folder / "tinc" / "hosts" / "gone").write_text("stale")
    client = TestClient(create_app(broker=mesh_broker))

    _join(client, _invite(client, operator, "gw1"), public_key)

    assert sorted(p.name for p in (folder / "tinc" / "hosts").iterdir()) == [
        "gw1",
        "srv",
    ]


def test_join_cannot_inject_lines_into_host_files(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    sneaky_key = f"Subnet = 2001:db8:100:200::/56\nAddress = 192.0.2.66\n{public_key}"
    bad_address = client.post(
        "/api/v1/join",
        json={
            "token": _invite(client, operator, "gw0"),
            "public_key": public_key,
            "address": "203.0.113.9\nConnectTo = evil",
        },
    )
    joined = _join(client, _invite(client, operator, "gw1"), sneaky_key)
    host = joined["bundle"]["files"]["tinc/hosts/gw1"]

    assert bad_address.status_code == 422
    assert host == f"Subnet = 2001:db8:100:10::/60\n{public_key}\n"


def test_bad_bodies_get_the_one_error_shape(
    client: TestClient, operator: dict[str, str]
) -> None:
    not_json = client.post(
        "/api/v1/invitations",
        headers={**operator, "content-type": "application/json"},
        content=b"not json",
    )
    bad_size = client.post(
        "/api/v1/invitations", headers=operator, json={"name": "gw1", "size": 56.5}
    )
    nowhere = client.get("/api/v1/nothing")

    assert not_json.status_code == 422
    assert set(not_json.json()) == {"status", "title", "detail"}
    assert "the body is not JSON" in not_json.json()["detail"]
    assert bad_size.status_code == 422
    assert "size" in bad_size.json()["detail"]
    assert nowhere.status_code == 404
    assert "/api/v1/nothing is not a page or API route" in nowhere.json()["detail"]


def test_a_huge_body_is_refused_unread(client: TestClient) -> None:
    body = b'{"token": "' + b"x" * (2 << 20) + b'"}'
    response = client.post(
        "/api/v1/join", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert "larger than the 1048576 bytes" in response.json()["detail"]


def test_an_invitation_opened_in_a_browser_explains_itself(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    token = _invite(client, operator, "gw1")

    page = client.get(f"/join/{token}")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert f"meshforge net6 gateway join http://testserver/join/{token}" in page.text
    assert _join(client, token, public_key)["bundle"]["name"] == "gw1"


def test_revoking_an_unredeemed_invitation_voids_it(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    token = _invite(client, operator, "gw1")

    revoked = client.post("/api/v1/gateways/gw1/revoke", headers=operator)
    late = client.post("/api/v1/join", json={"token": token, "public_key": public_key})

    assert revoked.json() == {
        "revoked": "gw1",
        "subnet": None,
        "invitations_voided": 1,
    }
    assert late.status_code == 403
    assert "revoked" in late.json()["detail"]


def test_admin_form_errors_show_on_the_page(
    client: TestClient, mesh_broker: Broker
) -> None:
    client.post("/admin/login", data={"token": mesh_broker.add_operator("bob")})

    page = client.post(
        "/admin/invite", data={"name": "gw<b>", "size": "/56", "expires": "1d"}
    )

    assert page.status_code == 400
    assert (
        "Nothing was changed: &#39;gw&lt;b&gt;&#39; cannot be a tinc node" in page.text
    )
    assert "<b>" not in page.text.split("Nothing was changed")[1][:80]


def test_a_join_with_a_bad_key_is_a_client_error_and_keeps_the_invitation(
    client: TestClient, operator: dict[str, str], public_key: str
) -> None:
    token = _invite(client, operator, "gw1")

    bad = client.post("/api/v1/join", json={"token": token, "public_key": "ssh-rsa"})

    assert bad.status_code == 400
    assert "the invitation still works" in bad.json()["detail"]
    assert _join(client, token, public_key)["bundle"]["name"] == "gw1"


def test_admin_revoke_of_an_unknown_name_shows_on_the_page(
    client: TestClient, mesh_broker: Broker
) -> None:
    client.post("/admin/login", data={"token": mesh_broker.add_operator("bob")})

    page = client.post("/admin/revoke/ghost")

    assert page.status_code == 404
    assert "Nothing was changed: No gateway named &#39;ghost&#39;" in page.text


def test_admin_form_names_the_community_when_there_are_several(
    client: TestClient, mesh_broker: Broker
) -> None:
    mesh_broker.add_pool("quintana", "2001:db8:900::/48")
    client.post("/admin/login", data={"token": mesh_broker.add_operator("bob")})

    form = client.get("/admin").text
    page = client.post(
        "/admin/invite",
        data={"name": "qgw", "size": "/56", "expires": "1d", "community": "quintana"},
    )

    assert '<select name="community">' in form
    assert page.status_code == 200
    assert "Invitation for <strong>qgw</strong>" in page.text
