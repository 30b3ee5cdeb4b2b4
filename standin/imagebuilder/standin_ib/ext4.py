"""The ext4 root filesystem: ``mke2fs -d`` of the staged tree, reproducible.

The same tree as the squashfs (see :mod:`rootfs`) goes into an ext4 file
system as big as the root partition. Owners, times, the UUID and the
directory hash seed are fixed, so that the same request gives the same bytes
whoever runs the build and whenever.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

# OpenWrt's Kconfig defaults for the ext4 rootfs: 4 KiB blocks, no reserved
# blocks, no journal (TARGET_EXT4_BLOCKSIZE, _RESERVED_PCT, _JOURNAL).
EXT4_OPTIONS = ("-t", "ext4", "-T", "default", "-b", "4096", "-m", "0")
EXT4_FEATURES = ("-O", "^has_journal", "-L", "rootfs")
# Superblock fields read back for the size check (ext4 disk layout).
_SUPERBLOCK = 1024
_COUNTS = struct.Struct("<4xI4xI8xI")  # blocks_lo, free_blocks_lo, log_block
_COUNTS_HI = struct.Struct("<I4xI")  # at 0x150: blocks_hi, free_blocks_hi


def tree_size(root: Path) -> int:
    """Bytes of file content in the tree: the least any image must hold."""
    paths = (path for path in root.rglob("*") if not path.is_symlink())
    return sum(path.stat().st_size for path in paths if path.is_file())


def tree_digest(root: Path) -> bytes:
    """A digest of names, kinds and contents: the same tree, the same ids."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            content = b"link:" + os.readlink(path).encode()
        elif path.is_file():
            content = b"file:" + hashlib.sha256(path.read_bytes()).digest()
        else:
            content = b"dir"
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.digest()


def make_ext4(root: Path, output: Path, epoch: int, size: int) -> Path:
    """``mke2fs -d`` a file system of ``size`` bytes, the same bytes each time.

    mke2fs copies owners and inode change times from the staged files; the
    change times cannot be set from user space and the owner is whoever
    runs the build, so debugfs sets both afterwards, as root and epoch.
    """
    seed = tree_digest(root)
    fs_uuid = str(uuid.UUID(bytes=seed[:16], version=4))
    hash_seed = str(uuid.UUID(bytes=seed[16:], version=4))
    command = [e2fs_tool("mke2fs"), "-q", *EXT4_OPTIONS, *EXT4_FEATURES, "-U", fs_uuid]
    command += ["-E", f"root_owner=0:0,hash_seed={hash_seed}"]
    command += ["-d", str(root), str(output), f"{size // 1024}k"]
    env = _e2fs_env(epoch, output.parent)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    script = output.parent / "debugfs.cmds"
    script.write_text(_owner_and_times(root, epoch))
    _debugfs(["-w", "-f", str(script), str(output)], env)
    return output


def e2fs_tool(name: str) -> str:
    """Where an e2fsprogs tool is; a user's PATH often lacks the sbin folders."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise FileNotFoundError(
            f"{name} is not installed, so no ext4 image can be made. Install "
            "e2fsprogs, or ask for squashfs only with ROOTFS_FILESYSTEM=squashfs."
        )
    return found


def _e2fs_env(epoch: int, scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The superblock's times come from here instead of the clock.
    env["E2FSPROGS_FAKE_TIME"] = str(epoch)
    # A path that does not exist makes mke2fs use its built-in defaults,
    # so that the host's /etc/mke2fs.conf cannot change the image.
    env["MKE2FS_CONFIG"] = str(scratch / "no-mke2fs.conf")
    return env


def _owner_and_times(root: Path, epoch: int) -> str:
    lines = [f"sif / {field} @{epoch}" for field in ("atime", "mtime", "ctime")]
    for path in sorted(root.rglob("*")):
        name = "/" + path.relative_to(root).as_posix()
        if "\n" in name:
            raise ValueError(f"{name!r}: a file name in FILES holds a newline")
        quoted = '"' + name.replace('"', '""') + '"'
        lines += [f"sif {quoted} {field} 0" for field in ("uid", "gid")]
        fields = ("atime", "mtime", "ctime")
        lines += [f"sif {quoted} {field} @{epoch}" for field in fields]
    return "".join(f"{line}\n" for line in lines)


def _debugfs(args: list[str], env: dict[str, str]) -> None:
    """Run debugfs; it exits 0 even when a command fails, so read stderr."""
    command = [e2fs_tool("debugfs"), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    problems = [
        line for line in done.stderr.splitlines() if not line.startswith("debugfs ")
    ]
    if problems:
        raise ValueError(f"debugfs {args[-1]}: {'; '.join(problems[:3])}")


def used_bytes(image: Path) -> int:
    """Bytes in use according to the superblock (data and metadata)."""
    with image.open("rb") as file:
        head = file.read(2 * _SUPERBLOCK)
    blocks, free, log_block = _COUNTS.unpack_from(head, _SUPERBLOCK)
    blocks_hi, free_hi = _COUNTS_HI.unpack_from(head, _SUPERBLOCK + 0x150)
    used = ((blocks_hi << 32) | blocks) - ((free_hi << 32) | free)
    block_size: int = 1024 << log_block
    return int(used) * block_size
