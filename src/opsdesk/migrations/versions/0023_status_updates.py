"""stakeholder communication and the public status page

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        "status_audiences",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("application", sa.String(length=64), nullable=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("user_ids", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        _fk("status_audiences", "application", "applications.key"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_audiences")),
        sa.UniqueConstraint("name", name=op.f("uq_status_audiences_name")),
    )
    op.create_index(op.f("ix_status_audiences_application"), "status_audiences", ["application"])
    op.create_table(
        "status_templates",
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=True),
        _fk("status_templates", "updated_by", "users.id"),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_status_templates")),
    )
    op.create_table(
        "status_components",
        sa.Column("application", sa.String(length=64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("override", sa.String(length=16), nullable=True),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        _fk("status_components", "application", "applications.key"),
        sa.PrimaryKeyConstraint("application", name=op.f("pk_status_components")),
    )
    op.create_table(
        "status_incidents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("application", sa.String(length=64), nullable=True),
        sa.Column("impact", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("resolved_at", MOMENT, nullable=True),
        _fk("status_incidents", "incident_id", "incidents.id"),
        _fk("status_incidents", "application", "applications.key"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_incidents")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_status_incidents_incident_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_status_incidents_public_id")),
    )
    op.create_index(op.f("ix_status_incidents_application"), "status_incidents", ["application"])
    op.create_index(op.f("ix_status_incidents_updated_at"), "status_incidents", ["updated_at"])
    op.create_index("ix_status_incidents_public_state", "status_incidents", ["public", "state"])
    op.create_table(
        "status_updates",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("status_incident_id", BIG_ID, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("audience_ids", sa.JSON(), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("posted_by", sa.String(length=32), nullable=False),
        sa.Column("posted_at", MOMENT, nullable=False),
        _fk("status_updates", "status_incident_id", "status_incidents.id"),
        _fk("status_updates", "incident_id", "incidents.id"),
        _fk("status_updates", "posted_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_updates")),
    )
    op.create_index(
        op.f("ix_status_updates_status_incident_id"), "status_updates", ["status_incident_id"]
    )
    op.create_index(op.f("ix_status_updates_posted_at"), "status_updates", ["posted_at"])
    op.create_index(
        "ix_status_updates_incident_posted", "status_updates", ["incident_id", "posted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_status_updates_incident_posted", table_name="status_updates")
    op.drop_index(op.f("ix_status_updates_posted_at"), table_name="status_updates")
    op.drop_index(op.f("ix_status_updates_status_incident_id"), table_name="status_updates")
    op.drop_table("status_updates")
    op.drop_index("ix_status_incidents_public_state", table_name="status_incidents")
    op.drop_index(op.f("ix_status_incidents_updated_at"), table_name="status_incidents")
    op.drop_index(op.f("ix_status_incidents_application"), table_name="status_incidents")
    op.drop_table("status_incidents")
    op.drop_table("status_components")
    op.drop_table("status_templates")
    op.drop_index(op.f("ix_status_audiences_application"), table_name="status_audiences")
    op.drop_table("status_audiences")
