"""Make a database ready: migrate the schema to head and add missing default reference data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from opsdesk.catalog.service import seed_defaults
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database, ensure_sqlite_directory
from opsdesk.core.migrate import current_revision, upgrade
from opsdesk.incidents.priority import seed_matrix
from opsdesk.sla.configuration import seed_sla_defaults


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


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_database`` did: the revision before (None: no schema) and after."""

    before: str | None
    after: str | None
    added: int

    def summary(self) -> str:
        """One truthful line for people: created, upgraded or already up to date."""
        added = f" ({self.added} default reference items added)" if self.added else ""
        if self.before is None:
            return f"database created at revision {self.after}{added}"
        if self.before != self.after:
            return f"database upgraded from revision {self.before} to {self.after}{added}"
        return f"database is up to date at revision {self.after}{added}"


def prepare_database(url: str) -> Prepared:
    """Blocking: upgrade, then seed; says what changed."""
    ensure_sqlite_directory(url)
    before = asyncio.run(current_revision(url))
    upgrade(url)
    after = asyncio.run(current_revision(url))
    return Prepared(before=before, after=after, added=asyncio.run(_seed(url)))
