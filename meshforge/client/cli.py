"""``meshforge upgrade``: the router-side upgrade client.

The commands read the device below ``--root`` (``/`` on a router), ask the
server, and print for a person (a table) or a program (``--json``).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import click

from meshforge.client.changes import PackageChange
from meshforge.client.device import Device, configured_server, read_device
from meshforge.client.download import (
    Downloader,
    Expected,
    plain_file_name,
    store_url,
)
from meshforge.client.images import Image, choose_image
from meshforge.client.install import install, preflight_command, sysupgrade_command
from meshforge.client.installed import InstalledPackages, read_installed
from meshforge.client.plan import (
    Planner,
    TargetPlan,
    UpgradeCheck,
    build_request,
)
from meshforge.client.server import BuildStatus, RetryPolicy, Server, url_problem
from meshforge.errors import (
    ClientError,
    NoMatchingImage,
    ServerUnavailable,
    VerificationError,
)

# `notify` exits with this when an upgrade exists; cron mails the line.
EXIT_UPGRADE_AVAILABLE = 10

EXIT_CODES = """\b
Exit codes:
   0  done; for notify: up to date
   2  wrong command-line usage
   8  another client error
   9  the downloaded image failed its size or SHA-256 check
  10  notify: an upgrade exists
  11  the device's release, board or packages cannot be read
  12  the server refused the request (4xx); its reason is printed
  13  the server is unreachable, overloaded or too slow
  14  the server's build failed
  15  no image (or profile) for this device's board and filesystem
  16  sysupgrade refused the image
"""


@dataclass
class Context:
    root: Path
    board_json: Path | None
    server_url: str | None
    upstream: str | None
    policy: RetryPolicy | None = None

    @cached_property
    def server(self) -> Server:
        url = self.server_url or configured_server(self.root)
        if not url:
            raise click.UsageError(
                "No build server: pass --server URL, set "
                "MESHFORGE_UPGRADE_SERVER, or set server.url in "
                "/etc/config/attendedsysupgrade."
            )
        check_url(url, "server URL")
        return Server(url, policy=self.policy)

    def device(self) -> tuple[Device, InstalledPackages]:
        device = read_device(self.root, self.board_json)
        return device, read_installed(self.root, device.release)

    def planner(self) -> Planner:
        return Planner(self.server, self.upstream)


@click.group(epilog=EXIT_CODES)
@click.option(
    "--server",
    envvar="MESHFORGE_UPGRADE_SERVER",
    help="Base URL of the build server (env MESHFORGE_UPGRADE_SERVER; "
    "default: server.url in ROOT/etc/config/attendedsysupgrade).",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Root filesystem to read; a folder for tests.",
)
@click.option(
    "--board-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Saved output of `ubus call system board` (default: run it live "
    "when --root is /).",
)
@click.option(
    "--upstream",
    help="Download site for profiles.json (default: upstream_url from the "
    "server's overview.json).",
)
@click.pass_context
def group(
    ctx: click.Context,
    server: str | None,
    root: Path,
    board_json: Path | None,
    upstream: str | None,
) -> None:
    """Upgrade this router through a build server, keeping its packages."""
    if server:
        check_url(server, "--server")
    if upstream:
        check_url(upstream, "--upstream")
    ctx.obj = Context(root, board_json, server, upstream)


def check_url(url: str, what: str) -> None:
    """A malformed URL is a usage error, before any request is sent."""
    problem = url_problem(url)
    if problem:
        raise click.UsageError(
            f"The {what} {url[:200]!r} is not a usable URL: {problem}. Give a "
            "base URL such as https://sysupgrade.example.org."
        )


# --- check ---------------------------------------------------------------


@group.command(epilog=EXIT_CODES)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def check(obj: Context, as_json: bool) -> None:
    """Show the running release, newer ones, and which packages change."""
    device, installed = obj.device()
    result = obj.planner().check(device, installed)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(render_check(result))


def render_check(result: UpgradeCheck) -> str:
    """The human table of ``check``."""
    device, release = result.device, result.device.release
    lines = [
        f"{'device':<14}{device.board_name or '?'} ({release.target}), "
        f"{device.rootfs_type or 'unknown fs'}{', EFI' if device.efi else ''}",
        f"{'running':<14}{release.version} {release.revision}",
        f"{'packages':<14}{len(result.installed.user)} installed by the owner "
        f"({result.installed.manager})",
    ]
    lines.append(f"{'same branch':<14}{_plan_line(result.same_branch)}")
    if result.next_branch_unavailable:
        lines.append(f"{'next branch':<14}{result.next_branch_unavailable}")
    else:
        lines.append(f"{'next branch':<14}{_plan_line(result.next_branch)}")
    for plan in (result.same_branch, result.next_branch):
        if plan is not None and plan.changes:
            lines += ["", f"Package changes for {plan.version}:"]
            lines += [render_change(change) for change in plan.changes]
    return "\n".join(lines)


def _plan_line(plan: TargetPlan | None) -> str:
    if plan is None:
        return "none offered"
    if not plan.upgrade_known:
        state = "unknown (revision unknown; cannot compare)"
    else:
        state = "upgrade available" if plan.upgrade else "up to date"
    code = plan.version_code or "(no version_code)"
    return f"{plan.version} {code} [{plan.profile}] {state}"


def render_change(change: PackageChange) -> str:
    if change.kind == "rename":
        text = f"{change.name} → {change.new_name}"
    elif change.kind in ("update", "downgrade"):
        text = f"{change.name} {change.old_version} → {change.new_version}"
    elif change.kind == "remove":
        text = f"{change.name} {change.old_version} (not in the new release)"
    else:
        text = f"{change.name} (required by the new release)"
    return f"  {change.kind:<8}{text}"


# --- request -------------------------------------------------------------


@group.command(epilog=EXIT_CODES)
@click.option(
    "--version",
    "version",
    help="Release to build (default: newest of the running branch).",
)
@click.option(
    "--next-branch", is_flag=True, help="Build the newest release of the next branch."
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the image (default: ROOT/tmp).",
)
@click.option(
    "--install",
    "do_install",
    is_flag=True,
    help="Run sysupgrade after the image verified.",
)
@click.option(
    "-n",
    "--no-keep-settings",
    is_flag=True,
    help="Flash without keeping settings (sysupgrade -n).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the sysupgrade command instead of running it.",
)
@click.option(
    "--timeout",
    type=float,
    callback=lambda _ctx, _param, value: positive_seconds(value),
    default=1800.0,
    show_default=True,
    help="Seconds to wait for the build.",
)
@click.pass_obj
def request(
    obj: Context,
    version: str | None,
    next_branch: bool,
    output_dir: Path | None,
    do_install: bool,
    no_keep_settings: bool,
    dry_run: bool,
    timeout: float,
) -> None:
    """Build an image with this router's packages, download and verify it."""
    if do_install and not dry_run and obj.root != Path("/"):
        raise click.UsageError(
            "--install flashes the running system: it needs "
            "--root / (or add --dry-run)."
        )
    if version and next_branch:
        raise click.UsageError("Give --version or --next-branch, not both.")
    obj.policy = RetryPolicy(build_timeout=timeout)
    device, installed = obj.device()
    plan = choose_plan(obj.planner(), device, installed, version, next_branch)
    click.echo(f"Requesting {plan.version} {plan.version_code} for {plan.profile}")
    for change in plan.changes:
        click.echo(render_change(change))
    result = obj.server.build(build_request(plan, device), Progress())
    image_path = fetch_image(obj, device, plan, result, output_dir)
    click.echo(f"Verified image: {image_path}")
    command = sysupgrade_command(image_path, keep_settings=not no_keep_settings)
    if dry_run:
        if do_install:
            click.echo(" ".join(preflight_command(image_path)))
        click.echo(" ".join(command))
    elif do_install:
        install(image_path, keep_settings=not no_keep_settings)


def positive_seconds(value: float) -> float:
    """``--timeout`` must be a number of seconds that can pass."""
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter(
            f"{value} is not a positive, finite number of seconds; give for "
            "example --timeout 1800."
        )
    return value


def choose_plan(
    planner: Planner,
    device: Device,
    installed: InstalledPackages,
    version: str | None,
    next_branch: bool,
) -> TargetPlan:
    """The release to build: explicit, next branch, or the running branch."""
    if version:
        return planner.plan_version(device, installed, version)
    result = planner.check(device, installed)
    plan = result.next_branch if next_branch else result.same_branch
    if plan is None and next_branch and result.next_branch_unavailable:
        raise NoMatchingImage(
            f"The next branch cannot be built: {result.next_branch_unavailable}"
        )
    if plan is None:
        which = "next branch" if next_branch else "running branch"
        raise ClientError(
            f"The server offers no release of the {which} for "
            f"{device.release.target}. Run `meshforge upgrade check` to see "
            "what it offers, and pick one with --version."
        )
    return plan


def fetch_image(
    obj: Context,
    device: Device,
    plan: TargetPlan,
    result: BuildStatus,
    output_dir: Path | None,
) -> Path:
    """Pick, download and verify the image of a finished build."""
    body = result.body
    if plan.version_code and body.get("version_code") not in (None, plan.version_code):
        raise VerificationError(
            f"The server built {body.get('version_code')}, not the requested "
            f"{plan.version_code}. Run the request again."
        )
    images = body.get("images") or []
    if not isinstance(images, list):
        raise ServerUnavailable(
            "The build answer's 'images' is not a list. Tell the operator of "
            "the server."
        )
    image: Image = choose_image(
        images,
        device.release.target,
        device.rootfs_type,
        device.efi,
    )
    if not re.fullmatch(r"[0-9a-f]{64}", image.sha256):
        raise ServerUnavailable(
            f"The server sent no valid SHA-256 checksum for {image.name[:80]!r}"
            f" (got {image.sha256[:80]!r}); an image that cannot be verified "
            "is not downloaded. Tell the operator of the server."
        )
    name = plain_file_name(image.name)
    bin_dir = str(body.get("bin_dir") or result.request_hash)
    url = store_url(obj.server.base_url, bin_dir, name)
    folder = output_dir or obj.root / "tmp"
    downloader = Downloader(obj.server.http)
    return downloader.fetch(url, folder / name, Expected(image.sha256, image.size))


class Progress:
    """Shows queue position and build step, one line per change."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, state: BuildStatus) -> None:
        if state.done:
            line = "build finished"
        elif state.queue_position:
            line = f"queued, position {state.queue_position}"
        else:
            line = f"building: {state.imagebuilder_status or state.detail or 'init'}"
        if line != self.last:
            click.echo(line, err=True)
            self.last = line


# --- notify --------------------------------------------------------------


@group.command(epilog=EXIT_CODES)
@click.option(
    "--packages",
    "count_packages",
    is_flag=True,
    help="Also report package updates of the running release.",
)
@click.option(
    "--same-branch",
    is_flag=True,
    help="Ignore releases of the next branch.",
)
@click.pass_obj
def notify(obj: Context, count_packages: bool, same_branch: bool) -> None:
    """For cron: silent and 0 when up to date, one line and 10 otherwise."""
    quiet_warnings()
    device, installed = obj.device()
    result = obj.planner().check(device, installed)
    if same_branch:
        result.next_branch = None
    line = notify_line(result, count_packages)
    if line:
        click.echo(line)
        sys.exit(EXIT_UPGRADE_AVAILABLE)
    unknown = notify_unknown(result)
    if unknown:
        click.echo(unknown, err=True)


def notify_unknown(result: UpgradeCheck) -> str:
    """A warning when "nothing newer" rests on unknown revisions."""
    same, release = result.same_branch, result.device.release
    if same is None and result.next_branch is None:
        return (
            f"warning: the server offers no release of the running branch "
            f"({release.version}, {release.target}); cannot tell whether this "
            "device is up to date. Run `meshforge upgrade check` to see what "
            "it offers."
        )
    if same is None or same.upgrade_known:
        return ""
    return (
        f"warning: cannot tell whether {same.version} "
        f"{same.version_code or '(no version_code)'} is newer than the running "
        f"{result.device.release.revision or '(unknown revision)'}; the server "
        "or download site gave no comparable revision. Check again later."
    )


def quiet_warnings() -> None:
    """Cron mails any output: degraded-data warnings only show with -v."""
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        logging.getLogger("meshforge.client").setLevel(logging.ERROR)


def notify_line(result: UpgradeCheck, count_packages: bool) -> str:
    """The one line ``notify`` prints, ``""`` when up to date."""
    current = result.device.release
    plan = result.release_upgrade
    if plan is not None:
        return (
            f"upgrade available: {current.version} {current.revision} → "
            f"{plan.version} {plan.version_code}"
        )
    same = result.same_branch
    if count_packages and same is not None and same.package_updates:
        return (
            f"package updates available for {current.version}: "
            f"{len(same.changes)} change{'' if len(same.changes) == 1 else 's'}"
        )
    return ""
