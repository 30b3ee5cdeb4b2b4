"""``meshforge packages``: the resolver and version rules for operators."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from meshforge.config import get_settings
from meshforge.errors import ResolutionError
from meshforge.packages.index import Package, packages_from_text, read_index_text
from meshforge.packages.release import (
    Defaults,
    Release,
    defaults_from_make_info,
    load_universe,
)
from meshforge.packages.resolver import Resolution, expand_request, resolve
from meshforge.packages.versions import compare
from meshforge.signing.usign import Keyring


@click.group()
def group() -> None:
    """Resolve package lists and compare versions as opkg and apk do."""


@group.command("resolve", context_settings={"ignore_unknown_options": True})
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
@click.option("--no-verify", is_flag=True, help="Do not check Packages.sig.")
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
    except ResolutionError as exc:
        if not as_json:
            raise
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
        found = defaults_from_make_info(make_info.read_text(encoding="utf-8"))
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
    return packages_from_text(read_index_text(path), f"local:{path.name}")


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
