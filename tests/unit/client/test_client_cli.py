"""The command line: documented exit codes, usage guards, rendering."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshforge import errors
from meshforge.cli import cli, main
from meshforge.client.changes import PackageChange
from meshforge.client.cli import (
    notify_line,
    notify_unknown,
    render_change,
    render_check,
)
from meshforge.client.device import read_device
from meshforge.client.installed import read_installed
from meshforge.client.plan import Role, TargetPlan, UpgradeCheck

ROUTERS = Path(__file__).resolve().parents[3] / "data" / "upstream-samples" / "routers"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"
# A port nothing listens on: these tests fail before any request is sent.
NOWHERE = "http://127.0.0.1:9"


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["meshforge", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code or 0)


def test_help_documents_every_client_exit_code() -> None:
    result = CliRunner().invoke(
        cli, ["upgrade", "--server", NOWHERE, "request", "--help"]
    )
    assert result.exit_code == 0
    client_errors = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ClientError)
    ]
    assert len(client_errors) == 8
    for cls in client_errors:
        assert f"  {cls.exit_code}  " in result.output, cls.__name__
    assert "  10  notify: an upgrade exists" in result.output


def test_exit_codes_are_distinct() -> None:
    codes = [errors.ClientError.exit_code] + [
        cls.exit_code for cls in errors.ClientError.__subclasses__()
    ]
    assert len(codes) == len(set(codes))
    assert 10 not in codes


def test_unreadable_root_exits_11(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_main(
        monkeypatch, "upgrade", "--server", NOWHERE, "--root", str(tmp_path), "check"
    )
    assert code == 11
    assert "Cannot tell which OpenWrt release" in capsys.readouterr().err


def test_install_needs_the_real_root(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_main(
        monkeypatch,
        "upgrade",
        "--server",
        NOWHERE,
        "--root",
        str(X86),
        "request",
        "--install",
    )
    assert code == 2
    assert "--install flashes the running system" in capsys.readouterr().err


def _plan(
    role: Role, version: str, upgrade: bool, changes: list[PackageChange]
) -> TargetPlan:
    return TargetPlan(
        role=role,
        version=version,
        path=f"releases/{version}",
        version_code="r1-abc",
        profile="generic",
        upgrade=upgrade,
        packages={},
        changes=changes,
    )


def _check(same: TargetPlan | None, following: TargetPlan | None) -> UpgradeCheck:
    return UpgradeCheck(
        read_device(X86), read_installed(X86), "http://dl", same, following
    )


def test_notify_line() -> None:
    update = [PackageChange("update", "a", "1", "a", "2")]
    assert (
        notify_line(
            _check(_plan("same-branch", "23.05-SNAPSHOT", False, []), None), True
        )
        == ""
    )
    quiet = _check(_plan("same-branch", "23.05-SNAPSHOT", False, update), None)
    assert notify_line(quiet, False) == ""
    assert (
        notify_line(quiet, True)
        == "package updates available for 23.05-SNAPSHOT: 1 change"
    )
    newer = _check(None, _plan("next-branch", "24.10.5", True, []))
    assert notify_line(newer, False) == (
        "upgrade available: 23.05-SNAPSHOT r23633-c7b6cfac40 → 24.10.5 r1-abc"
    )


def test_render_check_and_changes() -> None:
    changes = [
        PackageChange("rename", "auc", "0.3-1", new_name="owut"),
        PackageChange("remove", "beep", "1.3-1"),
    ]
    text = render_check(
        _check(
            _plan("same-branch", "23.05-SNAPSHOT", False, []),
            _plan("next-branch", "24.10.5", True, changes),
        )
    )
    assert "running       23.05-SNAPSHOT r23633-c7b6cfac40" in text
    assert "next branch   24.10.5 r1-abc [generic] upgrade available" in text
    assert "Package changes for 24.10.5:" in text
    assert "  rename  auc → owut" in text
    assert render_change(PackageChange("add", "kmod-nft-nat6")) == (
        "  add     kmod-nft-nat6 (required by the new release)"
    )


def test_missing_server_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MESHFORGE_UPGRADE_SERVER", raising=False)
    code = run_main(monkeypatch, "upgrade", "--root", str(X86), "check")
    assert code == 2
    assert "No build server" in capsys.readouterr().err


def test_version_and_next_branch_exclude_each_other(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--root", str(X86), "request", "--version", "24.10.5", "--next-branch")
    assert run_main(monkeypatch, "upgrade", "--server", NOWHERE, *args) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["h", "ftp://h", "http:///", "http://[::1", "http://h:1:2"]
)
def test_malformed_server_url_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    def no_dns(*args: object, **kwargs: object) -> None:
        raise AssertionError("a malformed URL reached a DNS lookup")

    monkeypatch.setattr("socket.getaddrinfo", no_dns)
    code = run_main(
        monkeypatch, "upgrade", "--server", url, "--root", str(X86), "check"
    )
    assert code == 2
    assert "is not a usable URL" in capsys.readouterr().err


def test_refused_server_fails_fast_with_exit_13(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = run_main(
        monkeypatch, "upgrade", "--server", NOWHERE, "--root", str(X86), "notify"
    )
    assert code == 13
    assert time.monotonic() - started < 10
    assert "Cannot connect to" in capsys.readouterr().err


def test_unknown_revision_is_not_up_to_date() -> None:
    plan = _plan("same-branch", "23.05-SNAPSHOT", False, [])
    plan.version_code = ""
    plan.upgrade_known = False
    check = _check(plan, None)
    text = render_check(check)
    assert "same branch   23.05-SNAPSHOT (no version_code) [generic] unknown" in text
    assert "up to date" not in text
    assert notify_line(check, False) == ""
    assert notify_unknown(check).startswith(
        "warning: cannot tell whether 23.05-SNAPSHOT (no version_code) is newer"
    )
    assert notify_unknown(_check(_plan("same-branch", "x", False, []), None)) == ""


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan"])
def test_timeout_must_be_positive_and_finite(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    args = ("--root", str(X86), "request", "--timeout", value)
    assert run_main(monkeypatch, "upgrade", "--server", NOWHERE, *args) == 2
    assert "positive, finite number of seconds" in capsys.readouterr().err


def test_notify_warns_when_nothing_is_offered() -> None:
    check = _check(None, None)
    assert notify_line(check, True) == ""
    assert notify_unknown(check).startswith(
        "warning: the server offers no release of the running branch "
        "(23.05-SNAPSHOT, x86/64)"
    )
