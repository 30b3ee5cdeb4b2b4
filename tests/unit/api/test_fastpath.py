import asyncio

import pytest

from meshforge.api import fastpath
from meshforge.api.fastpath import BuildAnswerMemo


class Downstream:
    """An ASGI app that answers like the build route and counts its calls."""

    def __init__(self, status=200, step=b"done"):
        self.calls = 0
        self.bodies = []
        self.status = status
        self.step = step

    async def __call__(self, scope, receive, send):
        self.calls += 1
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        headers = [(b"x-imagebuilder-status", self.step)]
        await send(
            {"type": "http.response.start", "status": self.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b"answer %d" % self.calls})


def _call(app, body, path="/api/v1/build", method="POST", origin=b""):
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)] or [b""]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    headers = [(b"origin", origin)] if origin else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_done_answers_are_replayed_for_the_same_body():
    down = Downstream()
    memo = BuildAnswerMemo(down)
    assert _call(memo, b'{"a":1}') == (200, b"answer 1")
    assert _call(memo, b'{"a":1}') == (200, b"answer 1")
    assert down.calls == 1
    assert _call(memo, b'{"a":2}') == (200, b"answer 2")
    assert down.calls == 2


def test_origin_is_part_of_the_key():
    down = Downstream()
    memo = BuildAnswerMemo(down)
    _call(memo, b"{}")
    _call(memo, b"{}", origin=b"https://example.org")
    assert down.calls == 2


@pytest.mark.parametrize(
    "status,step", [(202, b"queued"), (500, b"failed"), (200, b"started")]
)
def test_unfinished_or_failed_answers_are_not_kept(status, step):
    down = Downstream(status, step)
    memo = BuildAnswerMemo(down)
    _call(memo, b"{}")
    _call(memo, b"{}")
    assert down.calls == 2


def test_answers_go_stale(monkeypatch):
    down = Downstream()
    memo = BuildAnswerMemo(down)
    clock = [1000.0]
    monkeypatch.setattr(fastpath.time, "monotonic", lambda: clock[0])
    _call(memo, b"{}")
    clock[0] += fastpath.FRESH_S + 0.1
    assert _call(memo, b"{}") == (200, b"answer 2")


def test_other_routes_and_large_bodies_pass_through_whole():
    down = Downstream()
    memo = BuildAnswerMemo(down)
    _call(memo, b"{}", path="/api/v1/stats", method="GET")
    _call(memo, b"{}", path="/api/v1/stats", method="GET")
    big = b"x" * (fastpath.MAX_BODY + 5000)
    _call(memo, big)
    _call(memo, big)
    assert down.calls == 4
    assert down.bodies[-1] == big


def test_one_request_refreshes_a_stale_answer_while_others_get_it(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(fastpath.time, "monotonic", lambda: clock[0])
    memo = None
    during = []

    class Slow(Downstream):
        async def __call__(self, scope, receive, send):
            if self.calls == 1:  # the refresh: another request arrives meanwhile
                during.append(_call_inner(memo))
            await super().__call__(scope, receive, send)

    down = Slow()
    memo = BuildAnswerMemo(down)
    _call(memo, b"{}")
    clock[0] += fastpath.FRESH_S + 0.1
    assert _call(memo, b"{}") == (200, b"answer 2")
    assert during == [(200, b"answer 1")]
    assert down.calls == 2


def _call_inner(app):
    """Like _call, from inside a running event loop's callback chain."""
    import threading

    result = []
    thread = threading.Thread(target=lambda: result.append(_call(app, b"{}")))
    thread.start()
    thread.join()
    return result[0]


def test_kept_answers_are_bounded_in_bytes(monkeypatch):
    monkeypatch.setattr(fastpath, "MAX_TOTAL", 3 * len(b"answer 1"))
    down = Downstream()
    memo = BuildAnswerMemo(down)
    for number in range(5):
        _call(memo, b'{"n":%d}' % number)
    assert len(memo.answers) == 3
    assert memo.total == sum(len(a.body) for a in memo.answers.values())
    _call(memo, b'{"n":0}')  # the oldest was dropped, so it is asked again
    assert down.calls == 6
