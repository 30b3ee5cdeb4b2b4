"""``meshforge net6 gateway``: join, update, status, leave."""

from __future__ import annotations

from pathlib import Path

import click

from meshforge.errors import Net6Error
from meshforge.net6 import daemons
from meshforge.net6 import gateway as agent
from meshforge.net6.status import collect

DIR_OPTION = click.option(
    "--dir", "directory", type=click.Path(path_type=Path),
    default=Path("/etc/librenet6"), show_default=True,
    help="Folder for this gateway's tinc/, babeld.conf and gateway.json.",
)  # fmt: skip


@click.group()
def gateway() -> None:
    """The gateway side of LibreNet6."""


@gateway.command()
@click.argument("url")
@DIR_OPTION
@click.option(
    "--lan",
    default="br-lan",
    show_default=True,
    help="LAN interface that gets the delegated subnet.",
)
@click.option(
    "--address",
    help="Public address where this gateway's tinc port "
    "is reachable (a port forward); omit when behind plain NAT.",
)
@click.option("--port", type=int, help="Public tinc port, if not 655.")
@click.option("--insecure", is_flag=True, help="Allow plain http to the broker.")
@click.option(
    "--start/--no-start",
    default=False,
    help="Start tincd and babeld now (else print how).",
)
def join(
    url: str,
    directory: Path,
    lan: str,
    address: str | None,
    port: int | None,
    insecure: bool,
    start: bool,
) -> None:
    """Join the mesh with the invitation URL an operator gave you."""
    options = agent.JoinOptions(url, directory, address, port, lan, insecure)
    state = agent.join(options)
    bundle = state.bundle
    click.echo(f"Joined as {bundle.name}; this gateway's subnet is {bundle.subnet}.")
    for warning in bundle.warnings:
        click.echo(f"warning: {warning}", err=True)
    if start:
        daemons.start(directory, bundle.interface)
        click.echo("tincd and babeld are running.")
        return
    click.echo("Start the daemons with:")
    click.echo("  " + " ".join(daemons.tincd_argv(directory)))
    click.echo("  " + " ".join(daemons.babeld_argv(directory)))


@gateway.command()
@click.argument("broker")
@click.argument("token")
@DIR_OPTION
@click.option("--insecure", is_flag=True, help="Allow plain http to the broker.")
def adopt(broker: str, token: str, directory: Path, insecure: bool) -> None:
    """Manage an imported tinc 1.0 gateway (token from `net6 gateway-token`)."""
    state = agent.adopt(directory, broker, token, insecure)
    click.echo(
        f"Adopted {state.bundle.name} with {state.bundle.subnet}; its "
        "files are now managed by meshforge."
    )


@gateway.command()
@DIR_OPTION
def update(directory: Path) -> None:
    """Fetch the current host files and config (run it from cron)."""
    state = agent.update(directory)
    click.echo(
        f"{len(state.bundle.files)} files up to date; peers: "
        f"{', '.join(state.bundle.peer_addresses) or 'none'}."
    )


@gateway.command()
@DIR_OPTION
@click.option("--report/--no-report", default=True, help="Send it to the broker.")
def status(directory: Path, report: bool) -> None:
    """Show the tinc link, learnt routes and pings; report them to the broker."""
    state = agent.GatewayState.load(directory)
    seen = collect(state.bundle)
    click.echo(
        f"tinc link {state.bundle.interface}: {'up' if seen.tinc_up else 'DOWN'}"
    )
    click.echo(f"routes learnt: {', '.join(seen.routes) or 'none'}")
    for label, ok in seen.pings.items():
        click.echo(f"ping {label}: {'ok' if ok else 'FAILED'}")
    warnings = seen.warnings
    if report:
        try:
            answer = agent.report(state, seen.report())
            warnings = answer.get("warnings", warnings)
        except Net6Error as exc:
            # The mesh may well work while the broker is down; say so, go on.
            click.echo(f"not reported to the broker: {exc.detail}", err=True)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    if not state.bundle.peer_addresses:
        click.echo("No other gateway is in the mesh yet.")
    elif not warnings:
        click.echo("Without the servers this gateway keeps its direct peers.")


@gateway.command()
@DIR_OPTION
def leave(directory: Path) -> None:
    """Leave the mesh: tell the broker, stop the daemons, remove the files."""
    stopped = agent.leave(directory)
    click.echo(f"Left the mesh; stopped: {', '.join(stopped) or 'nothing running'}.")
