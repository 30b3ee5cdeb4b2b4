"""``meshforge packages``: the resolver and version rules for operators."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from meshforge.config import get_settings
from meshforge.errors import (
    FormatError,
    MeshforgeError,
    ResolutionError,
    SignatureError,
    UpstreamError,
)
from meshforge.packages.index import (
    Package,
    Universe,
    decode_index,
    packages_from_text,
    read_index_text,
)
from meshforge.packages.release import (
    Defaults,
    Release,
    defaults_from_make_info,
    load_universe,
)
from meshforge.packages.resolver import Resolution, expand_request, resolve
from meshforge.packages.versions import compare
from meshforge.signing.usign import Keyring

#: Exit statuses, read from the exception tree so the help cannot drift.
_MEANINGS = (
    (MeshforgeError.exit_code, "any other meshforge error"),
    (
        2,
        "usage error (bad option or argument, --make-info for another target,"
        " no trusted keys)",
    ),
    (
        UpstreamError.exit_code,
        "release folder or URL missing, unreachable or of"
        " an unsupported scheme, or no package index for TARGET",
    ),
    (
        SignatureError.exit_code,
        "an index signature is missing, does not verify,"
        " or cannot be checked (apk indexes); see --no-verify",
    ),
    (
        FormatError.exit_code,
        "a file is not in the expected format (broken gzip,"
        " not UTF-8, no Package/Version stanzas, unknown profile)",
    ),
    (ResolutionError.exit_code, "a requested package is unknown, or two conflict"),
)
EXIT_CODES = "\n".join(
    ["\b", "Exit status:", "  0   success"]
    + [f"  {code:<3} {text}" for code, text in sorted(_MEANINGS)]
)


@click.group(epilog=EXIT_CODES)
def group() -> None:
    """Resolve package lists and compare versions as opkg and apk do."""


@group.command(
    "resolve", context_settings={"ignore_unknown_options": True}, epilog=EXIT_CODES
)
@click.argument("release")
@click.argument("target")
@click.argument("packages", nargs=-1)
@click.option("--profile", default="generic", show_default=True)
@click.option(
    "--make-info",
    "make_info",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Saved 'make info' output, for releases without profiles.json.",
)
@click.option(
    "--local-repo",
    "local_repos",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Packages file standing for the ImageBuilder's own packages/.",
)
@click.option(
    "--keys",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Trusted usign keys (default: MESHFORGE_UPSTREAM_KEYS_DIR).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Do not check index signatures (needed for apk indexes).",
)
@click.option("--arch", default=None, help="Package architecture (guessed).")
@click.option("--diff-packages", is_flag=True, help="PACKAGES is the full list.")
@click.option("--strip-abi", is_flag=True, help="Print names without ABI suffix.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def resolve_command(
    release: str,
    target: str,
    packages: tuple[str, ...],
    profile: str,
    make_info: Path | None,
    local_repos: tuple[Path, ...],
    keys: Path | None,
    no_verify: bool,
    arch: str | None,
    diff_packages: bool,
    strip_abi: bool,
    as_json: bool,
) -> None:
    """Print what the ImageBuilder would install for PACKAGES.

    RELEASE is a release folder in the download site's layout (a path or an
    http(s) URL), TARGET e.g. x86/64. PACKAGES are added to the target's
    default and device packages; '-name' removes one.
    """
    settings = get_settings()
    keyring = None if no_verify else _keyring(keys or settings.upstream_keys_dir)
    source = Release(release, target, settings.http_timeout_s, keyring=keyring)
    source.check()
    defaults = _defaults(source, make_info)
    repos = [_local_repo(path) for path in local_repos]
    universe = load_universe(
        source,
        arch=arch or defaults.arch,
        kmods_dir=defaults.kmods_dir,
        local_repos=repos,
    )
    device = defaults.device_packages(profile)
    names = expand_request(defaults.defaults, device, list(packages), diff_packages)
    try:
        result = resolve(universe, names, defaults=[*defaults.defaults, *device])
    except ResolutionError as error:
        exc = _name_foreign_arch(error, universe, repos)
        if not as_json:
            raise exc from error
        click.echo(json.dumps(exc.to_json(), indent=2))
        sys.exit(exc.exit_code)
    _print(result, strip_abi, as_json)


def _keyring(folder: Path) -> Keyring:
    keyring = Keyring.from_dir(folder)
    if not len(keyring):
        raise click.UsageError(
            f"No trusted usign keys in {folder}; pass --keys DIR, or --no-verify "
            "to read unsigned indexes knowingly."
        )
    return keyring


def _defaults(source: Release, make_info: Path | None) -> Defaults:
    if make_info is not None:
        what = "the saved output of 'make info'"
        text = decode_index(make_info.read_bytes(), str(make_info), what)
        found = defaults_from_make_info(text)
        if found.target and found.target != source.target:
            raise click.BadParameter(
                f"{make_info} is the make info of target {found.target}, but "
                f"TARGET is {source.target}. Pass the make info of the "
                f"{source.target} ImageBuilder, or resolve for {found.target}.",
                param_hint="--make-info",
            )
        from_json = source.defaults()
        if from_json is not None and found.arch is None:
            found.arch = from_json.arch
        return found
    from_json = source.defaults()
    if from_json is None:
        raise click.UsageError(
            f"{source.base} has no targets/{source.target}/profiles.json; "
            "pass the ImageBuilder's saved 'make info' output with --make-info."
        )
    return from_json


def _local_repo(path: Path) -> list[Package]:
    packages = packages_from_text(read_index_text(path), f"local:{path.name}")
    if not packages:
        raise FormatError(
            f"{path} holds no stanza with Package and Version fields, so it is "
            "not a Packages index. Pass the Packages file of the ImageBuilder's "
            "packages/ folder."
        )
    return packages


def _name_foreign_arch(
    error: ResolutionError, universe: Universe, repos: list[list[Package]]
) -> ResolutionError:
    """Say so when a missing name is only in a local repo of another arch.

    The universe hides such packages like opkg does, so the resolver can only
    call them missing; the person who passed the file needs the real reason.
    """
    missing = set(error.extra.get("missing", ()))
    foreign = sorted(
        {
            f"{pkg.name} ({pkg.arch}, from {pkg.source})"
            for repo in repos
            for pkg in repo
            if pkg.name in missing and not universe.arch_priority(pkg)
        }
    )
    if not foreign:
        return error
    detail = (
        f"The local repository has {', '.join(foreign)}, built for another "
        f"architecture than this target's {universe.arch}; rebuild it for "
        f"{universe.arch}. {error.detail}"
    )
    return ResolutionError(detail, **error.extra)


def _print(result: Resolution, strip_abi: bool, as_json: bool) -> None:
    if as_json:
        body = {
            "requested": result.requested,
            "installed": result.versions(),
            "auto_installed": sorted(result.auto_installed),
            "manifest": result.manifest(strip_abi),
        }
        click.echo(json.dumps(body, indent=2))
        return
    for line in result.manifest(strip_abi):
        click.echo(line)


@group.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--apk", is_flag=True, help="Use apk's rules instead of opkg's.")
def compare_command(a: str, b: str, apk: bool) -> None:
    """Print '<', '=' or '>' for version A against version B."""
    result = compare(a, b, "apk" if apk else "opkg")
    click.echo("<" if result < 0 else ">" if result > 0 else "=")
