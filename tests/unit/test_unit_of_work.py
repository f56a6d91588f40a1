"""The unit of work hands out one of each repository, and the repositories reach it (and
each other) only through public members: db/ keeps no `store._tx`-style back doors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from db.accounts import AccountsRepo
from db.audit_checkpoint import CheckpointRepo
from db.claims import ClaimsRepo
from db.dashboard import DashboardRepo
from db.hashes import HashRepo
from db.items import ItemsRepo
from db.mitigations import MitigationRepo
from db.qa import QaRepo
from db.referrals import ReferralRepo
from db.repo import Repo
from db.retention import RetentionRepo
from db.store import Store
from db.video import VideoRepo
from db.welfare import WelfareRepo

ROOT = Path(__file__).resolve().parents[2]

HANDED_OUT = {
    "items": ItemsRepo,
    "claims": ClaimsRepo,
    "accounts": AccountsRepo,
    "welfare": WelfareRepo,
    "qa": QaRepo,
    "hashes": HashRepo,
    "videos": VideoRepo,
    "referrals": ReferralRepo,
    "retention": RetentionRepo,
    "mitigations": MitigationRepo,
    "dashboard": DashboardRepo,
    "checkpoints": CheckpointRepo,
}

# Underscore names that are public API of a library, not a member of ours.
LIBRARY = {"_mapping", "_asdict", "_fields", "_replace", "_value2member_map_"}
# Known, reasoned exceptions: db.audit_checkpoint verifies checkpoints with db.audit's
# own chain readers (module functions of the audit log, not a repository's state).
KNOWN = {
    ("db/audit_checkpoint.py", f"audit.{n}")
    for n in ("_openings", "_read_head", "_chain_heads", "_reading")
}


def test_the_unit_of_work_hands_out_each_repository_once(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}", audit_key=b"k" * 32)
    try:
        for name, cls in HANDED_OUT.items():
            repo = getattr(store, name)
            assert type(repo) is cls, name
            assert repo.store is store, f"{name} works in another unit of work"
            assert getattr(store, name) is repo, f"{name} is built again on each use"
        # Every repository class in db/ is handed out (a new one must be added here).
        repos = {c for c in _subclasses(Repo)}
        assert repos == set(HANDED_OUT.values())
    finally:
        store.close()


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def private_reaches(source: str) -> list[str]:
    """`x._name` where x is not the object's own self/cls, and `from m import _name`:
    what one module would use of another's private members."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__") or name in LIBRARY:
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            found.append(ast.unparse(node))
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found += [f"import {a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_the_check_finds_a_back_door() -> None:
    # The check itself can fail: what db/repo.py did before the split.
    assert private_reaches("def f(self):\n    return self.store._tx()\n") == ["self.store._tx"]
    assert private_reaches("from db.store import _to_view\n") == ["import _to_view"]
    assert private_reaches("def f(self, r):\n    return self._x, r._mapping\n") == []


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "db").glob("*.py"))
)
def test_no_module_in_db_uses_anothers_private_members(path: str) -> None:
    reaches = [r for r in private_reaches((ROOT / path).read_text()) if (path, r) not in KNOWN]
    assert reaches == []
