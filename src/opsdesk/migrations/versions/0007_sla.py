"""sla: business-hours calendars, SLA policies and each incident's stored clocks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_calendars",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("always_open", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sla_calendars")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("response_s", sa.Float(), nullable=True),
        sa.Column("resolution_s", sa.Float(), nullable=True),
        sa.Column("pause_phases", sa.JSON(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar"], ["sla_calendars.key"], name=op.f("fk_sla_policies_calendar_sla_calendars")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "incident_sla",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=64), nullable=False),
        sa.Column("calendar", sa.String(length=64), nullable=False),
        sa.Column("goal_s", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("elapsed_s", sa.Float(), nullable=False),
        sa.Column("paused_s", sa.Float(), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_percent", sa.Float(), nullable=True),
        sa.Column("acted", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_sla_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("incident_id", "target", name=op.f("pk_incident_sla")),
    )
    op.create_index(op.f("ix_incident_sla_due_at"), "incident_sla", ["due_at"], unique=False)
    op.create_index(op.f("ix_incident_sla_next_at"), "incident_sla", ["next_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_sla_next_at"), table_name="incident_sla")
    op.drop_index(op.f("ix_incident_sla_due_at"), table_name="incident_sla")
    op.drop_table("incident_sla")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendars")
