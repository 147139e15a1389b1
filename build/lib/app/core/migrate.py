"""Run Alembic migrations programmatically (CLI, tests, start-up of `make run`)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str, schema: str = "") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.set_main_option("heyan_schema", schema)
    return cfg


def upgrade(database_url: str, revision: str = "head", schema: str = "") -> None:
    command.upgrade(alembic_config(database_url, schema), revision)


@cache
def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()
