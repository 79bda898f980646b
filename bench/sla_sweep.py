"""Benchmark: the SLA sweep over 100,000 open incidents (issue 6: one sweep < 1 s).

For each backend: a scratch database with our migrations and defaults (``prepare_database``),
a technician, then in bulk (SQL Core ``executemany``) N open P1 incidents, their create
history rows and their two ``incident_sla`` rows as ``refresh_incident_sla`` would store
them. 1 % of the incidents were created 8 minutes ago, so their response clock (15 min,
24x7) crossed its 50 % threshold 30 s ago: their ``next_at`` has come. The others were
created a minute ago. Then, timed:

1. one ``sweep_sla`` call (in one write transaction, committed) that finds the due rows by
   the ``next_at`` index and escalates each (recompute from history, history row, mail
   job): the requirement;
2. the same sweep again (nothing due: the index answers with no row);
3. a full recompute of every clock (``refresh_incident_sla`` for each incident), which is
   what the stored ``next_at`` saves us from doing on each sweep, for comparison (on a
   sample of incidents, extrapolated, unless ``--full-recompute``).

Usage::

    .venv/bin/python bench/sla_sweep.py [--backends sqlite,postgres] [--incidents 100000]

PostgreSQL: ``postgresql://postgres@127.0.0.1:5432`` unless ``OPSDESK_BENCH_POSTGRES_URL``
says otherwise; the database ``opsdesk_bench_sla`` is dropped and created anew and dropped
at the end. SQLite: a file under /tmp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.incidents.models import Incident, IncidentHistory
from opsdesk.sla import clocks as sla_clocks
from opsdesk.sla import configuration as sla_configuration
from opsdesk.sla import sweep as sla_sweep
from opsdesk.sla.models import IncidentSla

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CHUNK = 5000
PG_DB = "opsdesk_bench_sla"


def _pg_admin() -> str:
    return os.environ.get("OPSDESK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")


def _pg_exec(sql: str) -> None:
    import psycopg

    url = make_url(_pg_admin()).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql.encode())


def _pg_url() -> str:
    url = make_url(_pg_admin()).set(drivername="postgresql+asyncpg", database=PG_DB)
    return url.render_as_string(hide_password=False)


def _incident(i: int, created: datetime, tech: str) -> dict[str, Any]:
    return {
        "number": f"IMBENCH{i:09d}",
        "title": f"bench incident {i}",
        "description": "",
        "level": "level_10",
        "source": "bench",
        "channel": "api",
        "creator_id": tech,
        "reporter_id": tech,
        "assignee_id": tech,
        "owner_type": "individual",
        "status": "INCIDENT_STATUS_TRIGGERED",
        "created_at": created,
        "updated_at": created,
        "version": 1,
        "service_interrupted": False,
        "reopen_count": 0,
        "major": False,
        "level_explicit": True,
    }


def _sla_rows(incident_id: int, created: datetime) -> list[dict[str, Any]]:
    rows = []
    for target, goal in (("response", 900.0), ("resolution", 14_400.0)):
        elapsed = (NOW - created).total_seconds()
        rows.append(
            {
                "incident_id": incident_id,
                "target": target,
                "policy": "default-p1",
                "calendar": "24x7",
                "goal_s": goal,
                "state": "running",
                "elapsed_s": elapsed,
                "paused_s": 0.0,
                "percent": elapsed / goal * 100,
                "due_at": created + timedelta(seconds=goal),
                "breached_at": None,
                "next_at": created + timedelta(seconds=goal / 2),
                "next_percent": 50.0,
                "acted": [],
                "computed_at": NOW - timedelta(minutes=1),
            }
        )
    return rows


async def _load(db: Database, incidents: int) -> None:
    async with db.write() as session:
        user = await auth_service.create_user(
            session=session,
            data=UserCreate(email="tech@bench.test", role=Role.TECHNICIAN),
            now=NOW,
        )
        tech = user.id
    due_every = 100  # 1 %
    for start in range(0, incidents, CHUNK):
        batch = range(start, min(incidents, start + CHUNK))
        created = {
            i: NOW - (timedelta(minutes=8) if i % due_every == 0 else timedelta(minutes=1))
            for i in batch
        }
        async with db.write() as session:
            ids = list(
                await session.scalars(
                    insert(Incident).returning(Incident.id),
                    [_incident(i, created[i], tech) for i in batch],
                )
            )
            await session.execute(
                insert(IncidentHistory),
                [
                    {
                        "incident_id": incident_id,
                        "action": "create_incident",
                        "operator_id": tech,
                        "status": "INCIDENT_STATUS_TRIGGERED",
                        "start_time": created[i],
                        "stop_time": created[i],
                        "comment": "",
                        "changes": [],
                        "internal": False,
                    }
                    for i, incident_id in zip(batch, ids, strict=True)
                ],
            )
            await session.execute(
                insert(IncidentSla),
                [
                    row
                    for i, incident_id in zip(batch, ids, strict=True)
                    for row in _sla_rows(incident_id, created[i])
                ],
            )
    async with db.write() as session:
        await session.execute(text("ANALYZE"))


async def _bench(name: str, url: str, incidents: int, sample: int) -> dict[str, float]:
    db = Database(url)
    try:
        started = time.perf_counter()
        await _load(db, incidents)
        load_s = time.perf_counter() - started
        async with db.read() as session:
            due = await session.scalar(
                select(func.count()).select_from(IncidentSla).where(IncidentSla.next_at <= NOW)
            )
        # Warm the cached policies (as a running worker has them) without touching data.
        async with db.read() as session:
            await sla_configuration.load_config(session)
        started = time.perf_counter()
        async with db.write() as session:
            result = await sla_sweep.sweep_sla(session, now=NOW, limit=incidents)
        sweep_s = time.perf_counter() - started
        started = time.perf_counter()
        async with db.write() as session:
            again = await sla_sweep.sweep_sla(session, now=NOW, limit=incidents)
        idle_s = time.perf_counter() - started
        async with db.read() as session:
            mails = await session.scalar(select(func.count()).select_from(Job))
            ids = list(await session.scalars(select(Incident.id).order_by(Incident.id)))
        step = max(1, len(ids) // sample)
        chosen = ids[::step][:sample]
        started = time.perf_counter()
        async with db.write() as session:
            for incident_id in chosen:
                await sla_clocks.refresh_incident_sla(session, incident_id=incident_id, now=NOW)
        per_incident = (time.perf_counter() - started) / len(chosen)
        figures = {
            "load_s": load_s,
            "due_rows": float(due or 0),
            "escalated": float(result.escalations),
            "sweep_s": sweep_s,
            "idle_sweep_s": idle_s,
            "idle_claimed": float(again.claimed),
            "jobs": float(mails or 0),
            "recompute_per_incident_ms": per_incident * 1000,
            "full_recompute_s_extrapolated": per_incident * len(ids),
        }
        print(f"{name}: " + ", ".join(f"{k}={v:.3f}" for k, v in figures.items()), flush=True)
        return figures
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000, help="incidents recomputed")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="opsdesk-bench-sla-") as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/sla.db"
                prepare_database(url)
                asyncio.run(_bench("sqlite", url, args.incidents, args.sample))
        elif backend == "postgres":
            _pg_exec(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            _pg_exec(f"CREATE DATABASE {PG_DB}")
            try:
                prepare_database(_pg_url())
                asyncio.run(_bench("postgres", _pg_url(), args.incidents, args.sample))
            finally:
                _pg_exec(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        else:
            raise SystemExit(f"--backends: unknown backend {backend!r}")


if __name__ == "__main__":
    main()
