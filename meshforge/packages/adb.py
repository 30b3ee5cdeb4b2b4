"""apk v3 ``packages.adb`` indexes, read without apk-tools.

Layout (apk-tools ``adb.h``): the magic ``ADBd`` and a raw deflate stream;
inside, ``ADB.`` and the schema ``indx``, then blocks whose first word holds
the type (top two bits) and the size. The ADB block is a tree of 32-bit
values: the top four bits give the type (inline int, int32, blob of 8/16/32
bit length, array, object), the rest an inline value or an offset. Objects
and arrays start with their slot count. An index's slot 2 lists packages;
a package's slots are 1 name, 2 version, 3 hash, 5 arch, 13 file size,
15 depends, 16 provides, 17 replaces, 21 tags; a dependency's are 1 name,
2 version, 3 match mask.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from meshforge.errors import FormatError
from meshforge.packages.index import Dependency, Package

_INT, _INT32, _INT64 = 0x1, 0x2, 0x3
_BLOB8, _BLOB16, _BLOB32 = 0x8, 0x9, 0xA
_ARRAY, _OBJECT = 0xD, 0xE

_NAME, _VERSION, _HASHES, _ARCH = 1, 2, 3, 5
_FILE_SIZE, _DEPENDS, _PROVIDES, _REPLACES, _TAGS = 13, 15, 16, 17, 21
_DEP_NAME, _DEP_VERSION, _DEP_MATCH = 1, 2, 3

# apk_version.h: the match mask of a dependency.
_EQUAL, _LESS, _GREATER, _FUZZY, _CONFLICT = 1, 2, 4, 8, 16
_OPS = {
    _LESS: "<",
    _LESS | _EQUAL: "<=",
    _EQUAL: "=",
    _GREATER | _EQUAL: ">=",
    _GREATER: ">",
    _FUZZY: "~",
    _FUZZY | _EQUAL: "~",
    _LESS | _EQUAL | _FUZZY: "<~",
    _GREATER | _EQUAL | _FUZZY: ">~",
}
_ABI_TAG = "openwrt:abiversion="


class _Tree:
    """The value tree of one ADB block."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def word(self, offset: int) -> int:
        if offset + 4 > len(self.payload):
            raise FormatError("packages.adb points outside its data block.")
        return int(struct.unpack_from("<I", self.payload, offset)[0])

    def value(self, raw: int) -> Any:
        kind, offset = raw >> 28, raw & 0x0FFFFFFF
        if kind == _INT:
            return offset
        if kind == _INT32:
            return self.word(offset)
        if kind == _INT64:
            return int(struct.unpack_from("<Q", self.payload, offset)[0])
        if kind in (_BLOB8, _BLOB16, _BLOB32):
            return self._blob(kind, offset)
        if kind in (_ARRAY, _OBJECT):
            return self.slots(offset)
        return None

    def _blob(self, kind: int, offset: int) -> bytes:
        width = {_BLOB8: 1, _BLOB16: 2, _BLOB32: 4}[kind]
        size = int.from_bytes(self.payload[offset : offset + width], "little")
        return self.payload[offset + width : offset + width + size]

    def slots(self, offset: int) -> list[int]:
        """Raw values of an object or array; index 0 is slot 1."""
        count = self.word(offset)
        return [self.word(offset + 4 * i) for i in range(1, count)]

    def text(self, slots: list[int], index: int) -> str | None:
        raw = self.field(slots, index)
        found = self.value(raw) if raw else None
        return found.decode("utf-8") if isinstance(found, bytes) else None

    @staticmethod
    def field(slots: list[int], index: int) -> int:
        return slots[index - 1] if index <= len(slots) else 0


def read_adb_index(data: bytes, source: str = "") -> list[Package]:
    """The packages of an apk v3 index (``packages.adb``)."""
    tree = _Tree(_adb_block(_inflate(data)))
    root = tree.slots(tree.word(4) & 0x0FFFFFFF)
    listed = _Tree.field(root, 2)
    if not listed:
        return []
    return [_package(tree, raw, source) for raw in tree.value(listed)]


def _inflate(data: bytes) -> bytes:
    if data[:4] == b"ADBd":
        try:
            data = b"ADB." + zlib.decompressobj(-15).decompress(data[4:])[4:]
        except zlib.error as exc:
            raise FormatError(f"packages.adb does not inflate: {exc}.") from exc
    if data[:4] != b"ADB." or data[4:8] != b"indx":
        raise FormatError(
            "Not an apk v3 package index: expected the magic ADB and the schema "
            "'indx' (an uncompressed or deflate-compressed packages.adb)."
        )
    return data


def _adb_block(data: bytes) -> bytes:
    """The payload of the first block, which holds the ADB tree."""
    type_size = int(struct.unpack_from("<I", data, 8)[0])
    if type_size >> 30 != 0:
        raise FormatError("packages.adb does not start with its data block.")
    return data[12 : 8 + (type_size & 0x3FFFFFFF)]


def _package(tree: _Tree, raw: int, source: str) -> Package:
    slots = tree.value(raw)
    name, version = tree.text(slots, _NAME), tree.text(slots, _VERSION)
    if not name or not version:
        raise FormatError("A package in packages.adb lacks a name or a version.")
    deps = _dependencies(tree, _Tree.field(slots, _DEPENDS))
    tags = [t.decode() for t in _values(tree, _Tree.field(slots, _TAGS))]
    abi = next((t[len(_ABI_TAG) :] for t in tags if t.startswith(_ABI_TAG)), None)
    hashes = tree.value(_Tree.field(slots, _HASHES)) or b""
    size = tree.value(_Tree.field(slots, _FILE_SIZE))
    return Package(
        name=name,
        version=version,
        depends=tuple((d,) for d, conflict in deps if not conflict),
        conflicts=tuple(d for d, conflict in deps if conflict),
        provides=tuple(
            d.name for d, _ in _dependencies(tree, _Tree.field(slots, _PROVIDES))
        ),
        replaces=tuple(
            d.name for d, _ in _dependencies(tree, _Tree.field(slots, _REPLACES))
        ),
        abi_version=abi,
        arch=tree.text(slots, _ARCH) or "noarch",
        size=size if isinstance(size, int) else None,
        sha256=hashes.hex() if isinstance(hashes, bytes) and hashes else None,
        source=source,
    )


def _values(tree: _Tree, raw: int) -> list[bytes]:
    return [v for v in (tree.value(r) for r in tree.value(raw))] if raw else []


def _dependencies(tree: _Tree, raw: int) -> list[tuple[Dependency, bool]]:
    found = []
    for item in tree.value(raw) if raw else []:
        slots = tree.value(item)
        name = tree.text(slots, _DEP_NAME) or ""
        version = tree.text(slots, _DEP_VERSION)
        match = tree.value(_Tree.field(slots, _DEP_MATCH)) or 0
        op = _OPS.get(match & ~_CONFLICT) or ("=" if version else None)
        found.append(
            (
                Dependency(name, op if version else None, version),
                bool(match & _CONFLICT),
            )
        )
    return found
