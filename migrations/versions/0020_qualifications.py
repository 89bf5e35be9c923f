"""brand qualifications: each submitted business licence or category qualification and the platform's decision

Revision ID: 0020_qualifications
Revises: 0016_phone_signin
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0020_qualifications"
down_revision: str | Sequence[str] | None = "0016_phone_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brand_qualifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("brand_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "business_licence",
                "cosmetics",
                "food",
                "health_food",
                name="qualificationkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("licence_number", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("document_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", name="qualificationstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("review_note", sa.String(length=500), nullable=True),
        sa.Column("submitted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_brand_qualifications_brand_id_brands"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_brand_qualifications_submitted_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_qualifications")),
    )
    with op.batch_alter_table("brand_qualifications", schema=None) as batch_op:
        batch_op.create_index("ix_brand_qualifications_brand_kind", ["brand_id", "kind", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("brand_qualifications", schema=None) as batch_op:
        batch_op.drop_index("ix_brand_qualifications_brand_kind")

    op.drop_table("brand_qualifications")
