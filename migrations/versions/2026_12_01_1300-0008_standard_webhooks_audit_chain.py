"""Standard Webhooks per endpoint, payload cap, secret overlap

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01 13:00:00

webhook_endpoints: signature_scheme ("heyan" as before, or "standard"), thin_events,
max_payload_bytes, and the secret a PUT replaced (sealed like the secret) with the end of
its overlap.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(
            sa.Column(
                "signature_scheme", sa.String(length=16), server_default="heyan", nullable=False
            )
        )
        batch.add_column(
            sa.Column("thin_events", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column(
                "max_payload_bytes", sa.Integer(), server_default=str(64 * 1024), nullable=False
            )
        )
        batch.add_column(sa.Column("previous_secret", sa.Text(), nullable=True))
        batch.add_column(sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("previous_until")
        batch.drop_column("previous_secret")
        batch.drop_column("max_payload_bytes")
        batch.drop_column("thin_events")
        batch.drop_column("signature_scheme")
