"""Packages as opkg sees them: names, versions, Depends, Provides, ABI."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import versions

_ITEM = re.compile(
    r"^\s*([^\s(]+)\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^)\s]+)\s*\))?\s*$"
)


@dataclass(frozen=True)
class Dependency:
    name: str
    operator: str = ""
    version: str = ""

    def __str__(self) -> str:
        if not self.operator:
            return self.name
        return f"{self.name} ({self.operator} {self.version})"

    def allows(self, version: str) -> bool:
        if not self.operator:
            return True
        return versions.satisfies(version, self.operator, self.version)


def parse_dependency(text: str) -> Dependency:
    match = _ITEM.match(text)
    if match is None:
        raise ValueError(f"cannot read the dependency {text!r}")
    name, operator, version = match.groups()
    return Dependency(name, operator or "", version or "")


def parse_depends(value: str) -> list[list[Dependency]]:
    """``a, b (>= 1), c | d`` -> groups of alternatives."""
    groups = []
    for item in value.split(","):
        if item.strip():
            groups.append([parse_dependency(alt) for alt in item.split("|")])
    return groups


@dataclass
class Package:
    fields: dict[str, str]
    feed: str
    depends: list[list[Dependency]] = field(default_factory=list)
    provides: list[Dependency] = field(default_factory=list)
    conflicts: list[Dependency] = field(default_factory=list)

    @classmethod
    def from_stanza(cls, stanza: dict[str, str], feed: str) -> Package:
        return cls(
            fields=stanza,
            feed=feed,
            depends=parse_depends(stanza.get("Depends", "")),
            provides=[g[0] for g in parse_depends(stanza.get("Provides", ""))],
            conflicts=[g[0] for g in parse_depends(stanza.get("Conflicts", ""))],
        )

    @property
    def name(self) -> str:
        return self.fields["Package"]

    @property
    def version(self) -> str:
        return self.fields.get("Version", "")

    @property
    def architecture(self) -> str:
        return self.fields.get("Architecture", "")

    @property
    def stripped_name(self) -> str:
        """The name without its ABI suffix, if it really ends with it."""
        abi = self.fields.get("ABIVersion", "")
        if abi and self.name.endswith(abi) and self.name != abi:
            return self.name[: -len(abi)]
        return self.name

    def provides_name(self, name: str) -> bool:
        return any(item.name == name for item in self.provides)

    def meets(self, dep: Dependency) -> bool:
        """Whether this package is ``dep`` or provides it in a fitting version.

        A ``Provides`` without a version stands for the package's own version,
        so ``libiwinfo (>= 2023.01.21)`` is met by ``libiwinfo20230701``.
        """
        if self.name == dep.name:
            return dep.allows(self.version)
        for item in self.provides:
            if item.name == dep.name:
                return dep.allows(item.version or self.version)
        return False
