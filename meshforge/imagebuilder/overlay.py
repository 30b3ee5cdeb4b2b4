"""Per-request files (repositories, keys) laid over a shared ImageBuilder.

A cached ImageBuilder serves every request, so files written for one build
must not outlive it: a custom repository left behind would end up in the
next person's image. The originals are journalled before anything is
written, so a crash mid-build is undone before the next run.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from meshforge.errors import BadRequest

log = logging.getLogger(__name__)

JOURNAL = ".meshforge-overlay.json"
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def overlay_files(
    root: Path, repositories: str | None, keys: dict[str, str] | None
) -> dict[Path, str]:
    """The files to write into ``root`` for one run."""
    files: dict[Path, str] = {}
    if repositories is not None:
        # apk ImageBuilders (25.12+, SNAPSHOT) read 'repositories'.
        apk = (root / "repositories").is_file()
        files[root / ("repositories" if apk else "repositories.conf")] = repositories
    for name, text in (keys or {}).items():
        if not _KEY_NAME.fullmatch(name):
            raise BadRequest(
                f"The repository key file name {name!r} may only hold letters, "
                "digits, '.', '_' and '-'."
            )
        files[root / "keys" / name] = text
    return files


@contextmanager
def overlaid(root: Path, files: dict[Path, str]) -> Iterator[None]:
    """Write ``files`` for one run and put the originals back afterwards.

    The caller must hold the builder's run lock.
    """
    restore(root)
    if not files:
        yield
        return
    saved = {str(p): p.read_text() if p.is_file() else None for p in files}
    _write_atomic(root / JOURNAL, json.dumps(saved))
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        yield
    finally:
        restore(root)


def restore(root: Path) -> None:
    """Undo the overlay recorded in the journal, if one is left."""
    journal = root / JOURNAL
    if not journal.is_file():
        return
    for name, original in json.loads(journal.read_text()).items():
        path = Path(name)
        if original is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(original)
    journal.unlink()
    log.debug("restored the original files of %s", root)


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    os.replace(partial, path)
