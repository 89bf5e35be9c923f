"""videos: when an upgraded video's superseded renditions may be deleted

Revision ID: 0010_rendition_sweep
Revises: 0009_comments
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0010_rendition_sweep"
down_revision: str | Sequence[str] | None = "0009_comments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("videos", sa.Column("renditions_sweep_at", core.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_videos_renditions_sweep_at", "videos", ["renditions_sweep_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_videos_renditions_sweep_at", table_name="videos")
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("renditions_sweep_at")
