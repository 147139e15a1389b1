"""liveness challenges carry their whole specification (nonce, timed steps, digits, flash)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:50:00

``actions`` stays the list of action names (old rows keep working); ``spec`` holds what a
challenge asks beyond the names: the nonce, the time hint of each step, the digits to read
aloud and the colour-flash sequence. NULL for challenges issued before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("challenges") as batch:
        batch.drop_column("spec")
