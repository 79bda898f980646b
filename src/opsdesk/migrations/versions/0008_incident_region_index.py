"""incident lists by region: a covering index for the console's regional views

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 05:40:00

A region's incidents newest first, narrowed by level, urgency or status, with COC's exact
``contain_total``: without it both the page and the count scan the whole table
(bench/coc_query.py: 328 ms p95 on 1,000,000 incidents in PostgreSQL); with it the count
reads the index alone.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_region_created",
        "incidents",
        ["region", "created_at", "level", "urgency", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_region_created", table_name="incidents")
