"""watchers and organisations: who follows an incident, and the organisation of each user

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 10:00:00

Watchers are told about an incident as the notification rules say; an SLA policy may name
the reporter's organisation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "incident_watchers",
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_watchers_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_incident_watchers_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_incident_watchers_created_by_users")
        ),
        sa.PrimaryKeyConstraint("incident_id", "user_id", name=op.f("pk_incident_watchers")),
    )
    op.create_index(
        op.f("ix_incident_watchers_user_id"), "incident_watchers", ["user_id"], unique=False
    )
    # A plain nullable column: ALTER TABLE ADD COLUMN on both backends, no table rebuild.
    op.add_column("users", sa.Column("organisation", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("organisation")
    op.drop_index(op.f("ix_incident_watchers_user_id"), table_name="incident_watchers")
    op.drop_table("incident_watchers")
