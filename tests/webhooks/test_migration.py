"""The 0002 migration matches the ORM tables and downgrades cleanly."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.db import Base
from app.migrate import alembic_config
from app.webhooks import models  # noqa: F401
from tests.conftest import _in_thread

TABLES = {"webhook_endpoints", "webhook_deliveries", "webhook_attempts"}


def _diffs_for_webhook_tables(path: Path) -> list[object]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    return [d for d in diffs if any(t in repr(d) for t in TABLES)]


def test_migration_matches_models_and_downgrades(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{db}")
    _in_thread(command.upgrade, cfg, "head")
    assert _diffs_for_webhook_tables(db) == []
    _in_thread(command.downgrade, cfg, "0001")
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    _in_thread(command.upgrade, cfg, "head")
