"""What ``meshforge packages`` says, and with which exit status, when input is bad.

These run the real ``meshforge`` entry point, because it is the one that maps
the exception tree to exit statuses; CliRunner on the group would not.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from meshforge.cli import main
from meshforge.errors import (
    FormatError,
    ResolutionError,
    SignatureError,
    UpstreamError,
)
from tests.conftest import KEYS, SAMPLES
from tests.unit.packages.conftest import OPENWRT_24

MAKE_INFO = str(OPENWRT_24 / "imagebuilder-outputs" / "make-info.txt")
APK_25 = SAMPLES / "openwrt-25.12.2-thirdparty-homeproxy-x86-64-apk"
CORE = OPENWRT_24 / "targets/x86/64/packages"


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """Exit status and all output of ``meshforge packages ARGS``."""
    monkeypatch.setattr(sys, "argv", ["meshforge", "packages", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def fake_release(tmp_path: Path, name: str, data: bytes) -> str:
    """A release folder whose x86/64 core index is the given (generated) bytes."""
    folder = tmp_path / "release" / "targets/x86/64/packages"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    return str(tmp_path / "release")


def resolve_args(release: str, *extra: str) -> list[str]:
    return ["resolve", release, "x86/64", "--make-info", MAKE_INFO, *extra]


def test_help_documents_every_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["resolve", "--help"], ["--help"]):
        code, output = run(monkeypatch, capsys, *args)
        assert code == 0
        assert "Exit status:" in output
        for error in (ResolutionError, UpstreamError, SignatureError, FormatError):
            assert f" {error.exit_code} " in output
        assert "unsupported scheme" in output and "not UTF-8" in output


def test_exit_statuses_differ_by_kind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len({UpstreamError.exit_code, SignatureError.exit_code}) == 2
    missing = run(monkeypatch, capsys, *resolve_args(str(OPENWRT_24), "luci2s"))
    assert missing[0] == ResolutionError.exit_code
    assert "'luci2s'" in missing[1]
    # openwrt-23.05.5 holds profiles.json files but no package index.
    code, output = run(
        monkeypatch,
        capsys,
        *resolve_args(str(SAMPLES / "openwrt-23.05.5"), "--no-verify"),
    )
    assert code == UpstreamError.exit_code, output
    assert "No package index under" in output


def test_invalid_url_is_an_upstream_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(monkeypatch, capsys, *resolve_args("http://[::1"))
    assert code == UpstreamError.exit_code
    assert "The release URL http://[::1 is not valid" in output
    assert "Traceback" not in output


def test_missing_folder_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    absent = tmp_path / "nonexistent"
    code, output = run(monkeypatch, capsys, "resolve", str(absent), "x86/64")
    assert code == UpstreamError.exit_code
    assert f"The release folder {absent} does not exist." in output
    assert "--make-info" not in output


@pytest.mark.parametrize("base", ["ftp://127.0.0.1/openwrt", "rsync://x/openwrt"])
def test_other_schemes_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], base: str
) -> None:
    code, output = run(monkeypatch, capsys, *resolve_args(base))
    assert code == UpstreamError.exit_code
    scheme = base.split(":")[0]
    assert f"The URL scheme {scheme}:// of {base} is not supported" in output


def test_file_url_reads_the_local_folder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path_run = run(monkeypatch, capsys, *resolve_args(str(OPENWRT_24), "luci"))
    url_run = run(monkeypatch, capsys, *resolve_args(OPENWRT_24.as_uri(), "luci"))
    assert url_run[0] == 0, url_run[1]
    assert "luci-base - " in url_run[1]
    assert url_run == path_run


def test_file_url_of_another_host_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(monkeypatch, capsys, *resolve_args("file://example/openwrt"))
    assert code == UpstreamError.exit_code
    assert "names the host 'example'" in output


def test_not_gzip_is_a_format_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    release = fake_release(tmp_path, "Packages.gz", b"generated: not gzip\n")
    code, output = run(monkeypatch, capsys, *resolve_args(release, "--no-verify"))
    assert code == FormatError.exit_code
    assert "Packages.gz is not a complete gzip file" in output


def test_truncated_gzip_is_a_format_error_not_aborted(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    whole = (CORE / "Packages.gz").read_bytes()
    release = fake_release(tmp_path, "Packages.gz", whole[: len(whole) // 2])
    code, output = run(monkeypatch, capsys, *resolve_args(release, "--no-verify"))
    assert code == FormatError.exit_code
    assert "Packages.gz is not a complete gzip file" in output
    assert "Aborted" not in output


def test_non_utf8_index_is_a_format_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    data = b"Package: generated\nVersion: 1\nDescription: caf\xe9\n"
    release = fake_release(tmp_path, "Packages", data)
    code, output = run(monkeypatch, capsys, *resolve_args(release, "--no-verify"))
    assert code == FormatError.exit_code
    assert "Packages is not UTF-8 text (byte 0xe9 at offset 46)" in output


def test_make_info_of_another_target_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["resolve", str(OPENWRT_24), "ath79/generic", "--make-info", MAKE_INFO]
    code, output = run(monkeypatch, capsys, *args)
    assert code == 2
    assert "is the make info of target x86/64, but TARGET is ath79/generic" in output


def test_garbage_local_repo_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    local = tmp_path / "Packages"
    local.write_text("generated garbage, no fields at all\n")
    args = resolve_args(str(OPENWRT_24), "--local-repo", str(local))
    code, output = run(monkeypatch, capsys, *args)
    assert code == FormatError.exit_code
    assert f"{local} holds no stanza with Package and Version fields" in output


def test_local_repo_gzip_is_checked_too(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    local = tmp_path / "Packages.gz"
    local.write_bytes(gzip.compress(b"Package: generated\nVersion: 1\n")[:-6])
    args = resolve_args(str(OPENWRT_24), "--local-repo", str(local))
    code, output = run(monkeypatch, capsys, *args)
    assert code == FormatError.exit_code
    assert "is not a complete gzip file" in output


def test_local_package_of_another_arch_is_named(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    local = tmp_path / "Packages"
    local.write_text(
        "Package: generated-tool\nVersion: 1.0-r1\nArchitecture: mips_24kc\n"
    )
    args = resolve_args(str(OPENWRT_24), "--local-repo", str(local))
    code, output = run(monkeypatch, capsys, *args, "generated-tool")
    assert code == ResolutionError.exit_code
    assert "generated-tool (mips_24kc, from local:Packages)" in output
    assert "than this target's x86_64" in output


def test_apk_index_is_refused_without_no_verify(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["resolve", str(APK_25), "x86/64", "--keys", str(KEYS)]
    code, output = run(monkeypatch, capsys, *args)
    assert code == SignatureError.exit_code
    assert "cannot check apk (ADB) signatures yet" in output
    code, output = run(monkeypatch, capsys, *args, "--no-verify")
    assert code == 0, output
    assert "apk-mbedtls - 3.0.5-r2" in output


def test_compare_huge_numbers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "9" * 5000
    assert run(monkeypatch, capsys, "compare", huge, "1") == (0, ">")
    assert run(monkeypatch, capsys, "compare", "--apk", "1", huge) == (0, "<")
    assert run(monkeypatch, capsys, "compare", huge, huge + "0") == (0, "<")


def test_broken_profiles_json_is_a_format_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    release = fake_release(tmp_path, "Packages", b"Package: generated\nVersion: 1\n")
    (Path(release) / "targets/x86/64/profiles.json").write_text("{generated")
    code, output = run(monkeypatch, capsys, "resolve", release, "x86/64")
    assert code == FormatError.exit_code
    assert "targets/x86/64/profiles.json is not valid JSON" in output


def test_non_utf8_make_info_is_a_format_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    info = tmp_path / "make-info.txt"
    info.write_bytes(b"\xff\xfe generated")
    args = ["resolve", str(OPENWRT_24), "x86/64", "--make-info", str(info)]
    code, output = run(monkeypatch, capsys, *args)
    assert code == FormatError.exit_code
    assert "is not UTF-8 text (byte 0xff at offset 0)" in output
    assert "saved output of 'make info'" in output


def test_binary_signature_is_a_signature_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    release = fake_release(tmp_path, "Packages", (CORE / "Packages").read_bytes())
    (Path(release) / "targets/x86/64/packages/Packages.sig").write_bytes(b"\xff\x00")
    args = resolve_args(release, "--keys", str(KEYS))
    code, output = run(monkeypatch, capsys, *args)
    assert code == SignatureError.exit_code
    assert "Packages.sig is not text, so it is no usign signature" in output
