"""knowledge articles

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def _fk(column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_articles_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("workaround", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("application", sa.String(length=64), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("source_incident_id", BIG_ID, nullable=True),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("helped_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("not_helped_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("applied_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deflected_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("view_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("published_at", MOMENT, nullable=True),
        _fk("category", "categories.key"),
        _fk("application", "applications.key"),
        _fk("source_incident_id", "incidents.id"),
        _fk("author_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
    )
    for column in ("status", "category", "application", "source_incident_id"):
        op.create_index(op.f(f"ix_articles_{column}"), "articles", [column])


def downgrade() -> None:
    for column in ("status", "category", "application", "source_incident_id"):
        op.drop_index(op.f(f"ix_articles_{column}"), table_name="articles")
    op.drop_table("articles")
