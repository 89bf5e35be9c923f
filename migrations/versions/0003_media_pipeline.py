"""media pipeline: uploads, job bookkeeping, progress

Revision ID: 0003_media
Revises: 0006c_orders
Create Date: 2026-11-25 15:24:36.370793
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0003_media"
down_revision: str | Sequence[str] | None = "0006c_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: server_default sa.true() renders as 1 on SQLite and true on PostgreSQL.
    op.create_table(
        "video_uploads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uploader_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "completed", "aborted", "expired", name="uploadstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column(
            "mode", sa.Enum("chunks", "multipart", name="uploadmode", native_enum=False, length=24), nullable=False
        ),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("checksum_sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("multipart_id", sa.String(length=300), nullable=False),
        sa.Column("part_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["uploader_id"], ["users.id"], name=op.f("fk_video_uploads_uploader_id_users")),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_video_uploads_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_uploads")),
        sa.UniqueConstraint("video_id", name=op.f("uq_video_uploads_video_id")),
    )
    with op.batch_alter_table("video_uploads", schema=None) as batch_op:
        batch_op.create_index("ix_video_uploads_status_expires", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_video_uploads_uploader_id"), ["uploader_id"], unique=False)

    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("publish_on_ready", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("queued_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("processing_token", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column(
                "processing_attempts",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("processing_started_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("progress_stage", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("progress_percent", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("progress_speed", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("progress_eta_seconds", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("processed_at", core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", core.db.UTCDateTime(timezone=True), nullable=True))

    # ### end Alembic commands ###


def downgrade() -> None:
    # Reviewed by hand: server_default sa.true() renders as 1 on SQLite and true on PostgreSQL.
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("processed_at")
        batch_op.drop_column("progress_eta_seconds")
        batch_op.drop_column("progress_speed")
        batch_op.drop_column("progress_percent")
        batch_op.drop_column("progress_stage")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("processing_started_at")
        batch_op.drop_column("processing_attempts")
        batch_op.drop_column("processing_token")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("publish_on_ready")

    with op.batch_alter_table("video_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_video_uploads_uploader_id"))
        batch_op.drop_index("ix_video_uploads_status_expires")

    op.drop_table("video_uploads")
    # ### end Alembic commands ###
