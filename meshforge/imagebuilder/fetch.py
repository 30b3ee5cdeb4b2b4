"""Read files from the upstream download site over http(s) or file://.

``file://`` exists for local mirrors and tests; httpx has no transport for
it, so those URLs are read from disk here.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import httpx

from meshforge.errors import UpstreamError

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


def fetch_bytes(http: httpx.Client, url: str, limit: int) -> bytes | None:
    """The body at ``url``, or None when it does not exist (404)."""
    path = _local_path(url)
    if path is not None:
        return _read_local(path, url, limit)
    try:
        with http.stream("GET", url) as response:
            if response.status_code == 404:
                return None
            _check_status(response, url)
            return _read_bounded(response, url, limit)
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from exc


def _read_bounded(response: httpx.Response, url: str, limit: int) -> bytes:
    body = bytearray()
    for chunk in response.iter_bytes(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _too_large(url, limit)
    return bytes(body)


def download(http: httpx.Client, url: str, dest: Path, limit: int) -> str:
    """Stream ``url`` into ``dest``; return the sha256 hex of what was written."""
    log.debug("downloading %s to %s", url, dest)
    path = _local_path(url)
    try:
        with dest.open("wb") as out:
            sink = _Sink(out, url, limit)
            if path is not None:
                return _copy_local(path, url, sink)
            return _copy_remote(http, url, sink)
    except OSError as exc:
        raise UpstreamError(
            f"Could not write the download of {url} to {dest} ({exc}); "
            "check free disk space and permissions of the builder cache."
        ) from exc


def _copy_remote(http: httpx.Client, url: str, sink: _Sink) -> str:
    try:
        with http.stream("GET", url) as response:
            _check_status(response, url)
            for chunk in response.iter_bytes(_CHUNK):
                sink.write(chunk)
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from exc
    return sink.hexdigest()


def _copy_local(path: Path, url: str, sink: _Sink) -> str:
    try:
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                sink.write(chunk)
    except FileNotFoundError as exc:
        raise UpstreamError(f"The file {url} does not exist upstream.") from exc
    return sink.hexdigest()


class _Sink:
    """Writes chunks to a file, hashing them and enforcing a size limit."""

    def __init__(self, out: BinaryIO, url: str, limit: int) -> None:
        self._out = out
        self._url = url
        self._limit = limit
        self._size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise _too_large(self._url, self._limit)
        self._out.write(chunk)
        self._digest.update(chunk)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _local_path(url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme in ("http", "https"):
        return None
    raise UpstreamError(
        f"The URL {url} uses the scheme {parts.scheme!r}; only http, https "
        "and file URLs are supported for the upstream site."
    )


def _read_local(path: Path, url: str, limit: int) -> bytes | None:
    if not path.is_file():
        return None
    if path.stat().st_size > limit:
        raise _too_large(url, limit)
    return path.read_bytes()


def _check_status(response: httpx.Response, url: str) -> None:
    if response.status_code != 200:
        raise UpstreamError(
            f"The upstream site answered {response.status_code} for {url}; "
            "retry later or check the upstream URL setting."
        )


def _unreachable(url: str, exc: Exception) -> UpstreamError:
    return UpstreamError(
        f"Could not fetch {url} ({exc.__class__.__name__}: {exc}); "
        "check the network and the upstream URL setting, then retry."
    )


def _too_large(url: str, limit: int) -> UpstreamError:
    return UpstreamError(
        f"The file {url} is larger than the {limit} bytes allowed for it; "
        "refusing to read more. Raise the builder cache size if it is genuine."
    )
