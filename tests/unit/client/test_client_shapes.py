"""Malformed answers and unreadable files end in a sentence, not a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshforge.client.device import read_device
from meshforge.client.download import Downloader, Expected
from meshforge.client.images import choose_image
from meshforge.client.installed import read_installed
from meshforge.client.plan import Planner
from meshforge.client.releases import usable_branches
from meshforge.client.server import Server
from meshforge.errors import ClientError, RouterStateError, ServerUnavailable

ROUTERS = Path(__file__).resolve().parents[3] / "data" / "upstream-samples" / "routers"
X86 = ROUTERS / "openwrt-23.05-SNAPSHOT-r23633-x86-64"


@pytest.mark.parametrize(
    "overview",
    [
        {"branches": "x"},
        {"branches": {"24.10": "x"}},
        {"branches": {"24.10": {"targets": ["x86/64"]}}},
        {"branches": {"24.10": {"targets": {"x86/64": 1}}}},
        {"branches": {"24.10": {"targets": {"x86/64": "x"}, "versions": "24.10.5"}}},
        {"branches": {"24.10": {"targets": {"x86/64": "x"}, "versions": [24]}}},
        {"branches": {"24.10": {"targets": {"x86/64": "x"}, "path": 3}}},
    ],
)
def test_overview_of_the_wrong_shape_is_server_unavailable(
    overview: dict[str, Any],
) -> None:
    with pytest.raises(ServerUnavailable, match="malformed") as info:
        usable_branches(overview, "x86/64")
    assert info.value.exit_code == 13


def test_check_with_wrong_overview_types(fake: Any) -> None:
    server = fake.server({"/json/v1/overview.json": {"branches": "x"}})
    with pytest.raises(ServerUnavailable, match=r"overview\.json has a malformed"):
        Planner(server).check(read_device(X86), read_installed(X86))


def test_upstream_url_that_is_not_text(fake: Any) -> None:
    overview = fake.overview()
    overview["upstream_url"] = ["x"]
    server = fake.server({"/json/v1/overview.json": overview})
    with pytest.raises(ServerUnavailable, match="upstream_url"):
        Planner(server).check(read_device(X86), read_installed(X86))


def test_non_text_version_code_and_index_values(fake: Any) -> None:
    base = "/json/v1/releases/24.10.5"
    routes: dict[str, Any] = {
        "/json/v1/overview.json": fake.overview("http://t/dl"),
        "/dl/releases/24.10.5/targets/x86/64/profiles.json": {
            "version_code": ["r1"],
            "profiles": {"generic": {}},
        },
    }
    device, installed = read_device(X86), read_installed(X86)
    with pytest.raises(ServerUnavailable, match="version_code that is not text"):
        Planner(fake.server(routes)).plan_version(device, installed, "24.10.5")
    routes["/dl/releases/24.10.5/targets/x86/64/profiles.json"] = {
        "version_code": "r1-a",
        "profiles": {"generic": {}},
    }
    routes[f"{base}/packages/x86_64-index.json"] = {"luci": 1}
    with pytest.raises(ServerUnavailable, match="versions that are not text"):
        Planner(fake.server(routes)).plan_version(device, installed, "24.10.5")


def test_html_202_answer_is_a_sentence() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, text="<html>queued</html>")

    http = httpx.Client(transport=httpx.MockTransport(html))
    with pytest.raises(ServerUnavailable, match="without a JSON object"):
        Server("http://t", http=http).submit({})


@pytest.mark.parametrize(
    "images", [["x"], [{"name": 3}], [{"name": "a", "size": "big"}]]
)
def test_malformed_images_are_refused(images: list[Any]) -> None:
    with pytest.raises(ServerUnavailable, match="malformed image"):
        choose_image(images, "x86/64", "squashfs", False)


def _root(tmp_path: Path) -> Path:
    shutil.copytree(X86, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_board_json_model_that_is_not_an_object(tmp_path: Path) -> None:
    root = _root(tmp_path)
    (root / "etc/board.json").write_text(json.dumps({"model": "x"}))
    with pytest.raises(RouterStateError, match="'model' is not a JSON object") as info:
        read_device(root)
    assert info.value.exit_code == 11


@pytest.mark.parametrize(
    ("board", "sentence"),
    [
        ({"release": "x"}, "'release' is not a JSON object"),
        ({"release": {"version": 3, "target": "x86/64"}}, "not text"),
        ({"board_name": ["a"]}, "'board_name' is not text"),
    ],
)
def test_board_json_option_of_the_wrong_shape(
    tmp_path: Path, board: dict[str, Any], sentence: str
) -> None:
    saved = tmp_path / "board.json"
    saved.write_text(json.dumps(board))
    with pytest.raises(RouterStateError, match=sentence):
        read_device(X86, saved)


@pytest.mark.parametrize("name", ["etc/openwrt_release", "usr/lib/opkg/status"])
def test_unreadable_device_files_are_exit_11(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    root = _root(tmp_path)
    locked = root / name
    real = Path.read_text

    def read_text(path: Path, *args: Any, **kwargs: Any) -> str:
        if path == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    with pytest.raises(RouterStateError, match="Permission denied") as info:
        read_device(root)
        read_installed(root)
    assert info.value.exit_code == 11


def test_unwritable_output_dir_is_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"x"))
    )
    with pytest.raises(ClientError, match="Cannot write the image") as info:
        Downloader(http).fetch("http://t/x", blocker / "out" / "x.bin", Expected("0"))
    assert info.value.exit_code == 8
