"""The house rules: Qt only in ui/, SQLAlchemy and Alembic only in db/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize(
    ("package", "banned"),
    [
        ("reviewer", {"PySide6", "sqlalchemy", "alembic"}),
        ("wellbeing", {"PySide6", "sqlalchemy", "alembic", "db", "ui"}),
        ("db", {"PySide6", "ui"}),
        ("ui", {"sqlalchemy", "alembic", "db"}),
    ],
)
def test_package_does_not_import(package: str, banned: set[str]) -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & banned)
        for p in (ROOT / package).rglob("*.py")
        if _imports(p) & banned
    }
    # The entry point is the one place that wires every package together.
    offenders.pop("reviewer/cli.py", None)
    assert offenders == {}
