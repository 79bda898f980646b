"""Benchmark: "who is on duty" (``assignment.shifts.on_duty``) against loading every override.

The requirement: "who is on duty" answers in < 5 ms for a scenario with 50 people and a
year of overrides. For each backend (SQLite, PostgreSQL), in one run:

1. a fresh database made ready with ``opsdesk.bootstrap.prepare_database``;
2. the scenario, built through the real services (``create_user``, ``create_scene``,
   ``add_role``, ``add_rotation``, ``add_override``): one scene in Europe/Berlin, one role
   staffed by 50 technicians in three rotations (weekly of all 50, daily of 10, a weekday
   09:00-17:00 window of 5), a year of overrides for it (3 a day of 2-12 hours, plus long
   and duplicate ones that overlap them), and 10 more roles in three scenes with a year of
   overrides each, so that the table holds about 12,000 rows. The bulk of the overrides
   goes in with ``insert(ShiftOverride)``; a sample of each role's goes through the service;
3. N calls of ``on_duty`` at random moments across the year, each in its own ``db.read()``
   session as the API route does, after a warm-up;
4. the naive way, measured on the same moments: load every override and every rotation of
   the role and compute in Python (``rotation.on_duty``). Both ways run in alternating
   blocks of 100 calls, with a garbage collection (not timed) between blocks, so that
   neither pays for the other's garbage. The ratio cancels out how fast this host is today;
5. both answers compared on every sampled moment, and on the edges of 200 overrides
   (at and 1 µs before ``starts_at`` and ``ends_at``); mismatches must be 0.

Usage::

    .venv/bin/python bench/on_duty.py [--calls 2000] [--backends sqlite,postgres]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the database ``opsdesk_bench_onduty`` on it
is dropped and created anew, and dropped again at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import importlib.metadata
import os
import platform
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from machine import BUSY_WARNING_CORES, chosen_backends, cpu_model, warn_if_busy
from machine import log as _log
from machine import machine_cpu_s as _machine_cpu_s
from machine import on_sigterm as _on_sigterm
from machine import percentile as _percentile
from machine import postgres_cpu_s as _postgres_cpu_s
from opsdesk.assignment import rotation as rotations
from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.models import ShiftOverride, ShiftRole, ShiftRotation, ShiftScene
from opsdesk.assignment.schemas import OverrideCreate, RoleCreate, RotationCreate, SceneCreate
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.database import Database

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
BENCH_DATABASE = "opsdesk_bench_onduty"
TARGET_MS = 5.0

# The scenario.
SCENE = "bench-eu"
ROLE = "primary"
TIME_ZONE = "Europe/Berlin"
PEOPLE = 50
YEAR_DAYS = 365
FIRST_DAY = date(2026, 12, 1)  # overrides and sampled moments cover FIRST_DAY + 365 days
ROTATION_START = date(2026, 11, 30)  # a Monday
OTHER_SCENES = (("bench-eu", TIME_ZONE), ("bench-us", "America/New_York"), ("bench-ap", "UTC"))
LONG_OVERRIDES = 24  # 1-7 days each, on top of the daily ones
DUPLICATE_OVERRIDES = 12  # the same range as an earlier one, another person: the later wins
VIA_SERVICE = 30  # overrides per role that go through assignment_shifts.add_override
INSERT_BATCH = 2_000
EDGE_OVERRIDES = 200  # overrides whose edges are checked (4 moments each)
BLOCK = 100  # measured calls of one way in a row


class BenchError(Exception):
    """The benchmark could not be run as asked; the message says why."""


# --------------------------------------------------------------------------- backends


class SqliteBackend:
    name = "SQLite"

    def __init__(self, work_dir: Path) -> None:
        self.path = work_dir / "on_duty.db"
        self.url = f"sqlite+aiosqlite:///{self.path}"

    def prepare(self) -> str:
        self.path.unlink(missing_ok=True)
        return self.url

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def explain(self, role_id: int, at: datetime) -> list[str]:
        """The plan of the service's covering-overrides query (the same SQL, by hand)."""
        moment = at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        with contextlib.closing(sqlite3.connect(self.path)) as connection:
            rows = connection.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM shift_overrides "
                "WHERE role_id = ? AND ends_at > ? AND starts_at <= ?",
                (role_id, moment, moment),
            ).fetchall()
        return [str(row[-1]) for row in rows]

    def after_load(self) -> None:
        """Nothing: the application never runs ANALYZE on SQLite, so neither does this."""

    def cleanup(self) -> None:
        """The file lives in the run's temporary directory, which the run removes."""


class PostgresBackend:
    name = "PostgreSQL"

    def __init__(self, server_url: str, *, keep: bool) -> None:
        base = make_url(server_url)
        self.admin_url = base.set(drivername="postgresql", database="postgres").render_as_string(
            hide_password=False
        )
        self.bench_url = base.set(drivername="postgresql", database=BENCH_DATABASE)
        self.url = self.bench_url.set(drivername="postgresql+asyncpg").render_as_string(
            hide_password=False
        )
        self.keep = keep
        self.created = False

    def _execute(self, url: str, statement: str, *params: object) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
            cursor = connection.execute(statement.encode(), params or None)
            return cursor.fetchall() if cursor.description else []

    def _bench(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        return self._execute(
            self.bench_url.render_as_string(hide_password=False), statement, *params
        )

    def prepare(self) -> str:
        try:
            self._execute(self.admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            self._execute(self.admin_url, f"CREATE DATABASE {BENCH_DATABASE}")
        except Exception as exc:
            raise BenchError(f"PostgreSQL at {self.admin_url}: {exc}") from exc
        self.created = True
        return self.url

    def version(self) -> str:
        return f"PostgreSQL {self._bench('SHOW server_version')[0][0]}"

    def explain(self, role_id: int, at: datetime) -> list[str]:
        rows = self._bench(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM shift_overrides "
            "WHERE role_id = %s AND ends_at > %s AND starts_at <= %s",
            role_id,
            at,
            at,
        )
        return [str(row[0]) for row in rows]

    def after_load(self) -> None:
        # What autovacuum does within a minute of a bulk load: run it now, so that the plan
        # does not change in the middle of the measurement.
        self._bench("VACUUM ANALYZE")

    def cleanup(self) -> None:
        if self.created and not self.keep:
            with contextlib.suppress(Exception):
                self._execute(
                    self.admin_url, f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"
                )


Backend = SqliteBackend | PostgresBackend


# --------------------------------------------------------------------------- the scenario


@dataclass
class Scenario:
    role_id: int
    people: list[str]
    overrides: int = 0  # of the measured role
    overrides_total: int = 0  # in the table
    roles_total: int = 0
    rotations: int = 0
    edges: list[datetime] = field(default_factory=list)
    # (starts_at, ends_at) of the measured role's overrides, for the range statistics.
    ranges: list[tuple[datetime, datetime]] = field(default_factory=list)


def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """``minutes`` after local midnight of ``day``, as an aware UTC datetime."""
    midnight = datetime.combine(day, clock_time(0, 0), tzinfo=tz).astimezone(UTC)
    return midnight + timedelta(minutes=minutes)


def year_of_overrides(
    rng: random.Random, people: Sequence[str], tz: ZoneInfo, per_day: int
) -> list[tuple[str, datetime, datetime, str]]:
    """(user, starts_at, ends_at, reason) for a year, in the order they are created."""
    found: list[tuple[str, datetime, datetime, str]] = []
    for offset in range(YEAR_DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        for _ in range(per_day):
            starts_at = _local(day, rng.randrange(0, 24 * 4) * 15, tz)
            length = timedelta(minutes=rng.randrange(4, 25) * 30)  # 2-12 hours
            found.append((rng.choice(people), starts_at, starts_at + length, "swap"))
    for _ in range(LONG_OVERRIDES):
        day = FIRST_DAY + timedelta(days=rng.randrange(YEAR_DAYS - 7))
        starts_at = _local(day, rng.randrange(0, 24) * 60, tz)
        length = timedelta(hours=rng.randrange(24, 7 * 24 + 1))
        found.append((rng.choice(people), starts_at, starts_at + length, "cover while away"))
    for _ in range(DUPLICATE_OVERRIDES):
        _user, starts_at, ends_at, _reason = rng.choice(found)
        found.append((rng.choice(people), starts_at, ends_at, "takes over the swap"))
    # Shuffled, so that the creation order (the id, which decides overlaps) is not the
    # time order.
    rng.shuffle(found)
    return found


async def _add_overrides(
    db: Database,
    caller: Caller,
    scene: str,
    role: str,
    role_id: int,
    planned: Sequence[tuple[str, datetime, datetime, str]],
    now: datetime,
) -> None:
    """The first VIA_SERVICE through the service, the rest with Core inserts in batches."""
    async with db.write() as session:
        for user_id, starts_at, ends_at, reason in planned[:VIA_SERVICE]:
            await assignment_shifts.add_override(
                session=session,
                caller=caller,
                scene_key=scene,
                role_key=role,
                data=OverrideCreate(
                    user_id=user_id, starts_at=starts_at, ends_at=ends_at, reason=reason
                ),
                now=now,
            )
    rest = planned[VIA_SERVICE:]
    for first in range(0, len(rest), INSERT_BATCH):
        rows = [
            {
                "role_id": role_id,
                "user_id": user_id,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "reason": reason,
                "created_by": caller.user_id,
                "created_at": now,
            }
            for user_id, starts_at, ends_at, reason in rest[first : first + INSERT_BATCH]
        ]
        async with db.write() as session:
            await session.execute(insert(ShiftOverride), rows)


async def build_scenario(
    db: Database, rng: random.Random, *, per_day: int, other_roles: int
) -> Scenario:
    now = datetime.now(UTC)
    tz = ZoneInfo(TIME_ZONE)
    async with db.write() as session:
        admin_user = await auth_service.create_user(
            session=session,
            data=UserCreate(email="admin@bench.test", role=Role.ADMIN),
            now=now,
        )
        people = []
        for number in range(1, PEOPLE + 1):
            user = await auth_service.create_user(
                session=session,
                data=UserCreate(
                    email=f"tech{number:02d}@bench.test",
                    name=f"Technician {number:02d}",
                    role=Role.TECHNICIAN,
                ),
                now=now,
            )
            people.append(user.id)
    admin = auth_service.caller_of(admin_user)

    async with db.write() as session:
        for key, time_zone in OTHER_SCENES:
            await assignment_shifts.create_scene(
                session=session,
                caller=admin,
                data=SceneCreate(key=key, name=key, time_zone=time_zone, kind="rotating"),
                now=now,
            )
        role = await assignment_shifts.add_role(
            session=session,
            caller=admin,
            scene_key=SCENE,
            data=RoleCreate(key=ROLE, name="Primary on call"),
            now=now,
        )
        everyone = rng.sample(people, len(people))
        layers = [
            RotationCreate(
                name="business hours",
                members=rng.sample(people, 5),
                start_date=ROTATION_START,
                handoff=clock_time(9, 0),
                turn_days=7,
                priority=10,
                weekdays=[1, 2, 3, 4, 5],
                window_start=clock_time(9, 0),
                window_end=clock_time(17, 0),
            ),
            RotationCreate(
                name="daily",
                members=rng.sample(people, 10),
                start_date=ROTATION_START,
                handoff=clock_time(8, 0),
                turn_days=1,
                priority=20,
            ),
            RotationCreate(
                name="weekly",
                members=everyone,
                start_date=ROTATION_START,
                handoff=clock_time(9, 0),
                turn_days=7,
                priority=30,
            ),
        ]
        for layer in layers:
            await assignment_shifts.add_rotation(
                session=session,
                caller=admin,
                scene_key=SCENE,
                role_key=ROLE,
                data=layer,
                now=now,
            )
        others = []
        for number in range(1, other_roles + 1):
            scene_key, time_zone = OTHER_SCENES[number % len(OTHER_SCENES)]
            other = await assignment_shifts.add_role(
                session=session,
                caller=admin,
                scene_key=scene_key,
                data=RoleCreate(key=f"role{number:02d}", name=f"Role {number:02d}"),
                now=now,
            )
            await assignment_shifts.add_rotation(
                session=session,
                caller=admin,
                scene_key=scene_key,
                role_key=other.key,
                data=RotationCreate(
                    name="daily",
                    members=rng.sample(people, 10),
                    start_date=ROTATION_START,
                    turn_days=1,
                ),
                now=now,
            )
            others.append((scene_key, other.key, other.id, ZoneInfo(time_zone)))

    scenario = Scenario(role_id=role.id, people=people)
    # The measured role's overrides first, then the others': their ids interleave in the
    # table in blocks, as they would when several teams plan ahead.
    planned = year_of_overrides(rng, people, tz, per_day)
    await _add_overrides(db, admin, SCENE, ROLE, role.id, planned, now)
    scenario.ranges = [(starts_at, ends_at) for _, starts_at, ends_at, _ in planned]
    for scene_key, role_key, role_id, role_tz in others:
        other_planned = year_of_overrides(rng, people, role_tz, per_day)
        await _add_overrides(db, admin, scene_key, role_key, role_id, other_planned, now)

    async with db.read() as session:
        scenario.overrides = int(
            await session.scalar(
                select(func.count())
                .select_from(ShiftOverride)
                .where(ShiftOverride.role_id == role.id)
            )
            or 0
        )
        scenario.overrides_total = int(
            await session.scalar(select(func.count()).select_from(ShiftOverride)) or 0
        )
        scenario.roles_total = int(
            await session.scalar(select(func.count()).select_from(ShiftRole)) or 0
        )
        scenario.rotations = int(
            await session.scalar(select(func.count()).select_from(ShiftRotation)) or 0
        )
    tick = timedelta(microseconds=1)
    for starts_at, ends_at in rng.sample(scenario.ranges, EDGE_OVERRIDES):
        scenario.edges += [starts_at - tick, starts_at, ends_at - tick, ends_at]
    return scenario


# --------------------------------------------------------------------------- the two ways


async def naive_on_duty(db: Database, at: datetime) -> rotations.OnDuty:
    """The baseline: every override and rotation of the role, filtered in Python."""
    async with db.read() as session:
        found = await session.execute(
            select(ShiftRole.id, ShiftScene.time_zone)
            .join(ShiftScene, ShiftScene.key == ShiftRole.scene_key)
            .where(ShiftRole.scene_key == SCENE, ShiftRole.key == ROLE)
        )
        role_id, time_zone = found.one()
        every = await session.scalars(select(ShiftOverride).where(ShiftOverride.role_id == role_id))
        overrides = [
            rotations.Override(
                id=o.id,
                user_id=o.user_id,
                starts_at=o.starts_at,
                ends_at=o.ends_at,
                reason=o.reason,
            )
            for o in every
        ]
        layers = await session.scalars(
            select(ShiftRotation).where(ShiftRotation.role_id == role_id)
        )
        rotation_list = [
            rotations.Rotation(
                id=r.id,
                name=r.name,
                members=tuple(r.members),
                start_date=r.start_date,
                end_date=r.end_date,
                handoff=r.handoff,
                turn_days=r.turn_days,
                priority=r.priority,
                weekdays=tuple(r.weekdays) or rotations.ALL_WEEKDAYS,
                window_start=r.window_start,
                window_end=r.window_end,
            )
            for r in layers
        ]
    return rotations.on_duty(
        rotations=rotation_list, overrides=overrides, at=at, tz=rotations.zone(time_zone)
    )


async def service_on_duty(db: Database, at: datetime) -> rotations.OnDuty:
    async with db.read() as session:
        return await assignment_shifts.on_duty(session=session, scene=SCENE, role=ROLE, at=at)


def _turn_key(turn: rotations.Turn | None) -> tuple[Any, ...] | None:
    if turn is None:
        return None
    return (turn.rotation.id, turn.user_id, turn.index, turn.starts_at, turn.ends_at)


def answer_key(duty: rotations.OnDuty) -> tuple[Any, ...]:
    """Everything the route returns: person, override, turn and fallbacks."""
    return (
        duty.user_id,
        None if duty.override is None else (duty.override.id, duty.override.user_id),
        _turn_key(duty.turn),
        tuple(_turn_key(turn) for turn in duty.fallbacks),
        duty.reason,
    )


def _kind(duty: rotations.OnDuty) -> str:
    if duty.override is not None:
        return "override"
    if duty.turn is not None:
        return f"rotation '{duty.turn.rotation.name}'"
    return "nobody"


# --------------------------------------------------------------------------- CPU accounting


def _own_cpu_s() -> float:
    """CPU seconds of this process, all threads (aiosqlite's included)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


@dataclass
class CpuWindow:
    """Where the CPU went during the measured calls: this process (the client and, on
    SQLite, the database), PostgreSQL, and the rest of the machine (someone else)."""

    elapsed: float = 0.0
    own: float = 0.0
    postgres: float | None = None
    machine: float | None = None
    _start: dict[str, float | None] = field(default_factory=dict)

    def _now(self) -> dict[str, float | None]:
        return {
            "time": time.monotonic(),
            "own": _own_cpu_s(),
            "postgres": _postgres_cpu_s(),
            "machine": _machine_cpu_s(),
        }

    def __enter__(self) -> CpuWindow:
        self._start = self._now()
        return self

    def __exit__(self, *_exc: object) -> None:
        end = self._now()

        def delta(key: str) -> float | None:
            first, last = self._start.get(key), end.get(key)
            return None if first is None or last is None else last - first

        self.elapsed = delta("time") or 0.0
        self.own = delta("own") or 0.0
        self.postgres = delta("postgres")
        self.machine = delta("machine")

    def cores(self, seconds: float | None) -> str:
        if seconds is None or not self.elapsed:
            return "n/a"
        return f"{seconds / self.elapsed:.2f}"

    @property
    def other(self) -> float | None:
        if self.machine is None or self.postgres is None:
            return None
        return max(0.0, self.machine - self.own - self.postgres)


# --------------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class Latencies:
    samples_ms: tuple[float, ...]

    @property
    def ordered(self) -> list[float]:
        return sorted(self.samples_ms)

    def p(self, fraction: float) -> float:
        return _percentile(self.ordered, fraction)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms) if self.samples_ms else 0.0


@dataclass
class BackendResult:
    backend: str
    version: str
    scenario: Scenario
    measured: Measured
    ours: Latencies
    naive: Latencies
    ours_first_month: Latencies
    ours_last_month: Latencies

    @property
    def mismatches(self) -> int:
        return self.measured.mismatches

    @property
    def edge_mismatches(self) -> int:
        return self.measured.edge_mismatches

    @property
    def ratio_p50(self) -> float:
        return self.naive.p(0.50) / self.ours.p(0.50) if self.ours.p(0.50) else 0.0

    @property
    def ratio_p95(self) -> float:
        return self.naive.p(0.95) / self.ours.p(0.95) if self.ours.p(0.95) else 0.0

    @property
    def met(self) -> bool:
        return self.ours.p(0.99) < TARGET_MS

    @property
    def passed(self) -> bool:
        return self.met and self.mismatches == 0 and self.edge_mismatches == 0


async def _timed(call: Any, db: Database, at: datetime) -> tuple[float, rotations.OnDuty]:
    started = time.perf_counter()
    duty = await call(db, at)
    return (time.perf_counter() - started) * 1000, duty


def random_moments(rng: random.Random, count: int) -> list[datetime]:
    start = _local(FIRST_DAY, 0, ZoneInfo(TIME_ZONE))
    seconds = YEAR_DAYS * 86_400
    return [start + timedelta(seconds=rng.uniform(0, seconds)) for _ in range(count)]


@dataclass
class Measured:
    moments: list[datetime]
    ours: list[float] = field(default_factory=list)
    naive: list[float] = field(default_factory=list)
    mismatches: int = 0
    edge_mismatches: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    cpu: CpuWindow = field(default_factory=CpuWindow)


async def measure(
    db: Database, scenario: Scenario, rng: random.Random, *, calls: int, warmup: int
) -> Measured:
    for at in random_moments(rng, warmup):
        await service_on_duty(db, at)
        await naive_on_duty(db, at)
    found = Measured(moments=random_moments(rng, calls))
    ways = (service_on_duty, naive_on_duty)
    with found.cpu:
        for first in range(0, calls, BLOCK):
            block = found.moments[first : first + BLOCK]
            answers: dict[Any, list[rotations.OnDuty]] = {}
            # Blocks of one way at a time, the order alternating, so that drift cancels
            # out; a collection between blocks, so that neither way pays for the other's
            # garbage (the naive way makes a great deal: see docs/benchmarks.md).
            order = ways if (first // BLOCK) % 2 == 0 else ways[::-1]
            for way in order:
                gc.collect()
                samples = found.ours if way is service_on_duty else found.naive
                answers[way] = []
                for at in block:
                    ms, duty = await _timed(way, db, at)
                    samples.append(ms)
                    answers[way].append(duty)
            for at, got, expected in zip(
                block, answers[service_on_duty], answers[naive_on_duty], strict=True
            ):
                found.kinds[_kind(expected)] += 1
                if answer_key(got) != answer_key(expected):
                    found.mismatches += 1
                    if found.mismatches <= 5:
                        _log(f"MISMATCH at {at.isoformat()}: service {got!r} vs naive {expected!r}")
    for at in scenario.edges:
        got = await service_on_duty(db, at)
        expected = await naive_on_duty(db, at)
        if answer_key(got) != answer_key(expected):
            found.edge_mismatches += 1
            if found.edge_mismatches <= 5:
                _log(f"EDGE MISMATCH at {at.isoformat()}: {got!r} vs {expected!r}")
    return found


def _month_slices(
    samples: Sequence[float], moments: Sequence[datetime]
) -> tuple[Latencies, Latencies]:
    """Latencies for moments in the first and in the last 30 days of the year."""
    start = _local(FIRST_DAY, 0, ZoneInfo(TIME_ZONE))
    end = start + timedelta(days=YEAR_DAYS)
    month = timedelta(days=30)
    first = tuple(ms for ms, at in zip(samples, moments, strict=True) if at < start + month)
    last = tuple(ms for ms, at in zip(samples, moments, strict=True) if at >= end - month)
    return Latencies(first), Latencies(last)


def _range_stats(scenario: Scenario, moments: Sequence[datetime]) -> tuple[float, float]:
    """On average, how many of the role's overrides end after the moment (what the index
    range ``role_id = ? AND ends_at > ?`` visits) and how many cover it."""
    ends = sorted(ends_at for _, ends_at in scenario.ranges)
    visited = covering = 0
    for at in moments:
        visited += len(ends) - bisect.bisect_right(ends, at)
        covering += sum(1 for starts_at, ends_at in scenario.ranges if starts_at <= at < ends_at)
    count = max(1, len(moments))
    return visited / count, covering / count


async def _build(url: str, args: argparse.Namespace) -> tuple[Scenario, float]:
    db = Database(url)
    try:
        started = time.perf_counter()
        scenario = await build_scenario(
            db, random.Random(args.seed), per_day=args.per_day, other_roles=args.other_roles
        )
        return scenario, time.perf_counter() - started
    finally:
        await db.dispose()


async def _measure(url: str, scenario: Scenario, args: argparse.Namespace) -> Measured:
    # A new Database, as a server process would open it: the data is there before it starts.
    db = Database(url)
    try:
        return await measure(
            db, scenario, random.Random(args.seed + 1), calls=args.calls, warmup=args.warmup
        )
    finally:
        await db.dispose()


def bench_backend(backend: Backend, args: argparse.Namespace) -> BackendResult:
    _log(f"{backend.name}: fresh database")
    url = backend.prepare()
    prepare_database(url)
    scenario, build_s = asyncio.run(_build(url, args))
    backend.after_load()
    _log(
        f"{backend.name}: scenario built in {build_s:.1f} s: {PEOPLE} technicians, "
        f"{scenario.roles_total} roles, {scenario.rotations} rotations, "
        f"{scenario.overrides:,} overrides for {SCENE}/{ROLE}, "
        f"{scenario.overrides_total:,} in the table"
    )
    middle = _local(FIRST_DAY + timedelta(days=YEAR_DAYS // 2), 12 * 60, ZoneInfo(TIME_ZONE))
    for line in backend.explain(scenario.role_id, middle):
        _log(f"{backend.name}: plan of the covering-overrides query (mid-year): {line}")
    _log(
        f"{backend.name}: {args.warmup} warm-up calls, then {args.calls:,} calls each way, "
        f"in alternating blocks of {BLOCK}"
    )
    measured = asyncio.run(_measure(url, scenario, args))
    visited, covering = _range_stats(scenario, measured.moments)
    _log(
        f"{backend.name}: sampled moments answered by "
        + ", ".join(f"{kind} {count}" for kind, count in measured.kinds.most_common())
        + f"; on average {covering:.2f} overrides cover a moment and the index range "
        f"(role_id, ends_at > at) holds {visited:.0f} of the role's {scenario.overrides:,}"
    )
    first, last = _month_slices(measured.ours, measured.moments)
    result = BackendResult(
        backend=backend.name,
        version=backend.version(),
        scenario=scenario,
        measured=measured,
        ours=Latencies(tuple(measured.ours)),
        naive=Latencies(tuple(measured.naive)),
        ours_first_month=first,
        ours_last_month=last,
    )
    cpu = measured.cpu
    _log(
        f"{backend.name}: on_duty p50 {result.ours.p(0.5):.2f} ms, p95 {result.ours.p(0.95):.2f}, "
        f"p99 {result.ours.p(0.99):.2f}, mean {result.ours.mean:.2f}; naive p50 "
        f"{result.naive.p(0.5):.2f} ms, p95 {result.naive.p(0.95):.2f}; "
        f"first 30 days p95 {first.p(0.95):.2f} ms ({len(first.samples_ms)} calls), "
        f"last 30 days p95 {last.p(0.95):.2f} ms ({len(last.samples_ms)} calls); "
        f"mismatches {measured.mismatches} of {len(measured.moments):,}, "
        f"{measured.edge_mismatches} of {len(scenario.edges)} edge moments"
    )
    _log(
        f"{backend.name}: cores busy during the {cpu.elapsed:.0f} s of measured calls: "
        f"this process {cpu.cores(cpu.own)}, PostgreSQL {cpu.cores(cpu.postgres)}, "
        f"rest of the machine {cpu.cores(cpu.other)}"
    )
    if cpu.other is not None and cpu.elapsed and cpu.other / cpu.elapsed > BUSY_WARNING_CORES:
        _log(
            f"WARNING: something else kept {cpu.other / cpu.elapsed:.2f} cores busy during "
            f"the {backend.name} measurement; its latencies are inflated"
        )
    return result


# --------------------------------------------------------------------------- report


def _package(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def machine_lines(results: Sequence[BackendResult], background: float | None) -> list[str]:
    model = cpu_model()
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    packages = ", ".join(
        f"{name} {_package(name)}" for name in ("sqlalchemy", "asyncpg", "aiosqlite")
    )
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPUs: {os.cpu_count()} x {model}; memory {memory}",
        f"- Python {platform.python_version()}; {packages}; "
        + "; ".join(result.version for result in results),
        "- background load before the run: "
        + (
            f"{background:.2f} of {os.cpu_count()} cores busy"
            if background is not None
            else "unknown"
        ),
    ]


def result_table(results: Sequence[BackendResult]) -> list[str]:
    lines = [
        "| backend | overrides (role / table) | on_duty p50 | p95 | p99 | mean "
        "| p95 first / last 30 days | naive p50 | naive p95 | naive/ours p50 | naive/ours p95 "
        "| mismatches | other load (cores) "
        f"| target p99 < {TARGET_MS:.0f} ms |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in results:
        s = r.scenario
        lines.append(
            f"| {r.backend} | {s.overrides:,} / {s.overrides_total:,} "
            f"| {r.ours.p(0.50):.2f} ms | {r.ours.p(0.95):.2f} ms | {r.ours.p(0.99):.2f} ms "
            f"| {r.ours.mean:.2f} ms "
            f"| {r.ours_first_month.p(0.95):.2f} / {r.ours_last_month.p(0.95):.2f} ms "
            f"| {r.naive.p(0.50):.2f} ms | {r.naive.p(0.95):.2f} ms "
            f"| {r.ratio_p50:.1f}x | {r.ratio_p95:.1f}x "
            f"| {r.mismatches} of {len(r.ours.samples_ms):,}, "
            f"edges {r.edge_mismatches} of {len(r.scenario.edges)} "
            f"| {r.measured.cpu.cores(r.measured.cpu.other)} "
            f"| {'PASS' if r.met else 'FAIL'} |"
        )
    return lines


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2_000, help="measured calls per way")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up calls per way")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--per-day", type=int, default=3, help="overrides per day and role")
    parser.add_argument("--other-roles", type=int, default=10, help="roles besides the measured")
    parser.add_argument("--seed", type=int, default=20261130, help="random seed")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--strict", action="store_true", help="exit with 2 on a missed target or a mismatch"
    )
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0 or args.per_day < 1 or args.other_roles < 0:
        parser.error("--calls and --per-day must be positive, --warmup and --other-roles ≥ 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    names = chosen_backends(args.backends)
    if names is None:
        return 1
    background = warn_if_busy("the latencies will be higher")
    work_dir = Path(tempfile.mkdtemp(prefix="opsdesk-bench-onduty-"))
    results: list[BackendResult] = []
    try:
        for name in names:
            backend: Backend
            if name == "sqlite":
                backend = SqliteBackend(work_dir)
            else:
                server_url = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
                backend = PostgresBackend(server_url, keep=args.keep)
            try:
                results.append(bench_backend(backend, args))
            finally:
                backend.cleanup()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    print()
    print("\n".join(machine_lines(results, background)))
    print()
    print("\n".join(result_table(results)))
    failed = [r.backend for r in results if r.mismatches or r.edge_mismatches]
    if failed:
        print(f"\nERROR: the service and the naive way disagree on {', '.join(failed)}")
    if args.strict and not all(result.passed for result in results):
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
