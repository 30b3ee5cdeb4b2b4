"""opkg's RFC 822-style stanza files: ``Packages`` indexes and ``status``.

Stanzas are ``Field: value`` lines separated by a blank line; a line starting
with a space continues the previous field (``Description``, ``Conffiles``).
"""

from __future__ import annotations

from collections.abc import Iterator


def parse_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Yield each stanza as a dict; continuation lines join with ``\\n``."""
    stanza: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, ""
        elif line[0] in " \t":
            if field:
                stanza[field] += "\n" + line.strip()
        elif ":" in line:
            field, _, value = line.partition(":")
            field = field.strip()
            stanza[field] = value.strip()
    if stanza:
        yield stanza


def strip_abi(name: str, abi_version: str | None) -> str:
    """Drop the ABI suffix, but only where the name really ends with it.

    ``libubox20240329`` with ``ABIVersion: 20240329`` becomes ``libubox``;
    ``libusb-1.0-0`` with ``ABIVersion: -0`` becomes ``libusb-1.0``.
    """
    if abi_version and name.endswith(abi_version) and name != abi_version:
        return name[: -len(abi_version)]
    return name


def split_list(value: str) -> list[str]:
    """Split a ``Depends``-style comma list, dropping empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]
