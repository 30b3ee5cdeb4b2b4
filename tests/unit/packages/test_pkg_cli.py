"""``meshforge packages resolve`` on a release folder and over loopback HTTP."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from meshforge.errors import ResolutionError
from meshforge.packages.cli import group
from tests.unit.packages.conftest import BERLIN, OPENWRT_24, oracle_manifest

MAKE_INFO = str(OPENWRT_24 / "imagebuilder-outputs" / "make-info.txt")


def test_resolve_prints_the_manifest_opkg_made() -> None:
    result = CliRunner().invoke(
        group, ["resolve", str(OPENWRT_24), "x86/64", "--make-info", MAKE_INFO, "luci"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == oracle_manifest("02-luci")


def test_resolve_json_error_is_structured() -> None:
    args = ["resolve", str(OPENWRT_24), "x86/64", "--make-info", MAKE_INFO, "--json"]
    result = CliRunner().invoke(group, [*args, "dnsmasq-full", "luci2s"])
    assert result.exit_code == ResolutionError.exit_code != 2
    body = json.loads(result.output)
    assert body["status"] == 422
    assert body["missing"] == ["luci2s"]
    assert body["conflicts"] == [["dnsmasq", "dnsmasq-full"]]


def test_resolve_without_profiles_or_make_info_says_what_to_pass() -> None:
    result = CliRunner().invoke(group, ["resolve", str(OPENWRT_24), "x86/64"])
    assert result.exit_code == 2
    assert "--make-info" in result.output


def test_compare() -> None:
    runner = CliRunner()
    assert runner.invoke(group, ["compare", "1.0~rc1", "1.0"]).output == "<\n"
    assert runner.invoke(group, ["compare", "--apk", "1.0~abc", "1.0"]).output == ">\n"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the access log out of the command's captured output."""


@pytest.fixture
def served_samples() -> Iterator[str]:
    """The samples folder on a loopback HTTP server of our own."""
    handler = functools.partial(_QuietHandler, directory=str(BERLIN.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_resolve_over_http(served_samples: str) -> None:
    url = f"{served_samples}/{BERLIN.name}"
    result = CliRunner().invoke(
        group,
        ["resolve", url, "ath79/generic", "--profile", "8dev_carambola2", "--json"],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    manifest = (
        BERLIN / "targets/ath79/generic/openwrt-ath79-generic-8dev_carambola2.manifest"
    )
    assert body["manifest"] == manifest.read_text().splitlines()
    assert body["installed"]["libc"] == "1.2.3-4"


def test_local_repo_stands_for_the_builders_packages(tmp_path) -> None:
    # Generated stanzas in the shape of the ImageBuilder's packages/ index.
    local = tmp_path / "Packages"
    local.write_text(
        "Package: libc\nVersion: 1.2.5-r9\nArchitecture: x86_64\n\n"
        "Package: kernel\n"
        "Version: 6.6.110~484466e2719a743506c36b4bb2103582-r1\n"
        "Architecture: x86_64\n"
    )
    args = ["resolve", str(OPENWRT_24), "x86/64", "--make-info", MAKE_INFO]
    result = CliRunner().invoke(group, [*args, "--local-repo", str(local), "--json"])
    assert result.exit_code == 0, result.output
    installed = json.loads(result.output)["installed"]
    assert installed["libc"] == "1.2.5-r9"
    expected = dict(
        line.split(" - ") for line in oracle_manifest("01-defaults-generic")
    )
    expected["libc"] = "1.2.5-r9"
    assert installed == expected


def test_minus_names_remove_defaults() -> None:
    args = ["resolve", str(OPENWRT_24), "x86/64", "--make-info", MAKE_INFO]
    result = CliRunner().invoke(group, [*args, "dnsmasq-full", "-dnsmasq"])
    assert result.exit_code == 0, result.output
    names = [line.split(" - ")[0] for line in result.output.splitlines()]
    assert "dnsmasq-full" in names and "dnsmasq" not in names
