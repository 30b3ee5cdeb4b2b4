"""Talking to an ASU-compatible server (DOMAIN §1), and to its download site.

One :class:`Server` wraps an ``httpx.Client``. Overload (529, 503) and
dropped connections are retried with exponential back-off inside a time
budget; 4xx answers become :class:`RequestRejected` carrying the server's
sentence; a failed build becomes :class:`RemoteBuildFailed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from meshforge import __version__
from meshforge.errors import RemoteBuildFailed, RequestRejected, ServerUnavailable

log = logging.getLogger(__name__)

CLIENT_NAME = f"meshforge/{__version__}"
RETRY_STATUSES = (503, 529)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait, and for how long in total.

    The first poll comes after 500 ms and then every 2 s, as owut does;
    overload back-off doubles from 1 s up to a minute.
    """

    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 60.0
    give_up_after: float = 600.0
    first_poll: float = 0.5
    poll_interval: float = 2.0
    build_timeout: float = 1800.0

    def delays(self) -> list[float]:
        """The back-off delays whose sum stays within ``give_up_after``."""
        delays: list[float] = []
        delay, total = self.first_delay, 0.0
        while total + delay <= self.give_up_after:
            delays.append(delay)
            total += delay
            delay = min(delay * self.factor, self.max_delay)
        return delays


@dataclass(frozen=True)
class BuildStatus:
    """One answer about a build: HTTP code, state and progress."""

    http_status: int
    detail: str
    request_hash: str
    queue_position: int
    imagebuilder_status: str
    body: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def pending(self) -> bool:
        return self.http_status == 202

    @property
    def done(self) -> bool:
        return self.http_status == 200


ProgressCallback = Callable[[BuildStatus], None]


def error_sentence(response: httpx.Response) -> str:
    """The server's ``detail`` as one sentence without its final period."""
    try:
        body = response.json()
    except ValueError:
        return (response.text.strip()[:300] or response.reason_phrase).rstrip(".")
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(_pydantic_item(item) for item in detail)
    return str(detail or response.reason_phrase).rstrip(".")


def _pydantic_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", []))
    return f"{where}: {item.get('msg', '')}".strip(": ")


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a server's base URL; ``None`` if it can.

    Checked before any request so that a typo never reaches a DNS lookup
    or the retry loop.
    """
    if any(char.isspace() or ord(char) < 32 for char in url):
        return "it contains spaces or control characters"
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except httpx.InvalidURL as exc:
        return f"it cannot be parsed ({exc})"
    if parsed.scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    if not parsed.host:
        return "it names no host"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is outside 1-65535"
    return None


class Server:
    """A build server at ``base_url``; ``sleep`` is injectable for tests."""

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or httpx.Client(
            timeout=60.0,
            follow_redirects=True,
            headers={"User-Agent": CLIENT_NAME},
        )
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        # Until the server has answered once, a refused connection means a
        # wrong URL or a server that is down: waiting minutes helps nobody.
        self.answered = False

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # --- metadata ------------------------------------------------------

    def get_json(self, url: str, *, patient: bool = True) -> dict[str, Any]:
        """GET a JSON object (absolute URL or server path).

        ``patient=False`` tries once: for optional sources with a fallback.
        """
        full = url if "://" in url else self.url(url)
        response = self._send("GET", full, patient=patient)
        if response.status_code >= 400:
            raise self._http_error(response, f"GET {full}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ServerUnavailable(
                f"{full} did not return JSON. Check that --server points at "
                "a meshforge or ASU server."
            ) from exc
        if not isinstance(body, dict):
            raise ServerUnavailable(f"{full} returned JSON that is not an object.")
        return body

    def overview(self) -> dict[str, Any]:
        return self.get_json("/json/v1/overview.json")

    def upgrade_check(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The server's own upgrade check, if it offers one.

        Returns its answer, ``{}`` when it says nothing is newer (204), and
        ``None`` when the server has no such endpoint (plain asu).
        """
        response = self._send("POST", self.url("/api/v1/upgrade-check"), json=body)
        if response.status_code in (404, 405, 501):
            return None
        if response.status_code == 204:
            return {}
        if response.status_code != 200:
            log.info(
                "upgrade check answered %s; deciding locally", response.status_code
            )
            return None
        try:
            return _json_object(response)
        except ServerUnavailable as exc:
            log.info("upgrade check unusable (%s); deciding locally", exc.detail)
            return None

    def package_index(self, path: str, target: str, arch: str) -> dict[str, str]:
        """Versions of target, kmod and feed packages of one release.

        The feed index is a flat ``{name: version}``; the target index wraps
        its map in ``{"architecture", "packages"}`` (DOMAIN §1.1, §1.8).
        """
        packages: dict[str, str] = {}
        for url in (
            f"/json/v1/{path}/packages/{arch}-index.json",
            f"/json/v1/{path}/targets/{target}/index.json",
        ):
            index = self.get_json(url)
            inner = index.get("packages")
            found = inner if isinstance(inner, dict) else index
            if not all(isinstance(v, str) for v in found.values()):
                raise ServerUnavailable(
                    f"The package index {url} has versions that are not text. "
                    "Tell the operator of the server."
                )
            packages.update(found)
        return packages

    # --- builds --------------------------------------------------------

    def submit(self, body: dict[str, Any]) -> BuildStatus:
        """POST a build request; overload is retried, other errors raised."""
        response = self._send("POST", self.url("/api/v1/build"), json=body)
        return self._build_status(response)

    def status(self, request_hash: str, *, head: bool = True) -> BuildStatus:
        """The state of one build: HEAD for progress, GET for the result."""
        url = self.url(f"/api/v1/build/{request_hash}")
        response = self._send("HEAD" if head else "GET", url)
        if head and response.status_code == 405:
            # Some servers lack HEAD; owut then switches to GET for good.
            raise _HeadUnsupported
        if head and response.status_code == 202:
            return _status_from_headers(response, request_hash)
        if head:
            return self.status(request_hash, head=False)
        return self._build_status(response)

    def build(
        self, body: dict[str, Any], on_progress: ProgressCallback | None = None
    ) -> BuildStatus:
        """Submit ``body`` and poll until the image is built."""
        state = self.submit(body)
        deadline = time.monotonic() + self.policy.build_timeout
        delay, use_head = self.policy.first_poll, True
        while state.pending:
            if on_progress:
                on_progress(state)
            if time.monotonic() > deadline:
                raise ServerUnavailable(
                    f"The build {state.request_hash} did not finish within "
                    f"{self.policy.build_timeout:.0f} s. Run the same request "
                    "later: the server keeps building and caches the result."
                )
            self.sleep(delay)
            delay = self.policy.poll_interval
            try:
                state = self.status(state.request_hash, head=use_head)
            except _HeadUnsupported:
                use_head = False
                state = self.status(state.request_hash, head=False)
        if on_progress:
            on_progress(state)
        return state

    def _build_status(self, response: httpx.Response) -> BuildStatus:
        if response.status_code in (200, 202):
            return _status_from_body(response)
        if response.status_code == 500:
            raise _build_failure(response)
        raise self._http_error(response, "the build request")

    # --- transport -----------------------------------------------------

    def _send(
        self, method: str, url: str, *, patient: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One request, retried on overload and on dropped connections."""
        delays = self.policy.delays() if patient else []
        for attempt in range(len(delays) + 1):
            response: httpx.Response | None = None
            try:
                response = self._request_once(method, url, **kwargs)
            except httpx.TransportError as exc:
                problem = f"cannot reach {url}: {exc}"
            else:
                self.answered = True
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"{url} is overloaded: {error_sentence(response)}"
            if attempt == len(delays):
                break
            wait = _retry_after(response, delays[attempt])
            log.warning("%s; retrying in %.1f s", problem, wait)
            self.sleep(wait)
        raise ServerUnavailable(
            f"Gave up after {len(delays) + 1} attempts: {problem}. Try again "
            "later, or ask the operator of the server."
        )

    def _request_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One attempt; errors that no retry can cure are raised at once."""
        try:
            return self.http.request(method, url, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ServerUnavailable(
                f"{url[:200]} is not a usable URL ({exc}). Check --server, "
                "--upstream, or the upstream_url the server announces."
            ) from exc
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if self.answered:
                raise
            raise ServerUnavailable(
                f"Cannot connect to {url}: {exc}. Check that --server names "
                "the right host and port and that the server is running."
            ) from exc

    def _http_error(self, response: httpx.Response, what: str) -> Exception:
        sentence = error_sentence(response)
        if 400 <= response.status_code < 500:
            return RequestRejected(
                f"The server refused {what} ({response.status_code}): {sentence}.",
                status=response.status_code,
            )
        return ServerUnavailable(
            f"The server failed on {what} ({response.status_code}): {sentence}. "
            "Try again later, or ask the operator of the server."
        )


class _HeadUnsupported(Exception):
    """Internal signal: the server answered HEAD with 405."""


def _retry_after(response: httpx.Response | None, fallback: float) -> float:
    """Honour a numeric ``Retry-After`` header, at most four back-off steps."""
    raw = response.headers.get("Retry-After", "") if response is not None else ""
    try:
        return max(0.0, min(float(raw), fallback * 4))
    except ValueError:
        return fallback


def _status_from_headers(response: httpx.Response, request_hash: str) -> BuildStatus:
    return BuildStatus(
        http_status=response.status_code,
        detail=response.headers.get("X-Imagebuilder-Status", ""),
        request_hash=request_hash,
        queue_position=_int(response.headers.get("X-Queue-Position")),
        imagebuilder_status=response.headers.get("X-Imagebuilder-Status", ""),
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of ``response``, else :class:`ServerUnavailable`."""
    try:
        body = response.json()
    except ValueError as exc:
        body = exc
    if not isinstance(body, dict):
        raise ServerUnavailable(
            f"{response.request.url} answered {response.status_code} without a "
            "JSON object. Check that --server points at a meshforge or ASU "
            "server, or tell its operator."
        )
    return body


def _status_from_body(response: httpx.Response) -> BuildStatus:
    body = _json_object(response)
    queue = body.get("queue_position", response.headers.get("X-Queue-Position"))
    ib_status = body.get("imagebuilder_status") or response.headers.get(
        "X-Imagebuilder-Status", ""
    )
    return BuildStatus(
        http_status=response.status_code,
        detail=str(body.get("detail", "")),
        request_hash=str(body.get("request_hash", "")),
        queue_position=_int(queue),
        imagebuilder_status=str(ib_status),
        body=body,
    )


def _build_failure(response: httpx.Response) -> RemoteBuildFailed:
    try:
        body = _json_object(response)
    except ServerUnavailable:
        body = {}
    stderr = str(body.get("stderr") or "")
    if stderr:
        tail = "\n".join(stderr.splitlines()[-20:])
        log.info("build stderr (last lines):\n%s", tail)
    return RemoteBuildFailed(
        f"The server could not build the image: {error_sentence(response)}. "
        "Run with -v to see the build log; a package conflict or size limit "
        "is fixed by changing the package list.",
        request_hash=str(body.get("request_hash", "")),
    )


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
