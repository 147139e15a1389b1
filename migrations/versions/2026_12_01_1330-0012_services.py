"""services beyond websites: an order's website rows also hold APPs, mini-programs and quick
apps (MIIT 工信部信管〔2023〕105号 files them the same way)

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-01 13:30:00

``kind`` is website (every existing row), app, mini_program or quick_app; ``attrs`` holds a
kind's own fields (an APP's platforms, package name, bundle id and signing-certificate
fingerprint; a mini-program's platform and id). NULL attrs means none (websites).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("websites") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="website"))
        batch.add_column(sa.Column("attrs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("websites") as batch:
        batch.drop_column("attrs")
        batch.drop_column("kind")
