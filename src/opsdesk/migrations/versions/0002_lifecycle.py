"""lifecycle: sub-status, resolution, reopen, attachments, conversations, work logs, feedback

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 02:49:22.027092

Columns are only added (never a table rebuild), so SQLite keeps the history triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_attachments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("uploader_id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("context", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_attachments_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"], ["users.id"], name=op.f("fk_incident_attachments_uploader_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_attachments")),
    )
    with op.batch_alter_table("incident_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_attachments_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_conversations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_incident_conversations_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_conversations_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_conversations")),
    )
    with op.batch_alter_table("incident_conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_conversations_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "incident_feedback",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reporter_id", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_feedback_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_incident_feedback_reporter_id_users")
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_feedback")),
    )
    op.create_table(
        "incident_work_logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("time_spent_s", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_incident_work_logs_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_work_logs_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_work_logs")),
    )
    with op.batch_alter_table("incident_work_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_work_logs_incident_id"), ["incident_id"], unique=False
        )

    # Plain ADD COLUMN with constant defaults: a batch rebuild on SQLite would drop the
    # triggers that keep incident_history append-only.
    op.add_column(
        "incident_history", sa.Column("internal", sa.Boolean(), server_default="0", nullable=False)
    )
    op.add_column("incidents", sa.Column("sub_status", sa.String(length=32), nullable=True))
    op.add_column("incidents", sa.Column("pause_reason", sa.Text(), nullable=True))
    op.add_column("incidents", sa.Column("pause_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("requested_level", sa.String(length=64), nullable=True))
    op.add_column("incidents", sa.Column("last_reopened_by", sa.String(length=32), nullable=True))
    op.add_column("incidents", sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("incidents", sa.Column("cause", sa.Text(), nullable=True))
    op.add_column("incidents", sa.Column("solution", sa.Text(), nullable=True))
    op.add_column(
        "incidents", sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "incidents", sa.Column("last_reopened_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "incidents", sa.Column("fault_recovery_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("incidents", sa.Column("major", sa.Boolean(), server_default="0", nullable=False))
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incidents_resolved_at", table_name="incidents")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        for column in (
            "major",
            "fault_recovery_at",
            "solution",
            "cause",
            "completed_at",
            "resolved_at",
            "accepted_at",
            "last_reopened_by",
            "last_reopened_at",
            "reopen_count",
            "requested_level",
            "pause_until",
            "pause_reason",
            "sub_status",
        ):
            batch_op.drop_column(column)
    op.drop_column("incident_history", "internal")

    with op.batch_alter_table("incident_work_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_work_logs_incident_id"))

    op.drop_table("incident_work_logs")
    op.drop_table("incident_feedback")
    with op.batch_alter_table("incident_conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_conversations_incident_id"))

    op.drop_table("incident_conversations")
    with op.batch_alter_table("incident_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_attachments_incident_id"))

    op.drop_table("incident_attachments")
