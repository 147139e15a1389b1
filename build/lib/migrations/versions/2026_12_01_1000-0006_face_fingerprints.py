"""face_fingerprints: the replay memory of face captures (REPLAY_DETECTED)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00

One row per face capture, accepted or not: its perceptual fingerprint
(app.liveness.fingerprint), sealed under the face keyring. Rows outlive the purge of the
order's materials and are deleted FACE_FINGERPRINT_DAYS after the capture. The look-up is a
provider's rows for the same person (person_hmac, the blind index of the document number)
and its newest rows: indexed by (provider_id, person_hmac) and (provider_id, created_at).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "face_fingerprints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.String(length=32), nullable=False),
        sa.Column("person_hmac", sa.String(length=64), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("material_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.id"],
            name=op.f("fk_face_fingerprints_provider_id_providers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_face_fingerprints_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["material_id"],
            ["materials.id"],
            name=op.f("fk_face_fingerprints_material_id_materials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_fingerprints")),
    )
    op.create_index(
        "ix_face_fingerprints_provider_created",
        "face_fingerprints",
        ["provider_id", "created_at"],
    )
    op.create_index(
        "ix_face_fingerprints_provider_person",
        "face_fingerprints",
        ["provider_id", "person_hmac"],
    )
    op.create_index(op.f("ix_face_fingerprints_order_id"), "face_fingerprints", ["order_id"])
    op.create_index(op.f("ix_face_fingerprints_created_at"), "face_fingerprints", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_face_fingerprints_created_at"), table_name="face_fingerprints")
    op.drop_index(op.f("ix_face_fingerprints_order_id"), table_name="face_fingerprints")
    op.drop_index("ix_face_fingerprints_provider_person", table_name="face_fingerprints")
    op.drop_index("ix_face_fingerprints_provider_created", table_name="face_fingerprints")
    op.drop_table("face_fingerprints")
