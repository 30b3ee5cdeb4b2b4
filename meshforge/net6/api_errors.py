"""The broker's one error shape, for its own errors and for the framework's.

Every error body is ``{"status", "title", "detail"}``, where ``detail`` is a
sentence a person can act on; a gateway prints it as it comes. Bodies over
MAX_BODY_BYTES are refused before they are read whole, so that nobody can
make the broker parse a huge key or status report.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meshforge.errors import MeshforgeError

# A join carries a 4 KiB key; a status report at most 10,000 routes.
MAX_BODY_BYTES = 1 << 20
TITLES = {404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}


def install(app: FastAPI) -> None:
    app.add_exception_handler(MeshforgeError, _meshforge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)


def error_body(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"status": status, "title": title, "detail": detail}


# Starlette hands every handler a plain Exception; each checks its own kind.


async def _meshforge_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MeshforgeError)
    return JSONResponse(exc.to_json(), status_code=exc.status)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(error) for error in exc.errors()]
    detail = (
        f"The request was not understood: {'; '.join(problems)}. Fix the "
        "request and send it again."
    )
    return JSONResponse(error_body(422, "Unprocessable Request", detail), 422)


def _problem(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "the body is not JSON"
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where or 'the body'}: {error.get('msg', 'invalid')}"


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    if exc.status_code == 404:
        detail = (
            f"{request.url.path} is not a page or API route of this LibreNet6 "
            "broker; see docs/net6-server.md for the routes."
        )
    title = TITLES.get(exc.status_code, "Error")
    return JSONResponse(error_body(exc.status_code, title, detail), exc.status_code)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to a body over max_bytes, by its length or while reading it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = (
            f"The request body is larger than the {self.max_bytes} bytes this "
            "broker accepts; a join or status report is far smaller, so check "
            "what is being sent."
        )
        body = json.dumps(error_body(413, TITLES[413], detail)).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0
