from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

import pytest

from meshforge.errors import UnsafeArchive
from meshforge.imagebuilder.extract import extract_archive
from tests.unit.imagebuilder.ib_factories import Member, builder_members, write_archive

LIMIT = 10 * 1024 * 1024


def unpack(tmp_path: Path, members: list[Member], kind: str = "zst") -> Path:
    archive = write_archive(tmp_path / f"a.tar.{kind}", members, kind)
    dest = tmp_path / "jail" / "dest"
    dest.mkdir(parents=True)
    extract_archive(archive, dest, LIMIT)
    return dest


@pytest.mark.parametrize("kind", ["xz", "zst"])
def test_good_archive_is_unpacked_with_modes_links_and_times(tmp_path, kind):
    members = builder_members("ib", payload=b"x" * 5000)
    members.append(Member("ib/hard", tarfile.LNKTYPE, link="ib/payload.bin"))

    dest = unpack(tmp_path, members, kind)

    assert (dest / "ib/Makefile").read_bytes().startswith(b"# Generated")
    assert (dest / "ib/payload.bin").stat().st_size == 5000
    assert os.stat(dest / "ib/scripts/run.sh").st_mode & stat.S_IXUSR
    assert not os.stat(dest / "ib/Makefile").st_mode & stat.S_IXUSR
    assert os.readlink(dest / "ib/rules.mk") == "Makefile"
    assert (dest / "ib/hard").stat().st_ino == (dest / "ib/payload.bin").stat().st_ino
    assert (dest / "ib/Makefile").stat().st_mtime == 1_700_000_000


def test_leading_dot_slash_names_are_accepted(tmp_path):
    dest = unpack(tmp_path, [Member("./", tarfile.DIRTYPE), Member("./a/b", data=b"1")])
    assert (dest / "a/b").read_bytes() == b"1"


MALICIOUS = {
    "dotdot": [Member("ib/../../evil", data=b"pwn")],
    "absolute": [Member("/tmp/evil-absolute", data=b"pwn")],
    "absolute symlink": [Member("ib/link", tarfile.SYMTYPE, link="/etc/passwd")],
    "symlink up": [Member("ib/sub/link", tarfile.SYMTYPE, link="../../..")],
    "hardlink outside": [Member("ib/hard", tarfile.LNKTYPE, link="../outside")],
    "absolute hardlink": [Member("ib/hard", tarfile.LNKTYPE, link="/etc/passwd")],
    "char device": [Member("ib/null", tarfile.CHRTYPE)],
    "block device": [Member("ib/disk", tarfile.BLKTYPE)],
    "fifo": [Member("ib/fifo", tarfile.FIFOTYPE)],
    # Each link looks harmless alone; together 'b' escapes.
    "symlink chain": [
        Member("ib/", tarfile.DIRTYPE),
        Member("ib/b", tarfile.SYMTYPE, link="s/../../escape"),
        Member("ib/s", tarfile.SYMTYPE, link="."),
    ],
    # Writing through an inside link must be refused, not followed.
    "write through link": [
        Member("ib/real/", tarfile.DIRTYPE),
        Member("ib/via", tarfile.SYMTYPE, link="real"),
        Member("ib/via/file", data=b"x"),
    ],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_members_are_refused(tmp_path, case):
    with pytest.raises(UnsafeArchive) as caught:
        unpack(tmp_path, MALICIOUS[case])

    assert caught.value.permanent
    assert "is unsafe" in caught.value.detail
    assert not list(tmp_path.rglob("evil*"))
    assert not (tmp_path / "jail" / "escape").exists()


def test_refusal_names_the_member(tmp_path):
    with pytest.raises(UnsafeArchive, match=r"member 'ib/link' is a symbolic link"):
        unpack(tmp_path, MALICIOUS["absolute symlink"])


def test_existing_symlink_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "jail" / "victim"
    members = [
        Member("ib/", tarfile.DIRTYPE),
        Member("ib/f", tarfile.SYMTYPE, link="g"),
        Member("ib/f", data=b"new"),
    ]
    dest = unpack(tmp_path, members)

    assert not outside.exists()
    assert not (dest / "ib/f").is_symlink()
    assert (dest / "ib/f").read_bytes() == b"new"


def test_archive_larger_than_budget_is_refused_as_transient(tmp_path):
    archive = write_archive(
        tmp_path / "big.tar.zst", [Member("ib/big", data=b"0" * 4096)]
    )
    (tmp_path / "d").mkdir()
    with pytest.raises(UnsafeArchive) as caught:
        extract_archive(archive, tmp_path / "d", max_bytes=1000)
    assert not caught.value.permanent
    assert "ib/big" in caught.value.detail


def test_unknown_compression_is_refused(tmp_path):
    archive = tmp_path / "plain.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    (tmp_path / "d").mkdir()
    with pytest.raises(UnsafeArchive, match="neither xz nor zstd"):
        extract_archive(archive, tmp_path / "d", LIMIT)
