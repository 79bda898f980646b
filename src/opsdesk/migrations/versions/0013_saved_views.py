"""saved views (a named queue, its COC filter body and sort, per user, optionally shared)
and the indexes of the desk's queues

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("sort", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_saved_views_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_saved_views_owner_id")),
    )
    op.create_index(op.f("ix_saved_views_owner_id"), "saved_views", ["owner_id"])
    # A group's queue and its unassigned count from the index alone.
    op.create_index(
        "ix_incidents_workgroup_status",
        "incidents",
        ["workgroup", "status", "assignee_id", "created_at"],
    )
    # Sorting by SLA due reads each incident's running due times from the index.
    op.create_index(
        "ix_incident_sla_incident_state_due", "incident_sla", ["incident_id", "state", "due_at"]
    )
    op.create_index("ix_incident_sla_breached_at", "incident_sla", ["breached_at"])


def downgrade() -> None:
    op.drop_index("ix_incident_sla_breached_at", table_name="incident_sla")
    op.drop_index("ix_incident_sla_incident_state_due", table_name="incident_sla")
    op.drop_index("ix_incidents_workgroup_status", table_name="incidents")
    op.drop_index(op.f("ix_saved_views_owner_id"), table_name="saved_views")
    op.drop_table("saved_views")
