"""links between incidents, and merges

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 22:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incident_links",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_id", BIG_ID, nullable=False),
        sa.Column("target_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["incidents.id"], name=op.f("fk_incident_links_source_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["incidents.id"], name=op.f("fk_incident_links_target_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_incident_links_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_links")),
        sa.UniqueConstraint(
            "source_id", "target_id", "kind", name=op.f("uq_incident_links_source_id")
        ),
    )
    op.create_index(op.f("ix_incident_links_source_id"), "incident_links", ["source_id"])
    op.create_index(op.f("ix_incident_links_target_id"), "incident_links", ["target_id"])
    op.create_table(
        "incident_merges",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("primary_id", BIG_ID, nullable=False),
        sa.Column("secondary_id", BIG_ID, nullable=False),
        sa.Column("merged_by", sa.String(length=32), nullable=True),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("undone_by", sa.String(length=32), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["primary_id"], ["incidents.id"], name=op.f("fk_incident_merges_primary_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["secondary_id"],
            ["incidents.id"],
            name=op.f("fk_incident_merges_secondary_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["merged_by"], ["users.id"], name=op.f("fk_incident_merges_merged_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["undone_by"], ["users.id"], name=op.f("fk_incident_merges_undone_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_merges")),
    )
    op.create_index(op.f("ix_incident_merges_primary_id"), "incident_merges", ["primary_id"])
    op.create_index(op.f("ix_incident_merges_secondary_id"), "incident_merges", ["secondary_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_incident_merges_secondary_id"), table_name="incident_merges")
    op.drop_index(op.f("ix_incident_merges_primary_id"), table_name="incident_merges")
    op.drop_table("incident_merges")
    op.drop_index(op.f("ix_incident_links_target_id"), table_name="incident_links")
    op.drop_index(op.f("ix_incident_links_source_id"), table_name="incident_links")
    op.drop_table("incident_links")
