"""Make a database ready: migrate the schema to head and add missing default reference data."""

from __future__ import annotations

import asyncio

from opsdesk.catalog.service import seed_defaults
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.migrate import upgrade
from opsdesk.incidents.priority import seed_matrix
from opsdesk.sla.service import seed_sla_defaults


async def _seed(url: str) -> int:
    db = Database(url)
    try:
        async with db.write() as session:
            now = SystemClock().now()
            added = await seed_defaults(session=session, now=now)
            added += await seed_matrix(session=session, now=now)
            return added + await seed_sla_defaults(session=session, now=now)
    finally:
        await db.dispose()


def prepare_database(url: str) -> int:
    """Blocking: upgrade, then seed; returns how many default items were added."""
    upgrade(url)
    return asyncio.run(_seed(url))
