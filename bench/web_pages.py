"""Benchmark: the desk's pages rendered server-side with 100,000 incidents (issue 26).

The requirement: "My work", a queue page and the incident page answer p95 < 150 ms on SQLite
and on PostgreSQL with 100,000 incidents. For each backend, in one run:

1. a scratch database with our migrations and default data, users and regions through the
   real services, and the incidents and history rows in bulk: the generator of
   ``bench/coc_query.py`` (same spreads: 25 % of the incidents open). On top of it: five
   workgroups of ten technicians holding a sixth of the incidents each, a signed-in
   technician ("desk@bench.test") with a few hundred incidents of their own and a seat in
   one group, pause/level requests on 5 % of the handled incidents, and two SLA clocks per
   open incident due between two hours ago and two days ahead (the overdue ones breached);
   then ``VACUUM ANALYZE`` (PostgreSQL) or ``ANALYZE`` (SQLite);
2. after a warm-up, the pages through the real HTTP stack (``httpx.ASGITransport`` on
   ``create_app``, a signed-in browser session cookie): ``GET /my-work``,
   ``GET /queue?queue=groups`` (the technician's groups, SLA due first),
   ``GET /queue?queue=all`` (every incident) and ``GET /incidents/{number}`` for varied
   incidents; each call must answer 200.

Usage::

    .venv/bin/python bench/web_pages.py [--backends sqlite,postgres] [--calls 200]
        [--incidents 100000] [--keep]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise (database ``opsdesk_bench_web``, dropped at the
end unless ``--keep``); SQLite uses ``/tmp/opsdesk-bench-web/web_pages.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, update

import coc_query
from coc_query import People, Shape, Spreads, add_people
from machine import chosen_backends, cpu_model, percentile, warn_if_busy
from machine import log as _log
from opsdesk.app import create_app
from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.assignment.schemas import WorkgroupCreate
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident
from opsdesk.sla.models import IncidentSla

TARGET_MS = 150.0
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
SQLITE_PATH = Path(tempfile.gettempdir()) / "opsdesk-bench-web" / "web_pages.db"
DESK_EMAIL = "desk@bench.test"
DESK_PASSWORD = "bench-desk-password"
GROUPS = 5
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OPEN = (Status.TRIGGERED.value, Status.ACKNOWLEDGED.value)


@dataclass(frozen=True)
class PageResult:
    backend: str
    page: str
    calls: int
    p50: float
    p95: float
    p99: float

    @property
    def ok(self) -> bool:
        return self.p95 < TARGET_MS


async def shape_the_desk(url: str, people: People) -> str:
    """Groups, the signed-in technician, sub-states and SLA clocks; returns the user id."""
    db = Database(url)
    now = datetime.now(UTC)
    rng = random.Random(26)
    try:
        async with db.write() as session:
            admin = auth_service.caller_of(
                await auth_service.get_user(session=session, user_id=people.admin_id)
            )
            desk = await auth_service.create_user(
                session=session,
                data=UserCreate(
                    email=DESK_EMAIL, name="Desk Tech", role=Role.TECHNICIAN, password=DESK_PASSWORD
                ),
                now=now,
            )
            for number in range(GROUPS):
                members = people.technicians[number * 10 : number * 10 + 10]
                if number == 0:
                    members = [desk.id, *members]
                await assignment_workgroups.create_workgroup(
                    session=session,
                    caller=admin,
                    data=WorkgroupCreate(
                        key=f"bench-group-{number}",
                        name=f"Group {number}",
                        strategy="queue",
                        members=members,
                    ),
                    now=now,
                )
        async with db.write() as session:
            for number in range(GROUPS):
                await session.execute(
                    update(Incident)
                    .where(Incident.id % (GROUPS + 1) == number)
                    .values(workgroup=f"bench-group-{number}")
                )
            await session.execute(
                update(Incident).where(Incident.id % 400 == 7).values(assignee_id=desk.id)
            )
            await session.execute(
                update(Incident)
                .where(Incident.status == Status.ACKNOWLEDGED.value, Incident.id % 20 == 1)
                .values(sub_status="pause_requested")
            )
            open_ids = list(
                await session.scalars(select(Incident.id).where(Incident.status.in_(OPEN)))
            )
        rows = []
        for incident_id in open_ids:
            for target, goal in (("response", 3600.0), ("resolution", 28800.0)):
                due = now + timedelta(minutes=rng.uniform(-120, 2880))
                rows.append(
                    {
                        "incident_id": incident_id,
                        "target": target,
                        "policy": "default-p3",
                        "calendar": "24x7",
                        "goal_s": goal,
                        "state": "running",
                        "elapsed_s": 0.0,
                        "paused_s": 0.0,
                        "percent": 50.0,
                        "due_at": due,
                        "breached_at": due if due < now else None,
                        "next_at": None,
                        "next_percent": None,
                        "acted": [],
                        "computed_at": now,
                    }
                )
        for first in range(0, len(rows), 10_000):
            async with db.write() as session:
                await session.execute(insert(IncidentSla), rows[first : first + 10_000])
        _log(f"{len(open_ids):,} open incidents with {len(rows):,} SLA clocks")
        return desk.id
    finally:
        await db.dispose()


async def measure(url: str, backend: str, calls: int, warmup: int) -> list[PageResult]:
    db = Database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="opsdesk-bench-web-"))
    settings = Settings(data_dir=data_dir, database_url=url, secret_key="bench-" + "k" * 40)
    app = create_app(settings, db=db)
    rng = random.Random(5)
    results = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            login = await http.get("/login")
            token = CSRF.search(login.text)
            assert token is not None
            signed = await http.post(
                "/login",
                data={"email": DESK_EMAIL, "password": DESK_PASSWORD, "csrf_token": token[1]},
            )
            assert signed.status_code == 303, signed.text
            async with db.read() as session:
                numbers = list(
                    await session.scalars(
                        select(Incident.number).where(Incident.id % 97 == 3).limit(500)
                    )
                )
            pages = {
                "My work (/my-work)": lambda: "/my-work",
                "Queue: my groups (/queue?queue=groups)": lambda: "/queue?queue=groups",
                "Queue: all incidents (/queue?queue=all)": lambda: "/queue?queue=all",
                "Incident page (/incidents/{number})": lambda: f"/incidents/{rng.choice(numbers)}",
            }
            for name, path in pages.items():
                timings = []
                for index in range(warmup + calls):
                    started = time.perf_counter()
                    answer = await http.get(path())
                    elapsed = (time.perf_counter() - started) * 1000
                    assert answer.status_code == 200, (name, answer.status_code, answer.text[:500])
                    if index >= warmup:
                        timings.append(elapsed)
                timings.sort()
                result = PageResult(
                    backend,
                    name,
                    calls,
                    percentile(timings, 0.50),
                    percentile(timings, 0.95),
                    percentile(timings, 0.99),
                )
                _log(f"{backend}: {name}: p50 {result.p50:.1f} p95 {result.p95:.1f} ms")
                results.append(result)
    finally:
        await db.dispose()
    return results


def bench(backend: coc_query.Backend, args: argparse.Namespace) -> list[PageResult]:
    _log(f"{backend.name}: fresh database, migrations and default data")
    started = time.perf_counter()
    url = backend.fresh()
    prepare_database(url)
    people = asyncio.run(add_people(url))
    shape = Shape(incidents=args.incidents, histories=max(args.incidents * 2, 20_000))
    backend.load(shape, people, Spreads.of(people))
    asyncio.run(shape_the_desk(url, people))
    backend.analyze()  # VACUUM ANALYZE / ANALYZE, as autovacuum would have done
    _log(f"{backend.name}: loaded in {time.perf_counter() - started:.0f} s")
    try:
        return asyncio.run(measure(url, f"{backend.version()}", args.calls, args.warmup))
    finally:
        backend.cleanup()


def table(results: Sequence[PageResult]) -> list[str]:
    lines = [
        "| Backend | Page | calls | p50 ms | p95 ms | p99 ms | p95 < 150 ms |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.page} | {r.calls} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} "
            f"| {'yes' if r.ok else 'NO'} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    chosen = chosen_backends(args.backends)
    if chosen is None:
        print("--backends: sqlite, postgres or both", file=sys.stderr)
        return 2
    warn_if_busy("timings may be inflated")
    coc_query.BENCH_DATABASE = "opsdesk_bench_web"
    results: list[PageResult] = []
    for key in chosen:
        if key == "sqlite":
            sqlite = coc_query.SqliteBackend(keep=args.keep)
            sqlite.path = SQLITE_PATH
            sqlite.url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
            results += bench(sqlite, args)
        else:
            server = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            results += bench(coc_query.PostgresBackend(server, keep=args.keep), args)
    print(
        f"\nMachine: {cpu_model()}, {os.cpu_count()} CPUs; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print("\n".join(table(results)))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
