"""opkg version comparison (the dpkg algorithm used by opkg-lede ``pkg.c``)."""

from __future__ import annotations

DIGITS = "0123456789"
OPERATORS = ("<<", "<=", ">=", ">>", "=", "<", ">")


def _weight(char: str) -> int:
    # ``~`` sorts before everything, even the end of the string; letters
    # before other symbols. Digits never reach here.
    if not char:
        return 0
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def verrevcmp(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        while (i < len(left) and left[i] not in DIGITS) or (
            j < len(right) and right[j] not in DIGITS
        ):
            a = _weight(left[i]) if i < len(left) and left[i] not in DIGITS else 0
            b = _weight(right[j]) if j < len(right) and right[j] not in DIGITS else 0
            if a != b:
                return a - b
            i, j = i + 1, j + 1
        diff, i, j = _compare_digits(left, i, right, j)
        if diff:
            return diff
    return 0


def _compare_digits(left: str, i: int, right: str, j: int) -> tuple[int, int, int]:
    while i < len(left) and left[i] == "0":
        i += 1
    while j < len(right) and right[j] == "0":
        j += 1
    first = 0
    while i < len(left) and left[i] in DIGITS and j < len(right) and right[j] in DIGITS:
        first = first or ord(left[i]) - ord(right[j])
        i, j = i + 1, j + 1
    if i < len(left) and left[i] in DIGITS:
        return 1, i, j
    if j < len(right) and right[j] in DIGITS:
        return -1, i, j
    return first, i, j


def _split(version: str) -> tuple[int, str, str]:
    epoch, _, rest = version.partition(":") if ":" in version else ("0", "", version)
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch or 0), upstream, revision


def compare(left: str, right: str) -> int:
    """Negative, zero or positive, as ``left`` sorts before, with or after."""
    l_epoch, l_version, l_revision = _split(left)
    r_epoch, r_version, r_revision = _split(right)
    if l_epoch != r_epoch:
        return l_epoch - r_epoch
    return verrevcmp(l_version, r_version) or verrevcmp(l_revision, r_revision)


def satisfies(version: str, operator: str, wanted: str) -> bool:
    """Whether ``version`` meets ``operator wanted``; bare ``<``/``>`` allow equal."""
    order = compare(version, wanted)
    checks = {
        "<<": order < 0,
        "<=": order <= 0,
        "<": order <= 0,
        "=": order == 0,
        ">=": order >= 0,
        ">": order >= 0,
        ">>": order > 0,
    }
    return checks[operator]
