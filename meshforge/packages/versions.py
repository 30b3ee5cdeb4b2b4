"""Version comparison as opkg and apk do it, which are two different orders.

opkg (opkg-lede ``pkg.c``) uses dpkg's algorithm on ``[epoch:]version[-rev]``:
``~`` sorts before everything, even the end of the string. apk (apk-tools
``version.c``, v3) tokenises ``digit{.digit}{letter}{_suffix{N}}{~hash}{-rN}``
and treats ``~`` as the start of a commit hash, so never mix the two.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Literal

Format = Literal["opkg", "apk"]

#: Operators opkg accepts in ``Depends``; bare ``<``/``>`` mean ``<=``/``>=``.
OPKG_OPERATORS = {"<<": "<<", "<=": "<=", "<": "<=", "=": "=", ">=": ">=", ">": ">="}
OPKG_OPERATORS[">>"] = ">>"


# --- opkg ----------------------------------------------------------------


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char == "" or char.isdigit():
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _verrevcmp(val: str, ref: str) -> int:
    """dpkg's ``verrevcmp``: alternate non-digit runs and numeric runs."""
    i = j = 0
    while i < len(val) or j < len(ref):
        while (i < len(val) and not val[i].isdigit()) or (
            j < len(ref) and not ref[j].isdigit()
        ):
            vc = _order(val[i] if i < len(val) else "")
            rc = _order(ref[j] if j < len(ref) else "")
            if vc != rc:
                return vc - rc
            i, j = i + 1, j + 1
        i, vnum = _digits(val, i)
        j, rnum = _digits(ref, j)
        if vnum != rnum:
            return 1 if vnum > rnum else -1
    return 0


#: A digit run as an orderable key: (significant digits, the digits).
Number = tuple[int, str]


def _number(digits: str) -> Number:
    """Order digit runs of any length, as opkg and apk compare them.

    ``int()`` refuses strings of more than 4300 digits, and a version is
    data from anyone; comparing length first, then text, needs no limit.
    """
    significant = digits.lstrip("0")
    return len(significant), significant


def _digits(text: str, pos: int) -> tuple[int, Number]:
    end = pos
    while end < len(text) and text[end].isdigit():
        end += 1
    return end, _number(text[pos:end])


@lru_cache(maxsize=65536)
def _split_opkg(version: str) -> tuple[Number, str, str]:
    epoch = _number("")
    if ":" in version:
        head, _, version = version.partition(":")
        digits = re.match(r"\d*", head)
        epoch = _number(digits.group()) if digits else _number("")
    upstream, dash, revision = version.rpartition("-")
    if not dash:
        return epoch, version, ""
    return epoch, upstream, revision


def compare_opkg(a: str, b: str) -> int:
    """Compare two opkg versions: negative, zero or positive like ``cmp``."""
    if a == b:
        return 0
    ea, va, ra = _split_opkg(a)
    eb, vb, rb = _split_opkg(b)
    if ea != eb:
        return 1 if ea > eb else -1
    return _sign(_verrevcmp(va, vb) or _verrevcmp(ra, rb))


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def opkg_satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """Whether ``version`` meets the constraint ``(op wanted)`` as opkg checks it.

    opkg-lede's ``version_constraints_satisfied`` accepts an equal version for
    every operator, ``<<`` and ``>>`` included; we keep that quirk so that
    our answers match what the ImageBuilder will do.
    """
    if op is None or wanted is None:
        return True
    cmp = compare_opkg(version, wanted)
    if cmp == 0:
        return True
    if op in ("<<", "<="):
        return cmp < 0
    if op in (">>", ">="):
        return cmp > 0
    return False


# --- apk -----------------------------------------------------------------

_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REV, _END, _INVALID = range(9)
_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_SUFFIX_NONE = 5
_HEX = frozenset("0123456789abcdefABCDEF")


class _Token:
    __slots__ = ("kind", "number", "suffix", "value")

    def __init__(self, kind: int, value: str = "", number: Number = (0, "")) -> None:
        self.kind = kind
        self.value = value
        self.number = number
        self.suffix = 0


def _apk_tokens(text: str) -> list[_Token]:
    """Tokens of an apk version, ending with an END or INVALID token."""
    pos, digits = _span(text, 0, str.isdigit)
    tokens = [_Token(_INITIAL if digits else _INVALID, digits, _number(digits))]
    while tokens[-1].kind < _END:
        token, pos = _apk_next(text, pos, tokens[-1].kind)
        tokens.append(token)
    return tokens


def _span(text: str, pos: int, pred: Callable[[str], bool]) -> tuple[int, str]:
    end = pos
    while end < len(text) and pred(text[end]):
        end += 1
    return end, text[pos:end]


def _apk_next(text: str, pos: int, prev: int) -> tuple[_Token, int]:
    if pos >= len(text):
        return _Token(_END), pos
    char = text[pos]
    if "a" <= char <= "z" and prev <= _DIGIT:
        return _Token(_LETTER, char), pos + 1
    if (char == "." and prev <= _DIGIT) or char.isdigit():
        return _apk_number(text, pos + (char == "."), prev)
    if char == "_" and prev <= _SUFFIX_NO:
        end, word = _span(text, pos + 1, lambda c: "a" <= c <= "z")
        token = _Token(_SUFFIX, word)
        token.suffix = _SUFFIXES.get(word, 0)
        return (token if token.suffix else _Token(_INVALID)), end
    if char == "~" and prev < _HASH:
        end, word = _span(text, pos + 1, _HEX.__contains__)
        return (_Token(_HASH, word) if word else _Token(_INVALID)), end
    if text.startswith("-r", pos) and prev < _REV:
        end, digits = _span(text, pos + 2, str.isdigit)
        kind = _REV if digits else _INVALID
        return _Token(kind, digits, _number(digits)), end
    return _Token(_INVALID), pos


def _apk_number(text: str, pos: int, prev: int) -> tuple[_Token, int]:
    if prev in (_INITIAL, _DIGIT):
        kind = _DIGIT
    elif prev == _SUFFIX:
        kind = _SUFFIX_NO
    else:
        return _Token(_INVALID), pos
    end, digits = _span(text, pos, str.isdigit)
    if not digits:
        return _Token(_INVALID), end
    return _Token(kind, digits, _number(digits)), end


def _apk_token_cmp(a: _Token, b: _Token) -> int:
    if a.kind == _DIGIT and (a.value.startswith("0") or b.value.startswith("0")):
        return _blob_sort(a.value, b.value)
    if a.kind in (_INITIAL, _DIGIT, _SUFFIX_NO, _REV):
        return (a.number > b.number) - (a.number < b.number)
    if a.kind == _LETTER:
        return _sign(ord(a.value) - ord(b.value))
    if a.kind == _SUFFIX:
        return _sign(a.suffix - b.suffix)
    return _blob_sort(a.value, b.value)


def _blob_sort(a: str, b: str) -> int:
    """apk's ``apk_blob_sort``: bytes first, then the shorter one first."""
    common = min(len(a), len(b))
    if a[:common] != b[:common]:
        return -1 if a[:common] < b[:common] else 1
    return _sign(len(a) - len(b))


def compare_apk(a: str, b: str, fuzzy: bool = False) -> int:
    """Compare two apk versions: negative, zero or positive like ``cmp``.

    With ``fuzzy`` (apk's ``~`` operator) ``a`` equals ``b`` when it starts
    with all of ``b``'s tokens: ``1.2.3`` matches ``~1.2``.
    """
    if a == b:
        return 0
    ta, tb = _apk_tokens(a), _apk_tokens(b)
    for x, y in zip(ta, tb, strict=False):
        if x.kind != y.kind or x.kind >= _END:
            if fuzzy and y.kind == _END:
                return 0
            return _apk_tail(x, y)
        result = _apk_token_cmp(x, y)
        if result:
            return result
    return 0


def _apk_tail(x: _Token, y: _Token) -> int:
    """Leading tokens are equal; decide on the first differing token type."""
    if x.kind == y.kind:
        return 0
    if x.kind == _SUFFIX and x.suffix < _SUFFIX_NONE:
        return -1
    if y.kind == _SUFFIX and y.suffix < _SUFFIX_NONE:
        return 1
    return -1 if x.kind > y.kind else 1


def apk_satisfies(version: str, op: str | None, wanted: str | None) -> bool:
    """apk's ``apk_version_match`` for ``< <= = >= > ~`` and their mixes."""
    if op is None or wanted is None:
        return True
    cmp = compare_apk(version, wanted, fuzzy="~" in op)
    allowed = {"<": cmp < 0, "=": cmp == 0, "~": cmp == 0, ">": cmp > 0}
    return any(allowed.get(char, False) for char in op)


def satisfies(
    version: str, op: str | None, wanted: str | None, format: Format = "opkg"
) -> bool:
    """Whether ``version`` meets ``(op wanted)`` under the given manager's rules."""
    if format == "apk":
        return apk_satisfies(version, op, wanted)
    return opkg_satisfies(version, op, wanted)


def compare(a: str, b: str, format: Format = "opkg") -> int:
    """Compare with the rules of the given package manager."""
    return compare_apk(a, b) if format == "apk" else compare_opkg(a, b)
