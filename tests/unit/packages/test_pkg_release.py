"""Reading a release folder: make info, profiles.json, signed indexes."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshforge.errors import FormatError, SignatureError
from meshforge.packages.cli import group
from meshforge.packages.release import (
    Release,
    defaults_from_make_info,
    defaults_from_profiles,
)
from meshforge.signing.usign import Keyring
from tests.conftest import KEYS
from tests.unit.packages.conftest import BERLIN, OPENWRT_24

FEED = "packages/mips_24kc/base"


def test_real_make_info() -> None:
    info = defaults_from_make_info(
        (OPENWRT_24 / "imagebuilder-outputs/make-info.txt").read_text()
    )
    assert info.arch == "x86_64"
    assert info.defaults[0] == "base-files" and info.defaults[-1] == "opkg"
    assert len(info.defaults) == 29
    assert list(info.profiles) == ["generic"]
    assert info.profiles["generic"][-1] == "kmod-drm-i915"


def test_make_info_blocks_of_other_shapes() -> None:
    # Shapes from DOMAIN 3.2: title optional, SupportedDevices optional.
    text = (
        'Current Target: "ath79/generic"\n'
        'Current Revision: "r20128-b6cbab1ad7"\n'
        "Default Packages: base-files dropbear\n"
        "Available Profiles:\n\n"
        "untitled:\n"
        "    Packages: kmod-a -ppp\n"
        "    hasImageMetadata: 1\n"
        "tplink_archer-c7-v5:\n"
        "    TP-Link Archer C7 v5\n"
        "    Packages: kmod-ath10k-ct\n"
        "    hasImageMetadata: 1\n"
        "    SupportedDevices: tplink,archer-c7-v5\n"
    )
    info = defaults_from_make_info(text)
    assert info.profiles == {
        "untitled": ["kmod-a", "-ppp"],
        "tplink_archer-c7-v5": ["kmod-ath10k-ct"],
    }
    with pytest.raises(FormatError, match="does not exist"):
        info.device_packages("nope")
    with pytest.raises(FormatError, match="unknown shape"):
        defaults_from_make_info("Available Profiles:\n")


def test_profiles_json_with_kernel_folder() -> None:
    data = {
        "default_packages": ["base-files"],
        "arch_packages": "x86_64",
        "linux_kernel": {
            "release": "1",
            "vermagic": "484466e2719a743506c36b4bb2103582",
            "version": "6.6.110",
        },
        "profiles": {"generic": {"device_packages": ["kmod-e1000"]}},
    }
    info = defaults_from_profiles(data)
    assert info.kmods_dir == "6.6.110-1-484466e2719a743506c36b4bb2103582"
    assert (OPENWRT_24 / "targets/x86/64/kmods" / info.kmods_dir).is_dir()
    with pytest.raises(FormatError):
        defaults_from_profiles({"profiles": []})


def test_signed_indexes_verify() -> None:
    release = Release(str(OPENWRT_24), "x86/64", keyring=Keyring.from_dir(KEYS))
    packages = release.index("packages/x86_64/luci")
    assert packages is not None and len(packages) > 1000


@pytest.fixture
def tampered(tmp_path: Path) -> Path:
    copy = tmp_path / "release"
    shutil.copytree(BERLIN, copy)
    index = copy / FEED / "Packages.gz"
    text = gzip.decompress(index.read_bytes()).replace(b"Version: ", b"Version: 9", 1)
    index.write_bytes(gzip.compress(text))
    return copy


def test_tampered_index_is_refused(tampered: Path) -> None:
    release = Release(str(tampered), "ath79/generic", keyring=Keyring.from_dir(KEYS))
    with pytest.raises(SignatureError, match="does not match"):
        release.index(FEED)
    (tampered / FEED / "Packages.sig").unlink()
    with pytest.raises(SignatureError, match=r"no Packages\.sig"):
        release.index(FEED)


def test_cli_verifies_unless_told_not_to(tampered: Path) -> None:
    args = ["resolve", str(tampered), "ath79/generic", "--profile", "8dev_carambola2"]
    refused = CliRunner().invoke(group, [*args, "--keys", str(KEYS)])
    assert isinstance(refused.exception, SignatureError)
    unchecked = CliRunner().invoke(group, [*args, "--no-verify"])
    assert unchecked.exit_code == 0, unchecked.output
    empty = CliRunner().invoke(group, [*args, "--keys", str(tampered / "keys-none")])
    assert empty.exit_code == 2 and "No trusted usign keys" in empty.output
