"""Reading files from the upstream download site (https, http or file)."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from meshforge.errors import UpstreamError

log = logging.getLogger(__name__)


class Fetcher:
    """Fetches paths below one base URL; ``None`` means the file is absent."""

    def __init__(self, base_url: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get(self, path: str) -> bytes | None:
        url = self.url(path)
        if url.startswith("file://"):
            return _read_file(url)
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Could not reach the upstream download site at {url} ({exc}). "
                "Check MESHFORGE_UPSTREAM_URL and the network, then sync again."
            ) from exc
        if response.status_code == 404:
            log.debug("absent upstream: %s", url)
            return None
        if response.status_code != 200:
            raise UpstreamError(
                f"The upstream download site answered {response.status_code} for "
                f"{url}. Try the sync again later."
            )
        return response.content


def _read_file(url: str) -> bytes | None:
    path = Path(unquote(urlparse(url).path))
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UpstreamError(f"Could not read {path}: {exc}.") from exc
