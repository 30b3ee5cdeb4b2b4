"""Turn a failed ImageBuilder run into a sentence a person can act on.

Messages were matched against real output: opkg's ``Collected errors``
(see data/upstream-samples/openwrt-24.10.4/imagebuilder-outputs/), apk's
``unable to select packages`` block, ``Build/check-size`` in
include/image-commands.mk and the IB Makefile's unknown-profile check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from meshforge.errors import BuildError

_PROFILE_MISSING = re.compile(r'Profile "([^"]*)" does not exist!')
# "WARNING: Image file X is too big: 123 > 100" (the sizes since 2023).
_TOO_BIG = re.compile(r"Image file (\S+) is too big(?::\s*(\d+)\s*>\s*(\d+))?")
# Build/check-kernel-size: "WARNING: Kernel for X is too big > 3m".
_KERNEL_TOO_BIG = re.compile(r"Kernel for (\S+) is too big > (\S+)")
_OUT_OF_SPACE = "out of space?"
_LOG_TAIL = 20000
_MISSING = (
    re.compile(r"Cannot install package (\S+?)\.?$", re.MULTILINE),
    re.compile(r"Unknown package '([^']+)'"),
    re.compile(r"^\s+(\S+) \(no such package\):?$", re.MULTILINE),
)
_CONFLICTS = (
    re.compile(r"check_data_file_clashes: Package (\S+) wants to install"),
    re.compile(r"already provided by package\s+\*\s+(\S+)$", re.MULTILINE),
    re.compile(r"\* check_conflicts_for:.*?\s(\S+)(?: \*|:)$", re.MULTILINE),
    re.compile(r"^\s+(\S+):\n\s+conflicts: ([^\[\s]+)", re.MULTILINE),
)


@dataclass(frozen=True)
class MakeResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


def explain_failure(result: MakeResult, profile: str) -> BuildError:
    """The most specific error that the output of a failed run supports."""
    text = result.output
    for explain in (_profile_missing, _too_big, _package_selection):
        error = explain(text, profile)
        if error is not None:
            error.extra.update(logs(result))
            return error
    # Unknown causes may be the host (disk, memory), so a retry may help.
    command = " ".join(result.argv[:2])
    return BuildError(
        f"The ImageBuilder failed: '{command}' exited with code "
        f"{result.returncode} for an unrecognised reason. The last lines of its "
        "stderr are attached; retry later, and report it if it persists.",
        permanent=False,
        **logs(result),
    )


def logs(result: MakeResult) -> dict[str, str]:
    """The tails of a run's output, as error extras the worker records."""
    return {"stdout": result.stdout[-_LOG_TAIL:], "stderr": result.stderr[-_LOG_TAIL:]}


def storage_error(text: str) -> BuildError | None:
    """The storage error if ``text`` reports a deleted, oversized image."""
    return _too_big(text, "")


def _profile_missing(text: str, profile: str) -> BuildError | None:
    match = _PROFILE_MISSING.search(text)
    if match is None:
        return None
    return BuildError(
        f"The ImageBuilder has no profile {match.group(1) or profile!r} for this "
        "target. Use a profile id listed in the target's profiles.json; a "
        "board name such as 'vendor,model' becomes 'vendor_model'.",
        permanent=True,
    )


def _too_big(text: str, _profile: str) -> BuildError | None:
    where = _what_is_too_big(text)
    if where is None:
        return None
    return BuildError(
        f"Selected packages exceed device storage: {where}. Remove packages, or "
        "if the device has room beyond its default partition, try rootfs_size_mb.",
        permanent=True,
    )


def _what_is_too_big(text: str) -> str | None:
    match = _TOO_BIG.search(text)
    if match is not None:
        where = f"the image {match.group(1).rsplit('/', 1)[-1]} is too big"
        if match.group(2):
            where += f" ({match.group(2)} bytes, the device allows {match.group(3)})"
        return where
    kernel = _KERNEL_TOO_BIG.search(text)
    if kernel is not None:
        image = kernel.group(1).rsplit("/", 1)[-1]
        return f"the kernel of {image} is over its limit of {kernel.group(2)}"
    if _OUT_OF_SPACE in text:
        return "the root file system ran out of space"
    if "is too big" in text:
        return "an image is too big"
    return None


def _package_selection(text: str, _profile: str) -> BuildError | None:
    missing = {name for pattern in _MISSING for name in pattern.findall(text)}
    conflicts: set[str] = set()
    for pattern in _CONFLICTS:
        for found in pattern.findall(text):
            conflicts.update([found] if isinstance(found, str) else found)
    # opkg reports a conflicting package as "Cannot install" too.
    missing -= conflicts
    if not missing and not conflicts:
        return None
    return BuildError(
        f"Impossible package selection ({_selection_summary(missing, conflicts)}). "
        + _selection_hint(missing, conflicts),
        permanent=True,
        missing=sorted(missing),
        conflicts=sorted(conflicts),
    )


def _selection_summary(missing: set[str], conflicts: set[str]) -> str:
    parts = []
    if missing:
        parts.append(f"not found: {', '.join(sorted(missing))}")
    if conflicts:
        parts.append(f"in conflict: {', '.join(sorted(conflicts))}")
    return "; ".join(parts)


def _selection_hint(missing: set[str], conflicts: set[str]) -> str:
    hints = []
    if missing:
        hints.append("Check the names against this release's package index.")
    if missing & {"opkg", "luci-app-opkg"}:
        # asu#1097, openwrt#16969: requests copied from a router before apk.
        hints.append(
            "Releases since 25.12 and SNAPSHOT use apk: ask for apk-mbedtls "
            "and luci-app-package-manager instead."
        )
    if conflicts:
        hints.append("Keep only one package of each conflicting group.")
    return " ".join(hints)
