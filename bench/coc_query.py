"""Benchmark: the COC list and history queries (issue 5) against hand-written SQL.

The requirement: with 1,000,000 incidents and 5,000,000 history rows in PostgreSQL, a
``ListIncidents`` call with three filters, an OR condition and a sort answers p95 < 100 ms;
a histories call for one incident with 10,000 rows and two filters p95 < 20 ms; the same on
SQLite with 200,000 incidents. For each backend, in one run:

1. a scratch database with the schema of our Alembic migrations and the default reference
   data (``prepare_database``); users, an admin API token and 17 more regions (20 in all)
   through the real services; then the incidents and history rows in bulk (PostgreSQL:
   ``INSERT … SELECT generate_series``; SQLite: ``executemany`` in large transactions),
   with one incident that has exactly 10,000 history rows; then ``VACUUM ANALYZE`` /
   ``ANALYZE``;
2. after a warm-up, in alternating blocks, the same varied requests three ways each:
   ``POST /v2/incidents/list`` and ``POST /v2/incidents/{id}/histories`` through the real
   HTTP stack (``httpx.ASGITransport`` on ``create_app``, ``X-Auth-Token``); the service
   alone (``parse_search`` + ``search_incidents``, ``parse_history_search`` +
   ``search_history`` in a read session); and the same query as hand-written SQL
   (``text()`` with bound parameters, the page and the count) on the same engine: the
   baseline. The answers of the three ways are compared on every call;
3. the plans of the statements the service sends (``EXPLAIN ANALYZE`` / ``EXPLAIN QUERY
   PLAN``), and, with ``--try-index COLUMNS``, the same measurements again after creating a
   candidate index on incidents (printed as such; it is not part of the migrations). This
   is how ``ix_incidents_region_created`` (migration 0008) was chosen.

Usage::

    .venv/bin/python bench/coc_query.py [--backends sqlite,postgres] [--calls 300]
        [--incidents N] [--keep] [--reuse]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the database ``opsdesk_bench_query`` on it
is dropped and created anew and dropped at the end. SQLite uses
``/tmp/opsdesk-bench-query/coc_query.db``. ``--keep`` keeps both; ``--reuse`` measures a
kept database again without loading it (a candidate index is dropped first).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import platform
import random
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from machine import chosen_backends, cpu_model, warn_if_busy
from machine import log as _log
from machine import machine_cpu_s as _machine_cpu_s
from machine import on_sigterm as _on_sigterm
from machine import percentile as _percentile
from machine import postgres_cpu_s as _postgres_cpu_s
from opsdesk.app import create_app
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.schemas import ItemCreate
from opsdesk.core.database import Database
from opsdesk.core.pagination import PageRequest
from opsdesk.core.settings import Settings
from opsdesk.incidents.fields import LEVELS, Status
from opsdesk.incidents.search import (
    parse_history_search,
    parse_search,
    search_history,
    search_incidents,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
BENCH_DATABASE = "opsdesk_bench_query"
SQLITE_PATH = Path(tempfile.gettempdir()) / "opsdesk-bench-query" / "coc_query.db"
LIST_TARGET_MS = 100.0
HISTORY_TARGET_MS = 20.0
BLOCK = 50  # measured calls of one way in a row
PER_PAGE = 20
HISTORY_ROWS_OF_ONE = 10_000  # the measured incident's history
HISTORIES_PER_INCIDENT = 5  # history rows = incidents x this
INSERT_BATCH = 20_000  # SQLite rows per executemany
DEFAULT_INCIDENTS = {"postgres": 1_000_000, "sqlite": 200_000}

# The data: a year of incidents, oldest first (ids grow with time, as they do).
YEAR_END = datetime(2026, 12, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
ADMIN_EMAIL = "admin@bench.test"
TECHNICIANS = 50
END_USERS = 150
EXTRA_REGIONS = 17  # the 3 default regions + these = 20

# A candidate index (--try-index), created only in the bench database after the
# measurements without it.
PROPOSED_INDEX_NAME = "ix_bench_incidents_candidate"


def index_ddl(columns: str) -> str:
    return f"CREATE INDEX {PROPOSED_INDEX_NAME} ON incidents ({columns})"


_WORD_TEXT = (
    "checkout api login vpn email gateway timeout database replica latency disk full "
    "certificate expired payment error queue backlog dns cache cluster node memory leak "
    "deploy rollback printer wifi office erp invoice sync batch job failed slow search "
    "index storage quota backup restore kafka consumer lag"
)
WORDS = tuple(_WORD_TEXT.split())


class BenchError(Exception):
    """The benchmark could not be run as asked; the message says why."""


# --------------------------------------------------------------------------- spreads

Weighted = Sequence[tuple[str | None, float]]


def buckets(weighted: Weighted, size: int = 1000) -> list[str | None]:
    """``size`` values in proportion to their weights: a uniform pick from the list is a
    weighted pick, the same in Python (``random.choice``) and in SQL (``a[1 + floor(…)]``)."""
    total = sum(weight for _, weight in weighted)
    found: list[str | None] = []
    running = 0.0
    for value, weight in weighted:
        running += weight
        found += [value] * (round(running / total * size) - len(found))
    return found


LEVEL_SPREAD: Weighted = list(zip(LEVELS, (3, 12, 35, 35, 15), strict=True))
SCALE_SPREAD: Weighted = [("1", 20), ("2", 50), ("3", 30)]
STATUS_SPREAD: Weighted = [
    (Status.COMPLETED.value, 60),
    (Status.RESOLVED.value, 10),
    (Status.ACKNOWLEDGED.value, 15),
    (Status.TRIGGERED.value, 10),
    (Status.REJECTED.value, 3),
    (Status.DRAFT.value, 2),
]
SOURCE_SPREAD: Weighted = [
    ("incident_source_manual", 50),
    ("incident_source_alarm", 40),
    ("incident_source_forwarding", 10),
]
CHANNEL_SPREAD: Weighted = [
    ("technician_portal", 30),
    ("self_service", 20),
    ("email", 20),
    ("monitoring", 20),
    ("coc_api", 10),
]
OWNERSHIP_SPREAD: Weighted = [
    ("alarm_detection", 40),
    ("customer_report", 35),
    ("proactive_om", 15),
    ("other", 10),
]
_CATEGORY_TEXT = (
    "inc_type_p_function_issues inc_type_p_reliability_issues inc_type_p_performance_issues "
    "inc_type_p_security_issues inc_type_p_config_issues inc_type_p_change_issues "
    "inc_type_p_middleware_issues inc_type_p_network_issues inc_type_p_hardware_issues "
    "inc_type_p_data_issues inc_type_p_third_party_issues inc_type_p_consultation "
    "inc_type_p_other_issues"
)
CATEGORIES = tuple(_CATEGORY_TEXT.split())
APPLICATIONS = ("app_email", "app_network", "app_identity", "app_website", "app_erp")
HISTORY_ACTION_SPREAD: Weighted = [
    ("incident_remark", 25),
    ("incident_reply", 15),
    ("incident_note", 12),
    ("update_incident", 10),
    ("incident_work_log", 10),
    ("incident_forward", 8),
    ("incident_accept", 6),
    ("incident_assign", 5),
    ("incident_change_level", 3),
    ("incident_solution", 3),
    ("incident_pause", 2),
    ("incident_recover", 1),
]
FILTERED_ACTIONS = (
    "incident_forward",
    "incident_accept",
    "incident_change_level",
    "incident_solution",
)
LEVEL_CHANGE = '[{"field": "level", "old": "level_30", "new": "level_20"}]'


def zipf(keys: Sequence[str], exponent: float = 0.8) -> Weighted:
    """A few big values and a long tail, as regions and people are in practice."""
    return [(key, 1 / (rank + 1) ** exponent) for rank, key in enumerate(keys)]


@dataclass
class People:
    admin_id: str
    technicians: list[str]
    end_users: list[str]
    regions: list[str]
    token: str = ""


@dataclass
class Spreads:
    level: list[str | None]
    impact: list[str | None]
    urgency: list[str | None]
    status: list[str | None]
    source: list[str | None]
    channel: list[str | None]
    ownership: list[str | None]
    region: list[str | None]
    assignee: list[str | None]
    creator: list[str | None]
    action: list[str | None]

    @classmethod
    def of(cls, people: People) -> Spreads:
        assignees: Weighted = [*zipf(people.technicians, 0.5), (None, 0.05 * TECHNICIANS)]
        return cls(
            level=buckets(LEVEL_SPREAD),
            impact=buckets(SCALE_SPREAD),
            urgency=buckets(SCALE_SPREAD),
            status=buckets(STATUS_SPREAD),
            source=buckets(SOURCE_SPREAD),
            channel=buckets(CHANNEL_SPREAD),
            ownership=buckets(OWNERSHIP_SPREAD),
            region=buckets(zipf(people.regions)),
            assignee=buckets(assignees),
            creator=buckets(zipf([*people.end_users, *people.technicians], 0.6)),
            action=buckets(HISTORY_ACTION_SPREAD),
        )


@dataclass(frozen=True)
class Shape:
    incidents: int
    histories: int

    @property
    def target_id(self) -> int:
        """The incident with exactly HISTORY_ROWS_OF_ONE rows: one from the middle."""
        return self.incidents // 2

    @property
    def step(self) -> timedelta:
        return YEAR / self.incidents

    def created_at(self, incident_id: int) -> datetime:
        return YEAR_END - YEAR + (incident_id - 1) * self.step


# --------------------------------------------------------------------------- setup


async def add_people(url: str) -> People:
    """Users, the admin's API token and the extra regions, through the real services."""
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.write() as session:
            admin = await auth_service.create_user(
                session=session, data=UserCreate(email=ADMIN_EMAIL, role=Role.ADMIN), now=now
            )
            for number in range(1, TECHNICIANS + 1):
                await auth_service.create_user(
                    session=session,
                    data=UserCreate(
                        email=f"tech{number:02d}@bench.test",
                        name=f"Technician {number:02d}",
                        role=Role.TECHNICIAN,
                    ),
                    now=now,
                )
            for number in range(1, END_USERS + 1):
                await auth_service.create_user(
                    session=session, data=UserCreate(email=f"user{number:03d}@bench.test"), now=now
                )
            caller = auth_service.caller_of(admin)
            for number in range(1, EXTRA_REGIONS + 1):
                await catalog_service.create_item(
                    session=session,
                    caller=caller,
                    kind=Kind.REGION,
                    data=ItemCreate(key=f"bench-region-{number:02d}", name_en=f"Region {number}"),
                    now=now,
                )
        return await load_people(url, db=db)
    finally:
        await db.dispose()


async def load_people(url: str, *, db: Database | None = None) -> People:
    """The people and regions of a loaded database, and a fresh admin token."""
    own = db is None
    database = db or Database(url)
    try:
        async with database.write() as session:
            rows = (await session.execute(text("SELECT id, email FROM users ORDER BY email"))).all()
            regions = list(
                await session.scalars(text('SELECT key FROM regions ORDER BY sort_order, "key"'))
            )
            by_email = {email: user_id for user_id, email in rows}
            if ADMIN_EMAIL not in by_email:
                raise BenchError("the database has no bench users: load it without --reuse")
            admin_id = by_email[ADMIN_EMAIL]
            _row, token = await auth_service.create_token(
                session=session, user_id=admin_id, name="bench", now=datetime.now(UTC)
            )
        return People(
            admin_id=admin_id,
            technicians=[uid for email, uid in by_email.items() if email.startswith("tech")],
            end_users=[uid for email, uid in by_email.items() if email.startswith("user")],
            regions=regions,
            token=token,
        )
    finally:
        if own:
            await database.dispose()


# --------------------------------------------------------------------------- backends


class PostgresBackend:
    name = "PostgreSQL"
    key = "postgres"

    def __init__(self, server_url: str, *, keep: bool) -> None:
        base = make_url(server_url)
        self.admin_url = base.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        self.plain_url = base.set(drivername="postgresql", database=BENCH_DATABASE)
        self.url = self.plain_url.set(drivername="postgresql+asyncpg").render_as_string(
            hide_password=False
        )
        self.keep = keep

    def _execute(self, url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
            cursor = connection.execute(statement.encode(), params)
            return cursor.fetchall() if cursor.description else []

    def bench(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self._execute(
            self.plain_url.render_as_string(hide_password=False), statement, params
        )

    def fresh(self) -> str:
        try:
            self._execute(self.admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            self._execute(self.admin_url, f"CREATE DATABASE {BENCH_DATABASE}")
        except Exception as exc:
            raise BenchError(f"PostgreSQL at {self.admin_url}: {exc}") from exc
        return self.url

    def exists(self) -> bool:
        found = self._execute(
            self.admin_url, "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        )
        return bool(found)

    def version(self) -> str:
        return f"PostgreSQL {self.bench('SHOW server_version')[0][0]}"

    def load(self, shape: Shape, people: People, spreads: Spreads) -> None:
        import psycopg

        start = YEAR_END - YEAR
        common = {
            "start": start,
            "step": shape.step,
            "words": list(WORDS),
            "categories": list(CATEGORIES),
            "applications": list(APPLICATIONS),
        }
        incidents = """
            INSERT INTO incidents (
                id, number, title, description, level, impact, urgency, ownership, category,
                region, enterprise_project, application, fault_occurred_at, service_interrupted,
                assignee_id, source, channel, creator_id, reporter_id, status, created_at,
                updated_at, resolved_at, version, reopen_count, major, level_explicit)
            SELECT g,
                'IM' || to_char(c AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSMS')
                    || lpad(g::text, 7, '0'),
                initcap(w1) || ' ' || w2 || ' ' || w3 || ' on ' || region,
                'Since ' || to_char(c AT TIME ZONE 'UTC', 'HH24:MI') || ' the ' || w2 || ' '
                    || w1 || ' reports ' || w3 || ' for customers in ' || region
                    || '; the monitoring alarm fired and users cannot complete their work.',
                level, impact::smallint, urgency::smallint, ownership,
                (%(categories)s::text[])[1 + floor(random() * 13)::int],
                region, '0',
                (%(applications)s::text[])[1 + floor(random() * 5)::int],
                c - random() * interval '2 hours', random() < 0.3,
                assignee, source, channel, creator, creator, status, c, u,
                CASE WHEN status IN ('INCIDENT_STATUS_RESOLVED', 'INCIDENT_STATUS_COMPLETED')
                     THEN u END,
                1 + floor(random() * 6)::int, 0, random() < 0.01, false
            FROM (
                SELECT g, c, c + random() * interval '3 days' AS u,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w1,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w2,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w3,
                    (%(level)s::text[])[1 + floor(random() * 1000)::int] AS level,
                    (%(impact)s::text[])[1 + floor(random() * 1000)::int] AS impact,
                    (%(urgency)s::text[])[1 + floor(random() * 1000)::int] AS urgency,
                    (%(ownership)s::text[])[1 + floor(random() * 1000)::int] AS ownership,
                    (%(region)s::text[])[1 + floor(random() * 1000)::int] AS region,
                    (%(assignee)s::text[])[1 + floor(random() * 1000)::int] AS assignee,
                    (%(source)s::text[])[1 + floor(random() * 1000)::int] AS source,
                    (%(channel)s::text[])[1 + floor(random() * 1000)::int] AS channel,
                    (%(creator)s::text[])[1 + floor(random() * 1000)::int] AS creator,
                    (%(status)s::text[])[1 + floor(random() * 1000)::int] AS status
                FROM (
                    SELECT g, %(start)s::timestamptz + (g - 1) * %(step)s::interval
                        + random() * %(step)s::interval AS c
                    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
                ) AS moments
            ) AS picked
        """
        # (i, r): the incident and where in its spread of time the row falls (0..1).
        target_rows = """
            SELECT %(target)s::bigint AS i, h::float8 / %(rows)s AS r
            FROM generate_series(1, %(rows)s) AS h
        """
        spread_rows = """
            SELECT CASE WHEN x >= %(target)s THEN x + 1 ELSE x END AS i, random() AS r
            FROM (
                SELECT 1 + floor(random() * (%(incidents)s - 1))::bigint AS x
                FROM generate_series(1, %(rows)s)
            ) AS spread
        """
        histories = """
            INSERT INTO incident_history (
                incident_id, action, operator_id, status, start_time, stop_time, comment,
                changes, internal)
            SELECT i, action, operator, status, at, NULL,
                CASE WHEN random() < 0.3
                     THEN initcap(w1) || ' ' || w2 || ' checked, ' || w3 || ' next' ELSE '' END,
                CASE WHEN action = 'incident_change_level' THEN %(level_change)s ELSE '[]' END
                    ::json,
                action IN ('incident_note', 'incident_work_log')
            FROM (
                SELECT i,
                    %(start)s::timestamptz + (i - 1) * %(step)s::interval
                        + %(spread)s::interval * r AS at,
                    (%(action)s::text[])[1 + floor(random() * 1000)::int] AS action,
                    (%(technicians)s::text[])[1 + floor(random() * %(ntech)s)::int] AS operator,
                    (%(status)s::text[])[1 + floor(random() * 1000)::int] AS status,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w1,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w2,
                    (%(words)s::text[])[1 + floor(random() * %(nwords)s)::int] AS w3
                FROM (SOURCE) AS source
            ) AS picked
        """
        values = {
            **common,
            "nwords": len(WORDS),
            "level": spreads.level,
            "impact": spreads.impact,
            "urgency": spreads.urgency,
            "ownership": spreads.ownership,
            "region": spreads.region,
            "assignee": spreads.assignee,
            "source": spreads.source,
            "channel": spreads.channel,
            "creator": spreads.creator,
            "status": spreads.status,
        }
        with psycopg.connect(
            self.plain_url.render_as_string(hide_password=False), autocommit=True
        ) as connection:
            # Generated rows are consistent by construction: skip the per-row foreign-key
            # triggers (the load takes a third of the time without them).
            connection.execute(b"SET session_replication_role = replica")
            connection.execute(b"SELECT setseed(0.2026)")
            chunk = 250_000
            for first in range(1, shape.incidents + 1, chunk):
                last = min(shape.incidents, first + chunk - 1)
                connection.execute(incidents.encode(), {**values, "first": first, "last": last})
                _log(f"PostgreSQL: incidents {last:,} of {shape.incidents:,}")
            connection.execute(
                b"SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))"
            )
            history_values = {
                **common,
                "nwords": len(WORDS),
                "action": spreads.action,
                "status": spreads.status,
                "technicians": people.technicians,
                "ntech": len(people.technicians),
                "level_change": LEVEL_CHANGE,
                "target": shape.target_id,
                "incidents": shape.incidents,
            }
            # The measured incident's rows first, over 30 days; then the others, in chunks.
            connection.execute(
                histories.replace("SOURCE", target_rows).encode(),
                {**history_values, "rows": HISTORY_ROWS_OF_ONE, "spread": timedelta(days=30)},
            )
            done = HISTORY_ROWS_OF_ONE
            chunk = 1_000_000
            while done < shape.histories:
                count = min(chunk, shape.histories - done)
                connection.execute(
                    histories.replace("SOURCE", spread_rows).encode(),
                    {**history_values, "rows": count, "spread": timedelta(days=5)},
                )
                done += count
                _log(f"PostgreSQL: history rows {done:,} of {shape.histories:,}")

    def analyze(self) -> None:
        self.bench("VACUUM ANALYZE")

    def counts(self) -> tuple[int, int]:
        found = self.bench(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_history)"
        )
        return int(found[0][0]), int(found[0][1])

    def create_index(self, ddl: str) -> None:
        self.bench(ddl)
        self.bench("ANALYZE incidents")

    def drop_index(self) -> None:
        self.bench(f"DROP INDEX IF EXISTS {PROPOSED_INDEX_NAME}")

    def cleanup(self) -> None:
        if not self.keep:
            with contextlib.suppress(Exception):
                self._execute(
                    self.admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"
                )


class SqliteBackend:
    name = "SQLite"
    key = "sqlite"

    def __init__(self, *, keep: bool) -> None:
        self.path = SQLITE_PATH
        self.url = f"sqlite+aiosqlite:///{self.path}"
        self.keep = keep

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def fresh(self) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return self.url

    def exists(self) -> bool:
        return self.path.is_file()

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def load(self, shape: Shape, people: People, spreads: Spreads) -> None:
        rng = random.Random(2026)
        start = YEAR_END - YEAR
        step = shape.step

        def stamp(moment: datetime) -> str:
            # How SQLAlchemy stores UTCDateTime on SQLite: naive UTC text.
            return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

        def incident(g: int) -> tuple[Any, ...]:
            c = start + (g - 1) * step + rng.random() * step
            u = c + rng.random() * timedelta(days=3)
            w1, w2, w3 = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
            region = rng.choice(spreads.region)
            status = rng.choice(spreads.status)
            creator = rng.choice(spreads.creator)
            resolved = status in (Status.RESOLVED.value, Status.COMPLETED.value)
            return (
                g,
                f"IM{c:%Y%m%d%H%M%S}{c.microsecond // 1000:03d}{g:07d}",
                f"{w1.capitalize()} {w2} {w3} on {region}",
                f"Since {c:%H:%M} the {w2} {w1} reports {w3} for customers in {region}; the "
                "monitoring alarm fired and users cannot complete their work.",
                rng.choice(spreads.level),
                int(rng.choice(spreads.impact) or 2),
                int(rng.choice(spreads.urgency) or 2),
                rng.choice(spreads.ownership),
                rng.choice(CATEGORIES),
                region,
                "0",
                rng.choice(APPLICATIONS),
                stamp(c - rng.random() * timedelta(hours=2)),
                int(rng.random() < 0.3),
                rng.choice(spreads.assignee),
                rng.choice(spreads.source),
                rng.choice(spreads.channel),
                creator,
                creator,
                status,
                stamp(c),
                stamp(u),
                stamp(u) if resolved else None,
                rng.randint(1, 6),
                0,
                int(rng.random() < 0.01),
                0,
            )

        def history(i: int, at: datetime) -> tuple[Any, ...]:
            action = rng.choice(spreads.action)
            comment = ""
            if rng.random() < 0.3:
                comment = (
                    f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} checked, "
                    f"{rng.choice(WORDS)} next"
                )
            return (
                i,
                action,
                rng.choice(people.technicians),
                rng.choice(spreads.status),
                stamp(at),
                None,
                comment,
                LEVEL_CHANGE if action == "incident_change_level" else "[]",
                int(action in ("incident_note", "incident_work_log")),
            )

        insert_incident = (
            "INSERT INTO incidents (id, number, title, description, level, impact, urgency, "
            "ownership, category, region, enterprise_project, application, fault_occurred_at, "
            "service_interrupted, assignee_id, source, channel, creator_id, reporter_id, status, "
            "created_at, updated_at, resolved_at, version, reopen_count, major, level_explicit) "
            f"VALUES ({', '.join('?' * 27)})"
        )
        insert_history = (
            "INSERT INTO incident_history (incident_id, action, operator_id, status, start_time, "
            "stop_time, comment, changes, internal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with contextlib.closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")
            for first in range(1, shape.incidents + 1, INSERT_BATCH):
                last = min(shape.incidents, first + INSERT_BATCH - 1)
                connection.execute("BEGIN")
                connection.executemany(
                    insert_incident, (incident(g) for g in range(first, last + 1))
                )
                connection.execute("COMMIT")
            _log(f"SQLite: {shape.incidents:,} incidents")
            target_start = shape.created_at(shape.target_id)
            rows: itertools.chain[tuple[Any, ...]] = itertools.chain(
                (
                    history(
                        shape.target_id,
                        target_start + (h / HISTORY_ROWS_OF_ONE) * timedelta(days=30),
                    )
                    for h in range(1, HISTORY_ROWS_OF_ONE + 1)
                ),
                (
                    history(i, shape.created_at(i) + rng.random() * timedelta(days=5))
                    for i in (
                        (x + 1 if x >= shape.target_id else x)
                        for x in (
                            rng.randint(1, shape.incidents - 1)
                            for _ in range(shape.histories - HISTORY_ROWS_OF_ONE)
                        )
                    )
                ),
            )
            while True:
                batch = list(itertools.islice(rows, INSERT_BATCH * 5))
                if not batch:
                    break
                connection.execute("BEGIN")
                connection.executemany(insert_history, batch)
                connection.execute("COMMIT")
            _log(f"SQLite: {shape.histories:,} history rows")

    def analyze(self) -> None:
        with contextlib.closing(self._connect()) as connection:
            connection.execute("ANALYZE")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def counts(self) -> tuple[int, int]:
        with contextlib.closing(self._connect()) as connection:
            a = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
            b = connection.execute("SELECT count(*) FROM incident_history").fetchone()[0]
        return int(a), int(b)

    def create_index(self, ddl: str) -> None:
        with contextlib.closing(self._connect()) as connection:
            connection.execute(ddl)
            connection.execute("ANALYZE incidents")

    def drop_index(self) -> None:
        with contextlib.closing(self._connect()) as connection:
            connection.execute(f"DROP INDEX IF EXISTS {PROPOSED_INDEX_NAME}")

    def cleanup(self) -> None:
        if not self.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)


Backend = PostgresBackend | SqliteBackend


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class ListCase:
    levels: tuple[str, str]
    urgency: int
    region: str

    def body(self) -> dict[str, Any]:
        return {
            "string_filters": [
                {"name": "a", "field": "level_id", "operator": "in", "values": list(self.levels)},
                {"name": "c", "field": "mtm_region", "operator": "=", "values": [self.region]},
            ],
            "int_filters": [
                {"name": "b", "field": "urgency", "operator": "=", "values": [str(self.urgency)]},
            ],
            "condition": "(a|b)&c",
            "sort_filter": {"field": "create_time", "operator": "desc"},
            "page": 1,
            "per_page": PER_PAGE,
            "contain_total": True,
        }


@dataclass(frozen=True)
class HistoryCase:
    number: str
    actions: tuple[str, str]
    since: datetime

    def body(self) -> dict[str, Any]:
        return {
            "string_filters": [
                {"field": "action", "operator": "in", "values": list(self.actions)},
                {
                    "field": "start_time",
                    "operator": ">=",
                    "values": [str(int(self.since.timestamp() * 1000))],
                },
            ],
        }


LIST_SQL = """
    FROM incidents
    WHERE (level IN (:level_1, :level_2) OR urgency = :urgency) AND region = :region
"""
HISTORY_SQL = """
    FROM incident_history
    WHERE incident_id = (SELECT id FROM incidents WHERE number = :number)
      AND action IN (:action_1, :action_2) AND start_time >= :since
"""


def _bind_time(moment: datetime, dialect: str) -> Any:
    if dialect == "sqlite":
        return (
            moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        )
    return moment


# Each way answers (total, the page's ticket numbers or the rows' (action, operator) in order).
Answer = tuple[int, tuple[Any, ...]]


class Ways:
    """The three ways of asking, on one ``Database`` and one app."""

    def __init__(self, db: Database, people: People, settings: Settings) -> None:
        self.db = db
        self.people = people
        self.app = create_app(settings, db=db)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://opsdesk.bench",
            headers={"X-Auth-Token": people.token},
        )
        self.caller: Any = None
        self.rows_returned: list[int] = []

    async def start(self) -> None:
        async with self.db.read() as session:
            self.caller = await auth_service.caller_by_token(
                session=session, token=self.people.token
            )

    async def close(self) -> None:
        await self.http.aclose()

    # ListIncidents

    async def list_http(self, case: ListCase) -> Answer:
        response = await self.http.post("/v2/incidents/list", json=case.body())
        if response.status_code != 200:
            raise BenchError(f"list: HTTP {response.status_code} {response.text[:300]}")
        data = response.json()["data"]
        return int(data["total"]), tuple(t["ticket_id"] for t in data["tickets"])

    async def list_service(self, case: ListCase) -> Answer:
        body = {k: v for k, v in case.body().items() if k not in ("page", "per_page")}
        body.pop("contain_total")
        query = parse_search(body)
        async with self.db.read() as session:
            result = await search_incidents(
                session=session,
                caller=self.caller,
                query=query,
                page=PageRequest(1, PER_PAGE),
                contain_total=True,
            )
        return int(result.total or 0), tuple(item.number for item in result.items)

    async def list_hand(self, case: ListCase) -> Answer:
        params = {
            "level_1": case.levels[0],
            "level_2": case.levels[1],
            "urgency": case.urgency,
            "region": case.region,
        }
        async with self.db.read() as session:
            page = (
                await session.execute(
                    text(f"SELECT * {LIST_SQL} ORDER BY created_at DESC, id DESC LIMIT :limit"),
                    {**params, "limit": PER_PAGE},
                )
            ).all()
            total = (await session.execute(text(f"SELECT count(*) {LIST_SQL}"), params)).scalar()
        return int(total or 0), tuple(row.number for row in page)

    # ListIncidentsHistories

    async def history_http(self, case: HistoryCase) -> Answer:
        response = await self.http.post(f"/v2/incidents/{case.number}/histories", json=case.body())
        if response.status_code != 200:
            raise BenchError(f"histories: HTTP {response.status_code} {response.text[:300]}")
        data = response.json()["data"]
        self.rows_returned.append(len(data["info"]))
        return int(data["total"]), tuple(
            (item["action"], item["operator"]) for item in data["info"]
        )

    async def history_service(self, case: HistoryCase) -> Answer:
        query = parse_history_search(case.body())
        async with self.db.read() as session:
            rows, total = await search_history(
                session=session, caller=self.caller, number=case.number, query=query
            )
        return total, tuple((row.action, row.operator_id) for row in rows)

    async def history_hand(self, case: HistoryCase) -> Answer:
        params = {
            "number": case.number,
            "action_1": case.actions[0],
            "action_2": case.actions[1],
            "since": _bind_time(case.since, self.db.dialect),
        }
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    text(f"SELECT * {HISTORY_SQL} ORDER BY start_time DESC, id DESC LIMIT 10000"),
                    params,
                )
            ).all()
            total = (await session.execute(text(f"SELECT count(*) {HISTORY_SQL}"), params)).scalar()
        return int(total or 0), tuple((row.action, row.operator_id) for row in rows)


# --------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Latencies:
    samples_ms: tuple[float, ...]

    def p(self, fraction: float) -> float:
        return _percentile(sorted(self.samples_ms), fraction)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms) if self.samples_ms else 0.0


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


@dataclass
class CpuWindow:
    """How many cores the rest of the machine (not this process, not PostgreSQL) kept busy
    while the calls were measured: other work on a 2-core box inflates the latencies."""

    elapsed: float = 0.0
    other: float | None = None
    _start: tuple[float, float | None, float | None, float] = (0.0, None, None, 0.0)

    def __enter__(self) -> CpuWindow:
        self._start = (time.monotonic(), _machine_cpu_s(), _postgres_cpu_s(), _own_cpu_s())
        return self

    def __exit__(self, *_exc: object) -> None:
        started, machine, postgres, own = self._start
        self.elapsed = time.monotonic() - started
        machine_now, postgres_now = _machine_cpu_s(), _postgres_cpu_s()
        if None in (machine, machine_now, postgres, postgres_now):
            return
        used = (machine_now or 0.0) - (machine or 0.0)
        used -= (postgres_now or 0.0) - (postgres or 0.0)
        used -= _own_cpu_s() - own
        self.other = max(0.0, used)

    @property
    def cores(self) -> str:
        if self.other is None or not self.elapsed:
            return "?"
        return f"{self.other / self.elapsed:.2f}"


@dataclass
class Measured:
    http: Latencies
    service: Latencies
    hand: Latencies
    mismatches: int
    totals: tuple[int, ...]
    cpu: CpuWindow
    rows: tuple[int, ...] = ()

    @property
    def ratio_p50(self) -> float:
        return self.http.p(0.5) / self.hand.p(0.5) if self.hand.p(0.5) else 0.0

    @property
    def ratio_p95(self) -> float:
        return self.http.p(0.95) / self.hand.p(0.95) if self.hand.p(0.95) else 0.0

    @property
    def service_ratio_p95(self) -> float:
        return self.service.p(0.95) / self.hand.p(0.95) if self.hand.p(0.95) else 0.0


async def _measure_blocks(
    cases: Sequence[Any],
    ways: Sequence[Callable[[Any], Awaitable[Answer]]],
    samples: dict[Any, list[float]],
    answers: dict[Any, list[Answer]],
) -> None:
    for first in range(0, len(cases), BLOCK):
        block = cases[first : first + BLOCK]
        turn = (first // BLOCK) % len(ways)
        # Blocks of one way at a time, the order rotating, so that drift cancels out; a
        # collection between blocks, so that no way pays for another's garbage.
        for way in [*ways[turn:], *ways[:turn]]:
            gc.collect()
            for case in block:
                started = time.perf_counter()
                answer = await way(case)
                samples[way].append((time.perf_counter() - started) * 1000)
                answers[way].append(answer)


async def measure_three(
    cases: Sequence[Any],
    warmup: Sequence[Any],
    http: Callable[[Any], Awaitable[Answer]],
    service: Callable[[Any], Awaitable[Answer]],
    hand: Callable[[Any], Awaitable[Answer]],
    what: str,
) -> Measured:
    ways = (http, service, hand)
    for case in warmup:
        for way in ways:
            await way(case)
    samples: dict[Any, list[float]] = {way: [] for way in ways}
    answers: dict[Any, list[Answer]] = {way: [] for way in ways}
    cpu = CpuWindow()
    with cpu:
        await _measure_blocks(cases, ways, samples, answers)
    mismatches = 0
    for index, expected in enumerate(answers[hand]):
        for way in (http, service):
            if answers[way][index] != expected:
                mismatches += 1
                if mismatches <= 3:
                    got = answers[way][index]
                    _log(
                        f"MISMATCH ({what}, {way.__name__}) on {cases[index]}: total {got[0]} "
                        f"vs {expected[0]}, first ids {got[1][:3]} vs {expected[1][:3]}"
                    )
    return Measured(
        http=Latencies(tuple(samples[http])),
        service=Latencies(tuple(samples[service])),
        hand=Latencies(tuple(samples[hand])),
        mismatches=mismatches,
        totals=tuple(total for total, _ in answers[hand]),
        cpu=cpu,
    )


def list_cases(rng: random.Random, people: People, count: int) -> list[ListCase]:
    found = []
    for _ in range(count):
        first, second = rng.sample(LEVELS, 2)
        found.append(
            ListCase(
                levels=(first, second),
                urgency=rng.randint(1, 3),
                region=rng.choice(people.regions),
            )
        )
    return found


def history_cases(rng: random.Random, number: str, shape: Shape, count: int) -> list[HistoryCase]:
    """The measured incident's rows span 30 days; ask for the last 1 to 10 of them."""
    start = shape.created_at(shape.target_id)
    found = []
    for _ in range(count):
        first, second = rng.sample(FILTERED_ACTIONS, 2)
        found.append(
            HistoryCase(
                number=number,
                actions=(first, second),
                since=start + timedelta(days=rng.uniform(20, 29)),
            )
        )
    return found


# --------------------------------------------------------------------------- plans


async def plans(db: Database, ways: Ways, list_case: ListCase, history_case: HistoryCase) -> None:
    """The plan of every statement the service sends for one call of each query."""
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.append((statement, parameters))

    engine = db.reader.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await ways.list_service(list_case)
        list_statements = list(captured)
        captured.clear()
        await ways.history_service(history_case)
        history_statements = list(captured)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    for what, statements in (("list", list_statements), ("histories", history_statements)):
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            async with db.reader.connect() as connection:
                result = await connection.exec_driver_sql(prefix + statement, parameters)
                lines = [str(row[-1]) for row in result.all()]
            first_line = " ".join(statement.split())[:150]
            _log(f"plan ({what}) of: {first_line}…")
            for line in lines:
                print(f"        {line}", flush=True)


# --------------------------------------------------------------------------- one backend


@dataclass
class Result:
    backend: str
    version: str
    label: str
    incidents: int
    histories: int
    listing: Measured
    history: Measured
    load_s: float | None


async def _measure(
    backend: Backend,
    url: str,
    people: People,
    shape: Shape,
    args: argparse.Namespace,
    label: str,
    explain: bool,
) -> tuple[Measured, Measured]:
    db = Database(url)
    settings = Settings(
        data_dir=Path(tempfile.gettempdir()) / "opsdesk-bench-query",
        secret_key="bench-secret-key-" + "x" * 32,
        run_worker=False,
    )
    ways = Ways(db, people, settings)
    try:
        await ways.start()
        async with db.read() as session:
            number = (
                await session.execute(
                    text("SELECT number FROM incidents WHERE id = :id"), {"id": shape.target_id}
                )
            ).scalar_one()
        rng = random.Random(args.seed)
        lists = list_cases(rng, people, args.calls)
        list_warm = list_cases(rng, people, args.warmup)
        hists = history_cases(rng, number, shape, args.calls)
        hist_warm = history_cases(rng, number, shape, args.warmup)
        if explain:
            await plans(db, ways, lists[0], hists[0])
        _log(f"{backend.name} ({label}): {args.warmup} warm-up and {args.calls} calls x 3 ways")
        listing = await measure_three(
            lists, list_warm, ways.list_http, ways.list_service, ways.list_hand, "list"
        )
        ways.rows_returned.clear()
        history = await measure_three(
            hists,
            hist_warm,
            ways.history_http,
            ways.history_service,
            ways.history_hand,
            "histories",
        )
        history.rows = tuple(ways.rows_returned[-args.calls :])
        return listing, history
    finally:
        await ways.close()
        await db.dispose()


def bench_backend(backend: Backend, args: argparse.Namespace) -> list[Result]:
    incidents = args.incidents or DEFAULT_INCIDENTS[backend.key]
    shape = Shape(incidents=incidents, histories=incidents * HISTORIES_PER_INCIDENT)
    load_s: float | None = None
    if args.reuse and backend.exists():
        url = backend.url
        backend.drop_index()
        people = asyncio.run(load_people(url))
        found = backend.counts()
        if found[0] != shape.incidents:
            raise BenchError(
                f"{backend.name}: the kept database holds {found[0]:,} incidents, not "
                f"{shape.incidents:,}; run without --reuse"
            )
        shape = Shape(incidents=found[0], histories=found[1])
        _log(f"{backend.name}: reusing {found[0]:,} incidents and {found[1]:,} history rows")
    else:
        _log(f"{backend.name}: fresh database, migrations and default data")
        started = time.perf_counter()
        url = backend.fresh()
        prepare_database(url)
        people = asyncio.run(add_people(url))
        spreads = Spreads.of(people)
        backend.load(shape, people, spreads)
        _log(f"{backend.name}: analyze")
        backend.analyze()
        load_s = time.perf_counter() - started
        found = backend.counts()
        _log(
            f"{backend.name}: {found[0]:,} incidents and {found[1]:,} history rows "
            f"in {load_s:.0f} s"
        )
    version = backend.version()
    results = []
    variants = [("schema of the migrations", False)]
    if args.try_index:
        variants.append((f"with candidate index: {index_ddl(args.try_index)}", True))
    for label, with_index in variants:
        if with_index:
            _log(f"{backend.name}: candidate index: {index_ddl(args.try_index)}")
            backend.create_index(index_ddl(args.try_index))
        listing, history = asyncio.run(
            _measure(backend, url, people, shape, args, label, explain=not args.no_explain)
        )
        result = Result(
            backend=backend.name,
            version=version,
            label=label,
            incidents=shape.incidents,
            histories=shape.histories,
            listing=listing,
            history=history,
            load_s=load_s,
        )
        _log(summary(result))
        results.append(result)
    if args.try_index:
        backend.drop_index()
    return results


def summary(r: Result) -> str:
    rows = r.history.rows
    return (
        f"{r.backend} ({r.label}): list http p50 {r.listing.http.p(0.5):.1f} / p95 "
        f"{r.listing.http.p(0.95):.1f} / p99 {r.listing.http.p(0.99):.1f} ms, service p95 "
        f"{r.listing.service.p(0.95):.1f}, hand p95 {r.listing.hand.p(0.95):.1f}, "
        f"mismatches {r.listing.mismatches}, totals {min(r.listing.totals):,} to "
        f"{max(r.listing.totals):,}; histories http p50 {r.history.http.p(0.5):.1f} / p95 "
        f"{r.history.http.p(0.95):.1f} / p99 {r.history.http.p(0.99):.1f} ms, service p95 "
        f"{r.history.service.p(0.95):.1f}, hand p95 {r.history.hand.p(0.95):.1f}, mismatches "
        f"{r.history.mismatches}, rows returned {min(rows, default=0)} to {max(rows, default=0)} "
        f"(mean {statistics.fmean(rows) if rows else 0:.0f}); other load {r.listing.cpu.cores} / "
        f"{r.history.cpu.cores} cores"
    )


# --------------------------------------------------------------------------- report


def machine_lines(results: Sequence[Result], background: float | None) -> list[str]:
    model = cpu_model()
    versions = sorted({r.version for r in results})
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPUs: {os.cpu_count()} x {model}",
        f"- Python {platform.python_version()}; " + "; ".join(versions),
        "- background load before the run: "
        + (f"{background:.2f} cores busy" if background is not None else "unknown"),
    ]


def _ms(value: float) -> str:
    return f"{value:.1f} ms"


def result_table(results: Sequence[Result]) -> list[str]:
    lines = [
        "| backend | schema | query | rows in table | answer | HTTP p50 | p95 | p99 "
        "| service p50 | p95 | hand SQL p50 | p95 | HTTP / hand p95 | service / hand p95 "
        "| mismatches | other load (cores) | target | verdict |",
        "|---|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in results:
        schema = "+ candidate index" if r.label.startswith("with") else "migrations"
        for what, m, table_rows, target in (
            ("list", r.listing, r.incidents, LIST_TARGET_MS),
            ("histories", r.history, r.histories, HISTORY_TARGET_MS),
        ):
            if what == "list":
                answer = f"{PER_PAGE} of {min(m.totals):,} to {max(m.totals):,}"
            else:
                answer = (
                    f"{min(m.rows, default=0):,} to {max(m.rows, default=0):,} rows "
                    f"(mean {statistics.fmean(m.rows) if m.rows else 0:.0f})"
                )
            lines.append(
                f"| {r.backend} | {schema} | {what} | {table_rows:,} | {answer} "
                f"| {_ms(m.http.p(0.5))} | {_ms(m.http.p(0.95))} | {_ms(m.http.p(0.99))} "
                f"| {_ms(m.service.p(0.5))} | {_ms(m.service.p(0.95))} "
                f"| {_ms(m.hand.p(0.5))} | {_ms(m.hand.p(0.95))} "
                f"| {m.ratio_p95:.2f}x | {m.service_ratio_p95:.2f}x | {m.mismatches} "
                f"| {m.cpu.cores} "
                f"| p95 < {target:.0f} ms | {'PASS' if m.http.p(0.95) < target else 'FAIL'} |"
            )
    return lines


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--calls", type=int, default=300, help="measured calls per way")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up calls per way")
    parser.add_argument(
        "--incidents",
        type=int,
        default=0,
        help="incidents to load (default 1,000,000 on PostgreSQL, 200,000 on SQLite); "
        f"history rows are {HISTORIES_PER_INCIDENT} times as many",
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the requests")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    parser.add_argument("--no-explain", action="store_true", help="do not print the plans")
    parser.add_argument(
        "--try-index",
        default="",
        metavar="COLUMNS",
        help="also measure with a candidate index on incidents (columns, comma-separated)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with 2 on a missed target or a mismatch"
    )
    args = parser.parse_args(argv)
    if args.try_index and not all(
        part.strip().isidentifier() for part in args.try_index.split(",")
    ):
        parser.error("--try-index: column names separated by commas")
    if args.calls < 1 or args.warmup < 0 or args.incidents < 0:
        parser.error("--calls must be positive, --warmup and --incidents ≥ 0")
    if args.incidents and args.incidents < 100:
        parser.error("--incidents: at least 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    names = chosen_backends(args.backends)
    if names is None:
        return 1
    background = warn_if_busy("the latencies will be higher")
    keep = args.keep or args.reuse
    results: list[Result] = []
    try:
        for name in names:
            backend: Backend
            if name == "sqlite":
                backend = SqliteBackend(keep=keep)
            else:
                server_url = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
                backend = PostgresBackend(server_url, keep=keep)
            try:
                results += bench_backend(backend, args)
            finally:
                backend.cleanup()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print()
    print("\n".join(machine_lines(results, background)))
    for backend_name, load_s in {r.backend: r.load_s for r in results}.items():
        if load_s is not None:
            print(f"- {backend_name}: data built in {load_s:.0f} s")
    print()
    print("\n".join(result_table(results)))
    print()
    if args.try_index:
        print(json.dumps({"candidate_index": index_ddl(args.try_index)}))
    failed = [r.backend for r in results if r.listing.mismatches or r.history.mismatches]
    if failed:
        print(f"\nERROR: the three ways disagree on {', '.join(sorted(set(failed)))}")
        return 1
    missed = any(
        r.listing.http.p(0.95) >= LIST_TARGET_MS or r.history.http.p(0.95) >= HISTORY_TARGET_MS
        for r in results
        if not r.label.startswith("with")
    )
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
