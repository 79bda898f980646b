"""incidents.forward_rule_id: the alert conversion rule that opened the incident (COC's field)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("forward_rule_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("forward_rule_id")
