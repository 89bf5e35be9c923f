"""comments: viewers' comments on videos, and each video's count of them

Revision ID: 0009_comments
Revises: 0006d_ledger_post
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0009_comments"
down_revision: str | Sequence[str] | None = "0006d_ledger_post"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("videos", sa.Column("comment_count", ID, server_default="0", nullable=False))
    op.create_table(
        "video_comments",
        sa.Column("id", ID, nullable=False),
        sa.Column("video_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("removed_by_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_video_comments_author_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["removed_by_id"], ["users.id"], name=op.f("fk_video_comments_removed_by_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_comments_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_comments")),
    )
    op.create_index("ix_video_comments_author", "video_comments", ["author_id", "created_at"], unique=False)
    op.create_index("ix_video_comments_video", "video_comments", ["video_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_video_comments_video", table_name="video_comments")
    op.drop_index("ix_video_comments_author", table_name="video_comments")
    op.drop_table("video_comments")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("comment_count")
