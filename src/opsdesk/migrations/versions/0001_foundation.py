"""foundation: users, tokens, reference data, incidents, history

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:14:08.001668
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_applications")),
    )
    op.create_table(
        "categories",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_categories")),
    )
    op.create_table(
        "enterprise_projects",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_enterprise_projects")),
    )
    op.create_table(
        "levels",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_levels")),
    )
    op.create_table(
        "regions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_regions")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "incidents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=64), nullable=False),
        sa.Column("impact", sa.SmallInteger(), nullable=True),
        sa.Column("urgency", sa.SmallInteger(), nullable=True),
        sa.Column("ownership", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("enterprise_project", sa.String(length=64), nullable=True),
        sa.Column("application", sa.String(length=64), nullable=True),
        sa.Column("fault_occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service_interrupted", sa.Boolean(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=True),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("assignee_scene", sa.String(length=64), nullable=True),
        sa.Column("assignee_role", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("creator_id", sa.String(length=32), nullable=False),
        sa.Column("reporter_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application"],
            ["applications.key"],
            name=op.f("fk_incidents_application_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_incidents_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["category"], ["categories.key"], name=op.f("fk_incidents_category_categories")
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["users.id"], name=op.f("fk_incidents_creator_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_project"],
            ["enterprise_projects.key"],
            name=op.f("fk_incidents_enterprise_project_enterprise_projects"),
        ),
        sa.ForeignKeyConstraint(["level"], ["levels.key"], name=op.f("fk_incidents_level_levels")),
        sa.ForeignKeyConstraint(
            ["region"], ["regions.key"], name=op.f("fk_incidents_region_regions")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_incidents_reporter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("number", name=op.f("uq_incidents_number")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_application"), ["application"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_reporter_id"), ["reporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "incident_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stop_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_history_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["users.id"], name=op.f("fk_incident_history_operator_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_history")),
    )
    with op.batch_alter_table("incident_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_history_incident_start", ["incident_id", "start_time"], unique=False
        )

    _make_history_append_only()


def _make_history_append_only() -> None:
    """History is evidence: the database itself refuses to change or remove a row."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER incident_history_no_{verb.lower()} BEFORE {verb} ON incident_history "
                "BEGIN SELECT RAISE(ABORT, 'incident_history is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION opsdesk_refuse_history_change() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'incident_history is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER incident_history_append_only BEFORE UPDATE OR DELETE ON incident_history "
            "FOR EACH ROW EXECUTE FUNCTION opsdesk_refuse_history_change()"
        )


def _drop_history_guard() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS incident_history_no_update")
        op.execute("DROP TRIGGER IF EXISTS incident_history_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS incident_history_append_only ON incident_history")
        op.execute("DROP FUNCTION IF EXISTS opsdesk_refuse_history_change()")


def downgrade() -> None:
    _drop_history_guard()
    with op.batch_alter_table("incident_history", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_history_incident_start")

    op.drop_table("incident_history")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_updated_at"))
        batch_op.drop_index(batch_op.f("ix_incidents_status"))
        batch_op.drop_index(batch_op.f("ix_incidents_reporter_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_level"))
        batch_op.drop_index(batch_op.f("ix_incidents_created_at"))
        batch_op.drop_index(batch_op.f("ix_incidents_category"))
        batch_op.drop_index(batch_op.f("ix_incidents_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_application"))

    op.drop_table("incidents")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("regions")
    op.drop_table("levels")
    op.drop_table("enterprise_projects")
    op.drop_table("categories")
    op.drop_table("applications")
