"""sms_codes: the one-time codes of the SMS phone proof (platform "sms")

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00

One row per code sent for a QR token: keyed hashes of the code, the mobile and the client
address (never the values), its status, expiry, wrong tries and use. The cool-down and the
daily caps look rows up by QR token, mobile and address over time: one index each.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_codes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("qr_token_id", sa.String(length=32), nullable=False),
        sa.Column("mobile_hmac", sa.String(length=64), nullable=False),
        sa.Column("address_hmac", sa.String(length=64), nullable=True),
        sa.Column("code_hmac", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_sms_codes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["qr_token_id"],
            ["qr_tokens.id"],
            name=op.f("fk_sms_codes_qr_token_id_qr_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_codes")),
    )
    op.create_index("ix_sms_codes_qr_created", "sms_codes", ["qr_token_id", "created_at"])
    op.create_index("ix_sms_codes_mobile_created", "sms_codes", ["mobile_hmac", "created_at"])
    op.create_index("ix_sms_codes_address_created", "sms_codes", ["address_hmac", "created_at"])
    op.create_index(op.f("ix_sms_codes_order_id"), "sms_codes", ["order_id"])
    op.create_index(op.f("ix_sms_codes_created_at"), "sms_codes", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_codes_created_at"), table_name="sms_codes")
    op.drop_index(op.f("ix_sms_codes_order_id"), table_name="sms_codes")
    op.drop_index("ix_sms_codes_address_created", table_name="sms_codes")
    op.drop_index("ix_sms_codes_mobile_created", table_name="sms_codes")
    op.drop_index("ix_sms_codes_qr_created", table_name="sms_codes")
    op.drop_table("sms_codes")
