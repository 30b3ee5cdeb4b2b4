"""The gateway side: join with an invitation, fetch updates, report, leave.

A gateway's folder holds ``tinc/``, ``babeld.conf`` and ``gateway.json`` (the
broker URL and this gateway's credential, mode 0600).
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from meshforge.errors import InvitationError, Net6Error
from meshforge.net6 import daemons, layout, tinc
from meshforge.net6.schemas import BundleOut, JoinRequest, JoinResponse, StatusReport
from meshforge.net6.urls import Invitation, check_broker_url, parse_invitation

log = logging.getLogger(__name__)

STATE_FILE = "gateway.json"
HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class JoinOptions:
    url: str
    directory: Path
    address: str | None = None
    port: int | None = None
    lan: str = "br-lan"
    insecure: bool = False


@dataclass
class GatewayState:
    broker: str
    token: str
    bundle: BundleOut

    def save(self, directory: Path) -> None:
        data = {
            "broker": self.broker,
            "token": self.token,
            "bundle": self.bundle.model_dump(),
        }
        layout.write_tree(directory, {STATE_FILE: json.dumps(data, indent=2)})

    @classmethod
    def load(cls, directory: Path) -> GatewayState:
        path = directory / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise Net6Error(
                f"{path} does not exist: this folder has not joined a mesh, or "
                "has left it. Check --dir, or run `meshforge net6 gateway join "
                "URL --dir FOLDER` first."
            ) from exc
        return cls(data["broker"], data["token"], BundleOut(**data["bundle"]))


def join(options: JoinOptions) -> GatewayState:
    invitation = parse_invitation(options.url, options.insecure)
    _check_not_joined(options.directory)
    _join_request(invitation, options, "")  # refuse bad options before keygen
    keys = tinc.generate_keypair()
    request = _join_request(invitation, options, keys.public_pem)
    body = _call(
        "POST", f"{invitation.base_url}/api/v1/join", json=request.model_dump()
    )
    answer = JoinResponse(**body)
    state = GatewayState(invitation.base_url, answer.gateway_token, answer.bundle)
    layout.write_tree(options.directory, {"tinc/rsa_key.priv": keys.private_pem})
    apply_bundle(options.directory, answer.bundle)
    state.save(options.directory)
    log.info("joined as %s with %s", answer.bundle.name, answer.bundle.subnet)
    return state


def _check_not_joined(directory: Path) -> None:
    path = directory / STATE_FILE
    if path.exists():
        raise Net6Error(
            f"{path} already holds this folder's membership of a mesh; joining "
            "again would orphan it. Run `meshforge net6 gateway leave --dir "
            f"{directory}` first, or join into another --dir."
        )


def _join_request(
    invitation: Invitation, options: JoinOptions, public_key: str
) -> JoinRequest:
    """The body of the join call; bad options come back as plain sentences."""
    try:
        return JoinRequest(
            token=invitation.token,
            public_key=public_key,
            address=options.address,
            port=options.port,
            lan=options.lan,
            babeld_version=babeld_version() if public_key else None,
        )
    except ValidationError as exc:
        problems = [_option_problem(error) for error in exc.errors()]
        raise Net6Error(" ".join(problems)) from exc


def _option_problem(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    given = error.get("input")
    if field == "token":
        return (
            "The token at the end of the invitation URL is cut short or too "
            "long; copy the whole URL the operator gave you."
        )
    if field == "address":
        return (
            f"--address {given!r} is not an IP address or host name; give the "
            "public address where this gateway's tinc port is forwarded."
        )
    if field == "port":
        return f"--port {given!r} is not a port number; give 1 to 65535."
    if field == "lan":
        return (
            f"--lan {given!r} is not an interface name; give the LAN "
            "interface as `ip link` shows it, like br-lan."
        )
    return f"{field}: {error.get('msg')}."


def apply_bundle(directory: Path, bundle: BundleOut) -> bool:
    """Write a bundle; True when babeld.conf changed (babeld needs a restart)."""
    babel_path = directory / "babeld.conf"
    before = babel_path.read_text() if babel_path.exists() else None
    layout.write_tree(directory, bundle.files)
    keep = {Path(name).name for name in bundle.files if name.startswith("tinc/hosts/")}
    removed = layout.remove_stale_hosts(directory, keep)
    if removed:
        log.info("removed host files of nodes no longer in the mesh: %s", removed)
    return before != bundle.files.get("babeld.conf")


def adopt(
    directory: Path, broker: str, token: str, insecure: bool = False
) -> GatewayState:
    """Put a gateway of an older setup under meshforge, keeping its key.

    The operator imported its host file and issued ``token`` with
    ``meshforge net6 gateway-token``; the folder already holds its tinc key.
    """
    base = parse_invitation(f"{check_broker_url(broker)}/join/x", insecure).base_url
    if not (directory / "tinc" / "rsa_key.priv").exists():
        raise Net6Error(
            f"{directory}/tinc/rsa_key.priv is missing; adopt runs in the folder "
            "of an existing tinc node. A new gateway joins with an invitation."
        )
    body = _call("GET", f"{base}/api/v1/gateway/bundle", token=token)
    state = GatewayState(base, token, BundleOut(**body))
    apply_bundle(directory, state.bundle)
    state.save(directory)
    return state


def update(directory: Path) -> GatewayState:
    """Fetch the current bundle, write it, and make the daemons pick it up."""
    state = GatewayState.load(directory)
    body = _call("GET", f"{state.broker}/api/v1/gateway/bundle", token=state.token)
    state.bundle = BundleOut(**body)
    babel_changed = apply_bundle(directory, state.bundle)
    state.save(directory)
    if daemons.reload_tincd(directory) and babel_changed:
        daemons.restart_babeld(directory)
    return state


def report(state: GatewayState, status: StatusReport) -> dict[str, Any]:
    return _call(
        "POST",
        f"{state.broker}/api/v1/gateway/status",
        token=state.token,
        json=status.model_dump(),
    )


def leave(directory: Path) -> list[str]:
    """Tell the broker, stop the daemons, and remove this gateway's files.

    A gateway the operator already revoked still cleans up here: the broker
    then refuses its credential, which is the outcome leave asks for.
    """
    state = GatewayState.load(directory)
    try:
        _call("POST", f"{state.broker}/api/v1/gateway/leave", token=state.token)
    except InvitationError as exc:
        log.warning("the broker no longer knows this gateway: %s", exc.detail)
    stopped = daemons.stop(directory)
    for name in [*state.bundle.files, STATE_FILE, "tinc/rsa_key.priv"]:
        (directory / name).unlink(missing_ok=True)
    return stopped


def babeld_version() -> str | None:
    try:
        done = subprocess.run(["babeld", "-V"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).decode(errors="replace").strip()
    return text.removeprefix("babeld-") or None


def _call(
    method: str, url: str, token: str | None = None, json: dict[str, Any] | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, url, json=json, headers=headers, timeout=HTTP_TIMEOUT_S
        )
    except httpx.HTTPError as exc:
        raise Net6Error(
            f"The broker at {url} could not be reached ({exc}); check the URL "
            "and this gateway's IPv4 connectivity."
        ) from exc
    return _answer(url, response)


def _answer(url: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {}
    if response.is_success:
        return body
    detail = body.get("detail") or (
        f"The broker at {url} answered HTTP {response.status_code} without an "
        "explanation (a proxy in front of it, or a crash); try again later and "
        "tell the operator if it lasts."
    )
    error = InvitationError if response.status_code in (401, 403) else Net6Error
    raise error(str(detail))
