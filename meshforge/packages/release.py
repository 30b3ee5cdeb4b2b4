"""Load one release and target in the download site's layout.

``<release>/targets/<t>/<s>/packages/`` holds the target's own index,
``.../kmods/<kver>-<krel>-<vermagic>/`` the kernel modules (24.x, 23.05.6+)
and ``<release>/packages/<arch>/<feed>/`` the shared feeds. The base is a
local folder or an http(s) URL; feeds are read in the ImageBuilder's
``repositories.conf`` order, because opkg's provider choices follow it.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from meshforge.errors import FormatError, SignatureError, UpstreamError
from meshforge.imagebuilder.outputs import parse_info
from meshforge.packages.adb import read_adb_index
from meshforge.packages.index import (
    Package,
    Universe,
    imagebuilder_packages,
    packages_from_text,
)
from meshforge.packages.resolver import prepare
from meshforge.packages.versions import Format
from meshforge.signing.usign import Keyring

log = logging.getLogger(__name__)

#: Feed order of the ImageBuilder's repositories.conf after core and base.
FEEDS = ("luci", "packages", "routing", "telephony")
_HREF = re.compile(r'href="([^"/?]+)/"')


@dataclass
class Defaults:
    """Default and per-profile packages of one target."""

    defaults: list[str]
    profiles: dict[str, list[str]]
    arch: str | None = None
    kmods_dir: str | None = None

    def device_packages(self, profile: str) -> list[str]:
        if profile not in self.profiles:
            known = ", ".join(sorted(self.profiles)[:10])
            raise FormatError(
                f'Profile "{profile}" does not exist for this target. '
                f"Known profiles include: {known}."
            )
        return self.profiles[profile]


def defaults_from_profiles(data: dict[str, Any]) -> Defaults:
    """``profiles.json``: ``default_packages`` and each ``device_packages``."""
    try:
        profiles = {
            k: list(v.get("device_packages", [])) for k, v in data["profiles"].items()
        }
        defaults = list(data["default_packages"])
    except (KeyError, AttributeError, TypeError) as exc:
        raise FormatError(
            "profiles.json lacks 'default_packages' or 'profiles'; it may be "
            "older than 21.02. Pass the ImageBuilder's make info output instead."
        ) from exc
    kernel = data.get("linux_kernel") or {}
    kmods = None
    if {"version", "release", "vermagic"} <= kernel.keys():
        kmods = f"{kernel['version']}-{kernel['release']}-{kernel['vermagic']}"
    return Defaults(defaults, profiles, data.get("arch_packages"), kmods)


def defaults_from_make_info(text: str) -> Defaults:
    """``make info``: the ``Default Packages`` line and each profile block."""
    info = parse_info(text)
    profiles = {pid: list(p.packages) for pid, p in info.profiles.items()}
    return Defaults(info.default_packages, profiles, info.architecture or None)


@dataclass
class Release:
    """A release directory (path or URL) and one target in it."""

    base: str
    target: str
    timeout_s: float = 60.0
    client: httpx.Client | None = field(default=None, repr=False)
    keyring: Keyring | None = field(default=None, repr=False)

    @property
    def remote(self) -> bool:
        return self.base.startswith(("http://", "https://"))

    def read(self, relative: str) -> bytes | None:
        """The bytes of a file below the base, or ``None`` if it is absent."""
        if not self.remote:
            path = Path(self.base) / relative
            return path.read_bytes() if path.is_file() else None
        url = f"{self.base.rstrip('/')}/{relative}"
        client = self.client or httpx.Client(timeout=self.timeout_s)
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Could not fetch {url}: {exc}. Check the URL and the network."
            ) from exc
        finally:
            if self.client is None:
                client.close()
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise UpstreamError(f"{url} answered HTTP {response.status_code}.")
        return response.content

    def listing(self, relative: str) -> list[str]:
        """Sub-folders of a folder: a directory listing or an HTML index."""
        if not self.remote:
            folder = Path(self.base) / relative
            return sorted(p.name for p in folder.iterdir() if p.is_dir())
        page = self.read(relative.rstrip("/") + "/")
        return (
            sorted(set(_HREF.findall(page.decode("utf-8", "replace")))) if page else []
        )

    def index(self, folder: str) -> list[Package] | None:
        """Packages of one feed folder, ``None`` if it has no index."""
        found = self.feed(folder)
        return found[0] if found else None

    def feed(self, folder: str) -> tuple[list[Package], Format] | None:
        """Packages of one feed folder and the manager whose index it is.

        opkg feeds (``Packages.gz``/``Packages``) are preferred; an apk feed
        has ``packages.adb``. With a keyring, ``Packages.sig`` must verify
        over the uncompressed index (what upstream signs) first.
        """
        data = self.read(f"{folder}/Packages.gz")
        if data is not None:
            data = gzip.decompress(data)
        else:
            data = self.read(f"{folder}/Packages")
        if data is None:
            return self._apk_feed(folder)
        if self.keyring is not None:
            self._verify(folder, data)
        return packages_from_text(data.decode("utf-8"), folder), "opkg"

    def _apk_feed(self, folder: str) -> tuple[list[Package], Format] | None:
        data = self.read(f"{folder}/packages.adb")
        if data is None:
            return None
        # TODO: verify the adb signature block (ECDSA keys, DOMAIN 4.3); for
        # now apk indexes are trusted as the transport delivered them.
        return read_adb_index(data, folder), "apk"

    def _verify(self, folder: str, data: bytes) -> None:
        assert self.keyring is not None
        signature = self.read(f"{folder}/Packages.sig")
        where = f"{self.base.rstrip('/')}/{folder}/Packages"
        if signature is None:
            raise SignatureError(
                f"{where} has no Packages.sig, so it cannot be trusted. Use a "
                "signed mirror, or skip the check knowingly (--no-verify)."
            )
        self.keyring.verify(data, signature.decode("utf-8"), where)

    def defaults(self) -> Defaults | None:
        data = self.read(f"targets/{self.target}/profiles.json")
        return defaults_from_profiles(json.loads(data)) if data else None


def load_universe(
    release: Release,
    *,
    arch: str | None = None,
    kmods_dir: str | None = None,
    local_repos: list[list[Package]] | None = None,
    feeds: Sequence[str] = FEEDS,
) -> Universe:
    """Every package one target of a release can install.

    Only the feeds the ImageBuilder's repositories.conf names are read
    (``feeds`` after core, base and kmods); a download site may hold more,
    and a package there would change opkg's choices without being
    installable by the real build. ``local_repos`` stand for the
    ImageBuilder's own ``packages/`` folder.
    Where they lack ``libc`` or ``kernel``, stand-ins are inferred (see
    :func:`~meshforge.packages.index.imagebuilder_packages`).
    """
    target_dir = f"targets/{release.target}"
    found = release.feed(f"{target_dir}/packages")
    if found is None:
        raise UpstreamError(
            f"No package index under {release.base}/{target_dir}/packages. "
            "Check the release path and the target name (e.g. x86/64)."
        )
    core, fmt = found
    arch = arch or _guess_arch(core)
    universe = Universe(core, arch=arch, format=fmt)
    for folder in _feed_folders(release, arch, kmods_dir, feeds):
        packages = release.index(folder)
        if packages is not None:
            universe.add(packages)
    for repo in local_repos or []:
        universe.add(repo)
    universe.add(imagebuilder_packages(universe))
    prepare(universe)
    log.info("loaded %d packages for %s", len(universe), release.target)
    return universe


def _feed_folders(
    release: Release, arch: str, kmods_dir: str | None, feeds: Sequence[str]
) -> list[str]:
    shared = f"packages/{arch}"
    kmods = f"targets/{release.target}/kmods"
    names = [kmods_dir] if kmods_dir else _listing_or_empty(release, kmods)
    folders = [f"{shared}/base", *(f"{kmods}/{name}" for name in names)]
    return folders + [f"{shared}/{feed}" for feed in feeds if feed != "base"]


def _listing_or_empty(release: Release, folder: str) -> list[str]:
    try:
        return release.listing(folder)
    except (FileNotFoundError, UpstreamError):
        return []


def _guess_arch(packages: list[Package]) -> str:
    counts: dict[str, int] = {}
    for pkg in packages:
        if pkg.arch not in ("all", "noarch"):
            counts[pkg.arch] = counts.get(pkg.arch, 0) + 1
    if not counts:
        raise FormatError(
            "Cannot tell the package architecture from the target index; "
            "pass it explicitly (--arch)."
        )
    return max(counts, key=counts.__getitem__)
