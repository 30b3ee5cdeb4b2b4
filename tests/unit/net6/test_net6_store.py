"""The broker's store on SQLite and PostgreSQL: invitations, gateways, pools."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from meshforge.errors import InvitationError, Net6Error, NotFound, PoolExhausted
from meshforge.net6.models import utcnow
from meshforge.net6.store import Broker
from meshforge.net6.tokens import hash_token

HOUR = timedelta(hours=1)


def test_invitation_is_stored_hashed_and_redeemed_once(
    mesh_broker: Broker, public_key: str
) -> None:
    made = mesh_broker.invite("gw1", 56, "default", HOUR)

    joined = mesh_broker.redeem(made.token, public_key)

    assert joined.gateway.name == "gw1"
    assert joined.gateway.subnet == "2001:db8:100:100::/56"
    with mesh_broker.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT token_hash FROM net6_invitations"
        ).scalar()
    assert stored == hash_token(made.token) != made.token
    with pytest.raises(InvitationError, match="already used"):
        mesh_broker.redeem(made.token, public_key)


def test_expired_invitation_is_refused(mesh_broker: Broker, public_key: str) -> None:
    made = mesh_broker.invite("gw1", 56, "default", timedelta(seconds=1))
    with mesh_broker.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE net6_invitations SET expires_at = created_at - INTERVAL '1 hour'"
            if mesh_broker.engine.dialect.name == "postgresql"
            else "UPDATE net6_invitations SET expires_at = '2000-01-01 00:00:00'"
        )

    with pytest.raises(InvitationError, match="expired"):
        mesh_broker.redeem(made.token, public_key)
    assert mesh_broker.gateways() == []


def test_wrong_token_is_refused(mesh_broker: Broker, public_key: str) -> None:
    mesh_broker.invite("gw1", 56, "default", HOUR)

    with pytest.raises(InvitationError, match="not known"):
        mesh_broker.redeem("x" * 43, public_key)


def test_concurrent_redeems_let_exactly_one_win(
    mesh_broker: Broker, public_key: str
) -> None:
    made = mesh_broker.invite("gw1", 56, "default", HOUR)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def redeem() -> None:
        barrier.wait()
        try:
            mesh_broker.redeem(made.token, public_key)
            results.append("ok")
        except Exception as exc:  # the losers' errors differ by backend
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results.count("ok") == 1
    assert len(mesh_broker.gateways()) == 1


def test_failed_allocation_leaves_the_invitation_unused(
    mesh_broker: Broker, public_key: str
) -> None:
    made = mesh_broker.invite("big", 48, "default", HOUR)

    with pytest.raises(PoolExhausted):
        mesh_broker.redeem(made.token, public_key)
    mesh_broker.add_pool("default", "2001:db8:200::/48")
    joined = mesh_broker.redeem(made.token, public_key)

    assert joined.gateway.subnet == "2001:db8:200::/48"


def test_revoked_subnet_is_held_then_reused(
    mesh_broker: Broker, public_key: str
) -> None:
    first = mesh_broker.redeem(
        mesh_broker.invite("gw1", 56, "default", HOUR).token, public_key
    )
    mesh_broker.revoke("gw1")
    held = mesh_broker.redeem(
        mesh_broker.invite("gw2", 56, "default", HOUR).token, public_key
    )
    assert held.gateway.subnet != first.gateway.subnet

    mesh_broker.purge_holds(utcnow() + timedelta(hours=2))
    again = mesh_broker.redeem(
        mesh_broker.invite("gw3", 56, "default", HOUR).token, public_key
    )

    assert again.gateway.subnet == first.gateway.subnet
    assert [gw.name for gw in mesh_broker.gateways()] == ["gw2", "gw3"]


def test_revoked_gateway_loses_its_credential(
    mesh_broker: Broker, public_key: str
) -> None:
    joined = mesh_broker.redeem(
        mesh_broker.invite("gw1", 56, "default", HOUR).token, public_key
    )
    assert mesh_broker.gateway_for(joined.token).name == "gw1"

    mesh_broker.revoke("gw1")

    with pytest.raises(InvitationError, match="revoked"):
        mesh_broker.gateway_for(joined.token)


def test_release_refuses_a_live_gateways_subnet(
    mesh_broker: Broker, public_key: str
) -> None:
    joined = mesh_broker.redeem(
        mesh_broker.invite("gw1", 60, "default", HOUR).token, public_key
    )

    with pytest.raises(Net6Error, match="revoke the gateway first"):
        mesh_broker.release(joined.gateway.subnet)
    mesh_broker.revoke("gw1")
    mesh_broker.release(joined.gateway.subnet)

    assert joined.gateway.subnet not in [p for p, _, _ in mesh_broker.assignments()]


def test_invite_refuses_a_name_in_use(mesh_broker: Broker, public_key: str) -> None:
    mesh_broker.redeem(mesh_broker.invite("gw1", 56, "default", HOUR).token, public_key)

    with pytest.raises(Net6Error, match="already in the mesh"):
        mesh_broker.invite("gw1", 56, "default", HOUR)


def test_overlapping_pools_are_refused(mesh_broker: Broker) -> None:
    with pytest.raises(Net6Error, match="overlaps pool"):
        mesh_broker.add_pool("other", "2001:db8:100:8000::/49")


def test_communities_allocate_from_their_own_pools(
    mesh_broker: Broker, public_key: str
) -> None:
    mesh_broker.add_pool("quintana", "2001:db8:900::/48")

    joined = mesh_broker.redeem(
        mesh_broker.invite("qgw", 56, "quintana", HOUR).token, public_key
    )

    assert joined.gateway.subnet == "2001:db8:900::/56"
    assert mesh_broker.communities() == ["default", "quintana"]


def test_import_assignments_and_tinc_1_0_host_files(
    mesh_broker: Broker, public_key: str
) -> None:
    mesh_broker.reserve("default", "2001:db8:100:a00::/56", "oldgw")
    text = f"Address = 203.0.113.50 6655\nSubnet = 2001:db8:100:a00::/56\n{public_key}"

    gw = mesh_broker.import_host_file("default", "oldgw", text)
    new = mesh_broker.redeem(
        mesh_broker.invite("gw1", 52, "default", HOUR).token, public_key
    )

    assert (gw.address, gw.port, gw.subnet) == (
        "203.0.113.50",
        6655,
        "2001:db8:100:a00::/56",
    )
    assert new.gateway.subnet == "2001:db8:100:1000::/52"
    with pytest.raises(Net6Error, match="overlaps"):
        mesh_broker.reserve("default", "2001:db8:100:a80::/60", "dup")


def test_host_file_outside_the_pools_is_refused(
    mesh_broker: Broker, public_key: str
) -> None:
    with pytest.raises(Net6Error, match="no IPv6 Subnet inside"):
        mesh_broker.import_host_file(
            "default", "far", f"Subnet = 2001:db8:999::/56\n{public_key}"
        )


def test_operator_tokens_are_checked(mesh_broker: Broker) -> None:
    token = mesh_broker.add_operator("alice")

    assert mesh_broker.operator_for(token) == "alice"
    assert mesh_broker.operator_for(token + "x") is None


def test_unknown_gateway_cannot_be_revoked(mesh_broker: Broker) -> None:
    with pytest.raises(NotFound):
        mesh_broker.revoke("ghost")


def test_a_servers_link_prefix_cannot_be_released(mesh_broker: Broker) -> None:
    with pytest.raises(Net6Error, match="link prefix of server 'srv'"):
        mesh_broker.release("2001:db8:100::/64")

    assert "2001:db8:100::/64" in [p for p, _, _ in mesh_broker.assignments()]


def test_revoking_a_name_voids_its_unused_invitations(
    mesh_broker: Broker, public_key: str
) -> None:
    leaked = mesh_broker.invite("gw1", 56, "default", HOUR)

    gateway, voided = mesh_broker.revoke_name("gw1")

    assert (gateway, voided) == (None, 1)
    with pytest.raises(InvitationError, match="revoked"):
        mesh_broker.redeem(leaked.token, public_key)
    with pytest.raises(NotFound, match="`meshforge net6 gateways` lists"):
        mesh_broker.revoke_name("gw1")


def test_revoking_a_gateway_voids_a_second_invitation_for_it(
    mesh_broker: Broker, public_key: str
) -> None:
    first = mesh_broker.invite("gw1", 56, "default", HOUR)
    spare = mesh_broker.invite("gw1", 56, "default", HOUR)
    mesh_broker.redeem(first.token, public_key)

    gateway, voided = mesh_broker.revoke_name("gw1")

    assert gateway is not None and voided == 1
    with pytest.raises(InvitationError, match="revoked"):
        mesh_broker.redeem(spare.token, public_key)


@pytest.mark.parametrize("name", ["a b", "x;rm", "", "é"])
def test_community_and_operator_names_are_plain_labels(
    mesh_broker: Broker, name: str
) -> None:
    with pytest.raises(Net6Error, match="no spaces"):
        mesh_broker.add_pool(name, "2001:db8:900::/48")
    with pytest.raises(Net6Error, match="no spaces"):
        mesh_broker.add_operator(name)


@pytest.mark.parametrize("prefix", ["fe80::/64", "ff02::/16", "::/0", "::1/128"])
def test_pools_outside_routed_space_are_refused(
    mesh_broker: Broker, prefix: str
) -> None:
    with pytest.raises(Net6Error, match="cannot"):
        mesh_broker.add_pool("other", prefix)


def test_a_host_file_imported_twice_is_refused(
    mesh_broker: Broker, public_key: str
) -> None:
    text = f"Subnet = 2001:db8:100:a00::/56\n{public_key}"
    mesh_broker.import_host_file("default", "oldgw", text)

    with pytest.raises(Net6Error, match="already in the mesh"):
        mesh_broker.import_host_file("default", "oldgw", text)


def test_a_revoked_imported_gateway_can_be_imported_again(
    mesh_broker: Broker, public_key: str
) -> None:
    text = f"Subnet = 2001:db8:100:a00::/56\n{public_key}"
    mesh_broker.import_host_file("default", "oldgw", text)
    mesh_broker.revoke("oldgw")

    again = mesh_broker.import_host_file("default", "oldgw", text)

    assert again.subnet == "2001:db8:100:a00::/56"
    assert [gw.name for gw in mesh_broker.gateways()] == ["oldgw"]
    assert ("2001:db8:100:a00::/56", "oldgw", None) in mesh_broker.assignments()
