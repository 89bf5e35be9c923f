"""WeChat sign-in: identities (openid per app, unionid) linked to accounts, spent OAuth states, cached credentials

Revision ID: 0022_wechat_identity
Revises: 0021_flash_sales
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.db

revision: str = "0022_wechat_identity"
down_revision: str | Sequence[str] | None = "0021_flash_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "wechat_identities",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("unionid", sa.String(length=64), nullable=True),
        sa.Column("user_id", BIGINT, nullable=False),
        sa.Column("nickname", sa.String(length=64), nullable=False),
        sa.Column("headimgurl", sa.String(length=500), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wechat_identities_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_identities")),
        sa.UniqueConstraint("app_id", "openid", name=op.f("uq_wechat_identities_app_id_openid")),
    )
    with op.batch_alter_table("wechat_identities", schema=None) as batch_op:
        batch_op.create_index("ix_wechat_identities_unionid", ["unionid"], unique=False)
        batch_op.create_index(batch_op.f("ix_wechat_identities_user_id"), ["user_id"], unique=False)

    op.create_table(
        "wechat_oauth_states",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("used_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_oauth_states")),
        sa.UniqueConstraint("nonce", name=op.f("uq_wechat_oauth_states_nonce")),
    )
    with op.batch_alter_table("wechat_oauth_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wechat_oauth_states_used_at"), ["used_at"], unique=False)

    op.create_table(
        "wechat_credentials",
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=600), nullable=False),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "kind", name=op.f("pk_wechat_credentials")),
    )


def downgrade() -> None:
    op.drop_table("wechat_credentials")
    with op.batch_alter_table("wechat_oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_oauth_states_used_at"))
    op.drop_table("wechat_oauth_states")
    with op.batch_alter_table("wechat_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_identities_user_id"))
        batch_op.drop_index("ix_wechat_identities_unionid")
    op.drop_table("wechat_identities")
