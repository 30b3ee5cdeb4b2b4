"""ASGI pieces shared by meshforge's HTTP apps (the image API, the broker).

:class:`BodyLimit` refuses request bodies larger than a server accepts (413),
by their declared length or while they are read, so that nobody can make a
server parse a huge body.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TooLarge(Exception):
    pass


class BodyLimit:
    """Answers 413 before or while reading a body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, detail: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = detail or (
            f"The request body is larger than this server accepts "
            f"({max_bytes} bytes). Send a smaller request."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._counting(receive), tracked_send)
        except TooLarge:
            if not started:
                await self._refuse(send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise TooLarge
            return message

        return counted

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"status": 413, "title": "Payload Too Large", "detail": self.detail}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"access-control-allow-origin", b"*"),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
