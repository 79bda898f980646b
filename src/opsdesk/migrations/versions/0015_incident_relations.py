"""incident relations: merged into, parent, open tasks and work orders

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 22:00:00

Plain ADD COLUMN on both backends (no rebuild of the incidents table on SQLite): SQLite takes
a foreign key only inline, which it allows for a column whose default is NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_SELF_REFERENCES = ("merged_into_id", "parent_id")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in _SELF_REFERENCES:
        name = f"fk_incidents_{column}_incidents"
        if sqlite:
            op.execute(
                f"ALTER TABLE incidents ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES incidents (id)"
            )
        else:
            op.add_column("incidents", sa.Column(column, BIG_ID, nullable=True))
            op.create_foreign_key(name, "incidents", "incidents", [column], ["id"])
        op.create_index(f"ix_incidents_{column}", "incidents", [column])
    op.add_column("incidents", sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
    for counter in ("open_tasks", "open_work_orders"):
        op.add_column(
            "incidents", sa.Column(counter, sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for column in _SELF_REFERENCES:
            batch_op.drop_index(f"ix_incidents_{column}")
            batch_op.drop_constraint(f"fk_incidents_{column}_incidents", type_="foreignkey")
        batch_op.drop_column("open_work_orders")
        batch_op.drop_column("open_tasks")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("parent_id")
        batch_op.drop_column("merged_into_id")
