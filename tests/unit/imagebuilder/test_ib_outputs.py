from __future__ import annotations

import pytest

from meshforge.errors import BuildError, FormatError
from meshforge.imagebuilder.outputs import (
    check_revision,
    parse_info,
    parse_manifest,
)

OUTPUTS = "data/upstream-samples/openwrt-24.10.4/imagebuilder-outputs"

HEAD = """\
Current Target: "ath79/generic"
Current Revision: "r28427-6df0e3d02a"
Default Packages: base-files dropbear uci
Available Profiles:

"""


def test_real_make_info_of_24_10_4(pytestconfig):
    text = (pytestconfig.rootpath / OUTPUTS / "make-info.txt").read_text()

    info = parse_info(text)

    assert info.target == "x86/64"
    assert info.architecture == "x86_64"
    assert info.revision == "r28959-29397011cc"
    assert len(info.default_packages) == 29
    assert info.default_packages[0] == "base-files"
    assert info.default_packages[-1] == "opkg"
    assert list(info.profiles) == ["generic"]
    generic = info.profiles["generic"]
    assert generic.title == "Generic x86/64"
    assert len(generic.packages) == 14
    assert generic.packages[-1] == "kmod-drm-i915"
    assert generic.supported_devices == []


def test_blocks_without_title_with_extras_and_devices():
    text = HEAD + (
        "tplink_archer-c7-v5:\n"
        "    TP-Link Archer C7 v5\n"
        "    Packages: kmod-ath10k-ct ath10k-firmware-qca988x-ct\n"
        "    hasImageMetadata: 1\n"
        "    SupportedDevices: tplink,archer-c7-v5 archer-c7\n"
        "\n"
        "traverse_ten64:\n"
        "    hasImageMetadata: 0\n"
        "    SomeFutureKey: value\n"
        "    Packages: kmod-sfp -ppp\n"
        "DEVICE_untitled:\n"
        "    Packages:\n"
    )

    info = parse_info(text)

    assert info.architecture == ""
    assert sorted(info.profiles) == [
        "tplink_archer-c7-v5",
        "traverse_ten64",
        "untitled",
    ]
    archer = info.profiles["tplink_archer-c7-v5"]
    assert archer.supported_devices == ["tplink,archer-c7-v5", "archer-c7"]
    ten64 = info.profiles["traverse_ten64"]
    assert ten64.title == ""
    assert ten64.packages == ["kmod-sfp", "-ppp"]
    assert info.profiles["untitled"].packages == []


def test_title_that_looks_like_a_key_stays_a_title():
    info = parse_info(HEAD + "x:\n    Vendor: Model X\n    Packages: a\n")
    assert info.profiles["x"].title == "Vendor: Model X"
    assert info.profiles["x"].packages == ["a"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        'Current Target: "a/b"\nAvailable Profiles:\n',
        HEAD.replace("Default Packages: base-files dropbear uci\n", ""),
        HEAD + "    Packages: orphan\n",
        HEAD + "this is not a profile\n",
    ],
)
def test_unknown_info_shapes_raise_format_error(text):
    with pytest.raises(FormatError, match="make info"):
        parse_info(text)


def test_manifest_opkg_and_apk():
    assert parse_manifest("base-files - 1657~d9c5716d1d\nluci - git-24.1-r1\n") == {
        "base-files": "1657~d9c5716d1d",
        "luci": "git-24.1-r1",
    }
    assert parse_manifest("busybox 1.37.0-r6\n\napk-mbedtls 3.0.0_pre-r1\n") == {
        "busybox": "1.37.0-r6",
        "apk-mbedtls": "3.0.0_pre-r1",
    }


@pytest.mark.parametrize("line", ["Generate local signing keys...", "lonely", "a b c"])
def test_manifest_unknown_line_raises_format_error(line):
    with pytest.raises(FormatError, match=repr(line).strip("'")):
        parse_manifest(f"ok - 1\n{line}\n")


def test_check_revision():
    info = parse_info(HEAD + "p:\n    Packages: a\n")
    check_revision(info, "")
    check_revision(info, "r28427-6df0e3d02a")
    with pytest.raises(BuildError) as caught:
        check_revision(info, "r28500-aaaaaaaaaa")
    assert caught.value.detail.startswith(
        "Received incorrect version r28427-6df0e3d02a (requested r28500-aaaaaaaaaa)"
    )
    assert not caught.value.permanent
