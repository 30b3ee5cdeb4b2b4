"""``meshforge net6`` on the server side, through click."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from meshforge.cli import cli
from meshforge.errors import Net6Error

pytestmark = pytest.mark.skipif(
    shutil.which("tincd") is None, reason="init makes the server key with tincd"
)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MESHFORGE_NET6_DATABASE_URL", f"sqlite:///{tmp_path}/n.db")
    monkeypatch.setenv("MESHFORGE_NET6_HELLO_INTERVAL", "1")
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["net6", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_init_writes_a_complete_server(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "srv"
    out = _ok(
        runner,
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(folder),
        "--pool",
        "2001:db8:100::/48",
    )
    again = _ok(
        runner,
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(folder),
        "--pool",
        "2001:db8:100::/48",
    )

    conf = (folder / "tinc" / "tinc.conf").read_text().splitlines()
    host = (folder / "tinc" / "hosts" / "srv").read_text()
    assert "link 2001:db8:100::/64" in out
    assert "Operator token" in out and "Operator token" not in again
    assert conf[:2] == ["Name = srv", "Mode = switch"]
    assert host.startswith("Address = 198.51.100.2 655\nSubnet = 2001:db8:100::/64\n")
    assert "2001:db8:100::1/128" in (folder / "tinc" / "tinc-up").read_text()
    assert "hello-interval 1" in (folder / "babeld.conf").read_text()
    assert (folder / "tinc" / "rsa_key.priv").stat().st_mode & 0o077 == 0
    # babeld.conf carries the mesh's HMAC key.
    assert (folder / "babeld.conf").stat().st_mode & 0o077 == 0
    assert f"Broker database: {tmp_path / 'n.db'}" in out


def test_init_with_6to4_uses_the_derived_pool(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "srv"
    out = _ok(
        runner,
        "init",
        "--name",
        "srv6",
        "--address",
        "198.51.100.7",
        "--dir",
        str(folder),
        "--sixtofour-local",
        "198.51.100.7",
        "--sixtofour-relay",
        "203.0.113.99",
    )

    script = (folder / "uplink-6to4.sh").read_text().splitlines()
    assert "pools 2002:c633:6407::/48" in out
    assert "ip -6 route add 2000::/3 via ::203.0.113.99 dev tun6to4" in script
    assert "redistribute ip ::/0 le 0 allow" in (folder / "babeld.conf").read_text()


def test_pool_import_hosts_invite_and_revoke(
    runner: CliRunner, tmp_path: Path, public_key: str
) -> None:
    _ok(
        runner,
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(tmp_path / "srv"),
        "--pool",
        "2001:db8:100::/48",
    )
    listing = tmp_path / "assignments.txt"
    listing.write_text("# name prefix\nold1 2001:db8:100:a00::/56\n")
    host = tmp_path / "old1"
    host.write_text(
        f"Address = 203.0.113.50\nSubnet = 2001:db8:100:a00::/56\n{public_key}\n"
    )

    _ok(runner, "pool", "import", str(listing))
    _ok(runner, "import-hosts", str(host))
    url = _ok(
        runner, "invite", "gw1", "--size", "/60", "--url", "https://broker.example.org"
    ).splitlines()[0]
    rows = json.loads(_ok(runner, "gateways", "--json"))
    _ok(runner, "revoke", "old1")
    pools = _ok(runner, "pool", "list")

    assert url.startswith("https://broker.example.org/join/")
    assert [(r["name"], r["subnet"], r["state"]) for r in rows] == [
        ("old1", "2001:db8:100:a00::/56", "never seen")
    ]
    assert "2001:db8:100:a00::/56    old1 (held until" in pools
    assert (tmp_path / "srv" / "tinc" / "hosts" / "srv").exists()
    assert not (tmp_path / "srv" / "tinc" / "hosts" / "old1").exists()


def test_invite_before_init_explains_what_to_do(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["net6", "invite", "gw1", "--url", "https://b"])

    assert isinstance(result.exception, Net6Error)
    assert result.exception.exit_code == 7
    assert "run `meshforge net6 init` first" in result.exception.detail


def test_second_community_server_joins_the_same_mesh(
    runner: CliRunner, tmp_path: Path
) -> None:
    _ok(
        runner,
        "init",
        "--name",
        "srv_a",
        "--address",
        "198.51.100.2",
        "--dir",
        str(tmp_path / "a"),
        "--pool",
        "2001:db8:100::/48",
    )
    _ok(
        runner,
        "init",
        "--name",
        "srv_b",
        "--address",
        "198.51.100.3",
        "--dir",
        str(tmp_path / "b"),
        "--pool",
        "2001:db8:200::/48",
        "--community",
        "quintana",
    )

    conf_b = (tmp_path / "b" / "tinc" / "tinc.conf").read_text().splitlines()
    overlap = runner.invoke(cli, ["net6", "pool", "add", "2001:db8:200:100::/56"])
    invite = runner.invoke(cli, ["net6", "invite", "gw", "--url", "https://b"])

    assert "ConnectTo = srv_a" in conf_b
    # srv_a's folder got srv_b's host file, so it accepts srv_b's connection.
    assert (tmp_path / "a" / "tinc" / "hosts" / "srv_b").exists()
    assert isinstance(overlap.exception, Net6Error)
    assert "overlaps pool 2001:db8:200::/48" in overlap.exception.detail
    assert isinstance(invite.exception, Net6Error)
    assert "Name the community" in invite.exception.detail
    assert "2001:db8:200::/64" in (tmp_path / "b" / "tinc" / "tinc-up").read_text()


def test_commands_without_a_broker_database_say_where_they_looked(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["net6", "gateways"])

    assert isinstance(result.exception, Net6Error)
    assert f"no broker database at {tmp_path / 'n.db'}" in result.exception.detail
    assert "MESHFORGE_NET6_VAR_DIR" in result.exception.detail
    assert not (tmp_path / "n.db").exists()


@pytest.mark.parametrize("url", ["ftp://b.example.org", "not a url"])
def test_invite_refuses_a_broker_url_gateways_cannot_use(
    runner: CliRunner, tmp_path: Path, url: str
) -> None:
    _ok(
        runner,
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(tmp_path / "srv"),
        "--pool",
        "2001:db8:100::/48",
    )

    result = runner.invoke(cli, ["net6", "invite", "gw1", "--url", url])

    assert isinstance(result.exception, Net6Error)
    assert "is not a broker URL" in result.exception.detail


def test_revoke_voids_an_unused_invitation(runner: CliRunner, tmp_path: Path) -> None:
    _ok(
        runner,
        "init",
        "--name",
        "srv",
        "--address",
        "198.51.100.2",
        "--dir",
        str(tmp_path / "srv"),
        "--pool",
        "2001:db8:100::/48",
    )
    _ok(runner, "invite", "gw1", "--url", "https://broker.example.org")

    out = _ok(runner, "revoke", "gw1")

    assert out == "Voided 1 unused invitation(s) for gw1.\n"


def _init(runner: CliRunner, folder: Path, *extra: str) -> Result:
    args = ["net6", "init", "--name", "srv", "--dir", str(folder)]
    args += ["--pool", "2001:db8:100::/48", *extra]
    return runner.invoke(cli, args)


def test_init_refuses_what_would_break_the_host_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "srv"
    bad_address = _init(runner, folder, "--address", "x y;z")
    bad_port = _init(runner, folder, "--address", "198.51.100.2", "--port", "70000")

    assert isinstance(bad_address.exception, Net6Error)
    assert "not an IP address or host name" in bad_address.exception.detail
    assert bad_port.exit_code == 2
    assert not (folder / "tinc" / "hosts" / "srv").exists()


def test_reinit_keeps_the_link_prefix_and_refuses_to_move_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "srv"
    _ok(runner, "init", "--name", "srv", "--address", "198.51.100.2", "--dir",
        str(folder), "--pool", "2001:db8:100::/48", "--link-prefix",
        "2001:db8:100:ff00::/64")  # fmt: skip
    again = _ok(runner, "init", "--name", "srv", "--address", "198.51.100.2",
                "--dir", str(folder))  # fmt: skip
    moved = _init(runner, folder, "--address", "198.51.100.2", "--link-prefix",
                  "2001:db8:999::/64")  # fmt: skip

    assert "link 2001:db8:100:ff00::/64" in again
    assert isinstance(moved.exception, Net6Error)
    assert "already uses link prefix 2001:db8:100:ff00::/64" in moved.exception.detail


def test_init_into_an_unwritable_folder_says_so(
    runner: CliRunner, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")

    result = _init(runner, blocker / "srv", "--address", "198.51.100.2")

    assert isinstance(result.exception, Net6Error)
    assert "Pick a folder this user may write" in result.exception.detail


def test_pool_import_is_all_or_nothing(runner: CliRunner, tmp_path: Path) -> None:
    _init(runner, tmp_path / "srv", "--address", "198.51.100.2")
    bad_name = tmp_path / "names.txt"
    bad_name.write_text("gw_a 2001:db8:100:a00::/56\ngw-c 2001:db8:100:c00::/56\n")
    overlap = tmp_path / "overlap.txt"
    overlap.write_text("gw_a 2001:db8:100:a00::/56\ngw_b 2001:db8:100:a80::/57\n")

    named = runner.invoke(cli, ["net6", "pool", "import", str(bad_name)])
    overlapped = runner.invoke(cli, ["net6", "pool", "import", str(overlap)])
    listing = _ok(runner, "pool", "list")

    assert isinstance(named.exception, Net6Error)
    assert "Line 2 of" in named.exception.detail
    assert "'gw-c' cannot be a tinc node name" in named.exception.detail
    assert isinstance(overlapped.exception, Net6Error)
    assert "Nothing was imported" in overlapped.exception.detail
    assert "gw_a" not in listing


def test_serve_without_a_database_refuses_to_start(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["net6", "serve", "--port", "1"])

    assert isinstance(result.exception, Net6Error)
    assert "run `meshforge net6 init` first" in result.exception.detail
