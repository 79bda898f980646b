"""assignment: priority matrix, workgroups, technicians, shifts, assignment rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:20:06.557336
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shift_scenes",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shift_scenes")),
    )
    op.create_table(
        "priority_matrix",
        sa.Column("impact", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("urgency", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("level", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["level"], ["levels.key"], name=op.f("fk_priority_matrix_level_levels")
        ),
        sa.PrimaryKeyConstraint("impact", "urgency", name=op.f("pk_priority_matrix")),
    )
    op.create_table(
        "shift_roles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scene_key", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scene_key"], ["shift_scenes.key"], name=op.f("fk_shift_roles_scene_key_shift_scenes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_roles")),
        sa.UniqueConstraint("scene_key", "key", name=op.f("uq_shift_roles_scene_key")),
    )
    op.create_table(
        "technician_absences",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_technician_absences_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician_absences")),
    )
    with op.batch_alter_table("technician_absences", schema=None) as batch_op:
        batch_op.create_index(
            "ix_technician_absences_user_end", ["user_id", "ends_at"], unique=False
        )

    op.create_table(
        "technicians",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("max_open", sa.Integer(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_technicians_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_technicians")),
    )
    op.create_table(
        "workgroups",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("max_open_per_member", sa.Integer(), nullable=True),
        sa.Column("turns", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_workgroups")),
    )
    op.create_table(
        "assignment_rules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("on_create", sa.Boolean(), nullable=False),
        sa.Column("on_reopen", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("target_workgroup", sa.String(length=64), nullable=True),
        sa.Column("target_scene", sa.String(length=64), nullable=True),
        sa.Column("target_role", sa.String(length=64), nullable=True),
        sa.Column("target_user_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["users.id"], name=op.f("fk_assignment_rules_target_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["target_workgroup"],
            ["workgroups.key"],
            name=op.f("fk_assignment_rules_target_workgroup_workgroups"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment_rules")),
    )
    with op.batch_alter_table("assignment_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignment_rules_position"), ["position"], unique=False
        )

    op.create_table(
        "shift_overrides",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("role_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_shift_overrides_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["shift_roles.id"], name=op.f("fk_shift_overrides_role_id_shift_roles")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shift_overrides_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_overrides")),
    )
    with op.batch_alter_table("shift_overrides", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shift_overrides_role_end", ["role_id", "ends_at", "starts_at"], unique=False
        )

    op.create_table(
        "shift_rotations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("role_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("handoff", sa.Time(), nullable=False),
        sa.Column("turn_days", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["shift_roles.id"], name=op.f("fk_shift_rotations_role_id_shift_roles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_rotations")),
    )
    with op.batch_alter_table("shift_rotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shift_rotations_role_id"), ["role_id"], unique=False)

    op.create_table(
        "workgroup_members",
        sa.Column("workgroup_key", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_workgroup_members_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["workgroup_key"],
            ["workgroups.key"],
            name=op.f("fk_workgroup_members_workgroup_key_workgroups"),
        ),
        sa.PrimaryKeyConstraint("workgroup_key", "user_id", name=op.f("pk_workgroup_members")),
    )
    with op.batch_alter_table("workgroup_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workgroup_members_user_id"), ["user_id"], unique=False)

    # Plain ADD COLUMN (no batch rebuild of incidents on SQLite); SQLite takes the foreign
    # key only inline, which it allows for a column whose default is NULL.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE incidents ADD COLUMN workgroup VARCHAR(64) "
            "CONSTRAINT fk_incidents_workgroup_workgroups REFERENCES workgroups (key)"
        )
    else:
        op.add_column("incidents", sa.Column("workgroup", sa.String(length=64), nullable=True))
        op.create_foreign_key(
            "fk_incidents_workgroup_workgroups", "incidents", "workgroups", ["workgroup"], ["key"]
        )
    op.add_column("incidents", sa.Column("assignment_rule_id", sa.BigInteger(), nullable=True))
    op.add_column("incidents", sa.Column("assignment_note", sa.String(length=300), nullable=True))
    op.add_column(
        "incidents",
        sa.Column("level_explicit", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index("ix_incidents_assignee_status", "incidents", ["assignee_id", "status"])
    op.create_index("ix_incidents_workgroup", "incidents", ["workgroup"])


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_workgroup_workgroups"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_incidents_workgroup"))
        batch_op.drop_index("ix_incidents_assignee_status")
        batch_op.drop_column("level_explicit")
        batch_op.drop_column("assignment_note")
        batch_op.drop_column("assignment_rule_id")
        batch_op.drop_column("workgroup")

    with op.batch_alter_table("workgroup_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workgroup_members_user_id"))

    op.drop_table("workgroup_members")
    with op.batch_alter_table("shift_rotations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shift_rotations_role_id"))

    op.drop_table("shift_rotations")
    with op.batch_alter_table("shift_overrides", schema=None) as batch_op:
        batch_op.drop_index("ix_shift_overrides_role_end")

    op.drop_table("shift_overrides")
    with op.batch_alter_table("assignment_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_rules_position"))

    op.drop_table("assignment_rules")
    op.drop_table("workgroups")
    op.drop_table("technicians")
    with op.batch_alter_table("technician_absences", schema=None) as batch_op:
        batch_op.drop_index("ix_technician_absences_user_end")

    op.drop_table("technician_absences")
    op.drop_table("shift_roles")
    op.drop_table("priority_matrix")
    op.drop_table("shift_scenes")
