"""Load one release and target in the download site's layout.

``<release>/targets/<t>/<s>/packages/`` holds the target's own index,
``.../kmods/<kver>-<krel>-<vermagic>/`` the kernel modules (24.x, 23.05.6+)
and ``<release>/packages/<arch>/<feed>/`` the shared feeds. The base is a
local folder or an http(s) URL; feeds are read in the ImageBuilder's
``repositories.conf`` order, because opkg's provider choices follow it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx

from meshforge.errors import FormatError, SignatureError, UpstreamError
from meshforge.imagebuilder.outputs import parse_info
from meshforge.packages.adb import read_adb_index
from meshforge.packages.index import (
    Package,
    Universe,
    decode_index,
    gunzip_index,
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
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass
class Defaults:
    """Default and per-profile packages of one target."""

    defaults: list[str]
    profiles: dict[str, list[str]]
    arch: str | None = None
    kmods_dir: str | None = None
    #: ``target/subtarget`` the file describes, when it says so.
    target: str | None = None

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
    target = data.get("target")
    return Defaults(
        defaults,
        profiles,
        data.get("arch_packages"),
        kmods,
        target=target if isinstance(target, str) else None,
    )


def defaults_from_make_info(text: str) -> Defaults:
    """``make info``: the ``Default Packages`` line and each profile block."""
    info = parse_info(text)
    profiles = {pid: list(p.packages) for pid, p in info.profiles.items()}
    return Defaults(
        info.default_packages,
        profiles,
        info.architecture or None,
        target=info.target or None,
    )


@dataclass
class Release:
    """A release directory (path or URL) and one target in it."""

    base: str
    target: str
    timeout_s: float = 60.0
    client: httpx.Client | None = field(default=None, repr=False)
    keyring: Keyring | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        """The URL scheme of the base in lower case; ``""`` for a plain path."""
        match = _SCHEME.match(self.base)
        return match.group(1).lower() if match else ""

    @property
    def remote(self) -> bool:
        return self.scheme in ("http", "https")

    def check(self) -> None:
        """Fail with the real reason when the base cannot hold a release.

        Without this, a mistyped folder only shows up later as a missing
        profiles.json or package index, which sends people looking elsewhere.
        """
        if self.remote:
            return
        root = self.root()
        if not root.exists():
            raise UpstreamError(
                f"The release folder {root} does not exist. Check the path, or "
                "give an http(s) URL of a download site."
            )
        if not root.is_dir():
            raise UpstreamError(
                f"{root} is a file, not a release folder. Give the folder that "
                "holds targets/ and packages/."
            )

    def root(self) -> Path:
        """The local folder of a path or ``file://`` base."""
        if self.scheme == "file":
            parts = urlsplit(self.base)
            if parts.netloc not in ("", "localhost"):
                raise UpstreamError(
                    f"{self.base} names the host {parts.netloc!r}; file:// URLs "
                    "must point at this machine (file:///path)."
                )
            return Path(url2pathname(unquote(parts.path)))
        if self.scheme:
            raise UpstreamError(
                f"The URL scheme {self.scheme}:// of {self.base} is not "
                "supported; give a local folder, a file:// URL or an http(s) URL."
            )
        return Path(self.base)

    def read(self, relative: str) -> bytes | None:
        """The bytes of a file below the base, or ``None`` if it is absent."""
        if not self.remote:
            return _read_local(self.root() / relative)
        url = f"{self.base.rstrip('/')}/{relative}"
        client = self.client or httpx.Client(timeout=self.timeout_s)
        try:
            response = client.get(url)
        except httpx.InvalidURL as exc:
            raise UpstreamError(
                f"The release URL {self.base} is not valid ({exc}). Check the "
                "address; an IPv6 host goes in brackets: http://[::1]:8080/."
            ) from exc
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
            folder = self.root() / relative
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
        where = f"{self.base.rstrip('/')}/{folder}"
        data = self.read(f"{folder}/Packages.gz")
        if data is not None:
            data = gunzip_index(data, f"{where}/Packages.gz")
        else:
            data = self.read(f"{folder}/Packages")
        if data is None:
            return self._apk_feed(folder)
        if self.keyring is not None:
            self._verify(folder, data)
        text = decode_index(data, f"{where}/Packages")
        return packages_from_text(text, folder), "opkg"

    def _apk_feed(self, folder: str) -> tuple[list[Package], Format] | None:
        data = self.read(f"{folder}/packages.adb")
        if data is None:
            return None
        # TODO: verify the adb signature block (ECDSA keys, DOMAIN 4.3). Until
        # then an apk index is refused whenever verification was asked for.
        if self.keyring is not None:
            raise SignatureError(
                f"{self.base.rstrip('/')}/{folder}/packages.adb is an apk index, "
                "and meshforge cannot check apk (ADB) signatures yet, so it "
                "cannot be trusted. Skip the check knowingly (--no-verify) if "
                "the copy came from a source you trust."
            )
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
        try:
            text = signature.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SignatureError(
                f"{where}.sig is not text, so it is no usign signature and the "
                "index cannot be trusted. Fetch it again, or skip the check "
                "knowingly (--no-verify)."
            ) from exc
        self.keyring.verify(data, text, where)

    def defaults(self) -> Defaults | None:
        relative = f"targets/{self.target}/profiles.json"
        data = self.read(relative)
        if not data:
            return None
        try:
            parsed = json.loads(data)
        except ValueError as exc:
            raise FormatError(
                f"{self.base.rstrip('/')}/{relative} is not valid JSON ({exc}). "
                "Fetch it again, or pass the ImageBuilder's make info output "
                "with --make-info instead."
            ) from exc
        return defaults_from_profiles(parsed)


def _read_local(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UpstreamError(
            f"Could not read {path}: {exc.strerror}. Check its permissions."
        ) from exc


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
    release.check()
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
