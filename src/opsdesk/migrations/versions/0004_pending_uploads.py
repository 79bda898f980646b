"""pending uploads: files uploaded before the incident they belong to (COC doc_id)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 04:12:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_uploads",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("uploader_id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attachment_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_pending_uploads_uploader_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_uploads")),
    )
    op.create_index(
        op.f("ix_pending_uploads_uploader_id"), "pending_uploads", ["uploader_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_uploads_uploader_id"), table_name="pending_uploads")
    op.drop_table("pending_uploads")
