"""A local copy of the download site, built from data/upstream-samples.

    python -m standin.mirror build DIR --base-url http://127.0.0.1:8001
    python -m standin.mirror serve DIR --port 8001

Real upstream files are copied byte for byte; the files a download site would
have but the samples lack (``.versions.json``, ``.targets.json``,
``.overview.json``, ``feeds.conf``) are generated from them, and the stand-in
ImageBuilders are added to the one coherent signed set (22.03-SNAPSHOT).
``MIRROR-README.md`` at the root says which file is which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from meshforge.signing.usign import SecretKey, parse_secret_key
from standin.generate import archive_name, generate_archive, release_path

logger = logging.getLogger(__name__)

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "upstream-samples"
DEMO_KEY_COMMENT = (
    "meshforge DEMO key - signs stand-in ImageBuilders only, not an OpenWrt key"
)
# The berlin4apk CI key that signs every Packages index of 22.03-SNAPSHOT.
FEED_KEY = "8b8a078914d5f5dd"
TARGET_COPIES = ("version.buildinfo", "feeds.buildinfo", "config.buildinfo")


@dataclass(frozen=True)
class SampleRelease:
    version: str
    folder: str
    buildable: bool  # has package indexes, so stand-in builders are made

    @property
    def root(self) -> Path:
        return SAMPLES / self.folder

    def targets(self) -> list[str]:
        found = self.root.glob("targets/*/*/profiles.json")
        return sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in found)


RELEASES = (
    SampleRelease("23.05.5", "openwrt-23.05.5", buildable=False),
    SampleRelease("23.05.4", "openwrt-23.05.4", buildable=False),
    SampleRelease("22.03-SNAPSHOT", "berlin4apk-22.03-SNAPSHOT-ci", buildable=True),
    SampleRelease("19.07.10", "openwrt-19.07.10", buildable=False),
)
STABLE_VERSION = "23.05.5"


@dataclass(frozen=True)
class MirrorInfo:
    """Where things are after :func:`build_mirror`."""

    root: Path
    base_url: str
    keys_dir: Path  # trusted usign public keys, one file per fingerprint
    demo_secret_key: Path
    demo_fingerprint: str
    versions: list[str]
    archives: dict[str, Path]  # "<version> <target>" -> stand-in archive


@dataclass
class _Ledger:
    """What each file of the mirror is, for MIRROR-README.md."""

    copies: dict[str, str] = field(default_factory=dict)
    generated: dict[str, str] = field(default_factory=dict)


def _copy(source: Path, root: Path, rel: str, ledger: _Ledger) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    ledger.copies[rel] = str(source.relative_to(SAMPLES))


def _write(root: Path, rel: str, data: bytes, why: str, ledger: _Ledger) -> None:
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    ledger.generated[rel] = why


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def keys_folder(dest: Path) -> Path:
    """The demo key lives beside the mirror, never inside what is served."""
    return dest.parent / f"{dest.name}-keys"


def load_demo_key(folder: Path) -> SecretKey:
    """Reuse the demo key of an earlier build, or make one."""
    path = folder / "demo.sec"
    if path.is_file():
        return parse_secret_key(path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    key = SecretKey.generate(DEMO_KEY_COMMENT)
    path.write_text(key.to_text())
    path.chmod(0o600)
    logger.info("Generated demo usign key %s in %s", key.public.fingerprint, path)
    return key


def write_trusted_keys(folder: Path, key: SecretKey) -> Path:
    trusted = folder / "trusted"
    shutil.rmtree(trusted, ignore_errors=True)
    trusted.mkdir(parents=True)
    public = key.public
    (trusted / public.fingerprint).write_text(public.to_text())
    feed_key = RELEASES[2].root / "keys" / f"{FEED_KEY}.pub"
    shutil.copyfile(feed_key, trusted / FEED_KEY)
    return trusted


def overview(version: str, profiles: dict[str, dict[str, Any]]) -> dict[str, Any]:
    entries = []
    for target, document in sorted(profiles.items()):
        for name, profile in sorted(document["profiles"].items()):
            titles = profile.get("titles", [])
            entries.append({"id": name, "target": target, "titles": titles})
    return {"release": version, "profiles": entries}


def add_release(root: Path, release: SampleRelease, ledger: _Ledger) -> None:
    base = release_path(release.version)
    profiles = {}
    for target in release.targets():
        source = release.root / "targets" / target / "profiles.json"
        _copy(source, root, f"{base}/targets/{target}/profiles.json", ledger)
        profiles[target] = json.loads(source.read_text())
    arches = {t: doc["arch_packages"] for t, doc in profiles.items()}
    why = "generated from the profiles.json files of this release in the mirror"
    _write(root, f"{base}/.targets.json", _json(arches), why, ledger)
    summary = overview(release.version, profiles)
    _write(root, f"{base}/.overview.json", _json(summary), why, ledger)


def add_feeds(root: Path, release: SampleRelease, ledger: _Ledger) -> None:
    """Copy every package index of a signed release, and its target files."""
    base = release_path(release.version)
    for path in sorted(release.root.glob("packages/*/*/Packages*")):
        _copy(path, root, f"{base}/{path.relative_to(release.root)}", ledger)
    for target in release.targets():
        folder = release.root / "targets" / target
        rel = f"{base}/targets/{target}"
        for path in sorted(folder.glob("packages/Packages*")):
            _copy(path, root, f"{rel}/packages/{path.name}", ledger)
        for path in [*(folder / n for n in TARGET_COPIES), *folder.glob("*.manifest")]:
            _copy(path, root, f"{rel}/{path.name}", ledger)
        arch = json.loads((folder / "profiles.json").read_text())["arch_packages"]
        feeds = (folder / "feeds.buildinfo").read_bytes()
        why = f"the lines of targets/{target}/feeds.buildinfo of this build"
        _write(root, f"{base}/packages/{arch}/feeds.conf", feeds, why, ledger)


def sha256sums_with(real: str, name: str, data: bytes) -> str:
    """The real lines plus one for ``name``, sorted by file name as upstream."""
    lines = [line for line in real.splitlines() if line.strip()]
    lines.append(f"{hashlib.sha256(data).hexdigest()} *{name}")
    lines.sort(key=lambda line: line.split(" ", 1)[1])
    return "\n".join(lines) + "\n"


def add_builders(
    root: Path, release: SampleRelease, base_url: str, key: SecretKey, ledger: _Ledger
) -> dict[str, Path]:
    base = release_path(release.version)
    archives = {}
    for target in release.targets():
        rel = f"{base}/targets/{target}"
        path = generate_archive(release.root, target, f"{base_url}/{base}", root / rel)
        name = archive_name(release.version, target)
        ledger.generated[f"{rel}/{name}"] = (
            "meshforge stand-in ImageBuilder (standin/generate.py), not OpenWrt's"
        )
        real = (release.root / "targets" / target / "sha256sums").read_text()
        sums = sha256sums_with(real, name, path.read_bytes()).encode()
        why = "the real lines plus one for the stand-in ImageBuilder"
        _write(root, f"{rel}/sha256sums", sums, why, ledger)
        signature = key.sign(sums).encode()
        why = f"usign signature by the DEMO key {key.public.fingerprint}"
        _write(root, f"{rel}/sha256sums.sig", signature, why, ledger)
        archives[f"{release.version} {target}"] = path
    return archives


def readme(ledger: _Ledger, key: SecretKey) -> bytes:
    lines = [
        "# meshforge local sample mirror",
        "",
        "A copy of the OpenWrt download-site layout for tests and the demo, made",
        "by `python -m standin.mirror build`. Nothing here comes from the network.",
        "",
        "## Byte copies of real upstream files",
        "",
        "Source paths are relative to `data/upstream-samples/`; see its",
        "PROVENANCE.md for where each one was found.",
        "",
        *(f"- `{rel}` = `{src}`" for rel, src in sorted(ledger.copies.items())),
        "",
        "## Generated here (not upstream data)",
        "",
        *(f"- `{rel}`: {why}" for rel, why in sorted(ledger.generated.items())),
        "",
        "`sha256sums.sig` files are signed with the demo key",
        f'{key.public.fingerprint} ("{DEMO_KEY_COMMENT}").',
        "",
        "22.03-SNAPSHOT is a third-party CI build of the openwrt-22.03 branch",
        "(berlin4apk, see PROVENANCE.md). It is listed as a version, which",
        "upstream does not do for branch snapshots, because it is the one set",
        "with signed package indexes, so builds can work end to end.",
        "",
    ]
    return "\n".join(lines).encode()


def build_mirror(dest: Path, base_url: str) -> MirrorInfo:
    """Build the mirror in ``dest`` (replacing it) for serving at ``base_url``."""
    base_url = base_url.rstrip("/")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    key = load_demo_key(keys_folder(dest))
    ledger = _Ledger()
    archives: dict[str, Path] = {}
    for release in RELEASES:
        add_release(dest, release, ledger)
        if release.buildable:
            add_feeds(dest, release, ledger)
            archives |= add_builders(dest, release, base_url, key, ledger)
    listed = [release.version for release in RELEASES]
    versions = {"stable_version": STABLE_VERSION, "versions_list": listed}
    why = "lists the releases of this mirror"
    _write(dest, ".versions.json", _json(versions), why, ledger)
    (dest / "MIRROR-README.md").write_bytes(readme(ledger, key))
    logger.info("Built the sample mirror in %s for %s", dest, base_url)
    return MirrorInfo(
        root=dest,
        base_url=base_url,
        keys_dir=write_trusted_keys(keys_folder(dest), key),
        demo_secret_key=keys_folder(dest) / "demo.sec",
        demo_fingerprint=key.public.fingerprint,
        versions=listed,
        archives=archives,
    )


class MirrorHandler(SimpleHTTPRequestHandler):
    """Files of the mirror only: no listing, nothing outside its folder."""

    def translate_path(self, path: str) -> str:
        translated = Path(super().translate_path(path))
        root = Path(self.directory).resolve()
        # The stdlib drops ``..`` parts; resolve() also catches a symlink
        # that would lead out of the mirror.
        if not translated.resolve().is_relative_to(root):
            return str(root / ".refused" / "outside")
        return str(translated)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "No listing on this mirror")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def serve_mirror(
    dest: Path, port: int = 0, host: str = "127.0.0.1"
) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``dest`` in a daemon thread; return the server and its base URL.

    Stop it with ``server.shutdown()``. With ``port=0`` the system picks a
    free port: serve first, then :func:`build_mirror` with the URL returned,
    because the stand-in builders carry the mirror URL in repositories.conf.
    """
    handler = partial(MirrorHandler, directory=str(dest))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return server, f"http://{bound_host!s}:{bound_port}"


def start_mirror(dest: Path) -> tuple[ThreadingHTTPServer, MirrorInfo]:
    """Serve on a free loopback port and build the mirror for that URL."""
    server, base_url = serve_mirror(dest, 0)
    return server, build_mirror(dest, base_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="meshforge local sample mirror")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="assemble the mirror in DIR")
    build.add_argument("dir", type=Path)
    build.add_argument("--base-url", default="http://127.0.0.1:8001")
    serve = commands.add_parser("serve", help="serve DIR on 127.0.0.1")
    serve.add_argument("dir", type=Path)
    serve.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.command == "build":
        info = build_mirror(args.dir, args.base_url)
        logger.info("Trusted keys: %s", info.keys_dir)
        return
    server, url = serve_mirror(args.dir, args.port)
    logger.info("Serving %s at %s (Ctrl-C stops)", args.dir, url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
