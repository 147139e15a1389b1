"""what an order asks of the person beyond the documents and the face: the 承诺书 step
(and later the extra documents), per order

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:00:00

``requirements`` is a JSON object, e.g. ``{"pledge": true}``; NULL (every existing order)
means none, so the status of every existing order stays what it was. ``materials.step``
widens to 80 characters: a website's 域名证书 step is ``domain_certificate:<website id>``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("requirements", sa.JSON(), nullable=True))
    with op.batch_alter_table("materials") as batch:
        batch.alter_column("step", type_=sa.String(80), existing_type=sa.String(40))


def downgrade() -> None:
    with op.batch_alter_table("materials") as batch:
        batch.alter_column("step", type_=sa.String(40), existing_type=sa.String(80))
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("requirements")
