"""Checks a build request against policy and the synced upstream metadata.

The cheap checks (``normalise``) run on every request because the hash needs
the resolved profile; the package checks run only when no build is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from meshforge.config import Settings
from meshforge.errors import BadRequest, IndexMissing, UnprocessableRequest
from meshforge.imagebuilder.repositories import key_files
from meshforge.packages.index import Universe
from meshforge.packages.replacements import for_request
from meshforge.packages.resolver import expand_request, resolve
from meshforge.requests.hashing import NormalisedRequest
from meshforge.requests.model import BuildRequest
from meshforge.upstream.catalog import Catalog, TargetMeta
from meshforge.upstream.releases import branch_of, is_unversioned, known_branches

# Called with (version, None) or (version, target) when a request names one
# the catalog does not know, before the request is refused.
Refresh = Callable[[str, str | None], None]


def _no_refresh(_version: str, _target: str | None) -> None:
    return None


@dataclass(frozen=True)
class Checked:
    request: NormalisedRequest
    meta: TargetMeta


def _check_policy(request: BuildRequest, settings: Settings) -> None:
    if request.defaults and not settings.allow_defaults:
        raise BadRequest(
            "Handling `defaults` not enabled on server: this server does not put "
            "first-boot scripts into images. Send the request without `defaults`."
        )
    if request.defaults and len(request.defaults) > settings.max_defaults_length:
        raise UnprocessableRequest(
            f"The `defaults` script has {len(request.defaults)} characters; this "
            f"server accepts at most {settings.max_defaults_length}. Shorten it."
        )
    limit = settings.max_custom_rootfs_size_mb
    if request.rootfs_size_mb is not None and request.rootfs_size_mb > limit:
        raise UnprocessableRequest(
            f"rootfs_size_mb {request.rootfs_size_mb} is above this server's limit "
            f"of {limit} MB. Ask for {limit} or less."
        )
    key_files(request.repository_keys)  # each must be a usign or PEM key
    for url in request.repositories.values():
        if not any(_within(url, allowed) for allowed in settings.repository_allow_list):
            raise BadRequest(
                f"Repository not allowed: {url}. This server only builds with "
                "repositories from its allow list (repository_allow_list in "
                "/json/v1/overview.json)."
            )


def _within(url: str, allowed: str) -> bool:
    """``url`` lies below ``allowed``: same origin, path below, no ``..``."""
    wanted, base = urlsplit(url), urlsplit(allowed)
    path = unquote(wanted.path)
    if "/../" in f"{path}/" or "/./" in f"{path}/" or wanted.query or wanted.fragment:
        return False
    prefix = base.path if base.path.endswith("/") else base.path + "/"
    return (wanted.scheme, wanted.netloc) == (base.scheme, base.netloc) and (
        f"{path}/".startswith(prefix)
    )


def _check_release(request: BuildRequest, catalog: Catalog, refresh: Refresh) -> None:
    if request.distro != "openwrt":
        raise BadRequest(
            f"Unsupported distro: {request.distro}. This server builds `openwrt` "
            "images only."
        )
    branch = branch_of(request.version)
    enabled = {b.name for b in known_branches() if b.enabled}
    releases = catalog.releases()
    if branch not in enabled:
        served = sorted({branch_of(v) for v in releases if branch_of(v) in enabled})
        raise BadRequest(
            f"Unsupported branch: {branch or '(empty)'}. This server builds for "
            f"the branches {', '.join(served) or 'none yet'}; see "
            "/json/v1/overview.json for their versions."
        )
    if request.version not in releases:
        refresh(request.version, None)
        catalog.forget_releases()
        releases = catalog.releases()
    if request.version not in releases:
        offered = ", ".join(sorted(v for v in releases if branch_of(v) == branch))
        choice = (
            f"versions of branch {branch} on this server: {offered}"
            if offered
            else f"this server offers no version of branch {branch}"
        )
        raise BadRequest(
            f"Unsupported version: {request.version}; {choice}. See "
            "/json/v1/overview.json."
        )


def _target_meta(
    request: BuildRequest, catalog: Catalog, refresh: Refresh
) -> TargetMeta:
    meta = catalog.target(request.version, request.target)
    if meta is None:
        refresh(request.version, request.target)
        meta = catalog.target(request.version, request.target)
    if meta is None:
        targets = sorted(catalog.releases()[request.version].targets)
        raise BadRequest(
            f"Unsupported target: {request.target}. {request.version} has "
            f"{len(targets)} targets on this server, e.g. "
            f"{', '.join(targets[:8]) or 'none'}; targets are lower case, and "
            "/json/v1/overview.json lists them all."
        )
    return meta


def _profile(request: BuildRequest, meta: TargetMeta) -> str:
    profile = meta.resolve_profile(request.profile)
    if profile is None:
        examples = ", ".join(sorted(meta.profiles.get("profiles", {}))[:8])
        raise BadRequest(
            f"Unsupported profile: {request.profile}. It is neither a profile id "
            f"nor a supported device of {request.target} in {request.version}; "
            f"profiles include {examples}."
        )
    return profile


def normalise(
    request: BuildRequest,
    catalog: Catalog,
    settings: Settings,
    refresh: Refresh = _no_refresh,
) -> Checked:
    _check_policy(request, settings)
    _check_release(request, catalog, refresh)
    meta = _target_meta(request, catalog, refresh)
    profile = _profile(request, meta)
    revision = meta.version_code if is_unversioned(request.version) else ""
    packages = request.package_names
    if not request.packages_versions:
        packages = for_request(packages, request.version, request.target).packages
    normalised = NormalisedRequest(
        distro=request.distro,
        version=request.version,
        version_code=request.version_code,
        revision=revision,
        target=request.target,
        profile=profile,
        packages=tuple(sorted(set(packages))),
        packages_versions=tuple(sorted(request.packages_versions.items())),
        diff_packages=request.diff_packages,
        defaults=request.defaults or "",
        rootfs_size_mb=request.rootfs_size_mb,
        filesystem=request.filesystem or "",
        repositories=tuple(sorted(request.repositories.items())),
        repositories_mode=request.repositories_mode,
        repository_keys=tuple(sorted(request.repository_keys)),
    )
    return Checked(normalised, meta)


def _check_filesystem(request: NormalisedRequest, meta: TargetMeta) -> None:
    if not request.filesystem:
        return
    images = meta.profile(request.profile).get("images", [])
    offered = sorted({str(i["filesystem"]) for i in images if i.get("filesystem")})
    if request.filesystem not in offered:
        raise UnprocessableRequest(
            f"{request.profile} has no {request.filesystem} images in "
            f"{request.version}; it offers {', '.join(offered) or 'none'}. Ask "
            "for one of those, or leave `filesystem` out.",
            filesystems=offered,
        )


def _check_versions(request: NormalisedRequest, universe: Universe) -> None:
    wrong = {
        name: universe.version_of(name) or "not available"
        for name, version in request.packages_versions
        if universe.version_of(name) != version
    }
    if wrong:
        listed = "; ".join(
            f"{name} {dict(request.packages_versions)[name]} (offered: {offered})"
            for name, offered in sorted(wrong.items())
        )
        raise UnprocessableRequest(
            f"packages_versions asks for versions this release does not offer: "
            f"{listed}. Ask for the offered versions, or send `packages` without "
            "versions.",
            versions=wrong,
        )


def check_buildable(checked: Checked, catalog: Catalog) -> None:
    """Refuse what no builder could build: a missing index, unknown packages."""
    meta, request = checked.meta, checked.request
    if meta.index_state != "ok":
        raise IndexMissing(meta.index_state)
    if (
        request.version_code
        and meta.version_code
        and (request.version_code != meta.version_code)
    ):
        raise BadRequest(
            f"Received version_code {request.version_code}, but {request.version} "
            f"{request.target} is now at {meta.version_code}. Ask again with the "
            "current version_code (from /api/v1/revision) or without one."
        )
    profile_packages = meta.profile(request.profile).get("device_packages", [])
    packages = expand_request(
        meta.default_packages,
        [str(p) for p in profile_packages],
        list(request.packages),
        request.diff_packages,
    )
    _check_filesystem(request, meta)
    if request.repositories:
        # TODO: the request's own feeds are not fetched here, so packages only
        # they carry cannot be resolved up front; the ImageBuilder decides.
        return
    universe = catalog.universe(meta)
    _check_versions(request, universe)
    resolve(universe, packages, defaults=meta.default_packages)
