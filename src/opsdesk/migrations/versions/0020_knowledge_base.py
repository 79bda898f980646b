"""knowledge base: article versions, workflow events, attachments and feedback

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        "article_versions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("workaround", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("application", sa.String(length=64), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("editor_id", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        _fk("article_versions", "article_id", "articles.id"),
        _fk("article_versions", "editor_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint("article_id", "version", name=op.f("uq_article_versions_article_id")),
    )
    op.create_index(op.f("ix_article_versions_article_id"), "article_versions", ["article_id"])
    op.create_table(
        "article_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        _fk("article_events", "article_id", "articles.id"),
        _fk("article_events", "actor_id", "users.id"),
        _fk("article_events", "incident_id", "incidents.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_events")),
    )
    for column in ("article_id", "incident_id"):
        op.create_index(op.f(f"ix_article_events_{column}"), "article_events", [column])
    op.create_table(
        "article_attachments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("uploader_id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        _fk("article_attachments", "article_id", "articles.id"),
        _fk("article_attachments", "uploader_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_attachments")),
    )
    op.create_index(
        op.f("ix_article_attachments_article_id"), "article_attachments", ["article_id"]
    )
    op.create_table(
        "article_feedback",
        sa.Column("article_id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("helped", sa.Boolean(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        _fk("article_feedback", "article_id", "articles.id"),
        _fk("article_feedback", "user_id", "users.id"),
        sa.PrimaryKeyConstraint("article_id", "user_id", name=op.f("pk_article_feedback")),
    )


def downgrade() -> None:
    op.drop_table("article_feedback")
    op.drop_index(op.f("ix_article_attachments_article_id"), table_name="article_attachments")
    op.drop_table("article_attachments")
    for column in ("article_id", "incident_id"):
        op.drop_index(op.f(f"ix_article_events_{column}"), table_name="article_events")
    op.drop_table("article_events")
    op.drop_index(op.f("ix_article_versions_article_id"), table_name="article_versions")
    op.drop_table("article_versions")
