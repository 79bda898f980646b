"""tasks and work orders inside incidents; work-order workgroups; work-order attachments

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 22:20:00

Plain ADD COLUMN on the existing tables (no rebuild on SQLite).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.add_column(
        "workgroups",
        sa.Column("does_work_orders", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("incident_attachments", sa.Column("work_order_id", sa.BigInteger()))
    op.create_index(
        op.f("ix_incident_attachments_work_order_id"), "incident_attachments", ["work_order_id"]
    )
    op.create_table(
        "incident_tasks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("workgroup", sa.String(length=64), nullable=True),
        sa.Column("due_at", MOMENT, nullable=True),
        sa.Column("due_soon_sent_at", MOMENT, nullable=True),
        sa.Column("overdue_sent_at", MOMENT, nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT, nullable=True),
        _fk("incident_tasks", "incident_id", "incidents.id"),
        _fk("incident_tasks", "assignee_id", "users.id"),
        _fk("incident_tasks", "workgroup", "workgroups.key"),
        _fk("incident_tasks", "created_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_tasks")),
    )
    for column in ("incident_id", "assignee_id", "workgroup", "due_at"):
        op.create_index(op.f(f"ix_incident_tasks_{column}"), "incident_tasks", [column])
    op.create_table(
        "work_orders",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("workgroup", sa.String(length=64), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=False),
        sa.Column("planned_start", MOMENT, nullable=True),
        sa.Column("planned_end", MOMENT, nullable=True),
        sa.Column("overdue_sent_at", MOMENT, nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("finished_at", MOMENT, nullable=True),
        _fk("work_orders", "incident_id", "incidents.id"),
        _fk("work_orders", "workgroup", "workgroups.key"),
        _fk("work_orders", "assignee_id", "users.id"),
        _fk("work_orders", "created_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
    )
    for column in ("incident_id", "assignee_id", "planned_end"):
        op.create_index(op.f(f"ix_work_orders_{column}"), "work_orders", [column])
    op.create_index("ix_work_orders_workgroup_status", "work_orders", ["workgroup", "status"])
    op.create_table(
        "work_order_logs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("work_order_id", BIG_ID, nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("time_spent_s", sa.Integer(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        _fk("work_order_logs", "work_order_id", "work_orders.id"),
        _fk("work_order_logs", "author_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_logs")),
    )
    op.create_index(op.f("ix_work_order_logs_work_order_id"), "work_order_logs", ["work_order_id"])


def downgrade() -> None:
    op.drop_table("work_order_logs")
    op.drop_table("work_orders")
    op.drop_table("incident_tasks")
    op.drop_index(op.f("ix_incident_attachments_work_order_id"), table_name="incident_attachments")
    with op.batch_alter_table("incident_attachments") as batch_op:
        batch_op.drop_column("work_order_id")
    with op.batch_alter_table("workgroups") as batch_op:
        batch_op.drop_column("does_work_orders")
