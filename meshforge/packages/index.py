"""The packages one (version, target) can install: feeds, kmods, local repo.

A :class:`Universe` is built once per release and target and then answers
many resolutions, so it keeps two indexes: real package name to packages,
and provided name to the names that provide it (opkg's ``provided_by``, in
feed order, because opkg's choices depend on that order).
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from meshforge.errors import FormatError
from meshforge.packages.versions import OPKG_OPERATORS, compare
from meshforge.upstream.opkg import parse_stanzas, split_list, strip_abi

log = logging.getLogger(__name__)

_DEP = re.compile(
    r"^\s*([^\s(]+)\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s()<>=]+)\s*\))?\s*$"
)
_APK_DEP = re.compile(r"^([^\s<>=~]+)(?:(<=|>=|<~|>~|<|>|=|~)(\S+))?$")


@dataclass(frozen=True, slots=True)
class Dependency:
    """One name with an optional version constraint: ``kernel (=6.6.73-r1)``."""

    name: str
    op: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> Dependency:
        match = _DEP.match(text.lstrip("*"))
        if not match:
            raise FormatError(
                f"Cannot read the dependency {text!r}: expected 'name' or "
                "'name (op version)'. Check that the index is an opkg Packages "
                "file."
            )
        name, op, version = match.groups()
        return cls(name, OPKG_OPERATORS[op] if op else None, version)

    @classmethod
    def parse_apk(cls, text: str) -> Dependency:
        """apk's inline form, as in ``/etc/apk/world``: ``foo>=1.2``, ``luci``."""
        match = _APK_DEP.match(text.strip())
        if not match:
            raise FormatError(
                f"Cannot read the apk dependency {text!r}: expected 'name' or "
                "'name<op>version' with op one of < <= = >= > ~."
            )
        name, op, version = match.groups()
        return cls(name, op or None, version or None)

    def __str__(self) -> str:
        if self.op is None:
            return self.name
        return f"{self.name} ({self.op}{self.version})"


Alternatives = tuple[Dependency, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Package:
    """One package stanza of an index (or of the ImageBuilder's own folder)."""

    name: str
    version: str
    depends: tuple[Alternatives, ...] = ()
    provides: tuple[str, ...] = ()
    conflicts: tuple[Dependency, ...] = ()
    abi_version: str | None = None
    arch: str = "all"
    replaces: tuple[str, ...] = ()
    recommends: tuple[Alternatives, ...] = ()
    held: bool = False
    essential: bool = False
    filename: str | None = None
    size: int | None = None
    sha256: str | None = None
    source: str = ""

    @property
    def stripped_name(self) -> str:
        """The name without its ABI suffix, as requests and index v2 use it."""
        return strip_abi(self.name, self.abi_version)

    @property
    def provided_names(self) -> tuple[str, ...]:
        """Every name this package answers to, its own name first."""
        return (self.name, *(p for p in self.provides if p != self.name))

    @classmethod
    def from_stanza(cls, stanza: dict[str, str], source: str = "") -> Package:
        try:
            name, version = stanza["Package"], stanza["Version"]
        except KeyError as exc:
            raise FormatError(
                f"A stanza in {source or 'the index'} has no {exc.args[0]} "
                "field; the file is not an opkg Packages index."
            ) from exc
        return cls(
            name=name,
            version=version,
            depends=_dep_lists(stanza, "Pre-Depends", "Depends"),
            provides=tuple(_names(stanza.get("Provides", ""))),
            conflicts=tuple(_deps(stanza.get("Conflicts", ""))),
            abi_version=stanza.get("ABIVersion") or None,
            arch=stanza.get("Architecture", "all"),
            replaces=tuple(_names(stanza.get("Replaces", ""))),
            recommends=_dep_lists(stanza, "Recommends"),
            held=_status_flag(stanza.get("Status", "")) in ("hold", "prefer"),
            essential=stanza.get("Essential") == "yes",
            filename=stanza.get("Filename"),
            size=_int_or_none(stanza.get("Size")),
            sha256=stanza.get("SHA256sum"),
            source=source,
        )

    def __repr__(self) -> str:
        return f"<Package {self.name} {self.version}>"


def _deps(value: str) -> Iterator[Dependency]:
    for item in split_list(value):
        yield Dependency.parse(item)


def _names(value: str) -> Iterator[str]:
    for dep in _deps(value):
        yield dep.name


def _dep_lists(stanza: dict[str, str], *fields: str) -> tuple[Alternatives, ...]:
    groups: list[Alternatives] = []
    for name in fields:
        for item in split_list(stanza.get(name, "")):
            groups.append(tuple(Dependency.parse(alt) for alt in item.split("|")))
    return tuple(groups)


def _status_flag(status: str) -> str:
    words = status.split()
    return words[1] if len(words) == 3 else ""


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


class Universe:
    """All packages visible to one (version, target), with lookup indexes.

    ``arch`` is the target's package architecture; like the ImageBuilder's
    ``--add-arch all:100 --add-arch <arch>:200``, packages of any other
    architecture are invisible. With ``arch=None`` every architecture is
    accepted and ``all`` ranks below the others.
    """

    def __init__(
        self,
        packages: Iterable[Package] = (),
        *,
        arch: str | None = None,
        format: Literal["opkg", "apk"] = "opkg",
    ) -> None:
        self.arch = arch
        self.format = format
        self.packages: list[Package] = []
        self.by_name: dict[str, list[Package]] = {}
        self.provided_by: dict[str, list[str]] = {}
        self.viable: dict[int, bool] = {}
        self.add(packages)

    # --- construction ----------------------------------------------------

    @classmethod
    def from_stanzas(
        cls,
        stanzas: Iterable[dict[str, str]],
        *,
        format: Literal["opkg"] = "opkg",
        arch: str | None = None,
        source: str = "",
    ) -> Universe:
        packages = (Package.from_stanza(s, source) for s in stanzas)
        return cls(packages, arch=arch, format=format)

    @classmethod
    def from_index_json(cls, data: dict[str, Any]) -> Universe:
        """An index v2 (or v1) ``index.json``: names and versions, no relations."""
        packages = data.get("packages")
        if not isinstance(packages, dict):
            raise FormatError(
                "index.json has no 'packages' object; expected the v1/v2 shape "
                "written by OpenWrt's make-index-json.py."
            )
        arch = data.get("architecture")
        fmt: Literal["opkg", "apk"] = "apk" if data.get("version") == 2 else "opkg"
        items = (
            Package(str(n), str(v), arch=str(arch or "all"))
            for n, v in packages.items()
        )
        return cls(items, arch=str(arch) if arch else None, format=fmt)

    def add(self, packages: Iterable[Package]) -> None:
        """Add packages; a later copy of the same name and version is ignored."""
        for pkg in packages:
            if self._duplicate(pkg):
                continue
            self.packages.append(pkg)
            self.by_name.setdefault(pkg.name, []).append(pkg)
            for provided in pkg.provided_names:
                names = self.provided_by.setdefault(provided, [])
                if pkg.name not in names:
                    names.append(pkg.name)
        self.viable = {}

    def merge(self, other: Universe) -> None:
        """Add the packages of another source, e.g. the builder's local repo."""
        self.add(other.packages)

    def _duplicate(self, pkg: Package) -> bool:
        same = self.by_name.get(pkg.name, ())
        return any(p.version == pkg.version and p.arch == pkg.arch for p in same)

    # --- queries ---------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.provided_by.get(name))

    def __len__(self) -> int:
        return len(self.packages)

    def names(self) -> list[str]:
        """Real package names, sorted."""
        return sorted(self.by_name)

    def arch_priority(self, pkg: Package) -> int:
        if pkg.arch in ("all", "noarch"):
            return 100
        if self.arch is None or pkg.arch == self.arch:
            return 200
        return 0

    def providers(self, name: str) -> list[Package]:
        """Packages that answer to ``name``, in opkg's provider order.

        opkg offers every version of a providing name, even a version whose
        own ``Provides`` lacks ``name``; we keep only those that provide it,
        so that a resolved set is always closed under its dependencies.
        """
        found: list[Package] = []
        for provider in self.provided_by.get(name, ()):
            found.extend(p for p in self.by_name[provider] if name in p.provided_names)
        return found

    def newest(self, name: str) -> Package | None:
        """The highest version among packages really named ``name``."""
        best: Package | None = None
        for pkg in self.by_name.get(name, ()):
            if best is None or compare(pkg.version, best.version, self.format) > 0:
                best = pkg
        return best

    def version_of(self, name: str) -> str | None:
        """Newest version of a real or ABI-stripped name, else ``None``."""
        pkg = self.newest(name)
        if pkg is None:
            stripped = [p for p in self.providers(name) if p.stripped_name == name]
            pkg = stripped[-1] if stripped else None
        return pkg.version if pkg else None


# --- loading indexes from files ------------------------------------------


def read_index_text(path: Path) -> str:
    """The text of a ``Packages`` or ``Packages.gz`` file."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        data = gunzip_index(data, str(path))
    return decode_index(data, str(path))


def gunzip_index(data: bytes, where: str) -> bytes:
    """The uncompressed bytes of a ``Packages.gz``, or a FormatError saying why.

    Truncated input raises ``EOFError``, which click would report as a bare
    "Aborted." with status 130, so it is caught here with the other faults.
    """
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(
            f"{where} is not a complete gzip file ({exc}). Fetch it again, or "
            "point at the uncompressed Packages file."
        ) from exc


def decode_index(data: bytes, where: str, what: str = "an opkg Packages index") -> str:
    """The text of an index (or of another UTF-8 file: ``what`` names it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"{where} is not UTF-8 text (byte {data[exc.start]:#04x} at offset "
            f"{exc.start}), so it is not {what}. Check that you gave the right "
            "file."
        ) from exc


def packages_from_text(text: str, source: str = "") -> list[Package]:
    return [Package.from_stanza(s, source) for s in parse_stanzas(text)]


def find_index(folder: Path) -> Path | None:
    """The ``Packages.gz`` (preferred, as opkg reads it) or ``Packages`` file."""
    for name in ("Packages.gz", "Packages"):
        if (folder / name).is_file():
            return folder / name
    return None


def imagebuilder_packages(universe: Universe) -> list[Package]:
    """Stand-ins for ``libc`` and ``kernel``, which only the ImageBuilder has.

    Neither package is in any feed: the ImageBuilder installs them from its
    own ``build_dir`` before anything else. The kernel version is the one every
    kmod pins (``kernel (=X)``); the libc version is taken from ``libpthread``,
    which the same toolchain Makefile builds with the libc's version. Pass a
    real local repository instead whenever one is at hand.
    """
    made: list[Package] = []
    kernel = _pinned_kernel(universe)
    if "kernel" not in universe.by_name and kernel:
        made.append(Package("kernel", kernel, arch=universe.arch or "all"))
    libc = universe.newest("libpthread")
    if "libc" not in universe.by_name and libc:
        made.append(Package("libc", libc.version, arch=libc.arch))
    for pkg in made:
        log.debug("inferred ImageBuilder package %s %s", pkg.name, pkg.version)
    return [_with_source(p, "imagebuilder (inferred)") for p in made]


def _pinned_kernel(universe: Universe) -> str | None:
    for pkg in universe.packages:
        for group in pkg.depends:
            for dep in group:
                if dep.name == "kernel" and dep.op == "=" and dep.version:
                    return dep.version
    return None


def _with_source(pkg: Package, source: str) -> Package:
    return Package(pkg.name, pkg.version, arch=pkg.arch, source=source)


__all__ = [
    "Alternatives",
    "Dependency",
    "Package",
    "Universe",
    "decode_index",
    "find_index",
    "gunzip_index",
    "imagebuilder_packages",
    "packages_from_text",
    "read_index_text",
]
