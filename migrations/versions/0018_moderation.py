"""content review and reports: each video's review state, the review queue, users' reports, the audit log

The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE on every backend.
Existing videos were public before review existed, so they start cleared (the column's server default).

Revision ID: 0018_moderation
Revises: 0017_booking_brief
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0018_moderation"
down_revision: str | Sequence[str] | None = "0017_booking_brief"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_APPEND_ONLY = {
    "postgresql": [
        """CREATE FUNCTION moderation_actions_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'moderation_actions is append-only'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER moderation_actions_append_only BEFORE UPDATE OR DELETE ON moderation_actions
           FOR EACH ROW EXECUTE FUNCTION moderation_actions_append_only()""",
    ],
    "sqlite": [
        """CREATE TRIGGER moderation_actions_no_update BEFORE UPDATE ON moderation_actions
           BEGIN SELECT RAISE(ABORT, 'moderation_actions is append-only'); END""",
        """CREATE TRIGGER moderation_actions_no_delete BEFORE DELETE ON moderation_actions
           BEGIN SELECT RAISE(ABORT, 'moderation_actions is append-only'); END""",
    ],
}
_DROP_APPEND_ONLY = {
    "postgresql": [
        "DROP TRIGGER moderation_actions_append_only ON moderation_actions",
        "DROP FUNCTION moderation_actions_append_only()",
    ],
    "sqlite": ["DROP TRIGGER moderation_actions_no_update", "DROP TRIGGER moderation_actions_no_delete"],
}


def upgrade() -> None:
    op.create_table(
        "moderation_actions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_moderation_actions_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_actions")),
    )
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_actions_subject", ["subject_type", "subject_id", "id"], unique=False)

    op.create_table(
        "review_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subject_type",
            sa.Enum("video", "comment", "product", "artist", name="subject", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("video_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "reason",
            sa.Enum(
                "new_uploader",
                "sampled",
                "duplicate",
                "resubmitted",
                "everyone",
                "reported",
                name="queuereason",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("matched_video_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("similarity", sa.Double(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("approve", "reject", "request_changes", name="decision", native_enum=False, length=24),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_review_items_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["matched_video_id"],
            ["videos.id"],
            name=op.f("fk_review_items_matched_video_id_videos"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["video_id"], ["videos.id"], name=op.f("fk_review_items_video_id_videos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_queue", ["decided_at", "created_at"], unique=False)
        batch_op.create_index(
            "uq_review_items_open_subject",
            ["subject_type", "subject_id"],
            unique=True,
            postgresql_where=sa.text("decided_at IS NULL"),
            sqlite_where=sa.text("decided_at IS NULL"),
        )

    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reporter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "subject_type",
            sa.Enum("video", "comment", "product", "artist", name="subject", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "spam",
                "fraud",
                "infringement",
                "inappropriate",
                "prohibited",
                "other",
                name="reportreason",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("review_item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("resolved_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("approve", "reject", "request_changes", name="decision", native_enum=False, length=24),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_reports_reporter_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["review_item_id"], ["review_items.id"], name=op.f("fk_reports_review_item_id_review_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_subject", ["subject_type", "subject_id", "resolved_at"], unique=False)
        batch_op.create_index(
            "uq_reports_open_reporter_subject",
            ["reporter_id", "subject_type", "subject_id"],
            unique=True,
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        )

    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "review_state",
                sa.Enum(
                    "pending",
                    "held",
                    "cleared",
                    "changes_requested",
                    "rejected",
                    name="reviewstate",
                    native_enum=False,
                    length=24,
                ),
                server_default="cleared",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("review_note", sa.String(length=500), nullable=True))

    for statement in _APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in _DROP_APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("videos", schema=None) as batch_op:
        batch_op.drop_column("review_note")
        batch_op.drop_column("review_state")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_reports_open_reporter_subject",
            postgresql_where=sa.text("resolved_at IS NULL"),
            sqlite_where=sa.text("resolved_at IS NULL"),
        )
        batch_op.drop_index("ix_reports_subject")

    op.drop_table("reports")
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_review_items_open_subject",
            postgresql_where=sa.text("decided_at IS NULL"),
            sqlite_where=sa.text("decided_at IS NULL"),
        )
        batch_op.drop_index("ix_review_items_queue")

    op.drop_table("review_items")
    with op.batch_alter_table("moderation_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_actions_subject")

    op.drop_table("moderation_actions")
