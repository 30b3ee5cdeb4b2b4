"""A store on a local folder: ``<root>/<hash>/<file>``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from meshforge.errors import NotFound
from meshforge.signing.usign import SecretKey
from meshforge.store.base import (
    StoredItem,
    check_names,
    regular_files,
    sha256_file,
    sha256sums_text,
)


class LocalStore:
    def __init__(self, root: Path, signer: SecretKey | None = None) -> None:
        self.root = root
        self.signer = signer
        self.root.mkdir(parents=True, exist_ok=True)

    def put_dir(self, request_hash: str, source: Path) -> list[StoredItem]:
        check_names(request_hash, "sha256sums")
        staging = Path(tempfile.mkdtemp(prefix=f".{request_hash}.", dir=self.root))
        items = []
        for path in regular_files(source):
            if path.name in {"sha256sums", "sha256sums.sig"}:
                continue  # meshforge writes its own below
            shutil.copy2(path, staging / path.name)
            items.append(StoredItem(path.name, path.stat().st_size, sha256_file(path)))
        sums = sha256sums_text(items)
        (staging / "sha256sums").write_text(sums)
        if self.signer is not None:
            signature = self.signer.sign(sums.encode())
            (staging / "sha256sums.sig").write_text(signature)
        final = self.root / request_hash
        if final.exists():
            shutil.rmtree(final)
        # A rename makes the whole folder appear at once to readers.
        staging.rename(final)
        return items

    def open(self, request_hash: str, name: str) -> tuple[Path, int]:
        check_names(request_hash, name)
        path = self.root / request_hash / name
        if not path.is_file():
            raise NotFound(
                f"There is no stored file {request_hash}/{name}. The build may "
                "have expired; request it again."
            )
        return path, path.stat().st_size

    def delete(self, request_hash: str) -> None:
        check_names(request_hash, "sha256sums")
        shutil.rmtree(self.root / request_hash, ignore_errors=True)
