"""major incidents: declarations, response teams, war rooms and their timelines

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MOMENT = sa.DateTime(timezone=True)
USER = sa.String(length=32)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other, _dot, _key = target.partition(".")
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


def upgrade() -> None:
    op.create_table(
        "major_incidents",
        sa.Column("incident_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("declared_at", MOMENT, nullable=False),
        sa.Column("declared_by", USER, nullable=True),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("manager_id", USER, nullable=True),
        sa.Column("downgraded_at", MOMENT, nullable=True),
        sa.Column("downgraded_by", USER, nullable=True),
        sa.Column("downgrade_reason", sa.Text(), nullable=True),
        sa.Column("last_reminder_at", MOMENT, nullable=True),
        _fk("major_incidents", "incident_id", "incidents.id"),
        _fk("major_incidents", "declared_by", "users.id"),
        _fk("major_incidents", "manager_id", "users.id"),
        _fk("major_incidents", "downgraded_by", "users.id"),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_major_incidents")),
    )
    op.create_index(op.f("ix_major_incidents_active"), "major_incidents", ["active"])
    op.create_index(op.f("ix_major_incidents_manager_id"), "major_incidents", ["manager_id"])
    op.create_table(
        "major_team_members",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("user_id", USER, nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("added_at", MOMENT, nullable=False),
        sa.Column("added_by", USER, nullable=True),
        sa.Column("paged_at", MOMENT, nullable=True),
        sa.Column("acknowledged_at", MOMENT, nullable=True),
        _fk("major_team_members", "incident_id", "incidents.id"),
        _fk("major_team_members", "user_id", "users.id"),
        _fk("major_team_members", "added_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_major_team_members")),
        sa.UniqueConstraint(
            "incident_id", "user_id", "role", name=op.f("uq_major_team_members_incident_id")
        ),
    )
    for column in ("incident_id", "user_id"):
        op.create_index(op.f(f"ix_major_team_members_{column}"), "major_team_members", [column])
    op.create_table(
        "war_rooms",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("admin_id", USER, nullable=True),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("applications", sa.JSON(), nullable=False),
        sa.Column("enterprise_project", sa.String(length=64), nullable=True),
        sa.Column("schedule_groups", sa.JSON(), nullable=False),
        sa.Column("notification_type", sa.String(length=16), nullable=True),
        sa.Column("fault_cause", sa.Text(), nullable=False),
        sa.Column("fault_impact", sa.Text(), nullable=False),
        sa.Column("created_by", USER, nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("recovered_at", MOMENT, nullable=True),
        sa.Column("closed_at", MOMENT, nullable=True),
        _fk("war_rooms", "incident_id", "incidents.id"),
        _fk("war_rooms", "admin_id", "users.id"),
        _fk("war_rooms", "created_by", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_war_rooms")),
        sa.UniqueConstraint("number", name=op.f("uq_war_rooms_number")),
    )
    op.create_index(op.f("ix_war_rooms_incident_id"), "war_rooms", ["incident_id"])
    op.create_index("ix_war_rooms_status_created", "war_rooms", ["status", "created_at"])
    op.create_table(
        "war_room_entries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("war_room_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", USER, nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status_from", sa.String(length=32), nullable=True),
        sa.Column("status_to", sa.String(length=32), nullable=True),
        sa.Column("created_at", MOMENT, nullable=False),
        _fk("war_room_entries", "war_room_id", "war_rooms.id"),
        _fk("war_room_entries", "author_id", "users.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_war_room_entries")),
    )
    op.create_index(
        "ix_war_room_entries_room_created", "war_room_entries", ["war_room_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("war_room_entries")
    op.drop_table("war_rooms")
    op.drop_table("major_team_members")
    op.drop_table("major_incidents")
