"""Benchmark: similarity suggestions over 100,000 incidents and 5,000 articles (issue 30).

The requirement: ``GET /api/v1/suggestions`` answers p95 < 50 ms on SQLite and PostgreSQL
with 100,000 incidents and 5,000 articles, and the index maintenance adds < 10 % to the
create rate measured in the same run. For each backend, in one run:

1. a scratch database with our migrations (so the index triggers of 0021 are in place);
   100,000 incidents and 5,000 published articles inserted in bulk (the triggers index every
   row as it lands). Texts: the 220 labelled texts and 22 articles of
   ``tests/data/suggestions_eval.json``, each copy varied with a city, an asset tag and five
   words drawn from a 5,000-word synthetic vocabulary, so the index holds ~20,000 distinct
   terms and every common word ("printer", "outlook") matches thousands of rows. 20 % of
   the incidents are open, 10 % resolved in the last 30 days, the rest resolved long ago
   (indexed, filtered out by the query); then ``ANALYZE`` / ``VACUUM ANALYZE`` and, on SQLite,
   the FTS5 ``optimize``;
2. after a warm-up, suggestions through the real HTTP stack (``httpx.ASGITransport`` on
   ``create_app``, a technician's and an end user's API token): whole labelled texts and
   as-you-type prefixes (the first three words, ``typing=true``), with the embedding fusion
   off (lexical) and on (the ``ai`` extra, when installed);
3. the create rate: incidents through ``incidents.creation.create_incident``, one transaction
   each as the API does, in 16 blocks in ABBA order with the index triggers enabled and disabled
   (PostgreSQL ``ALTER TABLE … DISABLE TRIGGER``; SQLite drops and re-creates them). On
   SQLite new incidents are indexed in batches (migration 0025): each block with the index
   ends by indexing what still waits, inside the timed span, so every created incident's
   indexing is paid for in the figure.

Usage::

    PYTHONPATH=src .venv/bin/python bench/suggestions.py [--backends sqlite,postgres]
        [--incidents 100000] [--articles 5000] [--calls 300] [--creates 4000] [--keep]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise (database ``opsdesk_bench_suggest``, dropped
at the end unless ``--keep``); SQLite uses ``/tmp/opsdesk-bench-suggest/suggest.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from machine import chosen_backends, cpu_model, percentile, warn_if_busy
from machine import log as _log
from opsdesk.app import create_app
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.fields import Status
from opsdesk.incidents.models import Incident
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.knowledge import search_index
from opsdesk.knowledge.embeddings import installed_embedder
from opsdesk.knowledge.models import Article

TARGET_MS = 50.0
TARGET_OVERHEAD = 0.10
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "opsdesk_bench_suggest"
SQLITE_PATH = Path(tempfile.gettempdir()) / "opsdesk-bench-suggest" / "suggest.db"
EVAL_SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "suggestions_eval.json"
BATCH = 2000
BLOCKS = 16  # create-rate blocks, half with the index
SITES = ("Berlin", "Dublin", "Lyon", "Porto", "Warsaw", "Madrid", "Oslo", "Milan")


@dataclass(frozen=True)
class Latency:
    backend: str
    case: str
    calls: int
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class Creates:
    backend: str
    with_index: float
    without_index: float

    @property
    def overhead(self) -> float:
        return 1 - self.with_index / self.without_index


def vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    return [
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
        for _ in range(size)
    ]


def varied(rng: random.Random, words: Sequence[str], base: str) -> str:
    extra = " ".join(rng.sample(list(words), 5))
    return f"{base} ({rng.choice(SITES)}, LT-{rng.randint(1000, 99999)}) {extra}."


async def fill(db: Database, args: argparse.Namespace, rng: random.Random) -> dict[str, str]:
    data = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    texts = [t for issue in data["issues"] for t in issue["texts"]]
    articles = [issue["article"] for issue in data["issues"]] + data["distractors"]
    words = vocabulary(rng)
    now = datetime.now(UTC)
    async with db.write() as session:
        tech = await auth_service.create_user(
            session=session,
            data=UserCreate(email="tech@bench.test", role=Role.TECHNICIAN),
            now=now,
        )
        user = await auth_service.create_user(
            session=session, data=UserCreate(email="user@bench.test"), now=now
        )
        tokens = {}
        for who in (tech, user):
            _row, tokens[who.email] = await auth_service.create_token(
                session=session, user_id=who.id, name="bench", now=now
            )
    started = time.perf_counter()
    for first in range(0, args.incidents, BATCH):
        rows: list[dict[str, Any]] = []
        for i in range(first, min(args.incidents, first + BATCH)):
            body = varied(rng, words, rng.choice(texts))
            created = now - timedelta(days=rng.uniform(0, 400))
            roll = rng.random()
            if roll < 0.2:
                status, resolved = rng.choice([Status.TRIGGERED, Status.ACKNOWLEDGED]), None
            elif roll < 0.3:
                status, resolved = Status.RESOLVED, now - timedelta(days=rng.uniform(0, 29))
            else:
                status, resolved = Status.COMPLETED, now - timedelta(days=rng.uniform(31, 400))
            rows.append(
                {
                    "number": f"IMB{i:09d}",
                    "title": body.split(". ", 1)[0][:200],
                    "description": body,
                    "level": "level_30",
                    "source": "api",
                    "channel": "api",
                    "creator_id": user.id if i % 50 == 0 else tech.id,
                    "reporter_id": user.id if i % 50 == 0 else tech.id,
                    "status": status.value,
                    "created_at": created,
                    "updated_at": resolved or created,
                    "resolved_at": resolved,
                    "solution": "Followed the knowledge article." if resolved else None,
                }
            )
        async with db.write() as session:
            await session.execute(insert(Incident), rows)
    _log(f"{args.incidents:,} incidents in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    for first in range(0, args.articles, BATCH):
        article_rows = []
        for i in range(first, min(args.articles, first + BATCH)):
            spec = articles[i % len(articles)]
            article_rows.append(
                {
                    "title": spec["title"] if i < len(articles) else f"{spec['title']} ({i})",
                    "body": varied(rng, words, spec["body"]),
                    "workaround": spec["workaround"],
                    "keywords": spec["keywords"],
                    "status": "published",
                    "visibility": "public" if i % 3 else "staff",
                    "author_id": tech.id,
                    "created_at": now,
                    "updated_at": now,
                    "published_at": now,
                }
            )
        async with db.write() as session:
            await session.execute(insert(Article), article_rows)
    _log(f"{args.articles:,} articles in {time.perf_counter() - started:.0f} s")
    return tokens


def queries(rng: random.Random, count: int) -> list[tuple[str, bool]]:
    data = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    texts = [t for issue in data["issues"] for t in issue["texts"]]
    picked: list[tuple[str, bool]] = []
    for _ in range(count):
        whole = rng.choice(texts)
        if rng.random() < 0.3:
            picked.append((" ".join(whole.split()[:3]), True))
        else:
            picked.append((whole, False))
    return picked


async def measure(
    db: Database, backend: str, tokens: dict[str, str], args: argparse.Namespace
) -> list[Latency]:
    results = []
    for embeddings in (False, True):
        if embeddings and installed_embedder() is None:
            _log("the ai extra is not installed: no fused figures")
            continue
        settings = Settings(
            data_dir=Path(tempfile.gettempdir()) / "opsdesk-bench-suggest",
            secret_key="bench-secret-key-" + "x" * 32,
            suggest_embeddings=embeddings,
        )
        app = create_app(settings, db=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for email, who in (("tech@bench.test", "staff"), ("user@bench.test", "end user")):
                headers = {"Authorization": f"Bearer {tokens[email]}"}
                rng = random.Random(7)
                cases = queries(rng, args.calls)
                for query, typing in cases[:20]:  # warm-up
                    await client.get(
                        "/api/v1/suggestions",
                        params={"text": query, "typing": typing},
                        headers=headers,
                    )
                timings = []
                for query, typing in cases:
                    started = time.perf_counter()
                    answer = await client.get(
                        "/api/v1/suggestions",
                        params={"text": query, "typing": typing, "limit": 10},
                        headers=headers,
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"suggestions answered {answer.status_code}")
                timings.sort()
                case = f"{who}, {'lexical+embeddings' if embeddings else 'lexical'}"
                results.append(
                    Latency(
                        backend,
                        case,
                        len(timings),
                        percentile(timings, 0.5),
                        percentile(timings, 0.95),
                        percentile(timings, 0.99),
                    )
                )
                _log(f"{backend} {case}: p95 {results[-1].p95:.1f} ms")
    return results


_SQLITE_TRIGGERS = ("incident_search_insert", "incident_search_update", "incident_search_flush")
_POSTGRES_TRIGGERS = ("incident_search_insert", "incident_search_update")


async def set_index_triggers(
    db: Database, backend: str, enabled: bool, saved: dict[str, str]
) -> None:
    async with db.write() as session:
        if backend == "postgres":
            verb = "ENABLE" if enabled else "DISABLE"
            for name in _POSTGRES_TRIGGERS:
                await session.execute(text(f"ALTER TABLE incidents {verb} TRIGGER {name}"))
            return
        if not saved:
            for name in _SQLITE_TRIGGERS:
                sql = await session.scalar(
                    text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
                    {"n": name},
                )
                saved[name] = str(sql)
        for name in _SQLITE_TRIGGERS:
            await session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            if enabled:
                await session.execute(text(saved[name]))


async def create_rate(db: Database, backend: str, args: argparse.Namespace) -> Creates:
    rng = random.Random(11)
    data = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    texts = [t for issue in data["issues"] for t in issue["texts"]]
    words = vocabulary(rng)
    async with db.read() as session:
        user = await auth_service.get_user_by_email(session=session, email="tech@bench.test")
        caller = auth_service.caller_of(user)
    saved: dict[str, str] = {}
    per_block = max(50, args.creates // BLOCKS)
    spent = {True: 0.0, False: 0.0}
    made = {True: 0, False: 0}
    for block in range(BLOCKS):
        # ABBA order (on, off, off, on, …): a machine that slows down or speeds up steadily
        # during the run weighs on both sides alike.
        enabled = block % 4 in (0, 3)
        await set_index_triggers(db, backend, enabled, saved)
        started = time.perf_counter()
        for _ in range(per_block):
            body = varied(rng, words, rng.choice(texts))
            async with db.write() as session:
                await creation.create_incident(
                    session=session,
                    caller=caller,
                    data=IncidentCreate(title=body.split(". ", 1)[0][:200], description=body),
                    now=datetime.now(UTC),
                )
        if enabled:
            async with db.write() as session:
                await search_index.index_waiting(session)
        spent[enabled] += time.perf_counter() - started
        made[enabled] += per_block
    await set_index_triggers(db, backend, True, saved)
    return Creates(backend, made[True] / spent[True], made[False] / spent[False])


def scratch_url(backend: str) -> str:
    """A fresh, migrated scratch database for ``backend``."""
    if backend == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
    else:
        import psycopg

        admin = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}".encode())
            conn.execute(f"CREATE DATABASE {PG_DATABASE}".encode())
        url = make_url(admin + "/" + PG_DATABASE).set(drivername="postgresql+asyncpg")
        url = url.render_as_string(hide_password=False)
    prepare_database(url)
    return url


async def bench_backend(
    backend: str, url: str, args: argparse.Namespace
) -> tuple[list[Latency], Creates]:
    rng = random.Random(2026)
    db = Database(url)
    try:
        tokens = await fill(db, args, rng)
        async with db.write() as session:
            if backend == "sqlite":
                await search_index.index_waiting(session)
                await session.execute(
                    text("INSERT INTO incident_search(incident_search) VALUES ('optimize')")
                )
                await session.execute(text("ANALYZE"))
        if backend == "postgres":
            async with db.writer.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("VACUUM ANALYZE"))
        latencies = await measure(db, backend, tokens, args)
        creates = await create_rate(db, backend, args)
        _log(
            f"{backend} creates/s: {creates.with_index:.0f} with the index, "
            f"{creates.without_index:.0f} without ({creates.overhead:+.1%})"
        )
        return latencies, creates
    finally:
        await db.dispose()
        if backend == "postgres" and not args.keep:
            import psycopg

            admin = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE}".encode())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--articles", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--creates", type=int, default=4_000)
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = chosen_backends(args.backends)
    if backends is None:
        return 2
    warn_if_busy("the latencies will be higher and the create rates noisier")
    latencies: list[Latency] = []
    creates: list[Creates] = []
    for backend in backends:
        url = scratch_url(backend)
        found, rate = asyncio.run(bench_backend(backend, url, args))
        latencies += found
        creates.append(rate)
    print(
        f"\nmachine: {cpu_model()}, {os.cpu_count()} cores; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"{args.incidents:,} incidents, {args.articles:,} articles, {args.calls} calls per case\n"
    )
    print("| backend | case | calls | p50 ms | p95 ms | p99 ms | p95 < 50 ms |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in latencies:
        ok = "yes" if r.p95 < TARGET_MS else "**no**"
        figures = f"{r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f}"
        print(f"| {r.backend} | {r.case} | {r.calls} | {figures} | {ok} |")
    print("\n| backend | creates/s with index | without | overhead | < 10 % |")
    print("|---|---:|---:|---:|---|")
    for c in creates:
        ok = "yes" if c.overhead < TARGET_OVERHEAD else "**no**"
        rates = f"{c.with_index:.0f} | {c.without_index:.0f} | {c.overhead:+.1%}"
        print(f"| {c.backend} | {rates} | {ok} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
