"""The webhook migrations (0002, 0004) match the ORM tables and downgrade cleanly."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.core.migrate import alembic_config
from app.models import webhooks as models  # noqa: F401
from app.models.base import Base
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


def test_0004_encrypts_existing_secrets_and_downgrade_decrypts(tmp_path: Path) -> None:
    """Secrets written in clear before 0004 are encrypted in place; 0003 gets them back."""
    from sqlalchemy import text

    from app.security import crypto

    if not crypto.is_configured():  # else: the keys the session's app installed
        crypto.configure(
            crypto.new_key_spec("m1"), crypto.new_key_spec("f1"),
            base64.b64encode(os.urandom(32)).decode(),
        )  # fmt: skip
    db = tmp_path / "m.db"
    cfg = alembic_config(f"sqlite+aiosqlite:///{db}")
    _in_thread(command.upgrade, cfg, "0003")
    secret = "whsec_before_0004_0123456789"
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO providers (id, name, created_at) "
                              "VALUES ('p1', 'p', '2026-01-01')"))  # fmt: skip
            conn.execute(
                text("INSERT INTO webhook_endpoints (id, provider_id, url, secret, events, "
                     "created_at, updated_at) VALUES ('w1', 'p1', 'https://h.example', :s, "
                     "'[\"*\"]', '2026-01-01', '2026-01-01')"),
                {"s": secret},
            )  # fmt: skip
        _in_thread(command.upgrade, cfg, "head")
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()
            assert raw != secret and secret not in raw
            assert crypto.keyring("fields").open(raw, "webhook_endpoints.secret") == secret
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert [d for d in diffs if "rate_limit_windows" in repr(d)] == []
        _in_thread(command.upgrade, cfg, "head")  # at head already: nothing re-encrypted
        _in_thread(command.downgrade, cfg, "0003")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one() == secret
            assert "rate_limit_windows" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
