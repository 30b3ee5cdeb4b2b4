"""The broker's state: pools, servers, gateways, invitations and operators.

All writes go through :class:`Broker`, which hands out the plain snapshots of
meshforge.net6.views so that callers never hold a live ORM session.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from ipaddress import IPv6Network
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from meshforge.errors import (
    FormatError,
    InvitationError,
    Net6Busy,
    Net6Error,
    NotFound,
)
from meshforge.net6 import allocation, invitations, prefixes, schema, tokens
from meshforge.net6.babel import new_hmac_key
from meshforge.net6.database import (
    SQLITE_BUSY_TIMEOUT_S,
    lock_pool_table,
    make_engine,
    writer,
)
from meshforge.net6.models import (
    Assignment,
    Gateway,
    Invitation,
    Operator,
    Pool,
    Server,
    Setting,
    utcnow,
)
from meshforge.net6.settings import Net6Settings
from meshforge.net6.tinc import check_name, parse_host_file
from meshforge.net6.views import (
    GatewayView,
    Invite,
    Redeemed,
    ServerView,
    gateway_view,
    server_view,
)

__all__ = ["Broker", "GatewayView", "Invite", "Redeemed", "ServerView"]

log = logging.getLogger(__name__)

HMAC_SETTING = "babeld_hmac_key"
LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Broker:
    def __init__(self, settings: Net6Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.effective_database_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writes = sessionmaker(writer(self.engine), expire_on_commit=False)

    def create_schema(self) -> None:
        """Create or migrate the broker's tables to the newest revision."""
        schema.upgrade(writer(self.engine))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that only reads."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that writes; on SQLite it holds the write lock."""
        try:
            with self._writes.begin() as session:
                yield session
        except OperationalError as exc:
            if "database is locked" not in str(exc.orig):
                raise
            raise Net6Busy(
                "The broker's SQLite database stayed locked by other writers for "
                f"{SQLITE_BUSY_TIMEOUT_S:.0f} s, so nothing was changed; try "
                "again in a minute. Many brokers on one mesh should share "
                "PostgreSQL (MESHFORGE_NET6_DATABASE_URL)."
            ) from exc

    # --- mesh-wide settings ----------------------------------------------

    def hmac_key(self) -> str:
        """The mesh's babeld key, made on first use."""
        with self.session() as session:
            row = session.get(Setting, HMAC_SETTING)
            if row is not None:
                return row.value
        try:
            with self.writing() as session:
                row = session.get(Setting, HMAC_SETTING)
                if row is None:
                    row = Setting(key=HMAC_SETTING, value=new_hmac_key())
                    session.add(row)
                return row.value
        except IntegrityError:
            # Another broker made it at the same moment (PostgreSQL); use theirs.
            return self.hmac_key()

    def set_hmac_key(self, key: str) -> None:
        with self.writing() as session:
            session.merge(Setting(key="babeld_hmac_key", value=key))

    # --- pools -----------------------------------------------------------

    def add_pool(self, community: str, prefix: str) -> IPv6Network:
        check_label(community, "community")
        net = prefixes.check_pool(prefixes.parse_prefix(prefix))
        with self.writing() as session:
            lock_pool_table(session)
            for other in session.scalars(select(Pool)):
                if prefixes.parse_prefix(other.prefix).overlaps(net):
                    raise Net6Error(
                        f"Pool {net} overlaps pool {other.prefix} of community "
                        f"{other.community!r}; pools must be disjoint."
                    )
            session.add(Pool(community=community, prefix=str(net)))
        log.info("pool %s added to community %s", net, community)
        return net

    def pools(self, community: str | None = None) -> list[IPv6Network]:
        with self.session() as session:
            return [
                prefixes.parse_prefix(p.prefix)
                for p in allocation.pools_of(session, community)
            ]

    def communities(self) -> list[str]:
        with self.session() as session:
            query = select(Pool.community).distinct().order_by(Pool.community)
            return list(session.scalars(query))

    def assignments(self) -> list[tuple[str, str, datetime | None]]:
        """(prefix, holder, hold_until) of every taken prefix."""
        with self.session() as session:
            rows = session.scalars(select(Assignment).order_by(Assignment.prefix))
            return [(row.prefix, row.holder, row.hold_until) for row in rows]

    def reserve(self, community: str, prefix: str, holder: str) -> IPv6Network:
        """Record an existing assignment, checking that it is free."""
        return self.reserve_all(community, [(prefix, holder)])[0]

    def reserve_all(
        self, community: str, wanted: list[tuple[str, str]]
    ) -> list[IPv6Network]:
        """Record (prefix, holder) pairs all at once, or none if one fails."""
        nets = [prefixes.parse_prefix(prefix) for prefix, _ in wanted]
        with self.writing() as session:
            for net, (_, holder) in zip(nets, wanted, strict=True):
                allocation.reserve(session, community, net, holder)
        return nets

    def release(self, prefix: str) -> None:
        """Free a prefix now; refused while a live gateway still holds it."""
        net = str(prefixes.parse_prefix(prefix))
        with self.writing() as session:
            row = session.scalar(select(Assignment).where(Assignment.prefix == net))
            if row is None:
                raise NotFound(f"{net} is not assigned; nothing to release.")
            if _live_gateway(session, row.holder, net) is not None:
                raise Net6Error(
                    f"{net} still belongs to gateway {row.holder!r}; revoke the "
                    "gateway first with `meshforge net6 revoke`."
                )
            if allocation.is_server_link(session, row.holder, net):
                raise Net6Error(
                    f"{net} is the tunnel link prefix of server {row.holder!r}; "
                    "it stays reserved while that server is in the mesh."
                )
            session.delete(row)
        log.info("released %s", net)

    def purge_holds(self, now: datetime | None = None) -> int:
        """Free the subnets of revoked gateways whose grace period is over."""
        moment = now or utcnow()
        with self.writing() as session:
            result = session.execute(
                delete(Assignment).where(Assignment.hold_until < moment)
            )
            freed: int = getattr(result, "rowcount", 0)
        if freed:
            log.info("freed %d subnet(s) after their grace period", freed)
        return freed

    # --- servers -----------------------------------------------------------

    def register_server(
        self,
        name: str,
        community: str,
        host_file: str,
        link_prefix: str | None,
        directory: str | None = None,
    ) -> ServerView:
        parse_host_file(name, host_file)
        with self.writing() as session:
            row = session.scalar(select(Server).where(Server.name == name))
            if row is None:
                if link_prefix is not None:
                    link = prefixes.parse_prefix(link_prefix)
                    allocation.reserve(session, community, link, name)
                row = Server(name=name, community=community)
                session.add(row)
            elif row.link_prefix != link_prefix:
                raise Net6Error(
                    f"Server {name!r} already uses link prefix {row.link_prefix}; "
                    "every gateway routes to it. Re-run init without "
                    "--link-prefix, or with that prefix."
                )
            row.host_file = host_file
            row.link_prefix = link_prefix
            row.directory = directory
            return server_view(row)

    def server(self, name: str) -> ServerView | None:
        with self.session() as session:
            row = session.scalar(select(Server).where(Server.name == name))
            return server_view(row) if row is not None else None

    def servers(self) -> list[ServerView]:
        with self.session() as session:
            return [server_view(row) for row in session.scalars(select(Server))]

    # --- operators ---------------------------------------------------------

    def add_operator(self, name: str) -> str:
        check_label(name, "operator name")
        token = tokens.new_token()
        with self.writing() as session:
            row = session.scalar(select(Operator).where(Operator.name == name))
            if row is None:
                session.add(Operator(name=name, token_hash=tokens.hash_token(token)))
            else:
                row.token_hash = tokens.hash_token(token)
        return token

    def has_operators(self) -> bool:
        with self.session() as session:
            return session.scalar(select(Operator.id).limit(1)) is not None

    def operator_for(self, token: str) -> str | None:
        digest = tokens.hash_token(token)
        with self.session() as session:
            row = session.scalar(select(Operator).where(Operator.token_hash == digest))
            return row.name if row is not None else None

    # --- invitations ---------------------------------------------------------

    def invite(
        self, name: str, size: int, community: str, expires_in: timedelta
    ) -> Invite:
        check_name(name)
        prefixes.parse_size(size)
        token = tokens.new_token()
        expires_at = utcnow() + expires_in
        with self.writing() as session:
            if not allocation.pools_of(session, community):
                raise Net6Error(
                    f"Community {community!r} has no prefix pool; add one with "
                    "`meshforge net6 pool add` before inviting gateways."
                )
            if _live_gateway(session, name) is not None:
                raise Net6Error(
                    f"A gateway named {name!r} is already in the mesh; pick "
                    "another name or revoke the old one first."
                )
            session.add(
                Invitation(
                    name=name,
                    community=community,
                    size=size,
                    token_hash=tokens.hash_token(token),
                    expires_at=expires_at,
                )
            )
        log.info("invitation for %s (/%d) expires in %s", name, size, expires_in)
        return Invite(name, size, community, token, expires_at)

    def redeem(
        self,
        token: str,
        public_key: str,
        address: str | None = None,
        port: int | None = None,
        lan: str | None = None,
        babeld_version: str | None = None,
    ) -> Redeemed:
        """Use an invitation once: make the gateway and delegate its subnet."""
        self.purge_holds()
        gateway_token = tokens.new_token()
        with self.writing() as session:
            invitation = invitations.claim(session, tokens.hash_token(token))
            subnet = allocation.allocate(session, invitation.community, invitation.size)
            _drop_revoked(session, invitation.name)
            row = Gateway(
                name=invitation.name,
                community=invitation.community,
                public_key=_checked_key(invitation.name, public_key),
                address=address,
                port=port,
                lan=lan,
                subnet=str(subnet),
                token_hash=tokens.hash_token(gateway_token),
                babeld_version=babeld_version,
            )
            session.add(row)
            allocation.assign(session, subnet, invitation.name)
            view = gateway_view(row)
        log.info("gateway %s joined with %s", view.name, view.subnet)
        return Redeemed(gateway=view, token=gateway_token)

    # --- gateways ------------------------------------------------------------

    def gateway_for(self, token: str) -> GatewayView:
        digest = tokens.hash_token(token)
        with self.session() as session:
            row = session.scalar(select(Gateway).where(Gateway.token_hash == digest))
            if row is None or row.revoked_at is not None:
                raise InvitationError(
                    "This gateway credential is unknown or was revoked; ask the "
                    "operator for a new invitation."
                )
            return gateway_view(row)

    def gateways(self, include_revoked: bool = False) -> list[GatewayView]:
        with self.session() as session:
            query = select(Gateway).order_by(Gateway.name)
            if not include_revoked:
                query = query.where(Gateway.revoked_at.is_(None))
            return [gateway_view(row) for row in session.scalars(query)]

    def report_status(self, name: str, status: dict[str, Any]) -> None:
        with self.writing() as session:
            session.execute(
                update(Gateway)
                .where(Gateway.name == name, Gateway.revoked_at.is_(None))
                .values(last_seen=utcnow(), last_status=status)
            )

    def cancel_invitations(self, name: str) -> int:
        """Void every unused invitation for name; returns how many."""
        with self.writing() as session:
            return invitations.cancel(session, name)

    def revoke_name(self, name: str) -> tuple[GatewayView | None, int]:
        """Revoke gateway name and void its unused invitations.

        Returns the revoked gateway (None if it never joined) and how many
        invitations were voided; NotFound when there was neither.
        """
        voided = self.cancel_invitations(name)
        try:
            return self.revoke(name), voided
        except NotFound:
            if voided:
                return None, voided
            raise

    def revoke(self, name: str) -> GatewayView:
        """Drop a gateway from every bundle; hold its subnet for the grace.

        Unused invitations for the same name are voided too, so that a
        leaked URL cannot bring the gateway back.
        """
        now = utcnow()
        with self.writing() as session:
            invitations.cancel(session, name)
            row = _live_gateway(session, name)
            if row is None:
                raise _no_gateway(name)
            row.revoked_at = now
            row.token_hash = None
            hold = now + timedelta(seconds=self.settings.release_grace_s)
            session.execute(
                update(Assignment)
                .where(Assignment.prefix == row.subnet)
                .values(hold_until=hold)
            )
            view = gateway_view(row)
        log.info("gateway %s revoked; %s held until grace ends", name, view.subnet)
        self.purge_holds()
        return view

    def issue_gateway_token(self, name: str) -> str:
        """A new credential for a gateway, e.g. one imported from tinc files."""
        token = tokens.new_token()
        with self.writing() as session:
            row = _live_gateway(session, name)
            if row is None:
                raise _no_gateway(name)
            row.token_hash = tokens.hash_token(token)
        return token

    def import_host_file(self, community: str, name: str, text: str) -> GatewayView:
        """Adopt a gateway of an older tinc 1.0 setup from its host file."""
        host = parse_host_file(name, text)
        with self.writing() as session:
            pools = allocation.pool_networks(session, community)
            subnet = allocation.subnet_in_pools(host.subnets, pools, name)
            if _live_gateway(session, name) is not None:
                raise Net6Error(
                    f"A gateway named {name!r} is already in the mesh; it was "
                    "imported or joined before. Revoke it first to import it anew."
                )
            session.execute(delete(Gateway).where(Gateway.name == name))
            allocation.reserve_unless_held(session, community, subnet, name)
            address, port = _first_address(host.addresses, host.port)
            row = Gateway(
                name=name,
                community=community,
                public_key=host.public_key,
                address=address,
                port=port,
                subnet=str(subnet),
                token_hash=None,
            )
            session.add(row)
            session.flush()
            return gateway_view(row)


def check_label(text: str, what: str) -> str:
    """Return text if it is a plain label (community or operator name)."""
    if not LABEL_RE.fullmatch(text):
        raise Net6Error(
            f"{text!r} cannot be a {what}: use 1-64 letters, digits, dots, "
            "dashes or underscores, no spaces."
        )
    return text


def _no_gateway(name: str) -> NotFound:
    return NotFound(
        f"No gateway named {name!r} is in the mesh; `meshforge net6 gateways` "
        "lists the names of those that are."
    )


def _live_gateway(
    session: Session, name: str, subnet: str | None = None
) -> Gateway | None:
    query = select(Gateway).where(Gateway.name == name, Gateway.revoked_at.is_(None))
    if subnet is not None:
        query = query.where(Gateway.subnet == subnet)
    return session.scalar(query)


def _drop_revoked(session: Session, name: str) -> None:
    """A name comes free for a new gateway once its old holder is revoked."""
    if _live_gateway(session, name) is not None:
        raise InvitationError(
            f"Gateway {name!r} already joined; revoke it before inviting again."
        )
    session.execute(delete(Gateway).where(Gateway.name == name))


def _checked_key(name: str, public_key: str) -> str:
    """The RSA block of a joining gateway's key; a bad one is the client's fault."""
    try:
        return parse_host_file(name, public_key).public_key
    except FormatError as exc:
        raise Net6Error(
            "The public key sent with the join holds no RSA public key block "
            "(-----BEGIN RSA PUBLIC KEY-----), which tinc 1.0 needs. `meshforge "
            "net6 gateway join` makes one with tincd; nothing was used up, so "
            "the invitation still works."
        ) from exc


def _first_address(
    addresses: list[str], port: int | None
) -> tuple[str | None, int | None]:
    if not addresses:
        return None, None
    host, _, given = addresses[0].partition(" ")
    return host, int(given) if given.strip().isdigit() else port
