"""sysupgrade is tested first and keeps settings unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from meshforge.client.install import install, sysupgrade_command
from meshforge.errors import InstallFailed

IMAGE = Path("/tmp/openwrt-x86-64-generic-squashfs-combined.img.gz")


class Recorder:
    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> int:
        self.calls.append(list(argv))
        return self.codes.pop(0)


def test_command_keeps_settings_by_default() -> None:
    assert sysupgrade_command(IMAGE) == ["sysupgrade", str(IMAGE)]
    assert sysupgrade_command(IMAGE, keep_settings=False) == [
        "sysupgrade",
        "-n",
        str(IMAGE),
    ]


def test_install_tests_then_flashes() -> None:
    runner = Recorder(0, 0)
    install(IMAGE, runner=runner)
    assert runner.calls == [
        ["sysupgrade", "--test", str(IMAGE)],
        ["sysupgrade", str(IMAGE)],
    ]


def test_refused_image_is_never_flashed() -> None:
    runner = Recorder(1)
    with pytest.raises(InstallFailed, match="device was not touched") as info:
        install(IMAGE, keep_settings=False, runner=runner)
    assert info.value.exit_code == 16
    assert runner.calls == [["sysupgrade", "--test", str(IMAGE)]]


def test_failed_flash_is_reported() -> None:
    with pytest.raises(InstallFailed, match="exit 3"):
        install(IMAGE, runner=Recorder(0, 3))
