"""``repositories.conf`` and the package indexes it names."""

from __future__ import annotations

import gzip
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import stanzas, usign, versions
from .packages import Package

# Feeds are fetched from loopback or file:// only; never through a proxy
# that the environment may name.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FeedError(Exception):
    """A feed named in repositories.conf could not be read."""


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    compressed: bool


def checks_signatures(path: Path) -> bool:
    return any(line.split() == ["option", "check_signature"] for line in _lines(path))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def read_repositories(path: Path) -> list[Feed]:
    """Read ``src/gz name url`` and ``src name url`` lines; skip the rest."""
    feeds = []
    for line in _lines(path):
        words = line.split()
        if len(words) == 3 and words[0] in ("src", "src/gz"):
            feeds.append(Feed(words[1], words[2], words[0] == "src/gz"))
    return feeds


def _resolve_url(url: str, topdir: Path) -> str:
    # ``file:packages`` is relative to the builder, as in the real one.
    if url.startswith("file:") and not url.startswith("file://"):
        return (topdir / url[len("file:") :]).resolve().as_uri()
    return url


def _download(url: str) -> bytes:
    print(f"Downloading {url}", file=sys.stderr)
    try:
        with _OPENER.open(url, timeout=60) as response:
            body: bytes = response.read()
    except OSError as exc:
        raise FeedError(f"cannot download {url}: {exc}") from exc
    return body


def fetch_index(feed: Feed, topdir: Path, check: bool = False) -> str | None:
    """The feed's index text, or None when its signature does not verify."""
    base = _resolve_url(feed.url, topdir).rstrip("/")
    name = "Packages.gz" if feed.compressed else "Packages"
    body = _download(f"{base}/{name}")
    data = gzip.decompress(body) if feed.compressed else body
    print(f"Updated list of available packages in dl/{feed.name}", file=sys.stderr)
    if check and not _signature_ok(base, data, topdir / "keys"):
        # Like opkg update: the list is dropped, so its packages are unknown.
        print("Signature check failed.\nRemove wrong Signature file.", file=sys.stderr)
        return None
    return data.decode("utf-8")


def _signature_ok(base: str, data: bytes, keys_dir: Path) -> bool:
    try:
        signature = _download(f"{base}/Packages.sig").decode("ascii", "replace")
    except FeedError as exc:
        print(exc, file=sys.stderr)
        return False
    if not usign.check(data, signature, keys_dir):
        return False
    print("Signature check passed.", file=sys.stderr)
    return True


class Index:
    """Every package of every feed, looked up by name or by what it provides."""

    def __init__(self, arch: str) -> None:
        self.arches = {"all", "noarch", arch}
        self.by_name: dict[str, list[Package]] = {}
        self.providers: dict[str, list[Package]] = {}

    def add_text(self, text: str, feed: str) -> None:
        for stanza in stanzas.parse(text):
            if "Package" in stanza:
                self.add(Package.from_stanza(stanza, feed))

    def add(self, package: Package) -> None:
        if package.architecture not in self.arches:
            return
        self.by_name.setdefault(package.name, []).append(package)
        for item in package.provides:
            self.providers.setdefault(item.name, []).append(package)

    def named(self, name: str) -> list[Package]:
        """Packages with this exact name, newest version first."""
        found = list(self.by_name.get(name, []))
        found.sort(key=VersionKey, reverse=True)
        return found

    def providing(self, name: str) -> list[Package]:
        """Other packages that provide ``name``, by name then newest first."""
        found = [p for p in self.providers.get(name, []) if p.name != name]
        found.sort(key=VersionKey, reverse=True)
        found.sort(key=lambda p: p.name)
        return found

    def knows(self, name: str) -> bool:
        return bool(self.by_name.get(name) or self.providers.get(name))


class VersionKey:
    def __init__(self, package: Package) -> None:
        self.version = package.version

    def __lt__(self, other: VersionKey) -> bool:
        return versions.compare(self.version, other.version) < 0


def load_index(topdir: Path, arch: str) -> Index:
    index = Index(arch)
    conf = topdir / "repositories.conf"
    check = checks_signatures(conf)
    for feed in read_repositories(conf):
        # The real builder signs its local repository with a key it makes
        # on first use; the stand-in has none and trusts its own folder.
        local = feed.url.startswith("file:") and not feed.url.startswith("file://")
        text = fetch_index(feed, topdir, check and not local)
        if text is not None:
            index.add_text(text, feed.name)
    return index
