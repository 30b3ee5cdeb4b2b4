"""The reference: a bare ASGI app that answers every request with one JSON."""

from __future__ import annotations

from typing import Any

BODY = b'{"status":200,"detail":"done"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the request body, as a real handler must
        message = await receive()
        more = message.get("more_body", False)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
