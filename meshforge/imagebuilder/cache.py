"""Download, verify, unpack and keep ImageBuilders, bounded in disk use.

Layout under the cache root, keyed by the archive's full sha256::

    builders/<sha256>/     the unpacked ImageBuilder
    state/<sha256>.json    written last: its presence means "complete"
    state/<sha256>.used    its mtime is the last-used stamp
    locks/<sha256>.setup   held while setting up or evicting
    locks/<sha256>.use     held shared by every Builder handed out
    tmp/                   downloads and half-unpacked trees

A builder is set up once even when threads and processes ask for it at the
same time (the setup lock), and it is never evicted while a Builder object
for it is alive (the use lock).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from meshforge.errors import BuildError, FormatError, SignatureError, UpstreamError
from meshforge.imagebuilder.archive import find_archive, is_snapshot
from meshforge.imagebuilder.builder import Builder
from meshforge.imagebuilder.extract import extract_archive
from meshforge.imagebuilder.fetch import download, fetch_bytes
from meshforge.imagebuilder.locks import FileLock
from meshforge.signing.usign import Keyring

log = logging.getLogger(__name__)

_SUMS_LIMIT = 8 * 1024 * 1024
_SIG_LIMIT = 4096
# Older than any download or unpack can take, so never a live one.
_STALE_TMP_S = 24 * 3600


class BuilderCache:
    def __init__(
        self,
        root: Path,
        max_bytes: int,
        http: httpx.Client,
        keyring: Keyring,
        *,
        timeout_s: float | None = None,
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.http = http
        self.keyring = keyring
        self.timeout_s = timeout_s
        for folder in ("builders", "state", "locks", "tmp"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self._sweep_tmp()

    def obtain(
        self,
        target_url: str,
        version: str,
        target: str,
        on_step: Callable[[str], None] = lambda s: None,
    ) -> Builder:
        """A ready Builder for the archive that ``target_url`` publishes.

        Every failure is a BuildError whose ``permanent`` flag says whether
        retrying can help; the upstream error is kept as its ``__cause__``.
        """
        try:
            return self._obtain(target_url.rstrip("/"), version, target, on_step)
        except UpstreamError as exc:
            raise BuildError(
                exc.detail, permanent=_permanent(exc, version), **exc.extra
            ) from exc

    def _obtain(
        self,
        target_url: str,
        version: str,
        target: str,
        on_step: Callable[[str], None],
    ) -> Builder:
        try:
            name, digest = self._locate(target_url, version, target)
        except UpstreamError as exc:
            name, digest = self._fallback(target_url, version, exc)
        use = FileLock(self._lock(digest, "use"))
        with FileLock(self._lock(digest, "setup")).exclusive():
            if not self._complete(digest):
                self._install(f"{target_url}/{name}", digest, on_step)
            # Taken under the setup lock, so eviction cannot slip in between.
            use.acquire(shared=True)
            self._touch(digest)
        self.evict(keep=digest)
        return Builder(
            self._builder(digest),
            timeout_s=self.timeout_s,
            on_release=lambda: self._released(digest, use),
        )

    def evict(self, keep: str = "") -> int:
        """Remove least recently used builders until under max_bytes.

        Returns the bytes still in use afterwards.
        """
        entries = sorted(self._entries())
        total = sum(size for _, _, size in entries)
        for _, digest, size in entries:
            if total <= self.max_bytes:
                break
            if digest != keep and self._remove(digest):
                total -= size
        if total > self.max_bytes:
            log.warning(
                "builder cache holds %d bytes, over its limit of %d, because "
                "the remaining builders are in use",
                total,
                self.max_bytes,
            )
        return total

    # --- locating and verifying ------------------------------------------

    def _locate(self, target_url: str, version: str, target: str) -> tuple[str, str]:
        sums_url = f"{target_url}/sha256sums"
        sums = fetch_bytes(self.http, sums_url, _SUMS_LIMIT)
        if sums is None:
            raise BuildError(
                f"The ImageBuilder for {version} {target} is not published yet "
                f"({sums_url} does not exist); retry later.",
                permanent=False,
            )
        signature = fetch_bytes(self.http, f"{sums_url}.sig", _SIG_LIMIT)
        if signature is None:
            raise SignatureError(
                f"{sums_url} has no signature file sha256sums.sig, so its "
                "checksums cannot be trusted and nothing was downloaded; check "
                "the upstream URL or retry when the release is complete."
            )
        self.keyring.verify(sums, signature.decode("ascii", "replace"), sums_url)
        return find_archive(_decode(sums, sums_url), version, target)

    def _fallback(
        self, target_url: str, version: str, exc: UpstreamError
    ) -> tuple[str, str]:
        """A builder unpacked earlier from ``target_url``, when upstream is down.

        Only for releases: their archive never changes, while a snapshot's
        old builder would silently build yesterday's revision.
        """
        if isinstance(exc, SignatureError | FormatError) or is_snapshot(version):
            raise exc
        for state_file in (self.root / "state").glob("*.json"):
            state = json.loads(state_file.read_text())
            base, _, name = str(state.get("url", "")).rpartition("/")
            if base == target_url and self._complete(state_file.stem):
                log.warning("upstream unreachable (%s); using cached %s", exc, name)
                return name, state_file.stem
        raise exc

    # --- setting up ------------------------------------------------------

    def _install(self, url: str, digest: str, on_step: Callable[[str], None]) -> None:
        self._discard(self._builder(digest))  # a crash may have left half a tree
        tmp = Path(tempfile.mkdtemp(prefix=f"{digest[:16]}.", dir=self.root / "tmp"))
        try:
            on_step("download_imagebuilder")
            archive = tmp / url.rsplit("/", 1)[-1]
            _check_digest(
                download(self.http, url, archive, self.max_bytes), digest, url
            )
            on_step("unpack_imagebuilder")
            unpacked = tmp / "unpacked"
            unpacked.mkdir()
            extract_archive(archive, unpacked, self.max_bytes)
            os.rename(_top_folder(unpacked), self._builder(digest))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._mark_complete(digest, url)

    def _mark_complete(self, digest: str, url: str) -> None:
        size = _measure(self._builder(digest))
        state = {"url": url, "sha256": digest, "size": size, "at": int(time.time())}
        self._write_state(digest, state)  # its presence means "complete"
        log.info("ImageBuilder %s unpacked (%d bytes) from %s", digest, size, url)

    def _write_state(self, digest: str, state: dict[str, Any]) -> None:
        final = self.root / "state" / f"{digest}.json"
        fd, partial = tempfile.mkstemp(prefix=f".{digest}.", dir=final.parent)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(state))
        os.replace(partial, final)  # atomic: a reader sees all or nothing

    def _read_state(self, digest: str) -> dict[str, Any] | None:
        try:
            state = json.loads((self.root / "state" / f"{digest}.json").read_text())
        except FileNotFoundError:
            return None  # evicted meanwhile
        return state if isinstance(state, dict) else None

    # --- eviction --------------------------------------------------------

    def _entries(self) -> list[tuple[float, str, int]]:
        """(last used, digest, bytes) of every complete builder."""
        entries = []
        for state_file in (self.root / "state").glob("*.json"):
            state = self._read_state(state_file.stem)
            stamp = state_file.with_suffix(".used")
            with contextlib.suppress(FileNotFoundError):
                used = stamp.stat().st_mtime if stamp.exists() else 0.0
                if state is not None:
                    entries.append((used, state_file.stem, int(state.get("size", 0))))
        return entries

    def _remove(self, digest: str) -> bool:
        setup = FileLock(self._lock(digest, "setup"))
        if not setup.acquire(blocking=False):
            return False
        try:
            use = FileLock(self._lock(digest, "use"))
            if not use.acquire(blocking=False):
                return False
            try:
                (self.root / "state" / f"{digest}.json").unlink(missing_ok=True)
                self._discard(self._builder(digest))
                (self.root / "state" / f"{digest}.used").unlink(missing_ok=True)
            finally:
                use.release()
        finally:
            setup.release()
        log.info("evicted ImageBuilder %s", digest)
        return True

    def _discard(self, folder: Path) -> None:
        if not folder.exists():
            return
        # Renaming first makes the removal look atomic to other readers.
        trash = Path(tempfile.mkdtemp(prefix="evict.", dir=self.root / "tmp"))
        os.rename(folder, trash / "tree")
        shutil.rmtree(trash, ignore_errors=True)

    def _sweep_tmp(self) -> None:
        """Drop downloads and trees that a crashed process left behind."""
        cutoff = time.time() - _STALE_TMP_S
        for entry in (self.root / "tmp").iterdir():
            try:
                if entry.lstat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
                    log.info("removed stale temporary entry %s", entry)
            except FileNotFoundError:
                continue

    # --- small helpers ---------------------------------------------------

    def _released(self, digest: str, use: FileLock) -> None:
        # Builds leave files in build_dir/ and dl/, so measure again now,
        # while the use lock still keeps eviction away.
        try:
            state = self._read_state(digest)
            if state is not None:
                state["size"] = _measure(self._builder(digest))
                self._write_state(digest, state)
            self._touch(digest)
        finally:
            use.release()

    def _touch(self, digest: str) -> None:
        stamp = self.root / "state" / f"{digest}.used"
        stamp.touch()
        now = time.time()
        os.utime(stamp, (now, now))

    def _complete(self, digest: str) -> bool:
        state = self.root / "state" / f"{digest}.json"
        return state.is_file() and self._builder(digest).is_dir()

    def _builder(self, digest: str) -> Path:
        return self.root / "builders" / digest

    def _lock(self, digest: str, kind: str) -> Path:
        return self.root / "locks" / f"{digest}.{kind}"


def _decode(data: bytes, url: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{url} is not UTF-8 text ({exc}).") from exc


def _check_digest(actual: str, expected: str, url: str) -> None:
    if actual != expected:
        # Transient: usually a mirror caught between two uploads.
        raise BuildError(
            f"The download of {url} has sha256 {actual}, but the signed "
            f"sha256sums lists {expected}; it was discarded. Retry later.",
            permanent=False,
        )


def _top_folder(unpacked: Path) -> Path:
    """The ImageBuilder root: the archive's single top folder, if it has one."""
    children = list(unpacked.iterdir())
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return unpacked


def _measure(folder: Path) -> int:
    """Bytes used by ``folder``, tolerating files that vanish meanwhile."""
    total = 0
    for parent, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except FileNotFoundError:
                continue
    return total


def _permanent(exc: UpstreamError, version: str) -> bool:
    if isinstance(exc, FormatError):
        return True
    if isinstance(exc, SignatureError):
        # Snapshot folders are replaced file by file, so sha256sums and its
        # signature can briefly disagree; a release's never should.
        return not is_snapshot(version)
    return False  # the network or the mirror; retrying may help
