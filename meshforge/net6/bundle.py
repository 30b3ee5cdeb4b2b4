"""What a gateway receives on joining and on each fetch: its whole config.

Every gateway gets the host files of the servers and of every other live
gateway, and ConnectTo lines for the servers and for each gateway that
declared a reachable address. With tinc 1.0 that is what keeps two gateways
talking when the servers are down: a meta connection that avoids them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv6Network

from meshforge.net6 import babel, tinc
from meshforge.net6.prefixes import host_address, parse_prefix
from meshforge.net6.store import Broker
from meshforge.net6.views import GatewayView, ServerView

DEFAULT_LAN = "br-lan"


@dataclass(frozen=True)
class MeshView:
    """What the broker knows when it renders one gateway's bundle."""

    netname: str
    interface: str
    hello_interval: float
    hmac_key: str
    servers: list[ServerView]
    gateways: list[GatewayView]


@dataclass
class Bundle:
    name: str
    subnet: str
    files: dict[str, str]
    connect_to: list[str]
    server_addresses: list[str]
    peer_addresses: dict[str, str]
    survives_server_outage: bool
    warnings: list[str] = field(default_factory=list)


def outage_risk(me: GatewayView, gateways: list[GatewayView]) -> str | None:
    """Why me would be cut off from all peers if every server went down.

    A gateway keeps a meta path past the servers if it is reachable itself
    (every other gateway dials it) or if some other gateway is (it dials that
    one, and the rest dial it too).
    """
    peers = [gw for gw in gateways if gw.name != me.name]
    if not peers or me.address or any(gw.address for gw in peers):
        return None
    return (
        f"Gateway {me.name} would be cut off from all other gateways if the "
        "servers went down: it and all its peers sit behind NAT with no "
        "reachable address. Forward the tinc port (655 TCP and UDP) on one "
        "gateway's NAT and re-join it with --address."
    )


def render_gateway_bundle(me: GatewayView, mesh: MeshView) -> Bundle:
    subnet = parse_prefix(me.subnet)
    peers = [gw for gw in mesh.gateways if gw.name != me.name]
    connect_to = [server.name for server in mesh.servers]
    connect_to += [gw.name for gw in peers if gw.address]
    files = {
        "tinc/tinc.conf": tinc.render_tinc_conf(me.name, mesh.interface, connect_to)
    }
    files.update(_host_files(me, mesh.servers, peers))
    files.update(_gateway_scripts(subnet, me.lan or DEFAULT_LAN))
    files["babeld.conf"] = _gateway_babel(me, mesh, subnet)
    risk = outage_risk(me, mesh.gateways)
    return Bundle(
        name=me.name,
        subnet=me.subnet,
        files=files,
        connect_to=connect_to,
        server_addresses=[_server_address(s) for s in mesh.servers if s.link_prefix],
        peer_addresses={
            gw.name: str(host_address(parse_prefix(gw.subnet))) for gw in peers
        },
        survives_server_outage=risk is None,
        warnings=[risk] if risk else [],
    )


def gateway_host_file(gw: GatewayView) -> tinc.HostFile:
    addresses = []
    if gw.address:
        addresses.append(f"{gw.address} {gw.port or tinc.DEFAULT_PORT}")
    return tinc.HostFile(
        name=gw.name,
        public_key=gw.public_key,
        addresses=addresses,
        subnets=[gw.subnet],
    )


def _host_files(
    me: GatewayView, servers: list[ServerView], peers: list[GatewayView]
) -> dict[str, str]:
    files = {f"tinc/hosts/{s.name}": s.host_file for s in servers}
    for gw in [me, *peers]:
        files[f"tinc/hosts/{gw.name}"] = gateway_host_file(gw).render()
    return files


def _gateway_scripts(subnet: IPv6Network, lan: str) -> dict[str, str]:
    own = host_address(subnet)
    lan_net = next(subnet.subnets(new_prefix=64))
    up = [
        f"ip -6 addr replace {own}/{lan_net.prefixlen} dev {lan}",
        f"ip -6 route replace {subnet} dev {lan} proto static",
    ]
    down = [
        f"ip -6 route del {subnet} dev {lan} proto static",
        f"ip -6 addr del {own}/{lan_net.prefixlen} dev {lan}",
    ]
    return {
        "tinc/tinc-up": tinc.render_tinc_up(up),
        "tinc/tinc-down": tinc.render_tinc_down(down),
    }


def _gateway_babel(me: GatewayView, mesh: MeshView, subnet: IPv6Network) -> str:
    key = mesh.hmac_key if babel.supports_hmac(me.babeld_version) else None
    options = babel.BabelOptions(mesh.interface, mesh.hello_interval, key)
    return babel.render_gateway(options, subnet)


def _server_address(server: ServerView) -> str:
    return str(host_address(parse_prefix(server.link_prefix or "")))


def render_server_files(
    name: str, link: IPv6Network, mesh: MeshView, default_route: bool
) -> dict[str, str]:
    """tinc.conf, scripts and babeld.conf of a server; host file apart."""
    own = host_address(link)
    up = [
        f'ip -6 addr replace {own}/128 dev "$INTERFACE"',
        f'ip -6 route replace {link} dev "$INTERFACE" proto static',
    ]
    down = [f'ip -6 addr del {own}/128 dev "$INTERFACE"']
    other_servers = [s.name for s in mesh.servers if s.name != name]
    options = babel.BabelOptions(mesh.interface, mesh.hello_interval, mesh.hmac_key)
    return {
        "tinc/tinc.conf": tinc.render_tinc_conf(name, mesh.interface, other_servers),
        "tinc/tinc-up": tinc.render_tinc_up(up),
        "tinc/tinc-down": tinc.render_tinc_down(down),
        "babeld.conf": babel.render_server(options, link, default_route),
    }


def mesh_view(broker: Broker) -> MeshView:
    settings = broker.settings
    return MeshView(
        netname=settings.netname,
        interface=settings.interface,
        hello_interval=settings.hello_interval,
        hmac_key=broker.hmac_key(),
        servers=broker.servers(),
        gateways=broker.gateways(),
    )
