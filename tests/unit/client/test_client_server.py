"""The server conversation: back-off on 529, 4xx sentences, polling."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from meshforge.client.server import (
    BuildStatus,
    RetryPolicy,
    Server,
    error_sentence,
    url_problem,
)
from meshforge.errors import RemoteBuildFailed, RequestRejected, ServerUnavailable

HASH = "ab" * 32
OVERLOAD = {
    "status": 529,
    "title": "Server overloaded",
    "detail": "server overload, queue contains too many build requests: 201",
}


Handler = Callable[[httpx.Request], httpx.Response]


def _server(
    routes: dict[str, Handler], sleeps: list[float], policy: RetryPolicy | None = None
) -> Server:
    """A server whose paths are answered in-process by ``routes``."""

    def handle(request: httpx.Request) -> httpx.Response:
        handler = routes.get(request.url.path)
        if handler is None:
            return httpx.Response(404, json={"detail": "not found"})
        return handler(request)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return Server("http://t", http=http, policy=policy, sleep=sleeps.append)


def _sequence(*responses: httpx.Response) -> Handler:
    queue = list(responses)

    def answer(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return answer


def _done() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "status": 200,
            "detail": "done",
            "request_hash": HASH,
            "bin_dir": HASH,
            "images": [],
        },
    )


def test_policy_delays_double_and_stay_in_budget() -> None:
    policy = RetryPolicy(first_delay=1, factor=2, max_delay=8, give_up_after=30)
    assert policy.delays() == [1, 2, 4, 8, 8]
    assert sum(policy.delays()) <= 30


def test_529_is_retried_with_back_off_then_succeeds() -> None:
    sleeps: list[float] = []
    post = _sequence(
        httpx.Response(529, json=OVERLOAD), httpx.Response(529, json=OVERLOAD), _done()
    )
    state = _server({"/api/v1/build": post}, sleeps).submit({"version": "x"})
    assert state.done and state.request_hash == HASH
    assert sleeps == [1.0, 2.0]


def test_retry_after_header_is_honoured_within_bounds() -> None:
    sleeps: list[float] = []
    post = _sequence(
        httpx.Response(529, json=OVERLOAD, headers={"Retry-After": "3"}),
        httpx.Response(529, json=OVERLOAD, headers={"Retry-After": "999"}),
        _done(),
    )
    _server({"/api/v1/build": post}, sleeps).submit({})
    assert sleeps == [3.0, 8.0]


def test_persistent_529_gives_up_with_exit_13() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(first_delay=1, give_up_after=3)
    server = _server(
        {"/api/v1/build": lambda r: httpx.Response(529, json=OVERLOAD)}, sleeps, policy
    )
    with pytest.raises(ServerUnavailable, match="too many build requests") as info:
        server.submit({})
    assert info.value.exit_code == 13
    assert sleeps == [1.0, 2.0]


def test_connection_errors_after_an_answer_are_retried() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] in (2, 3):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"branches": {}})

    server = _server({"/json/v1/overview.json": flaky}, sleeps)
    assert server.overview() == {"branches": {}}
    assert server.overview() == {"branches": {}}
    assert len(sleeps) == 2


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_refused_before_any_answer_fails_fast(
    error: type[httpx.ConnectError | httpx.ConnectTimeout],
) -> None:
    sleeps: list[float] = []

    def refused(request: httpx.Request) -> httpx.Response:
        raise error("Connection refused", request=request)

    server = _server({"/json/v1/overview.json": refused}, sleeps)
    with pytest.raises(ServerUnavailable, match="Cannot connect to") as info:
        server.overview()
    assert info.value.exit_code == 13
    assert sleeps == []


def test_real_refused_port_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    server = Server(f"http://127.0.0.1:{port}", sleep=sleeps.append)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="Cannot connect"):
        server.overview()
    assert time.monotonic() - started < 5
    assert sleeps == []


@pytest.mark.parametrize(
    "url",
    ["h", "ftp://h", "http:///", "http://[::1", "http://h:1:2", "http://h:0"],
)
def test_malformed_server_urls_have_a_problem(url: str) -> None:
    assert url_problem(url)


def test_good_server_url_has_no_problem() -> None:
    assert url_problem("https://sysupgrade.example.org/") is None
    assert url_problem("http://[::1]:8000") is None


@pytest.mark.parametrize("url", ["ftp://mirror/x.json", "http://[::1/x.json"])
def test_unusable_absolute_url_is_not_retried(url: str) -> None:
    sleeps: list[float] = []
    server = Server("http://127.0.0.1:9", sleep=sleeps.append)
    with pytest.raises(ServerUnavailable, match="not a usable URL"):
        server.get_json(url)
    assert sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "sentence"),
    [
        (
            400,
            {"status": 400, "detail": "Unsupported profile: foo."},
            "Unsupported profile",
        ),
        (
            422,
            {
                "detail": [
                    {"loc": ["body", "packages"], "msg": "Input should be a valid list"}
                ]
            },
            "body.packages: Input should be a valid list",
        ),
    ],
)
def test_4xx_becomes_request_rejected(
    status: int, body: dict[str, Any], sentence: str
) -> None:
    server = _server({"/api/v1/build": lambda r: httpx.Response(status, json=body)}, [])
    with pytest.raises(RequestRejected) as info:
        server.submit({})
    assert sentence in info.value.detail
    assert f"({status})" in info.value.detail
    assert info.value.exit_code == 12


def test_500_is_a_failed_build() -> None:
    body = {
        "status": 500,
        "detail": "Error: Impossible package selection: missing (vim)",
        "request_hash": HASH,
        "stderr": "opkg: cannot find vim",
    }
    server = _server({"/api/v1/build": lambda r: httpx.Response(500, json=body)}, [])
    with pytest.raises(RemoteBuildFailed, match="Impossible package selection") as info:
        server.submit({})
    assert info.value.exit_code == 14
    assert info.value.extra["request_hash"] == HASH


def test_polling_reports_queue_and_steps_then_result() -> None:
    sleeps: list[float] = []
    queued = httpx.Response(
        202,
        json={
            "status": 202,
            "detail": "queued",
            "request_hash": HASH,
            "queue_position": 2,
        },
        headers={"X-Queue-Position": "2", "X-Imagebuilder-Status": "queued"},
    )
    heads = _sequence(
        httpx.Response(
            202, headers={"X-Queue-Position": "1", "X-Imagebuilder-Status": "queued"}
        ),
        httpx.Response(
            202,
            headers={
                "X-Queue-Position": "0",
                "X-Imagebuilder-Status": "building_image",
            },
        ),
        httpx.Response(200),
    )

    def status(request: httpx.Request) -> httpx.Response:
        return heads(request) if request.method == "HEAD" else _done()

    seen: list[BuildStatus] = []
    server = _server(
        {"/api/v1/build": lambda r: queued, f"/api/v1/build/{HASH}": status}, sleeps
    )
    result = server.build({}, seen.append)
    assert result.done and result.body["bin_dir"] == HASH
    assert [(s.queue_position, s.imagebuilder_status) for s in seen[:3]] == [
        (2, "queued"),
        (1, "queued"),
        (0, "building_image"),
    ]
    assert sleeps[0] == 0.5 and set(sleeps[1:]) == {2.0}


def test_head_405_switches_to_get_for_good() -> None:
    methods: list[str] = []
    states = _sequence(
        httpx.Response(
            202,
            json={
                "detail": "started",
                "request_hash": HASH,
                "imagebuilder_status": "validate_manifest",
            },
        ),
        _done(),
    )

    def status(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "HEAD":
            return httpx.Response(405)
        return states(request)

    queued = httpx.Response(202, json={"detail": "queued", "request_hash": HASH})
    server = _server(
        {"/api/v1/build": lambda r: queued, f"/api/v1/build/{HASH}": status}, []
    )
    assert server.build({}).done
    assert methods == ["HEAD", "GET", "GET"]


def test_build_timeout_is_server_unavailable() -> None:
    queued = httpx.Response(202, json={"detail": "queued", "request_hash": HASH})
    server = _server(
        {
            "/api/v1/build": lambda r: queued,
            f"/api/v1/build/{HASH}": lambda r: httpx.Response(202),
        },
        [],
        RetryPolicy(build_timeout=0),
    )
    with pytest.raises(ServerUnavailable, match="did not finish"):
        server.build({})


def test_error_sentence_of_plain_text() -> None:
    response = httpx.Response(502, text="Bad gateway from proxy")
    assert error_sentence(response) == "Bad gateway from proxy"


def test_refused_connection_while_polling_is_retried() -> None:
    sleeps: list[float] = []
    calls = {"n": 0}
    queued = httpx.Response(202, json={"detail": "queued", "request_hash": HASH})

    def status(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ConnectError("Connection refused", request=request)
        return _done()

    server = _server(
        {"/api/v1/build": lambda r: queued, f"/api/v1/build/{HASH}": status}, sleeps
    )
    assert server.build({}).done
    # The first poll wait, then two back-off steps for the refused polls.
    assert sleeps == [0.5, 1.0, 2.0]
