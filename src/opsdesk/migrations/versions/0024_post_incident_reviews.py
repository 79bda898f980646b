"""post-incident reviews, their history and action items

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)
REVIEWS = "post_incident_reviews"
HISTORY = "post_incident_review_history"
ITEMS = "post_incident_action_items"


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        REVIEWS,
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("required_reason", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("client_impact", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("worked_well", sa.Text(), nullable=False),
        sa.Column("did_not_work", sa.Text(), nullable=False),
        sa.Column("recommendations", sa.Text(), nullable=False),
        sa.Column("time_summary", sa.JSON(), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=True),
        sa.Column("submitted_at", MOMENT, nullable=True),
        sa.Column("reviewed_by", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", MOMENT, nullable=True),
        sa.Column("approved_by", sa.String(length=32), nullable=True),
        sa.Column("approved_at", MOMENT, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        _fk(REVIEWS, "incident_id", "incidents.id"),
        _fk(REVIEWS, "author_id", "users.id"),
        _fk(REVIEWS, "reviewed_by", "users.id"),
        _fk(REVIEWS, "approved_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{REVIEWS}")),
        sa.UniqueConstraint("incident_id", name=op.f(f"uq_{REVIEWS}_incident_id")),
    )
    op.create_index(op.f(f"ix_{REVIEWS}_status"), REVIEWS, ["status"])
    op.create_table(
        HISTORY,
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("review_id", BIG_ID, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("at", MOMENT, nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        _fk(HISTORY, "review_id", f"{REVIEWS}.id"),
        _fk(HISTORY, "actor_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{HISTORY}")),
    )
    op.create_index(op.f(f"ix_{HISTORY}_review_id"), HISTORY, ["review_id"])
    op.create_table(
        ITEMS,
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("review_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("responsibility", sa.String(length=200), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("due_at", MOMENT, nullable=True),
        sa.Column("task_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        _fk(ITEMS, "review_id", f"{REVIEWS}.id"),
        _fk(ITEMS, "assignee_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{ITEMS}")),
    )
    op.create_index(op.f(f"ix_{ITEMS}_review_id"), ITEMS, ["review_id"])
    op.create_index(op.f(f"ix_{ITEMS}_task_id"), ITEMS, ["task_id"])


def downgrade() -> None:
    op.drop_index(op.f(f"ix_{ITEMS}_task_id"), table_name=ITEMS)
    op.drop_index(op.f(f"ix_{ITEMS}_review_id"), table_name=ITEMS)
    op.drop_table(ITEMS)
    op.drop_index(op.f(f"ix_{HISTORY}_review_id"), table_name=HISTORY)
    op.drop_table(HISTORY)
    op.drop_index(op.f(f"ix_{REVIEWS}_status"), table_name=REVIEWS)
    op.drop_table(REVIEWS)
