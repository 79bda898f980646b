"""inbound mail: every received message, stored raw before it is acknowledged; bouncing addresses

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inbound_mails",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("door", sa.String(length=16), nullable=False),
        sa.Column("envelope_from", sa.String(length=254), nullable=False),
        sa.Column("envelope_to", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("incident_number", sa.String(length=32), nullable=True),
        sa.Column("related_number", sa.String(length=32), nullable=True),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_inbound_mails_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["incident_conversations.id"],
            name=op.f("fk_inbound_mails_conversation_id_incident_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mails")),
        sa.UniqueConstraint("message_id", name=op.f("uq_inbound_mails_message_id")),
    )
    op.create_index(op.f("ix_inbound_mails_incident_id"), "inbound_mails", ["incident_id"])
    op.create_index("ix_inbound_mails_status_id", "inbound_mails", ["status", "id"])
    op.create_index(
        "ix_inbound_mails_sender_received_at", "inbound_mails", ["sender", "received_at"]
    )
    op.create_table(
        "bouncing_addresses",
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.String(length=200), nullable=False),
        sa.Column(
            "last_incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["last_incident_id"],
            ["incidents.id"],
            name=op.f("fk_bouncing_addresses_last_incident_id_incidents"),
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_bouncing_addresses")),
    )


def downgrade() -> None:
    op.drop_table("bouncing_addresses")
    op.drop_index("ix_inbound_mails_sender_received_at", table_name="inbound_mails")
    op.drop_index("ix_inbound_mails_status_id", table_name="inbound_mails")
    op.drop_index(op.f("ix_inbound_mails_incident_id"), table_name="inbound_mails")
    op.drop_table("inbound_mails")
