"""duplicate uploads: each video's perceptual fingerprint, its lookup keys and the earlier video it matched

Revision ID: 0014_fingerprints
Revises: 0012_aftersale_refunds
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0014_fingerprints"
down_revision: str | Sequence[str] | None = "0012_aftersale_refunds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "video_fingerprints",
        sa.Column("video_id", ID, nullable=False),
        sa.Column("frames", sa.LargeBinary(), nullable=False),
        sa.Column("informative", sa.Integer(), nullable=False),
        sa.Column("match_video_id", ID, nullable=True),
        sa.Column("match_similarity", sa.Double(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_fingerprints_video_id_videos"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["match_video_id"],
            ["videos.id"],
            name=op.f("fk_video_fingerprints_match_video_id_videos"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("video_id", name=op.f("pk_video_fingerprints")),
    )
    op.create_table(
        "video_fingerprint_keys",
        sa.Column("key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("video_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_fingerprint_keys_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key", "video_id", name=op.f("pk_video_fingerprint_keys")),
    )
    op.create_index("ix_video_fingerprint_keys_video", "video_fingerprint_keys", ["video_id"])


def downgrade() -> None:
    op.drop_index("ix_video_fingerprint_keys_video", table_name="video_fingerprint_keys")
    op.drop_table("video_fingerprint_keys")
    op.drop_table("video_fingerprints")
