"""opkg stanza text: ``Packages`` indexes and the ``status`` file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def parse(text: str) -> Iterator[dict[str, str]]:
    """Yield each stanza; continuation lines are kept with a ``\\n``."""
    stanza: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if stanza:
                yield stanza
            stanza, field = {}, ""
        elif line[0] in " \t":
            if field:
                stanza[field] += "\n" + line
        elif ":" in line:
            field, _, value = line.partition(":")
            stanza[field.strip()] = value.strip()
    if stanza:
        yield stanza


def render(fields: Iterable[tuple[str, str]]) -> str:
    """Render one stanza, skipping empty fields, ending in a blank line."""
    lines = [f"{key}: {value}" for key, value in fields if value]
    return "\n".join(lines) + "\n\n"
