"""The code inside the archive runs without meshforge or any PyPI package."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import standin.imagebuilder.standin_ib as standin_ib

SOURCES = sorted(Path(standin_ib.__file__).parent.glob("*.py"))


def _imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_only_standard_library_or_own_modules(path: Path) -> None:
    for module, level in _imports(path):
        top = module.split(".")[0]
        assert level > 0 or top in sys.stdlib_module_names, f"{path.name}: {module}"
