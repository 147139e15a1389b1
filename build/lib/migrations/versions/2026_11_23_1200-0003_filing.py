"""filing: issued verification sheets, SMS-check rounds and people

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.orders

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "filing_sheets",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("issued_at", app.models.orders.TZDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"],
            name=op.f("fk_filing_sheets_order_id_orders"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_filing_sheets")),
    )  # fmt: skip
    op.create_index(op.f("ix_filing_sheets_order_id"), "filing_sheets", ["order_id"])
    op.create_table(
        "sms_rounds",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("business_type", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", app.models.orders.TZDateTime(), nullable=False),
        sa.Column("approaching_at", app.models.orders.TZDateTime(), nullable=False),
        sa.Column("deadline_at", app.models.orders.TZDateTime(), nullable=False),
        sa.Column("approaching_sent_at", app.models.orders.TZDateTime(), nullable=True),
        sa.Column("expired_sent_at", app.models.orders.TZDateTime(), nullable=True),
        sa.Column("completed_at", app.models.orders.TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"],
            name=op.f("fk_sms_rounds_order_id_orders"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_sms_rounds")),
    )  # fmt: skip
    op.create_index(op.f("ix_sms_rounds_approaching_at"), "sms_rounds", ["approaching_at"])
    op.create_index(op.f("ix_sms_rounds_deadline_at"), "sms_rounds", ["deadline_at"])
    op.create_table(
        "sms_people",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("done_at", app.models.orders.TZDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sms_rounds.order_id"],
            name=op.f("fk_sms_people_order_id_sms_rounds"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["principals.id"], name=op.f("fk_sms_people_person_id_principals"),
        ),
        sa.PrimaryKeyConstraint("order_id", "person_id", name=op.f("pk_sms_people")),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("sms_people")
    op.drop_index(op.f("ix_sms_rounds_deadline_at"), table_name="sms_rounds")
    op.drop_index(op.f("ix_sms_rounds_approaching_at"), table_name="sms_rounds")
    op.drop_table("sms_rounds")
    op.drop_index(op.f("ix_filing_sheets_order_id"), table_name="filing_sheets")
    op.drop_table("filing_sheets")
