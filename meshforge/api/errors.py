"""The one error shape: ``{"status": <code>, "detail": "<sentence>", …}``."""

from __future__ import annotations

import math
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
        # auc prints this header when a build is refused for unknown packages;
        # proxies refuse large headers, so the whole list stays in the body.
        headers["X-Unknown-Package"] = _capped(missing)
    return JSONResponse(_jsonable(exc.to_json()), exc.status, headers)


def _capped(names: list[str], limit: int = 512) -> str:
    shown = ""
    for count, name in enumerate(names):
        candidate = f"{shown}, {name}" if shown else name
        if len(candidate) > limit:
            return f"{shown}, ... ({len(names) - count} more)"
        shown = candidate
    return shown


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {k: v for k, v in error.items() if k in {"type", "loc", "msg", "input"}}
        for error in exc.errors()
    ]
    raw = list(exc.errors())
    first = raw[0] if raw else {"loc": ("body",), "msg": "invalid", "type": ""}
    detail = _sentence(first)
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more problem(s) listed in `errors`.)"
    return error_response(422, detail, errors=_jsonable(errors, echo=True))


def _sentence(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "json_invalid":
        return (
            "The request body is not valid JSON "
            f"({error.get('ctx', {}).get('error', error['msg'])}). Send one JSON "
            "object with the header Content-Type: application/json."
        )
    if tuple(error["loc"]) == ("body",) and kind in {
        "dict_type",
        "model_attributes_type",
    }:
        return (
            "The request body is not a JSON object. Send one JSON object with "
            "the header Content-Type: application/json."
        )
    return (
        f"The request is not valid: {_where(tuple(error['loc']))}: {error['msg']}."
        " Fix that field and send the request again."
    )


MAX_ECHO = 200  # characters of a rejected value repeated in an error


def _jsonable(value: Any, echo: bool = False) -> Any:
    """A JSON-safe copy; with ``echo``, long rejected input is shortened."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, echo) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, echo) for v in (value[:20] if echo else value)]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and Infinity are not JSON
    if isinstance(value, str):
        short = echo and len(value) > MAX_ECHO
        return value[:MAX_ECHO] + "…" if short else value
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _jsonable(str(value), echo)


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    sentences = {
        404: "There is nothing at this address. See /docs for the API.",
        405: "This method is not allowed here. See /docs for the API.",
    }
    status = exc.status_code
    detail = sentences.get(status, str(exc.detail))
    if status == 400 and "parsing the body" in str(exc.detail):
        # FastAPI's own words for a body it could not decode at all.
        status, detail = (
            422,
            (
                "The request body could not be decoded. Send one UTF-8 JSON object "
                "with the header Content-Type: application/json."
            ),
        )
    return error_response(status, detail, headers=dict(exc.headers or {}))
