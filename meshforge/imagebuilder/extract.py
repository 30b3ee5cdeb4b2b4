"""Unpack an ImageBuilder archive without letting any member escape.

Every member is checked before it is written: absolute names, ``..``
components, links that resolve outside the folder, device nodes and fifos
refuse the whole archive. Writing never follows a symbolic link: parent
folders must be real folders and files are opened with ``O_NOFOLLOW``. A
last pass resolves every symbolic link against the finished tree, because a
link that looked harmless can change meaning once later members exist.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

import zstandard

from meshforge.errors import UnsafeArchive

log = logging.getLogger(__name__)

_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1024 * 1024
_OUTSIDE = "which points outside the builder folder"
# OpenWrt compresses with long-distance matching; allow its largest window.
_ZSTD_MAX_WINDOW = 2**31


def extract_archive(archive: Path, dest: Path, max_bytes: int) -> None:
    """Unpack ``archive`` (.tar.xz or .tar.zst) into the empty folder ``dest``."""
    with archive.open("rb") as raw:
        magic = raw.read(6)
        raw.seek(0)
        with _open_tar(raw, magic, archive.name) as tar:
            _Extractor(dest, archive.name, max_bytes).run(tar)


def _open_tar(raw: BinaryIO, magic: bytes, name: str) -> tarfile.TarFile:
    if magic.startswith(_XZ_MAGIC):
        return tarfile.open(fileobj=raw, mode="r|xz")
    if magic.startswith(_ZSTD_MAGIC):
        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        stream = decompressor.stream_reader(raw, read_size=_CHUNK)
        return tarfile.open(fileobj=stream, mode="r|")
    raise UnsafeArchive(
        f"The archive {name} is neither xz nor zstd compressed; only "
        ".tar.xz and .tar.zst ImageBuilder archives are supported.",
        permanent=True,
    )


class _Extractor:
    def __init__(self, dest: Path, archive_name: str, max_bytes: int) -> None:
        self.root = dest.resolve()
        self.archive = archive_name
        self.budget = max_bytes
        self.dir_modes: list[tuple[Path, int]] = []

    def run(self, tar: tarfile.TarFile) -> None:
        for member in tar:
            self._extract(tar, member)
        self._check_final_links()
        # Folders get their modes last so read-only ones can still be filled.
        for path, mode in reversed(self.dir_modes):
            os.chmod(path, mode, follow_symlinks=False)

    def _extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        relative = self._relative(member)
        if relative is None:
            return
        target = self.root.joinpath(*relative.parts)
        self._check_parents(member, relative)
        if member.isdir():
            self._make_dir(member, target)
        elif member.isreg():
            self._write_file(tar, member, target)
        elif member.issym():
            self._make_symlink(member, relative, target)
        elif member.islnk():
            self._make_hardlink(member, target)
        else:
            raise self._refuse(member, "is a device node, fifo or other special file")

    def _relative(self, member: tarfile.TarInfo) -> PurePosixPath | None:
        name = member.name
        if name.startswith("/"):
            raise self._refuse(member, "has an absolute path")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise self._refuse(member, "has a '..' component in its path")
        if "\x00" in name:
            raise self._refuse(member, "has a NUL byte in its path")
        return PurePosixPath(*parts) if parts else None

    def _check_parents(
        self, member: tarfile.TarInfo, relative: PurePosixPath, create: bool = True
    ) -> None:
        current = self.root
        for part in relative.parts[:-1]:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                if not create:
                    return
                os.mkdir(current, 0o755)
                continue
            if not stat.S_ISDIR(mode):
                raise self._refuse(
                    member, f"would be written through {part!r}, which is not a folder"
                )

    def _make_dir(self, member: tarfile.TarInfo, target: Path) -> None:
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            os.mkdir(target, 0o755)
        else:
            if not stat.S_ISDIR(mode):
                raise self._refuse(member, "replaces a file or link with a folder")
        self.dir_modes.append((target, (member.mode & 0o777) | 0o700))

    def _write_file(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path
    ) -> None:
        self._spend(member, member.size)
        self._unlink_existing(member, target)
        source = tar.extractfile(member)
        if source is None:
            raise self._refuse(member, "has no readable content")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(target, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            _copy(source, out)
            out.flush()  # before utime, or the final write would reset mtime
            os.fchmod(out.fileno(), (member.mode & 0o777) | 0o600)
            os.utime(out.fileno(), (member.mtime, member.mtime))

    def _make_symlink(
        self, member: tarfile.TarInfo, relative: PurePosixPath, target: Path
    ) -> None:
        link = member.linkname
        if not link:
            raise self._refuse(member, "is a symbolic link with an empty target")
        if link.startswith("/"):
            raise self._refuse(
                member, f"is a symbolic link to the absolute path {link}"
            )
        if not self._inside(relative.parent, link):
            raise self._refuse(member, f"is a symbolic link to {link}, {_OUTSIDE}")
        self._unlink_existing(member, target)
        os.symlink(link, target)
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)

    def _make_hardlink(self, member: tarfile.TarInfo, target: Path) -> None:
        link = member.linkname
        if link.startswith("/") or not self._inside(PurePosixPath(), link):
            raise self._refuse(member, f"is a hard link to {link}, {_OUTSIDE}")
        source = self.root.joinpath(*PurePosixPath(link).parts)
        self._check_parents(member, PurePosixPath(link), create=False)
        try:
            source_mode = os.lstat(source).st_mode
        except FileNotFoundError:
            raise self._refuse(
                member, f"is a hard link to {link}, not unpacked"
            ) from None
        if not stat.S_ISREG(source_mode):
            raise self._refuse(member, f"is a hard link to {link}, not a regular file")
        self._unlink_existing(member, target)
        os.link(source, target, follow_symlinks=False)

    def _inside(self, base: PurePosixPath, link: str) -> bool:
        depth = len(base.parts)
        for part in link.split("/"):
            if part == "..":
                depth -= 1
            elif part not in ("", "."):
                depth += 1
            if depth < 0:
                return False
        return True

    def _unlink_existing(self, member: tarfile.TarInfo, target: Path) -> None:
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            raise self._refuse(member, "replaces a folder with a file or link")
        os.unlink(target)

    def _spend(self, member: tarfile.TarInfo, size: int) -> None:
        self.budget -= size
        if self.budget < 0:
            raise UnsafeArchive(
                f"The archive {self.archive} unpacks to more than the builder "
                f"cache allows (stopped at member {member.name!r}); raise "
                "MESHFORGE_BUILDER_CACHE_MAX_BYTES if the archive is genuine.",
                permanent=False,
            )

    def _check_final_links(self) -> None:
        for folder, dirs, files in os.walk(self.root):
            for name in dirs + files:
                path = Path(folder, name)
                # realpath, unlike Path.resolve, tolerates link loops.
                resolved = Path(os.path.realpath(path))
                if path.is_symlink() and not _within(resolved, self.root):
                    link = os.readlink(path)
                    rel = path.relative_to(self.root)
                    raise UnsafeArchive(
                        f"The archive {self.archive} is unsafe: the symbolic link "
                        f"{str(rel)!r} -> {link!r} resolves outside the builder "
                        "folder once all members are unpacked. Nothing was used.",
                        permanent=True,
                    )

    def _refuse(self, member: tarfile.TarInfo, why: str) -> UnsafeArchive:
        log.warning("refusing archive %s: member %r %s", self.archive, member.name, why)
        return UnsafeArchive(
            f"The archive {self.archive} is unsafe: member {member.name!r} {why}. "
            "Nothing from it was used; report this to the upstream site operator.",
            permanent=True,
        )


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _copy(source: IO[bytes], out: IO[bytes]) -> None:
    while chunk := source.read(_CHUNK):
        out.write(chunk)
