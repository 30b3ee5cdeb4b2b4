"""A short-lived memo of answers to repeated build requests for stored builds.

Clients poll and re-submit the same request body many times; once its build
is stored, the answer only changes when the build expires or upstream moves.
This ASGI layer remembers, for a few seconds, the exact answer the full
application gave to an exact request body, and replays it without parsing,
validation or a database round trip. Anything else passes straight through.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PATH = "/api/v1/build"
# As long as the catalog trusts its cache (upstream.catalog.CHECK_AFTER_S):
# a sync or an expiry is seen within this time, as on the full path. While one
# request checks a stale answer again, others may get it for up to twice that.
FRESH_S = 5.0
MAX_BODY = 64 * 1024
MAX_ENTRIES = 4096
MAX_ANSWER = 1024 * 1024
MAX_TOTAL = 64 * 1024 * 1024  # bytes of answers kept at once


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    stored_at: float
    refreshing: bool = False


class BuildAnswerMemo:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: OrderedDict[tuple[bytes, bytes], Answer] = OrderedDict()
        self.total = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_build_post(scope):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        if not complete:
            await self.app(scope, _replay(body, receive, more=True), send)
            return
        key = (_header(scope, b"origin"), body)
        answer = self.answers.get(key)
        if answer is not None and _still_usable(answer):
            await _send_answer(answer, send)
            return
        if answer is not None:
            # One request checks again; the others keep getting the answer
            # they got a moment ago instead of all taking the full path.
            answer.refreshing = True
        try:
            await self.app(scope, _replay(body, receive), self._recorder(key, send))
        finally:
            if answer is not None:
                answer.refreshing = False

    def _recorder(self, key: tuple[bytes, bytes], send: Send) -> Send:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._remember(key, start, b"".join(chunks))
            await send(message)

        return record

    def _remember(
        self, key: tuple[bytes, bytes], start: dict[str, Any], body: bytes
    ) -> None:
        headers = list(start.get("headers", []))
        done = (b"x-imagebuilder-status", b"done") in [
            (name.lower(), value) for name, value in headers
        ]
        self._forget(key)
        if start.get("status") != 200 or not done or len(body) > MAX_ANSWER:
            return
        self.answers[key] = Answer(200, headers, body, time.monotonic())
        self.total += len(body)
        while len(self.answers) > MAX_ENTRIES or self.total > MAX_TOTAL:
            self._forget(next(iter(self.answers)))

    def _forget(self, key: tuple[bytes, bytes]) -> None:
        old = self.answers.pop(key, None)
        if old is not None:
            self.total -= len(old.body)


def _still_usable(answer: Answer) -> bool:
    age = time.monotonic() - answer.stored_at
    return age < FRESH_S or (answer.refreshing and age < 2 * FRESH_S)


def _is_build_post(scope: Scope) -> bool:
    return bool(
        scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH
    )


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return b""


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body if it is small; else what was read and ``False``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > MAX_BODY:
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive, more: bool = False) -> Receive:
    """Hand the body read so far to the app, then the rest of the stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay


async def _send_answer(answer: Answer, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": answer.headers,
        }
    )
    await send({"type": "http.response.body", "body": answer.body})
