"""Download an image with resume, then check its size and SHA-256.

Bytes go to ``<name>.part``; an interrupted download continues from there
with a ``Range`` request. Only a file whose size and checksum match is
renamed to its final name, so a file under the final name is always one
that was verified. A mismatch deletes the partial file: resuming onto bad
bytes would never verify.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from meshforge.errors import (
    ClientError,
    RequestRejected,
    ServerUnavailable,
    VerificationError,
)

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_BIN_DIR = re.compile(r"^[0-9a-f]{64}$")
# Longest name most filesystems accept; image names are far shorter.
MAX_NAME = 255


def plain_file_name(name: str) -> str:
    """``name`` if it is one plain file name, else :class:`ServerUnavailable`.

    The name comes from the server's build answer; a path in it would let
    a hostile or broken server write outside --output-dir.
    """
    bad = (
        not name
        or len(name) > MAX_NAME
        or name in (".", "..")
        or any(char in name for char in "/\\")
        or any(ord(char) < 32 or ord(char) == 127 for char in name)
    )
    if bad:
        raise ServerUnavailable(
            f"The server named the image {name[:80]!r}, which is not a plain "
            "file name; nothing was downloaded. The build answer is broken or "
            "hostile: tell the operator of the server."
        )
    return name


def store_url(base_url: str, bin_dir: str, name: str) -> str:
    """The download URL of ``name`` below ``/store/<bin_dir>/``."""
    if not _BIN_DIR.match(bin_dir):
        raise ServerUnavailable(
            f"The server named the build folder {bin_dir[:80]!r}, not 64 "
            "lowercase hex digits; nothing was downloaded. Tell the operator "
            "of the server."
        )
    safe = quote(plain_file_name(name), safe="")
    return f"{base_url.rstrip('/')}/store/{bin_dir}/{safe}"


@dataclass(frozen=True)
class Expected:
    """What the file must be: its SHA-256 and, if known, its size."""

    sha256: str
    size: int | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, expected: Expected) -> None:
    """Raise :class:`VerificationError` unless ``path`` is the expected file."""
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        raise VerificationError(
            f"{path.name} has {size} bytes, the server announced "
            f"{expected.size}. The download is incomplete or altered; it was "
            "deleted, run the command again to fetch it anew."
        )
    actual = sha256_of(path)
    if actual != expected.sha256.lower():
        raise VerificationError(
            f"{path.name} has SHA-256 {actual}, the build lists "
            f"{expected.sha256}. The image is corrupt or was altered; it was "
            "deleted and must not be flashed. Run the command again, and tell "
            "the server operator if it repeats."
        )


class Downloader:
    """Fetches one URL into a folder, resuming and retrying."""

    def __init__(self, http: httpx.Client, attempts: int = 5) -> None:
        self.http = http
        self.attempts = attempts

    def fetch(self, url: str, dest: Path, expected: Expected) -> Path:
        """Download ``url`` to ``dest`` and verify it; return ``dest``."""
        plain_file_name(dest.name)
        try:
            return self._fetch(url, dest, expected)
        except OSError as exc:
            raise ClientError(
                f"Cannot write the image to {dest.parent}: "
                f"{exc.strerror or exc}. Choose a writable folder with "
                "--output-dir (it needs room for the whole image)."
            ) from exc

    def _fetch(self, url: str, dest: Path, expected: Expected) -> Path:
        if dest.is_file() and _matches(dest, expected):
            log.info("%s is already downloaded and verified", dest)
            return dest
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        stale = part.is_file() and part.stat().st_size > 0
        total = self._download(url, part, expected.size)
        checked = Expected(expected.sha256, expected.size or total)
        if stale and not _matches(part, checked):
            # Bytes left by an earlier run (maybe of another build under the
            # same name) are not the server's fault: start over once.
            log.warning("the partial file %s does not verify; downloading anew", part)
            part.unlink(missing_ok=True)
            total = self._download(url, part, expected.size)
            checked = Expected(expected.sha256, expected.size or total)
        self._check(part, checked)
        part.replace(dest)
        return dest

    def _download(self, url: str, part: Path, total: int | None) -> int | None:
        """Bring ``part`` to its full size, resuming; return the size if told."""
        for attempt in range(1, self.attempts + 1):
            try:
                return self._transfer(url, part, total)
            except httpx.TransportError as exc:
                log.warning(
                    "download of %s interrupted (%s), attempt %d of %d",
                    url,
                    exc,
                    attempt,
                    self.attempts,
                )
        raise ServerUnavailable(
            f"Could not download {url} in {self.attempts} attempts; the "
            f"partial file {part} is kept and the next run resumes it."
        )

    def _check(self, part: Path, expected: Expected) -> None:
        try:
            verify(part, expected)
        except VerificationError:
            part.unlink(missing_ok=True)
            raise

    def _transfer(self, url: str, part: Path, total: int | None) -> int | None:
        """Append the missing bytes to ``part``; return the full size if told."""
        offset = part.stat().st_size if part.exists() else 0
        if total is not None and offset >= total:
            return total
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self.http.stream("GET", url, headers=headers) as response:
            if response.status_code == 416:
                # The partial file already holds everything (or too much);
                # verification decides which.
                return total
            mode = self._mode(response, offset, part)
            total = total or _full_size(response)
            with part.open(mode) as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        return total

    def _mode(self, response: httpx.Response, offset: int, part: Path) -> str:
        url = str(response.request.url)
        if response.status_code == 206:
            start = _range_start(response)
            if start == offset:
                return "ab"
            log.warning(
                "server resumed %s at %s, not %d; starting over", url, start, offset
            )
            part.unlink(missing_ok=True)
            raise httpx.RemoteProtocolError("unexpected Content-Range")
        if response.status_code == 200:
            if offset:
                log.info("server ignored the Range header; downloading %s anew", url)
            return "wb"
        response.read()
        if 400 <= response.status_code < 500:
            raise RequestRejected(
                f"The server refused the image download ({response.status_code}) "
                f"at {url}. The build may have expired; request it again."
            )
        raise ServerUnavailable(
            f"The server failed to send {url} ({response.status_code}). "
            "Try again later."
        )


def _matches(path: Path, expected: Expected) -> bool:
    try:
        verify(path, expected)
    except VerificationError:
        return False
    return True


def _range_start(response: httpx.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _full_size(response: httpx.Response) -> int | None:
    """The whole file's size from ``Content-Range`` or ``Content-Length``."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return int(match.group(3))
    if response.status_code == 200 and "Content-Length" in response.headers:
        return int(response.headers["Content-Length"])
    return None
