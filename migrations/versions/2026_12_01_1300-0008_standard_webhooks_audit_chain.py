"""Standard Webhooks per endpoint, payload cap, secret overlap; the events' hash chain

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:00:00

webhook_endpoints: signature_scheme ("heyan" as before, or "standard"), thin_events,
max_payload_bytes, and the secret a PUT replaced (sealed like the secret) with the end of
its overlap.

events: prev_hash, hash, personal_hash, redacted_at; orders: audit_head. Existing events are
chained here, order by order in id order, with app.models.audit (the functions the app
appends with), so every order verifies from the start. Rows already blanked by an earlier
purge are chained as they are now.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import audit

revision: str = "0008"
down_revision: str | None = "0007"
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

    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("personal_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("audit_head", sa.String(length=64), nullable=True))
    _backfill()


def _backfill() -> None:
    conn = op.get_bind()
    events = sa.table(
        "events",
        *(sa.column(c) for c in ("id", "order_id", "provider_id", "type", "part", "session_id",
                                 "platform", "phone_masked", "client_ip")),
        sa.column("data", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("prev_hash"), sa.column("hash"), sa.column("personal_hash"),
    )  # fmt: skip
    orders = sa.table("orders", sa.column("id"), sa.column("audit_head"))
    heads: dict[str, str] = {}
    rows = conn.execute(sa.select(events).order_by(events.c.order_id, events.c.id)).mappings()
    updates = []
    for row in rows:
        prev = heads.get(row["order_id"], audit.GENESIS)
        personal, h = audit.chain(prev, row)
        updates.append({"k": row["id"], "p": prev, "h": h, "ph": personal})
        heads[row["order_id"]] = h
    if updates:
        conn.execute(
            events.update()
            .where(events.c.id == sa.bindparam("k"))
            .values(prev_hash=sa.bindparam("p"), hash=sa.bindparam("h"),
                    personal_hash=sa.bindparam("ph")),
            updates,
        )  # fmt: skip
    if heads:
        conn.execute(
            orders.update()
            .where(orders.c.id == sa.bindparam("k"))
            .values(audit_head=sa.bindparam("h")),
            [{"k": k, "h": h} for k, h in heads.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("audit_head")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("redacted_at")
        batch.drop_column("personal_hash")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("previous_until")
        batch.drop_column("previous_secret")
        batch.drop_column("max_payload_bytes")
        batch.drop_column("thin_events")
        batch.drop_column("signature_scheme")
