"""The LibreNet6 broker over HTTP: gateway join and fetch, operator API, admin page.

TLS is the reverse proxy's job; the broker itself speaks plain HTTP and is
meant to listen on loopback or a private address behind that proxy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Header, Request
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.templating import Jinja2Templates

from meshforge.errors import MeshforgeError, Net6Unauthorized
from meshforge.net6 import api_errors, bundle, overview, prefixes, tokens
from meshforge.net6.schemas import (
    BundleOut,
    GatewayOut,
    InvitationIn,
    InvitationOut,
    JoinRequest,
    JoinResponse,
    StatusAnswer,
    StatusReport,
)
from meshforge.net6.server import sync_server_hosts
from meshforge.net6.settings import Net6Settings
from meshforge.net6.store import Broker
from meshforge.net6.urls import check_broker_url
from meshforge.net6.views import GatewayView

log = logging.getLogger(__name__)

COOKIE = "mf6_operator"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def create_app(
    settings: Net6Settings | None = None, broker: Broker | None = None
) -> FastAPI:
    """Build the broker app; the schema is created if missing."""
    broker = broker or Broker(settings or Net6Settings())
    broker.create_schema()
    app = FastAPI(title="meshforge LibreNet6 broker")
    app.state.broker = broker
    api_errors.install(app)
    _gateway_routes(app)
    _operator_routes(app)
    _admin_routes(app)
    return app


def _broker(request: Request) -> Broker:
    broker: Broker = request.app.state.broker
    return broker


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Net6Unauthorized("Send the token as `Authorization: Bearer <token>`.")
    return token.strip()


def _gateway(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> GatewayView:
    return _broker(request).gateway_for(_bearer(authorization))


def _operator(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    token = request.cookies.get(COOKIE) if authorization is None else None
    name = _broker(request).operator_for(token or _bearer(authorization))
    if name is None:
        raise Net6Unauthorized(
            "This operator token is not known; create one with "
            "`meshforge net6 operator add NAME` on the server."
        )
    return name


def bundle_out(broker: Broker, me: GatewayView) -> BundleOut:
    rendered = bundle.render_gateway_bundle(me, bundle.mesh_view(broker))
    return BundleOut(
        name=rendered.name,
        subnet=rendered.subnet,
        netname=broker.settings.netname,
        interface=broker.settings.interface,
        files=rendered.files,
        connect_to=rendered.connect_to,
        server_addresses=rendered.server_addresses,
        peer_addresses=rendered.peer_addresses,
        survives_server_outage=rendered.survives_server_outage,
        warnings=rendered.warnings,
    )


def _gateway_routes(app: FastAPI) -> None:
    @app.post("/api/v1/join")
    def join(body: JoinRequest, request: Request) -> JoinResponse:
        broker = _broker(request)
        redeemed = broker.redeem(
            body.token,
            body.public_key,
            body.address,
            body.port,
            body.lan,
            body.babeld_version,
        )
        sync_server_hosts(broker)
        return JoinResponse(
            gateway_token=redeemed.token, bundle=bundle_out(broker, redeemed.gateway)
        )

    @app.get("/join/{token}", response_class=PlainTextResponse)
    def invitation_page(token: str, request: Request) -> str:
        """Someone opened an invitation in a browser: say what it is for."""
        return (
            "This is a LibreNet6 invitation. It is not used in a browser: on "
            "the gateway, run\n\n"
            "    meshforge net6 gateway join "
            f"{invitation_url(request, _broker(request), token)}\n\n"
            "(see docs/net6-gateway.md). Opening this page did not use it.\n"
        )

    @app.get("/api/v1/gateway/bundle")
    def fetch(
        request: Request, me: Annotated[GatewayView, Depends(_gateway)]
    ) -> BundleOut:
        return bundle_out(_broker(request), me)

    @app.post("/api/v1/gateway/status")
    def status(
        body: StatusReport,
        request: Request,
        me: Annotated[GatewayView, Depends(_gateway)],
    ) -> StatusAnswer:
        broker = _broker(request)
        broker.report_status(me.name, body.model_dump())
        risk = bundle.outage_risk(me, broker.gateways())
        return StatusAnswer(
            survives_server_outage=risk is None, warnings=[risk] if risk else []
        )

    @app.post("/api/v1/gateway/leave")
    def leave(
        request: Request, me: Annotated[GatewayView, Depends(_gateway)]
    ) -> dict[str, str]:
        _broker(request).revoke(me.name)
        sync_server_hosts(_broker(request))
        return {"left": me.name}


def _operator_routes(app: FastAPI) -> None:
    @app.get("/api/v1/gateways")
    def gateways(
        request: Request, _: Annotated[str, Depends(_operator)]
    ) -> list[GatewayOut]:
        return overview.gateway_overview(_broker(request))

    @app.post("/api/v1/invitations")
    def invite(
        body: InvitationIn, request: Request, _: Annotated[str, Depends(_operator)]
    ) -> InvitationOut:
        return _invite(request, body)

    @app.post("/api/v1/gateways/{name}/revoke")
    def revoke(
        name: str, request: Request, _: Annotated[str, Depends(_operator)]
    ) -> dict[str, str | int | None]:
        gw, voided = _broker(request).revoke_name(name)
        sync_server_hosts(_broker(request))
        return {
            "revoked": name,
            "subnet": gw.subnet if gw else None,
            "invitations_voided": voided,
        }


def _invite(request: Request, body: InvitationIn) -> InvitationOut:
    broker = _broker(request)
    expires = tokens.parse_duration(
        body.expires or broker.settings.default_invite_expiry
    )
    community = overview.pick_community(broker, body.community)
    made = broker.invite(body.name, prefixes.parse_size(body.size), community, expires)
    return InvitationOut(
        name=made.name,
        size=made.size,
        url=invitation_url(request, broker, made.token),
        token=made.token,
        expires_at=made.expires_at,
    )


def invitation_url(request: Request, broker: Broker, token: str) -> str:
    public = broker.settings.public_url
    base = check_broker_url(public) if public else str(request.base_url)
    return f"{base.rstrip('/')}/join/{token}"


def _admin_routes(app: FastAPI) -> None:
    @app.get("/admin", response_class=HTMLResponse)
    def admin(request: Request) -> Response:
        if _broker(request).operator_for(request.cookies.get(COOKIE, "")) is None:
            return TEMPLATES.TemplateResponse(request, "net6_login.html", {})
        return _admin_page(request, None)

    @app.post("/admin/login")
    def login(request: Request, token: Annotated[str, Form()]) -> Response:
        if _broker(request).operator_for(token) is None:
            context = {
                "error": "That operator token is not known; make one on the "
                "server with `meshforge net6 operator add NAME`."
            }
            return TEMPLATES.TemplateResponse(request, "net6_login.html", context, 401)
        response = RedirectResponse("/admin", status_code=303)
        secure = request.url.scheme == "https"
        # SameSite=Strict keeps other sites from posting forms with this cookie.
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=secure
        )
        return response

    @app.post("/admin/logout")
    def logout() -> Response:
        response = RedirectResponse("/admin", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.post("/admin/invite", response_class=HTMLResponse)
    def admin_invite(
        request: Request,
        _: Annotated[str, Depends(_operator)],
        name: Annotated[str, Form()],
        size: Annotated[str, Form()] = "/56",
        expires: Annotated[str, Form()] = "1d",
        community: Annotated[str | None, Form()] = None,
    ) -> Response:
        wanted = InvitationIn(
            name=name, size=size, expires=expires, community=community
        )
        try:
            made = _invite(request, wanted)
        except MeshforgeError as exc:
            # A person filled in the form: show the reason on the page.
            return _admin_page(request, None, exc.detail, exc.status)
        return _admin_page(request, made)

    @app.post("/admin/revoke/{name}")
    def admin_revoke(
        name: str, request: Request, _: Annotated[str, Depends(_operator)]
    ) -> Response:
        try:
            _broker(request).revoke_name(name)
        except MeshforgeError as exc:
            return _admin_page(request, None, exc.detail, exc.status)
        sync_server_hosts(_broker(request))
        return RedirectResponse("/admin", status_code=303)


def _admin_page(
    request: Request,
    made: InvitationOut | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    broker = _broker(request)
    context = {
        "gateways": overview.gateway_overview(broker),
        "servers": broker.servers(),
        "pools": broker.assignments(),
        "invitation": made,
        "error": error,
        "communities": broker.communities(),
    }
    return TEMPLATES.TemplateResponse(request, "net6_admin.html", context, status)
