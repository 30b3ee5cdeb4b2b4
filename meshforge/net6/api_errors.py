"""The broker's one error shape, for its own errors and for the framework's.

Every error body is ``{"status", "title", "detail"}``, where ``detail`` is a
sentence a person can act on; a gateway prints it as it comes. Bodies over
MAX_BODY_BYTES are refused before they are read whole, so that nobody can
make the broker parse a huge key or status report.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from meshforge.asgi import BodyLimit
from meshforge.errors import MeshforgeError

# A join carries a 4 KiB key; a status report at most 10,000 routes.
MAX_BODY_BYTES = 1 << 20
TITLES = {404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}
TOO_LARGE = (
    f"The request body is larger than the {MAX_BODY_BYTES} bytes this broker "
    "accepts; a join or status report is far smaller, so check what is being sent."
)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MeshforgeError, _meshforge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES, detail=TOO_LARGE)


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
