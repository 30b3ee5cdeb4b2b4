"""What the generator wrote about this builder (``standin.json``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """The make variables ask for something this builder cannot do."""


class BadVariable(Exception):
    """A make variable has a value this builder does not offer (on stderr)."""


@dataclass(frozen=True)
class Profile:
    name: str
    data: dict[str, Any]

    @property
    def title(self) -> str:
        titles = self.data.get("titles") or [{}]
        first = titles[0]
        if "title" in first:
            return str(first["title"])
        parts = [first.get(k, "") for k in ("vendor", "model", "variant")]
        return " ".join(str(part) for part in parts if part)

    @property
    def packages(self) -> list[str]:
        return list(self.data.get("device_packages", []))

    @property
    def supported_devices(self) -> list[str]:
        return list(self.data.get("supported_devices", []))


@dataclass(frozen=True)
class Builder:
    topdir: Path
    meta: dict[str, Any]

    @classmethod
    def load(cls, topdir: Path) -> Builder:
        meta = json.loads((topdir / "standin.json").read_text())
        return cls(topdir, meta)

    @property
    def target(self) -> str:
        return str(self.meta["target"])

    @property
    def arch_packages(self) -> str:
        return str(self.meta["arch_packages"])

    @property
    def version_number(self) -> str:
        return str(self.meta["version_number"])

    @property
    def version_code(self) -> str:
        return str(self.meta["version_code"])

    @property
    def source_date_epoch(self) -> int:
        from_env = os.environ.get("SOURCE_DATE_EPOCH")
        return int(from_env or self.meta["source_date_epoch"])

    @property
    def default_packages(self) -> list[str]:
        return list(self.meta["default_packages"])

    @property
    def profiles(self) -> list[Profile]:
        items = sorted(self.meta["profiles"].items())
        return [Profile(name, data) for name, data in items]

    def profile(self, name: str) -> Profile:
        for profile in self.profiles:
            if profile.name == name:
                return profile
        raise UsageError(
            f'Profile "{name}" does not exist!\n'
            'Use "make info" to get a list of available profile names.'
        )
