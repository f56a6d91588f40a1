"""Apply the Alembic migrations programmatically (on every start, before any query)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")


def revision_module(filename: str) -> ModuleType:
    """The migration `filename` (in db/migrations/versions) as a module: where a later
    migration finds the SQL an earlier one wrote, to restate or rewrite it, so that each
    text has one place. Loaded afresh on every call: a caller may change what it got."""
    path = MIGRATIONS / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"reviewer_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    if engine.dialect.name == "postgresql":
        _only_the_owner_migrates(engine, revision)
    command.upgrade(alembic_config(engine), revision)


class SchemaBehind(RuntimeError):
    """A person's login role found the schema out of date: only the owner migrates."""


def _only_the_owner_migrates(engine: Engine, revision: str) -> None:
    # A login role holds no CREATE or ALTER privilege, so its migration would fail
    # half-way with "permission denied": say what to do instead.
    wanted = ScriptDirectory.from_config(alembic_config()).get_revision(revision)
    current = current_revision(engine)
    if wanted is None or current == wanted.revision:
        return
    with engine.connect() as conn:
        owner = conn.execute(
            text(
                "SELECT tableowner FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename = 'alembic_version'"
            )
        ).scalar()
        if owner is None:
            return  # a new database: whoever migrates first owns it
        if conn.execute(
            text("SELECT pg_has_role(current_user, :o, 'MEMBER')"), {"o": owner}
        ).scalar():
            return
    raise SchemaBehind(
        f"the database schema is at {current}, this workstation needs {wanted.revision}: "
        f"the owner role ({owner}) must run `reviewer migrate --db URL` first"
    )


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
