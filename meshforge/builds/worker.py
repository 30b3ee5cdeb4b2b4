"""Runs one build: set up the ImageBuilder, check, build, store.

Every state change is written to the database at once, so that clients
polling the API see the step the build is at.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from meshforge.builds import states
from meshforge.builds.packages import image_packages
from meshforge.builds.service import aware, now
from meshforge.config import Settings
from meshforge.db.models import Build, StoredFile
from meshforge.db.session import Database
from meshforge.errors import BuildError, MeshforgeError
from meshforge.imagebuilder.builder import Builder, MakeResult, check_revision
from meshforge.imagebuilder.cache import BuilderCache
from meshforge.imagebuilder.repositories import key_files, repositories_text
from meshforge.requests.hashing import packages_hash
from meshforge.store.base import Store, StoredItem
from meshforge.upstream.releases import version_path

log = logging.getLogger(__name__)

LOG_TAIL = 20_000  # characters of make output kept with a build


class BuildLog(logging.LoggerAdapter):  # type: ignore[type-arg]  # generic only in stubs
    """Prefixes every line of one build with its request hash."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"build {self.extra['request_hash'][:12]}: {msg}", kwargs  # type: ignore[index]  # extra is a dict here


@dataclass
class Job:
    request_hash: str
    request: dict[str, Any]
    enqueued_at: datetime


class Worker:
    def __init__(
        self, settings: Settings, db: Database, store: Store, cache: BuilderCache
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.cache = cache
        self.upstream_url = settings.upstream_url.rstrip("/")

    def run(self, request_hash: str) -> None:
        """The queue's task: build ``request_hash`` unless another took it."""
        job = self._claim(request_hash)
        if job is None:
            log.info("build %s is not queued any more; skipped", request_hash[:12])
            return
        blog = BuildLog(log, {"request_hash": request_hash})
        blog.info("started")
        beating = threading.Event()
        heart = threading.Thread(
            target=self._heartbeat, args=(request_hash, beating), daemon=True
        )
        heart.start()
        try:
            self._build(job, blog)
        except MeshforgeError as exc:
            permanent = getattr(exc, "permanent", True)
            blog.warning(
                "failed (%s): %s", "permanent" if permanent else "transient", exc.detail
            )
            self._fail(request_hash, exc.detail, permanent, exc.extra)
        except Exception as exc:  # the worker must record every failure
            blog.exception("crashed")
            self._fail(
                request_hash,
                f"Internal error: {exc}",
                False,
                {"stderr": traceback.format_exc()[-LOG_TAIL:]},
            )
        finally:
            beating.set()

    def _heartbeat(self, request_hash: str, stop: threading.Event) -> None:
        """Tell the API this build's worker is alive while make runs."""
        while not stop.wait(states.HEARTBEAT_S):
            try:
                with self.db.session() as session:
                    session.execute(
                        update(Build)
                        .where(Build.request_hash == request_hash)
                        .where(Build.state == states.STARTED)
                        .values(heartbeat_at=now())
                    )
            except Exception:  # a missed beat must not end the build
                log.warning("heartbeat of %s failed", request_hash[:12], exc_info=True)

    # --- state -----------------------------------------------------------

    def _claim(self, request_hash: str) -> Job | None:
        with self.db.session() as session:
            result = session.execute(
                update(Build)
                .where(Build.request_hash == request_hash)
                .where(Build.state == states.QUEUED)
                .values(
                    state=states.STARTED,
                    started_at=now(),
                    heartbeat_at=now(),
                    imagebuilder_status="init",
                    attempts=Build.attempts + 1,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            build = session.get(Build, request_hash)
            assert build is not None
            return Job(request_hash, dict(build.request), build.enqueued_at)

    def _step(self, request_hash: str, step: str, **values: Any) -> None:
        with self.db.session() as session:
            session.execute(
                update(Build)
                .where(Build.request_hash == request_hash)
                .values(imagebuilder_status=step, heartbeat_at=now(), **values)
            )

    def _fail(
        self, request_hash: str, detail: str, permanent: bool, extra: dict[str, Any]
    ) -> None:
        ttl = self.settings.build_failure_ttl
        expires = now() + _seconds(ttl) if permanent else now()
        self._step(
            request_hash,
            "failed",
            state=states.FAILED,
            finished_at=now(),
            expires_at=expires,
            error=detail,
            error_permanent=permanent,
            stdout=str(extra.get("stdout", ""))[-LOG_TAIL:],
            stderr=str(extra.get("stderr", ""))[-LOG_TAIL:],
        )

    # --- the build -------------------------------------------------------

    def _build(self, job: Job, blog: BuildLog) -> None:
        request = job.request
        started = time.monotonic()
        self._step(job.request_hash, "container_setup")
        target_url = (
            f"{self.upstream_url}/{version_path(request['version'])}"
            f"/targets/{request['target']}"
        )
        obtained = self.cache.obtain(
            target_url,
            request["version"],
            request["target"],
            on_step=lambda step: self._step(job.request_hash, step),
        )
        setup_s = time.monotonic() - started
        blog.info("builder ready in %.1f s", setup_s)
        with obtained as builder, tempfile.TemporaryDirectory(prefix="mf-") as tmp:
            result = self._make(job, builder, Path(tmp), blog)
        build_s = time.monotonic() - started - setup_s
        self._finish(job, result, setup_s, build_s)
        blog.info("done in %.1f s", setup_s + build_s)

    def _make(
        self, job: Job, builder: Builder, tmp: Path, blog: BuildLog
    ) -> dict[str, Any]:
        request = job.request
        self._step(job.request_hash, "validate_revision")
        packages = _image_packages(builder, request)
        self._step(job.request_hash, "validate_manifest")
        custom = _custom_repositories(builder, request)
        manifest = builder.manifest(request["profile"], packages, **custom)
        _check_versions(manifest, dict(request.get("packages_versions", {})))
        self._step(job.request_hash, "building_image")
        bin_dir = tmp / "bin"
        made = builder.image(
            request["profile"],
            packages,
            bin_dir,
            extra_image_name=packages_hash(list(manifest))[:12],
            files=_files_dir(tmp, request.get("defaults") or ""),
            rootfs_partsize=request.get("rootfs_size_mb"),
            filesystem=request.get("filesystem") or None,
            **custom,
        )
        blog.debug("make image finished with %s", made.returncode)
        _write_log(bin_dir, made)
        body = _result_body(bin_dir, request["profile"], request)
        body.update(
            manifest=manifest,
            build_cmd_packages=packages,
            build_cmd=list(made.argv),
            stdout=made.stdout[-LOG_TAIL:],
            stderr=made.stderr[-LOG_TAIL:],
        )
        self._record_files(
            job.request_hash, self.store.put_dir(job.request_hash, bin_dir)
        )
        return body

    def _record_files(self, request_hash: str, items: list[StoredItem]) -> None:
        with self.db.session() as session:
            for item in items:
                session.merge(
                    StoredFile(
                        request_hash=request_hash,
                        name=item.name,
                        size=item.size,
                        sha256=item.sha256,
                        downloads=0,
                    )
                )

    def _finish(
        self, job: Job, body: dict[str, Any], setup_s: float, build_s: float
    ) -> None:
        ttl = _success_ttl(job.request, self.settings)
        with self.db.session() as session:
            build = session.get(Build, job.request_hash)
            assert build is not None
            started = build.started_at or now()
            wait = (aware(started) - aware(job.enqueued_at)).total_seconds()
        self._step(
            job.request_hash,
            states.DONE,
            state=states.DONE,
            finished_at=now(),
            expires_at=now() + _seconds(ttl),
            result=body,
            stdout=str(body.get("stdout", "")),
            stderr=str(body.get("stderr", "")),
            queue_wait_s=max(wait, 0.0),
            setup_s=setup_s,
            build_s=build_s,
        )


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


def _success_ttl(request: dict[str, Any], settings: Settings) -> int:
    if request.get("defaults"):
        return settings.build_defaults_ttl
    if request.get("packages_versions"):
        return settings.build_ttl
    return settings.build_ttl_unversioned


def _check_versions(manifest: dict[str, str], wanted: dict[str, str]) -> None:
    wrong = [
        f"{name} version not as requested: {manifest.get(name, 'not installed')} "
        f"vs. {version}"
        for name, version in sorted(wanted.items())
        if manifest.get(name) != version
    ]
    if wrong:
        raise BuildError(
            "The built package versions differ from packages_versions: "
            + "; ".join(wrong)
            + ". Ask again with the versions the release now offers.",
            versions=wrong,
        )


def _image_packages(builder: Builder, request: dict[str, Any]) -> list[str]:
    """Check the builder's revision and profile; the PACKAGES to build."""
    info = builder.info()
    check_revision(info, request.get("version_code") or request.get("revision", ""))
    profile = info.profiles.get(request["profile"])
    if profile is None:
        raise BuildError(
            f"The ImageBuilder of {request['version']} {request['target']} has "
            f"no profile {request['profile']}, although the upstream metadata "
            "lists it. The release metadata and its ImageBuilder disagree; try "
            "later."
        )
    return image_packages(
        list(request["packages"]),
        info.default_packages,
        list(profile.packages),
        bool(request["diff_packages"]),
    )


def _custom_repositories(builder: Builder, request: dict[str, Any]) -> dict[str, Any]:
    """The request's own repositories and keys, for this build only."""
    if not request.get("repositories"):
        return {}
    return {
        "repositories": repositories_text(
            builder.path,
            dict(request["repositories"]),
            request.get("repositories_mode") or "replace",
        ),
        "repository_keys": key_files(list(request.get("repository_keys", []))),
    }


def _write_log(bin_dir: Path, made: MakeResult) -> None:
    """Keep the ImageBuilder's output beside the images it made."""
    text = (
        f"$ {' '.join(made.argv)}\n\n--- stdout ---\n{made.stdout}\n"
        f"--- stderr ---\n{made.stderr}\n--- exit status {made.returncode} ---\n"
    )
    (bin_dir / "build.log").write_text(text)


def _files_dir(tmp: Path, defaults: str) -> Path | None:
    if not defaults:
        return None
    folder = tmp / "files" / "etc" / "uci-defaults"
    folder.mkdir(parents=True)
    (folder / "99-asu-defaults").write_text(defaults)
    return tmp / "files"


def _result_body(
    bin_dir: Path, profile: str, request: dict[str, Any]
) -> dict[str, Any]:
    path = bin_dir / "profiles.json"
    if not path.is_file():
        raise BuildError(
            "No JSON file found: the ImageBuilder wrote no profiles.json, so the "
            "images cannot be described. The builder output is in stderr."
        )
    data = json.loads(path.read_text())
    profiles = data.pop("profiles", {})
    if profile not in profiles:
        raise BuildError(
            f"Profile not found in JSON file: the ImageBuilder's profiles.json "
            f"does not describe {profile}."
        )
    body: dict[str, Any] = {**data, **profiles[profile], "id": profile}
    images = [i for i in body.get("images", []) if (bin_dir / i["name"]).is_file()]
    if not images:
        raise BuildError(
            "Selected packages exceed device storage: the ImageBuilder removed "
            "every image because it was too big. Remove packages or, on devices "
            "that allow it, ask for a larger rootfs_size_mb."
        )
    body["images"] = images
    body["build_at"] = now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body["request"] = request
    shutil.rmtree(bin_dir / "tmp", ignore_errors=True)
    return body
