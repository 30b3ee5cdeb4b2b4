"""The FastAPI application: asu's v1 wire protocol plus meshforge's extras."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from meshforge import __version__
from meshforge.api import builds, errors, stats, store, tree, upgrade
from meshforge.api.fastpath import BuildAnswerMemo
from meshforge.asgi import BodyLimit
from meshforge.config import Settings, get_settings
from meshforge.errors import MeshforgeError
from meshforge.runtime import Runtime

log = logging.getLogger(__name__)

REDIRECTS = {
    "/api/v1/latest": "/json/v1/latest.json",
    "/api/v1/overview": "/json/v1/overview.json",
    "/api/overview": "/json/v1/overview.json",
    "/overview": "/json/v1/overview.json",
}


class CollapseSlashes:
    """``//path`` answers 301 to ``/path``, as asu does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("//"):
            target = "/" + path.lstrip("/")
            query = scope.get("query_string", b"").decode()
            location = f"{target}?{query}" if query else target
            await RedirectResponse(location, 301)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _redirect(target: str) -> Any:
    def handler() -> RedirectResponse:
        return RedirectResponse(target, 301)

    return handler


def _root() -> dict[str, Any]:
    return {
        "status": 200,
        "detail": "meshforge: firmware images on demand (asu v1 API).",
        "version": __version__,
        "docs": "/docs",
        "overview": "/json/v1/overview.json",
    }


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="meshforge",
        version=__version__,
        description="Firmware images on demand, wire-compatible with openwrt/asu v1.",
    )
    app.state.runtime = rt or Runtime(settings)
    app.add_exception_handler(MeshforgeError, errors.on_meshforge_error)
    app.add_exception_handler(RequestValidationError, errors.on_validation_error)
    app.add_exception_handler(HTTPException, errors.on_http_error)
    for router in (
        builds.router,
        tree.router,
        stats.router,
        store.router,
        upgrade.router,
    ):
        app.include_router(router)
    app.add_api_route("/", _root, methods=["GET"], include_in_schema=False)
    for source, target in REDIRECTS.items():
        app.add_api_route(
            source, _redirect(target), methods=["GET"], include_in_schema=False
        )
    # The firmware selector and LuCI call from other origins; the CORS
    # middleware sits outermost so redirects and errors carry the headers too.
    app.add_middleware(CollapseSlashes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=[
            "X-Imagebuilder-Status",
            "X-Queue-Position",
            "Content-Length",
            "X-Unknown-Package",
        ],
    )
    # Outermost of the user middlewares: repeated requests for stored builds
    # are answered before routing, CORS included (it sits inside).
    app.add_middleware(BuildAnswerMemo)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    return app
