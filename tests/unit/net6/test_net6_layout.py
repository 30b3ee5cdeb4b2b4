"""Writing a node's folder: modes, and nothing outside the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshforge.errors import Net6Error
from meshforge.net6.layout import write_tree


def test_modes_follow_what_the_file_holds(tmp_path: Path) -> None:
    files = {"babeld.conf": "key", "tinc/tinc-up": "#!/bin/sh\n", "tinc/a": "x"}

    write_tree(tmp_path, files)

    assert (tmp_path / "babeld.conf").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tinc" / "tinc-up").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "tinc" / "a").stat().st_mode & 0o777 == 0o644


def test_a_name_that_climbs_out_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "node"

    with pytest.raises(Net6Error, match="lies outside"):
        write_tree(folder, {"../evil": "x"})

    assert not (tmp_path / "evil").exists()
