"""The one error shape: ``{"status": <code>, "detail": "<sentence>", …}``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from meshforge.errors import MeshforgeError


def error_response(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"status": status, "detail": detail, **extra}, status, headers)


async def on_meshforge_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MeshforgeError)
    headers = {}
    missing = exc.extra.get("missing")
    if exc.status == 422 and missing:
        # auc prints this header when a build is refused for unknown packages.
        headers["X-Unknown-Package"] = ", ".join(missing)
    return JSONResponse(exc.to_json(), exc.status, headers)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: v for k, v in error.items() if k in {"type", "loc", "msg", "input"}}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid"}
    detail = (
        f"The request is not valid: {_where(tuple(first['loc']))}: {first['msg']}."
        " Fix that field and send the request again."
    )
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more problem(s) listed in `errors`.)"
    return error_response(422, detail, errors=_jsonable(errors))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    sentences = {
        404: "There is nothing at this address. See /docs for the API.",
        405: "This method is not allowed here. See /docs for the API.",
    }
    detail = sentences.get(exc.status_code, str(exc.detail))
    return error_response(exc.status_code, detail, headers=dict(exc.headers or {}))
