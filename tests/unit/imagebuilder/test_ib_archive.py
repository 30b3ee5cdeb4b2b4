from __future__ import annotations

import pytest

from meshforge.errors import BadRequest, BuildError, FormatError
from meshforge.imagebuilder.archive import find_archive, parse_sha256sums

SAMPLES = "data/upstream-samples"
A = "a" * 64
B = "b" * 64


def sums(*names: str) -> str:
    return "".join(f"{A if i else B} *{n}\n" for i, n in enumerate(names))


def test_release_archive_with_version_in_name():
    text = sums(
        "profiles.json", "openwrt-imagebuilder-24.10.4-x86-64.Linux-x86_64.tar.zst"
    )
    name, digest = find_archive(text, "24.10.4", "x86/64")
    assert name == "openwrt-imagebuilder-24.10.4-x86-64.Linux-x86_64.tar.zst"
    assert digest == A


def test_old_release_ships_tar_xz():
    text = sums("x", "openwrt-imagebuilder-21.02.7-ath79-generic.Linux-x86_64.tar.xz")
    assert find_archive(text, "21.02.7", "ath79/generic")[0].endswith(".tar.xz")


def test_snapshot_has_no_version_and_branch_snapshot_is_lowercase():
    snap = sums("x", "openwrt-imagebuilder-mediatek-filogic.Linux-x86_64.tar.zst")
    assert find_archive(snap, "SNAPSHOT", "mediatek/filogic")[1] == A
    branch = sums(
        "x", "openwrt-imagebuilder-24.10-snapshot-x86-64.Linux-x86_64.tar.zst"
    )
    assert find_archive(branch, "24.10-SNAPSHOT", "x86/64")[1] == A


def test_real_unversioned_third_party_archive_is_accepted(pytestconfig):
    path = (
        pytestconfig.rootpath
        / SAMPLES
        / ("openwrt-25.12.2-thirdparty-homeproxy-x86-64-apk/targets/x86/64/sha256sums")
    )
    name, digest = find_archive(path.read_text(), "25.12.2", "x86/64")
    assert name == "openwrt-imagebuilder-x86-64.Linux-x86_64.tar.zst"
    assert digest.startswith("72be2de7d99dcdd8")


def test_versioned_name_wins_over_unversioned():
    text = sums(
        "openwrt-imagebuilder-x86-64.Linux-x86_64.tar.zst",
        "openwrt-imagebuilder-1.2.3-x86-64.Linux-x86_64.tar.zst",
    )
    assert find_archive(text, "1.2.3", "x86/64")[1] == A


def test_other_target_archive_is_not_taken():
    text = sums("x", "openwrt-imagebuilder-1.2.3-x86-generic.Linux-x86_64.tar.zst")
    with pytest.raises(BuildError) as caught:
        find_archive(text, "1.2.3", "x86/64")
    assert caught.value.permanent
    assert "1.2.3 x86/64" in caught.value.detail


def test_real_snapshot_sums_without_archive_are_transient(pytestconfig):
    path = (
        pytestconfig.rootpath
        / SAMPLES
        / ("berlin4apk-22.03-SNAPSHOT-ci/targets/x86/64/sha256sums")
    )
    with pytest.raises(BuildError) as caught:
        find_archive(path.read_text(), "22.03-SNAPSHOT", "x86/64")
    assert not caught.value.permanent
    assert "retry later" in caught.value.detail


def test_bad_target_and_garbage_are_refused():
    with pytest.raises(BadRequest):
        find_archive(sums("x"), "1.2.3", "x86/64; rm -rf /")
    with pytest.raises(FormatError):
        parse_sha256sums("<html>not found</html>\n")


def test_text_mode_lines_and_uppercase_hex_are_read():
    parsed = parse_sha256sums(f"{'AB' * 32}  file.bin\n\n")
    assert parsed == {"file.bin": "ab" * 32}
