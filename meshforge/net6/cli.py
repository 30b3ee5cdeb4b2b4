"""``meshforge net6``: the LibreNet6 broker (server side) and ``gateway`` agent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from meshforge.errors import Net6Error
from meshforge.net6 import daemons, overview, prefixes, sixtofour, tokens
from meshforge.net6.gateway_cli import gateway
from meshforge.net6.server import InitOptions, init_server, sync_server_hosts
from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker
from meshforge.net6.tinc import check_name
from meshforge.net6.urls import check_broker_url


def _broker(create: bool = False) -> Broker:
    """The broker on its database; only init and serve may make a new one."""
    settings = Net6Settings()
    url = settings.effective_database_url
    if not create and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).resolve()
        if not path.exists():
            raise Net6Error(
                f"There is no broker database at {path}: run `meshforge net6 "
                "init` first, or run this command in the folder where you ran "
                "init, or point MESHFORGE_NET6_VAR_DIR (or "
                "MESHFORGE_NET6_DATABASE_URL) at the broker's database."
            )
    broker = Broker(settings)
    broker.create_schema()
    return broker


@click.group()
def group() -> None:
    """LibreNet6: IPv6 for NATed community gateways over a tinc mesh."""


group.add_command(gateway)


@group.command()
@click.option("--name", required=True, help="tinc node name of this server.")
@click.option("--address", required=True, help="Public IPv4 or host name.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for tinc/ and babeld.conf (e.g. /etc/librenet6).",
)
@click.option("--community", default="default", show_default=True)
@click.option(
    "--port", default=655, show_default=True, type=click.IntRange(1, 65535),
    help="tinc port.",
)  # fmt: skip
@click.option("--pool", "pools", multiple=True, help="Prefix to delegate from.")
@click.option("--link-prefix", help="This server's /64 on the tunnel.")
@click.option(
    "--default-route/--no-default-route",
    default=False,
    help="Announce ::/0 (this server has an IPv6 uplink).",
)
@click.option("--sixtofour-local", help="Public IPv4 for a 6to4/sit uplink.")
@click.option("--sixtofour-relay", help="IPv4 of the 6to4 relay to route via.")
def init(
    name: str,
    address: str,
    directory: Path,
    community: str,
    port: int,
    pools: tuple[str, ...],
    link_prefix: str | None,
    default_route: bool,
    sixtofour_local: str | None,
    sixtofour_relay: str | None,
) -> None:
    """Create this server's tinc node, babeld config and prefix pools."""
    uplink = None
    if sixtofour_local or sixtofour_relay:
        if not (sixtofour_local and sixtofour_relay):
            raise Net6Error("Give both --sixtofour-local and --sixtofour-relay.")
        uplink = sixtofour.plan(sixtofour_local, sixtofour_relay)
    options = InitOptions(
        name=name,
        community=community,
        address=address,
        directory=directory,
        port=port,
        pools=list(pools),
        link_prefix=link_prefix,
        default_route=default_route or uplink is not None,
        sixtofour=uplink,
    )
    broker = _broker(create=True)
    result = init_server(broker, options)
    click.echo(
        f"Server {name}: link {result.link_prefix}, pools "
        f"{', '.join(map(str, result.pools))}"
    )
    click.echo(f"Wrote {len(result.written)} files under {directory}.")
    click.echo(f"Broker database: {_database_name(broker.settings)}")
    if uplink is not None:
        click.echo(f"6to4 uplink: run {directory}/uplink-6to4.sh ({uplink.prefix}).")
    click.echo("Start the node with:")
    click.echo("  " + " ".join(daemons.tincd_argv(directory)))
    click.echo("  " + " ".join(daemons.babeld_argv(directory)))
    if result.operator_token:
        click.echo(
            f"Operator token for the admin page (shown once): {result.operator_token}"
        )


def _database_name(settings: Net6Settings) -> str:
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        return str(Path(url.removeprefix("sqlite:///")).resolve())
    return url.split("@")[-1]  # no password on the screen


@group.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the broker's HTTP API and admin page (put TLS in front of it)."""
    import uvicorn

    from meshforge.net6.api import create_app

    # A broker on an empty database would refuse every invitation; say so now.
    app = create_app(broker=_broker())
    uvicorn.run(app, host=host, port=port, proxy_headers=True)


@group.command()
@click.argument("name")
@click.option("--size", default="/56", show_default=True)
@click.option("--expires", default="1d", show_default=True)
@click.option("--community")
@click.option(
    "--url", help="Public base URL of the broker (or MESHFORGE_NET6_PUBLIC_URL)."
)
def invite(
    name: str, size: str, expires: str, community: str | None, url: str | None
) -> None:
    """Make a one-use invitation for gateway NAME."""
    broker = _broker()
    base = url or broker.settings.public_url
    if not base:
        raise Net6Error(
            "Give the broker's public URL with --url https://… (or set "
            "MESHFORGE_NET6_PUBLIC_URL) so the invitation can name it."
        )
    base = check_broker_url(base)
    made = broker.invite(
        name,
        prefixes.parse_size(size),
        overview.pick_community(broker, community),
        tokens.parse_duration(expires),
    )
    click.echo(f"{base.rstrip('/')}/join/{made.token}")
    click.echo(f"Valid once until {made.expires_at:%Y-%m-%d %H:%M} UTC.", err=True)


@group.command()
@click.argument("name")
def revoke(name: str) -> None:
    """Remove gateway NAME from the mesh; its subnet is freed after the grace."""
    broker = _broker()
    gw, voided = broker.revoke_name(name)
    if voided:
        click.echo(f"Voided {voided} unused invitation(s) for {name}.")
    if gw is not None:
        sync_server_hosts(broker)
        click.echo(f"Revoked {gw.name}; {gw.subnet} is held for the grace period.")


@group.command("gateways")
@click.option("--json", "as_json", is_flag=True)
def list_gateways(as_json: bool) -> None:
    """List gateways, their subnets, state and outage risk."""
    rows = overview.gateway_overview(_broker())
    if as_json:
        click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    if not rows:
        click.echo("No gateways yet; invite one with `meshforge net6 invite NAME`.")
    for row in rows:
        seen = (
            f" (last report {row.last_seen:%Y-%m-%d %H:%M} UTC)"
            if row.last_seen
            else ""
        )
        click.echo(f"{row.name:20} {row.subnet:24} {row.state}{seen}")
        if row.warning:
            click.echo(f"  warning: {row.warning}")


@group.command("gateway-token")
@click.argument("name")
def gateway_token(name: str) -> None:
    """Issue a credential for an imported gateway (for gateway.json)."""
    click.echo(_broker().issue_gateway_token(name))


@group.group()
def operator() -> None:
    """Operator tokens for the admin page and API."""


@operator.command("add")
@click.argument("name")
def operator_add(name: str) -> None:
    """Create (or replace) operator NAME's token and print it once."""
    click.echo(_broker().add_operator(name))


@group.group()
def pool() -> None:
    """Prefix pools and assignments."""


@pool.command("add")
@click.argument("prefix")
@click.option("--community", default="default", show_default=True)
def pool_add(prefix: str, community: str) -> None:
    click.echo(f"Added {_broker().add_pool(community, prefix)} to {community}.")


@pool.command("list")
def pool_list() -> None:
    broker = _broker()
    for community in broker.communities():
        click.echo(f"{community}: {', '.join(map(str, broker.pools(community)))}")
    for prefix, holder, hold_until in broker.assignments():
        held = f" (held until {hold_until:%Y-%m-%d %H:%M})" if hold_until else ""
        click.echo(f"  {prefix:24} {holder}{held}")


@pool.command("release")
@click.argument("prefix")
def pool_release(prefix: str) -> None:
    """Free PREFIX now (its gateway must be revoked already)."""
    _broker().release(prefix)
    click.echo(f"Released {prefix}.")


@pool.command("import")
@click.argument("listing", type=click.File())
@click.option("--community", default="default", show_default=True)
def pool_import(listing: TextIO, community: str) -> None:
    """Import existing assignments, one `NAME PREFIX` per line, all or none."""
    wanted = _assignment_lines(listing)
    try:
        _broker().reserve_all(community, wanted)
    except Net6Error as exc:
        raise Net6Error(f"{exc.detail} Nothing was imported.") from exc
    click.echo(f"Imported {len(wanted)} assignment(s).")


def _assignment_lines(listing: TextIO) -> list[tuple[str, str]]:
    """(prefix, holder) of each line, every line checked before any import."""
    wanted = []
    for number, line in enumerate(listing, 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            if len(fields) != 2:
                raise Net6Error(f"expected `NAME PREFIX`, got {line.strip()!r}")
            check_name(fields[0])
            prefixes.parse_prefix(fields[1])
        except Net6Error as exc:
            raise Net6Error(
                f"Line {number} of {listing.name}: {exc.detail.rstrip('.')}. "
                "Nothing was imported; fix the line and run it again."
            ) from exc
        wanted.append((fields[1], fields[0]))
    return wanted


@group.command("import-hosts")
@click.argument(
    "files", nargs=-1,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)  # fmt: skip
@click.option("--community", default="default", show_default=True)
def import_hosts(files: tuple[Path, ...], community: str) -> None:
    """Adopt gateways of an old tinc 1.0 setup from their host files."""
    broker = _broker()
    for path in files:
        gw = broker.import_host_file(community, path.name, path.read_text())
        click.echo(f"Imported {gw.name} with {gw.subnet}.")
    sync_server_hosts(broker)


@group.command("sync-hosts")
def sync_hosts() -> None:
    """Write all nodes' host files into the server folders on this host."""
    written = sync_server_hosts(_broker())
    click.echo(f"Wrote {len(written)} host files.")
