"""Universes built from the real feeds in data/upstream-samples, once per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshforge.packages.index import (
    Package,
    Universe,
    find_index,
    packages_from_text,
    read_index_text,
)
from meshforge.packages.release import Release, defaults_from_make_info, load_universe
from tests.conftest import SAMPLES

OPENWRT_24 = SAMPLES / "openwrt-24.10.4"
ORACLE = OPENWRT_24 / "opkg-resolution"
BERLIN = SAMPLES / "berlin4apk-22.03-SNAPSHOT-ci"
LEDE = SAMPLES / "lede-17.01.4"


def load_folder(folder: Path) -> list[Package]:
    """The packages of one feed folder of the samples."""
    index = find_index(folder)
    assert index is not None, f"no Packages file in {folder}"
    return packages_from_text(read_index_text(index), folder.name)


def oracle_args(name: str) -> list[str]:
    """The package list of an oracle set, in the order opkg received it."""
    lines = (ORACLE / f"{name}.cmd.txt").read_text().splitlines()
    return lines[1].split()


def oracle_manifest(name: str) -> list[str]:
    return (ORACLE / f"{name}.manifest.txt").read_text().splitlines()


@pytest.fixture(scope="session")
def universe_24() -> Universe:
    """24.10.4 x86/64: seven signed feeds plus inferred libc and kernel."""
    info = defaults_from_make_info(
        (OPENWRT_24 / "imagebuilder-outputs" / "make-info.txt").read_text()
    )
    return load_universe(Release(str(OPENWRT_24), "x86/64"), arch=info.arch)


@pytest.fixture(scope="session")
def make_info_24() -> Path:
    return OPENWRT_24 / "imagebuilder-outputs" / "make-info.txt"
