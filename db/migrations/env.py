"""Alembic environment: the engine is handed in by db.migrate, never read from a file."""

from __future__ import annotations

from alembic import context

from db.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only for `alembic revision` by developers
    from db.engine import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///dev.db")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
