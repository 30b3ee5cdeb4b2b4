"""Fixtures for the stand-in: generated builders extracted in tmp folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from standin.generate import generate_archive
from tests.unit.standin.standin_helpers import BERLIN, extract_builder


@pytest.fixture(scope="session")
def x86_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    return generate_archive(BERLIN, "x86/64", BERLIN.as_uri(), out)


@pytest.fixture(scope="session")
def x86_builder(tmp_path_factory: pytest.TempPathFactory, x86_archive: Path) -> Path:
    return extract_builder(x86_archive, tmp_path_factory.mktemp("ib"))


@pytest.fixture(scope="session")
def ath79_builder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive-ath79")
    archive = generate_archive(BERLIN, "ath79/generic", BERLIN.as_uri(), out)
    return extract_builder(archive, tmp_path_factory.mktemp("ib-ath79"))
