"""``meshforge net6 init``: make a server's tinc node, babeld config and pools."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from ipaddress import IPv6Network
from pathlib import Path

from meshforge.errors import Net6Error
from meshforge.net6 import bundle, daemons, layout, prefixes, tinc
from meshforge.net6.sixtofour import SixToFour
from meshforge.net6.store import Broker

log = logging.getLogger(__name__)


@dataclass
class InitOptions:
    name: str
    community: str
    address: str
    directory: Path
    port: int = tinc.DEFAULT_PORT
    pools: list[str] = field(default_factory=list)
    link_prefix: str | None = None
    default_route: bool = False
    sixtofour: SixToFour | None = None


@dataclass
class InitResult:
    link_prefix: IPv6Network
    pools: list[IPv6Network]
    written: list[Path]
    operator_token: str | None


def init_server(broker: Broker, options: InitOptions) -> InitResult:
    tinc.check_name(options.name)
    tinc.check_address(options.address)
    broker.create_schema()
    pools = _ensure_pools(broker, options)
    link = _link_prefix(broker, options, pools)
    key = _keypair(options.directory, options.name)
    host = tinc.HostFile(
        name=options.name,
        public_key=key.public_pem,
        addresses=[f"{options.address} {options.port}"],
        subnets=[str(link)],
    )
    broker.register_server(
        options.name,
        options.community,
        host.render(),
        str(link),
        str(options.directory.resolve()),
    )
    files = bundle.render_server_files(
        options.name, link, bundle.mesh_view(broker), options.default_route
    )
    files[f"tinc/hosts/{options.name}"] = host.render()
    files["tinc/rsa_key.priv"] = key.private_pem
    if options.sixtofour is not None:
        files["uplink-6to4.sh"] = options.sixtofour.script()
    written = layout.write_tree(options.directory, files)
    written += sync_server_hosts(broker)
    log.info("server %s written to %s", options.name, options.directory)
    return InitResult(link, pools, written, _first_operator(broker))


def sync_server_hosts(broker: Broker) -> list[Path]:
    """Give every server folder on this host the host files of all nodes.

    A server's tincd refuses a gateway whose host file it lacks, so this runs
    after every join, revoke and import; tincd re-reads them on SIGHUP.
    """
    servers = broker.servers()
    hosts = {f"tinc/hosts/{s.name}": s.host_file for s in servers}
    for gw in broker.gateways():
        hosts[f"tinc/hosts/{gw.name}"] = bundle.gateway_host_file(gw).render()
    written: list[Path] = []
    for server in servers:
        folder = Path(server.directory) if server.directory else None
        if folder is None or not (folder / "tinc").is_dir():
            continue
        written += layout.write_tree(folder, hosts)
        layout.remove_stale_hosts(folder, {Path(name).name for name in hosts})
        if daemons.reload_tincd(folder):
            log.info("server %s reloaded with %d host files", server.name, len(hosts))
    return written


def _ensure_pools(broker: Broker, options: InitOptions) -> list[IPv6Network]:
    wanted = list(options.pools)
    if not wanted and options.sixtofour is not None:
        wanted.append(str(options.sixtofour.prefix))
    have = broker.pools(options.community)
    for text in wanted:
        if prefixes.parse_prefix(text) not in have:
            broker.add_pool(options.community, text)
    pools = broker.pools(options.community)
    if not pools:
        raise Net6Error(
            f"Community {options.community!r} has no prefix pool; pass --pool "
            "2001:db8:100::/48 (your delegated prefix) or --sixtofour-local."
        )
    return pools


def _link_prefix(
    broker: Broker, options: InitOptions, pools: list[IPv6Network]
) -> IPv6Network:
    """The server's /64 on the tunnel: given, kept from before, or a pool's first."""
    if options.link_prefix is not None:
        return prefixes.parse_prefix(options.link_prefix)
    known = broker.server(options.name)
    if known is not None and known.link_prefix is not None:
        return prefixes.parse_prefix(known.link_prefix)
    return next(pools[0].subnets(new_prefix=64))


def _keypair(directory: Path, name: str) -> tinc.KeyPair:
    """Keep an existing key on re-init, so gateways' copies stay valid."""
    private = directory / "tinc" / "rsa_key.priv"
    host = directory / "tinc" / "hosts" / name
    if private.exists() and host.exists():
        public = tinc.parse_host_file(name, host.read_text()).public_key
        return tinc.KeyPair(private_pem=private.read_text(), public_pem=public)
    return tinc.generate_keypair()


def _first_operator(broker: Broker) -> str | None:
    if broker.has_operators():
        return None
    return broker.add_operator("admin")
