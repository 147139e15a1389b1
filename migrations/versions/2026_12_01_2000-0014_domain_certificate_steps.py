"""one 域名证书 per domain: ``materials.step`` widens to 320 characters

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 20:00:00

With ``requirements.domain_certificate_per_domain`` each registered domain of a website has
its own step, ``domain_certificate:<website id>:<domain>`` (a domain is up to 253
characters). Existing rows are unchanged (a website's one certificate keeps its step).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("materials") as batch:
        batch.alter_column("step", type_=sa.String(320), existing_type=sa.String(80))


def downgrade() -> None:
    with op.batch_alter_table("materials") as batch:
        batch.alter_column("step", type_=sa.String(80), existing_type=sa.String(320))
