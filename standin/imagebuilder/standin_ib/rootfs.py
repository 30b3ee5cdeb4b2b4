"""The root file system's tree, and a real squashfs made from it.

The same tree also becomes the ext4 image (see :mod:`ext4`). The packages
themselves are not in it (the stand-in has no .ipk files): the tree holds
opkg's ``status`` with one stanza per installed package, the release files,
a note saying what made it, and the user's ``FILES`` overlay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import stanzas
from .builder import Builder
from .resolve import Selection

_STATUS_FIELDS = ("Depends", "Provides", "Conflicts", "ABIVersion")

NOTE = """\
This root filesystem was made by the meshforge stand-in ImageBuilder, not by
OpenWrt's ImageBuilder. The packages in usr/lib/opkg/status were resolved
from the real package indexes, but their files are not installed here.
It cannot boot.
"""


def status_text(selection: Selection, installed_time: int) -> str:
    parts = []
    for name, package in selection.packages.items():
        user = name in selection.user
        fields = [("Package", name), ("Version", package.version)]
        fields += [(key, package.fields.get(key, "")) for key in _STATUS_FIELDS]
        fields += [
            ("Status", "install user installed" if user else "install ok installed"),
            ("Essential", package.fields.get("Essential", "")),
            ("Architecture", package.architecture),
            ("Installed-Time", str(installed_time)),
            ("Auto-Installed", "" if user else "yes"),
        ]
        parts.append(stanzas.render(fields))
    return "".join(parts)


def release_text(builder: Builder) -> str:
    version, revision = builder.version_number, builder.version_code
    values = {
        "DISTRIB_ID": "OpenWrt",
        "DISTRIB_RELEASE": version,
        "DISTRIB_REVISION": revision,
        "DISTRIB_TARGET": builder.target,
        "DISTRIB_ARCH": builder.arch_packages,
        "DISTRIB_DESCRIPTION": f"OpenWrt {version} {revision}",
        "DISTRIB_TAINTS": "",
    }
    return "".join(f"{key}='{value}'\n" for key, value in values.items())


def stage(
    root: Path, builder: Builder, selection: Selection, disabled: list[str]
) -> None:
    epoch = builder.source_date_epoch
    _write(root / "usr/lib/opkg/status", status_text(selection, epoch))
    _write(root / "etc/openwrt_release", release_text(builder))
    _write(root / "etc/openwrt_version", builder.version_code + "\n")
    note = NOTE + "".join(f"disabled service: {name}\n" for name in disabled)
    _write(root / "etc/meshforge-standin", note)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def overlay(root: Path, files: Path) -> None:
    """Copy the ``FILES`` folder over the tree, as the real builder does."""
    if not files.is_dir():
        raise FileNotFoundError(f"FILES folder {files} does not exist")
    shutil.copytree(files, root, symlinks=True, dirs_exist_ok=True)


def make_squashfs(root: Path, output: Path, epoch: int) -> Path:
    """Run mksquashfs so that the same tree gives the same bytes."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            os.utime(path, (epoch, epoch))
    command = ["mksquashfs", str(root), str(output), "-all-root", "-noappend"]
    command += ["-no-xattrs", "-quiet", "-no-progress", "-comp", "gzip"]
    command += ["-mkfs-time", str(epoch), "-all-time", str(epoch)]
    # mksquashfs refuses SOURCE_DATE_EPOCH beside explicit times, and make
    # exports it (maybe empty); the times given here come from it anyway.
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return output
