"""Where a node's files live on disk, and how they are written.

A node's folder holds ``tinc/`` (what tincd reads with ``-c``) and
``babeld.conf`` beside it, so that one folder is the whole node and a test or
an operator can keep several apart.
"""

from __future__ import annotations

import os
from pathlib import Path

from meshforge.errors import Net6Error

EXECUTABLE = ("tinc-up", "tinc-down", "host-up", "host-down", "uplink-6to4.sh")
# babeld.conf holds the mesh's HMAC key, so it is as secret as the tinc key.
SECRET = ("rsa_key.priv", "gateway.json", "babeld.conf")


def write_tree(root: Path, files: dict[str, str]) -> list[Path]:
    """Write files under root atomically, with the modes tincd expects."""
    written = []
    for relative, text in sorted(files.items()):
        path = _inside(root, relative)
        try:
            _write_one(path, text)
        except OSError as exc:
            raise Net6Error(
                f"Cannot write {path}: {exc.strerror}. Pick a folder this user "
                "may write (--dir), or run the command as root."
            ) from exc
        written.append(path)
    return written


def _write_one(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, _mode(path.name))
    tmp.replace(path)


def remove_stale_hosts(root: Path, keep: set[str]) -> list[str]:
    """Delete host files of nodes that are no longer in the mesh."""
    hosts = root / "tinc" / "hosts"
    removed = []
    if hosts.is_dir():
        for path in hosts.iterdir():
            if path.is_file() and path.name not in keep:
                path.unlink()
                removed.append(path.name)
    return removed


def _inside(root: Path, relative: str) -> Path:
    """Where relative lands under root; a bundle must not climb out of it."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise Net6Error(
            f"Refused to write {relative!r}: it lies outside {root}. The "
            "broker sent a file name it never should; nothing else was written "
            "after it. Tell the broker's operator."
        )
    return path


def _mode(name: str) -> int:
    if name in EXECUTABLE:
        return 0o755
    if name in SECRET:
        return 0o600
    return 0o644
