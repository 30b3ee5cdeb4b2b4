"""A request's own package repositories and keys, as ImageBuilder files.

opkg ImageBuilders read ``repositories.conf`` (``src/gz <name> <url>``
lines, the local ``src imagebuilder file:packages`` and ``option
check_signature``); apk ones read ``repositories``, one URL per line. Keys go
to ``keys/``: usign keys named by their fingerprint, PEM keys as
``custom-N.pem``.
"""

from __future__ import annotations

from pathlib import Path

from meshforge.errors import BadRequest, FormatError
from meshforge.signing.usign import PublicKey, parse_public_key

LOCAL = "src imagebuilder file:packages"
CHECK = "option check_signature"


def repositories_text(root: Path, repositories: dict[str, str], mode: str) -> str:
    """The repositories file for one build (``mode``: append or replace)."""
    if (root / "repositories").is_file():
        kept = _lines(root / "repositories") if mode == "append" else []
        return "\n".join([*kept, *repositories.values()]) + "\n"
    kept = _lines(root / "repositories.conf") if mode == "append" else [LOCAL]
    lines = [*kept, *(f"src/gz {name} {url}" for name, url in repositories.items())]
    if CHECK not in lines:
        lines.append(CHECK)
    return "\n".join(lines) + "\n"


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return [line for line in path.read_text().splitlines() if line.strip()]


def key_files(keys: list[str]) -> dict[str, str]:
    """File name to content for each key a request brings."""
    files: dict[str, str] = {}
    for number, key in enumerate(keys):
        if key.lstrip().startswith("-----BEGIN"):
            files[f"custom-{number}.pem"] = key.strip() + "\n"
            continue
        public = usign_key(key)
        files[public.fingerprint] = f"untrusted comment: {public.fingerprint}\n{key}\n"
    return files


def usign_key(key: str) -> PublicKey:
    try:
        return parse_public_key(key.strip())
    except FormatError as exc:
        raise BadRequest(
            "A repository key is neither a usign public key (its base64 line) "
            f"nor a PEM public key: {exc.detail} Send the key as it is printed "
            "in the repository's key file."
        ) from exc
