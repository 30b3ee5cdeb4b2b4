"""The artefact store: one folder of files per request hash."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from meshforge.errors import NotFound

HASH = re.compile(r"^[0-9a-f]{64}$")
FILE_NAME = re.compile(r"^[\w.+,~-]+$")


@dataclass(frozen=True)
class StoredItem:
    name: str
    size: int
    sha256: str


class Store(Protocol):
    """What the API and the worker need of a store backend."""

    def put_dir(self, request_hash: str, source: Path) -> list[StoredItem]:
        """Store every regular file of ``source``; return them with checksums."""

    def open(self, request_hash: str, name: str) -> tuple[Path, int]:
        """A local path and size to serve, or :class:`NotFound`."""

    def delete(self, request_hash: str) -> None: ...


def check_names(request_hash: str, name: str) -> None:
    """Refuse names that could leave the store folder."""
    bad_name = len(name) > 255 or not FILE_NAME.match(name) or name in {".", ".."}
    if not HASH.match(request_hash) or bad_name:
        raise NotFound(
            f"There is no stored file {request_hash}/{name}. Use the file names "
            "listed under `images` in the build response."
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sums_text(items: list[StoredItem]) -> str:
    return "".join(f"{item.sha256} *{item.name}\n" for item in items)


def regular_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.is_symlink():
            yield path
