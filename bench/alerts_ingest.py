"""Benchmark: alert ingestion through the real server, against Alerta and a raw SQL upsert.

For each backend (SQLite, PostgreSQL), in one run:

1. a fresh opsdesk database (``db upgrade``, an admin, an Alertmanager and a PagerDuty
   integration without rate limit) and the real server (``opsdesk serve``, one uvicorn
   worker, the in-process job worker off: incidents' notifications are queued as jobs in
   the ingest transaction, delivering them is not ingestion);
2. ``wrk`` (a separate process, ``bench/wrk_alerts.lua``) posts Alertmanager webhooks of 50
   alerts drawn from a pool of 10,000 alerts in 100 groups (dedup on: after the warm-up,
   which opens the 100 incidents, nearly every alert is a repeat that bumps a counter), then
   single PagerDuty Events v2 triggers over 500 dedup keys;
3. the raw SQL baseline: the same upsert (``INSERT … ON CONFLICT DO UPDATE`` count + 1) of
   50 rows per transaction, and of one row, into a bare table, with ``pgbench`` on
   PostgreSQL and Python's ``sqlite3`` (WAL, synchronous=NORMAL) on SQLite;
4. on PostgreSQL, Alerta (``pip install alerta-server`` in a virtualenv this script creates,
   served by gunicorn with 2 workers, on its own database of the same server): the same
   Alertmanager posts into ``/webhooks/prometheus`` and the same single events into
   ``/alert``.

Usage::

    .venv/bin/python bench/alerts_ingest.py [--seconds 15] [--connections 16]
        [--backends sqlite,postgres] [--no-alerta] [--alerta-venv DIR]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the databases ``opsdesk_alerts_bench``,
``alerts_baseline_bench`` and ``alerta_bench`` are created anew and dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from create_incidents import (
    OPSDESK,
    PHASE_GRACE_S,
    BenchError,
    ensure_wrk,
    free_port,
    http_get_status,
    run,
    running_server,
    stop_process,
)
from machine import chosen_backends, cpu_model, log, on_sigterm, warn_if_busy

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_alerts.lua"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
OPSDESK_DB = "opsdesk_alerts_bench"
BASELINE_DB = "alerts_baseline_bench"
ALERTA_DB = "alerta_bench"
BATCH = 50
POOL = 10_000
GROUPS = 100
PD_POOL = 500
ALERTA_PACKAGES = ["alerta-server>=9,<10", "gunicorn>=21,<28", "psycopg2-binary>=2.9,<3"]

# The targets from issue 28.
PG_MIN_ALERTS_PER_S = 20_000.0
SQLITE_MIN_ALERTS_PER_S = 10_000.0
PG_MIN_EVENTS_PER_S = 2_000.0
PG_MAX_EVENT_P99_MS = 50.0


@dataclass
class Load:
    requests: int
    ok: int
    other: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    first_other: str

    def per_s(self, per_request: int = 1) -> float:
        return self.ok * per_request / self.duration_s if self.duration_s else 0.0


def wrk(url: str, *, mode: str, seconds: float, connections: int, extra: Mapping[str, str]) -> Load:
    env = dict(os.environ)
    env.update({"ALERTS_MODE": mode, "ALERTS_BATCH": str(BATCH), "ALERTS_GROUPS": str(GROUPS)})
    env.update(extra)
    output = run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(WRK_SCRIPT),
            url,
        ],
        env=env,
        timeout=seconds + PHASE_GRACE_S,
        what=f"wrk {mode}",
    )
    match = re.search(r"^BENCH_RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise BenchError(f"wrk printed no BENCH_RESULT line:\n{output[-2000:]}")
    data = json.loads(match.group(1))
    return Load(
        requests=data["requests"],
        ok=data["ok"],
        other=data["other"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        socket_errors=data["socket_errors"],
        first_other=data["first_other"],
    )


def am_load(url: str, seconds: float, connections: int) -> Load:
    return wrk(
        url,
        mode="alertmanager",
        seconds=seconds,
        connections=connections,
        extra={"ALERTS_POOL": str(POOL)},
    )


def pd_load(url: str, seconds: float, connections: int, key: str, mode: str = "pagerduty") -> Load:
    return wrk(
        url,
        mode=mode,
        seconds=seconds,
        connections=connections,
        extra={"ALERTS_POOL": str(PD_POOL), "ALERTS_KEY": key},
    )


# --------------------------------------------------------------------------- PostgreSQL


def psql(admin_url: str, statement: str, database: str = "postgres") -> None:
    import psycopg

    with psycopg.connect(f"{admin_url}/{database}", autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement.encode())


@contextlib.contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(admin_url, f"CREATE DATABASE {name}")
    try:
        yield f"{admin_url}/{name}"
    finally:
        with contextlib.suppress(Exception):
            psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


BASELINE_TABLE = (
    "CREATE TABLE baseline_alerts (id bigserial PRIMARY KEY, integration_id bigint NOT NULL,"
    " dedup_key varchar(255) NOT NULL, status varchar(16) NOT NULL, summary text NOT NULL,"
    " labels {json} NOT NULL, count bigint NOT NULL, first_seen {ts} NOT NULL,"
    " last_seen {ts} NOT NULL, UNIQUE (integration_id, dedup_key))"
)
UPSERT_TAIL = (
    " ON CONFLICT (integration_id, dedup_key) DO UPDATE SET count = baseline_alerts.count + 1,"
    " last_seen = excluded.last_seen, status = excluded.status, summary = excluded.summary,"
    " labels = excluded.labels"
)


def _pg_row(key: str) -> str:
    labels = '{"alertname": "HighLoad", "severity": "warning", "job": "node"}'
    return f"(1, {key}, 'firing', 'Load high', '{labels}', 1, now(), now())"


def pg_baseline(
    admin_url: str, seconds: float, connections: int, work_dir: Path
) -> tuple[float, float]:
    """(rows/s in 50-row upserts, rows/s in single-row upserts) with pgbench."""
    with fresh_database(admin_url, BASELINE_DB) as url:
        psql(admin_url, BASELINE_TABLE.format(json="json", ts="timestamptz"), BASELINE_DB)
        head = (
            "INSERT INTO baseline_alerts (integration_id, dedup_key, status, summary, labels,"
            " count, first_seen, last_seen) VALUES "
        )
        batch = work_dir / "batch.sql"
        rows = ", ".join(_pg_row(f"'k' || (:base * {BATCH} + {j})") for j in range(BATCH))
        batch.write_text(f"\\set base random(0, {POOL // BATCH - 1})\n{head}{rows}{UPSERT_TAIL};\n")
        single = work_dir / "single.sql"
        row = _pg_row("'pd-' || :k")
        single.write_text(f"\\set k random(0, {PD_POOL - 1})\n{head}{row}{UPSERT_TAIL};\n")
        found = []
        for script, per in ((batch, BATCH), (single, 1)):
            for phase_seconds in (3, seconds):  # a warm-up that fills the pool, then the measure
                output = run(
                    [
                        "pgbench",
                        "-n",
                        "-M",
                        "prepared",
                        "-c",
                        str(connections),
                        "-j",
                        "2",
                        "-T",
                        str(max(1, round(phase_seconds))),
                        "-f",
                        str(script),
                        url,
                    ],
                    timeout=phase_seconds + PHASE_GRACE_S,
                    what="pgbench",
                )
            tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", output, re.M)
            if tps is None:
                raise BenchError(f"pgbench printed no tps:\n{output[-2000:]}")
            found.append(float(tps.group(1)) * per)
        return found[0], found[1]


# --------------------------------------------------------------------------- SQLite


def sqlite_baseline(path: Path, seconds: float) -> tuple[float, float]:
    """(rows/s in 50-row upserts, rows/s in single-row upserts), one writer, per commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(BASELINE_TABLE.format(json="text", ts="text").replace("bigserial", "integer"))
    insert = (
        "INSERT INTO baseline_alerts (integration_id, dedup_key, status, summary, labels, count,"
        " first_seen, last_seen) VALUES (1, ?, 'firing', 'Load high', ?, 1, ?, ?)" + UPSERT_TAIL
    )
    labels = json.dumps({"alertname": "HighLoad", "severity": "warning", "job": "node"})
    found = []
    for per, pool in ((BATCH, POOL), (1, PD_POOL)):
        for phase_seconds, measure in ((3.0, False), (seconds, True)):
            rows = 0
            start = time.perf_counter()
            rng = 0
            while time.perf_counter() - start < phase_seconds:
                rng = (rng * 1103515245 + 12345) % 2**31
                base = rng % (pool // per)
                now = datetime.now(UTC).isoformat()
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    insert, [(f"k{base * per + j}", labels, now, now) for j in range(per)]
                )
                conn.execute("COMMIT")
                rows += per
            if measure:
                found.append(rows / (time.perf_counter() - start))
    conn.close()
    return found[0], found[1]


# --------------------------------------------------------------------------- opsdesk


@contextlib.contextmanager
def opsdesk_server(
    database_url: str, data_dir: Path, workers: int = 1
) -> Iterator[tuple[int, str, str]]:
    """(port, Alertmanager key, PagerDuty key) of a fresh opsdesk serving ``database_url``."""
    env = dict(os.environ)
    env.update(
        {
            "OPSDESK_DATABASE_URL": database_url,
            "OPSDESK_DATA_DIR": str(data_dir),
            "OPSDESK_RUN_WORKER": "false",
        }
    )
    run([OPSDESK, "db", "upgrade"], env=env, timeout=120, what="db upgrade")
    run(
        [OPSDESK, "users", "create", "root@example.com", "--role", "admin"],
        env=env,
        timeout=60,
        what="users create",
    )
    am_key = run(
        [
            OPSDESK,
            "integrations",
            "create",
            "Prometheus",
            "--kind",
            "alertmanager",
            "--rate-limit",
            "0",
        ],
        env=env,
        timeout=60,
        what="integrations create",
    ).strip()
    pd_key = run(
        [
            OPSDESK,
            "integrations",
            "create",
            "PagerDuty senders",
            "--kind",
            "pagerduty",
            "--rate-limit",
            "0",
        ],
        env=env,
        timeout=60,
        what="integrations create",
    ).strip()
    port = free_port()
    with running_server(env, port, data_dir / "serve.log", workers=workers):
        yield port, am_key, pd_key


@dataclass
class Figures:
    backend: str
    am: Load
    pd: Load
    raw_batch: float
    raw_single: float
    alerta_am: Load | None = None
    alerta_single: Load | None = None
    cpu_ms_per_post: float = 0.0


def prefill(port: int, path: str, bodies: list[bytes]) -> None:
    """Send every body once (one keep-alive connection), so that the measured phase meets
    only repeats: the alert groups and their incidents exist already."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        for body in bodies:
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status >= 300:
                raise BenchError(f"prefill {path}: HTTP {response.status}")
    finally:
        connection.close()


def am_bodies() -> list[bytes]:
    bodies = []
    for base in range(POOL // BATCH):
        group = base % GROUPS
        alerts = [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"HighLoad{group}",
                    "severity": "warning",
                    "instance": f"node{base * BATCH + j}:9100",
                    "job": "node",
                },
                "annotations": {"summary": f"Load high on node{base * BATCH + j}"},
                "startsAt": "2026-12-04T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": f"{base * BATCH + j:016x}",
            }
            for j in range(BATCH)
        ]
        body = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="HighLoad{group}"}}',
            "status": "firing",
            "receiver": "bench",
            "groupLabels": {"alertname": f"HighLoad{group}"},
            "commonLabels": {"alertname": f"HighLoad{group}"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def pd_bodies(key: str) -> list[bytes]:
    return [
        json.dumps(
            {
                "routing_key": key,
                "event_action": "trigger",
                "dedup_key": f"pd-{k}",
                "payload": {
                    "summary": f"Disk almost full on host{k}",
                    "source": f"host{k}",
                    "severity": "warning",
                    "component": "disk",
                    "group": f"group{k % GROUPS}",
                },
            }
        ).encode()
        for k in range(PD_POOL)
    ]


def measure_opsdesk(
    port: int, am_key: str, pd_key: str, seconds: float, connections: int
) -> tuple[Load, Load]:
    base = f"http://127.0.0.1:{port}"
    am_path = f"/api/v1/alerts/alertmanager/{am_key}"
    log(f"  prefill: each of the {POOL:,} alerts once (opens the {GROUPS} groups' incidents)")
    prefill(port, am_path, am_bodies())
    am_load(base + am_path, 3, connections)
    log(f"  Alertmanager posts of {BATCH}, {seconds:.0f} s, {connections} connections")
    am = am_load(base + am_path, seconds, connections)
    log(f"  prefill: each of the {PD_POOL} PagerDuty keys once (opens their incidents)")
    prefill(port, "/v2/enqueue", pd_bodies(pd_key))
    pd_load(f"{base}/v2/enqueue", 3, connections, pd_key)
    log(f"  PagerDuty single events, {seconds:.0f} s")
    pd = pd_load(f"{base}/v2/enqueue", seconds, connections, pd_key)
    return am, pd


def ingest_cpu_ms(database_url: str, key: str, posts: int = 400) -> float:
    """CPU milliseconds of this process per 50-alert post through the ingest service alone
    (no HTTP), after the pool exists: what one server core can do, whatever else runs."""
    import asyncio

    from opsdesk.alerts import service
    from opsdesk.alerts.payloads import parse_webhook
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database

    bodies = am_bodies()

    async def measure() -> float:
        db = Database(database_url)
        try:
            async with db.read() as session:
                integration = await service.integration_by_key(session=session, key=key)
            clock = SystemClock()

            async def one(body: bytes) -> None:
                alerts = parse_webhook(json.loads(body))
                async with db.write() as session:
                    await service.ingest(
                        session=session, integration=integration, alerts=alerts, now=clock.now()
                    )

            for body in bodies[:50]:
                await one(body)
            start = time.process_time()
            for index in range(posts):
                await one(bodies[index % len(bodies)])
            return (time.process_time() - start) / posts * 1000
        finally:
            await db.dispose()

    return asyncio.run(measure())


# --------------------------------------------------------------------------- Alerta


def alerta_venv(path: Path) -> Path:
    python = path / "bin" / "python"
    if not (path / "bin" / "gunicorn").exists():
        log(f"  creating the Alerta virtualenv in {path} (pip install alerta-server)")
        run([sys.executable, "-m", "venv", str(path)], timeout=300, what="venv")
        run(
            [str(python), "-m", "pip", "install", "--quiet", *ALERTA_PACKAGES],
            timeout=900,
            what="pip install alerta-server",
        )
    return path


@contextlib.contextmanager
def alerta_server(venv: Path, database_url: str, work_dir: Path) -> Iterator[int]:
    config = work_dir / "alertad.conf"
    config.write_text(
        f"DATABASE_URL = {database_url!r}\nAUTH_REQUIRED = False\nDEBUG = False\n"
        "LOG_LEVEL = 'WARNING'\n"
    )
    port = free_port()
    env = dict(os.environ, ALERTA_SVR_CONF_FILE=str(config))
    env.pop("PYTHONPATH", None)
    log_path = work_dir / "alerta.log"
    with log_path.open("wb") as out:
        # --preload: the schema is created once, before the workers fork.
        process = subprocess.Popen(
            [
                str(venv / "bin" / "gunicorn"),
                "--preload",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "alerta:create_app()",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while http_get_status(port, "/management/healthcheck") not in (200, 500):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("Alerta did not start:\n" + log_path.read_text()[-2000:])
                time.sleep(0.3)
            yield port
        finally:
            stop_process(process)


def measure_alerta(
    venv: Path, admin_url: str, seconds: float, connections: int, work_dir: Path
) -> tuple[Load, Load]:
    with fresh_database(admin_url, ALERTA_DB) as url, alerta_server(venv, url, work_dir) as port:
        base = f"http://127.0.0.1:{port}"
        log("  Alerta: warm-up and Alertmanager posts into /webhooks/prometheus")
        am_load(f"{base}/webhooks/prometheus", 5, connections)
        am = am_load(f"{base}/webhooks/prometheus", seconds, connections)
        log("  Alerta: single alerts into /alert")
        pd_load(f"{base}/alert", 8, connections, "", mode="alerta")
        single = pd_load(f"{base}/alert", seconds, connections, "", mode="alerta")
        return am, single


# --------------------------------------------------------------------------- report


def report(results: list[Figures], args: argparse.Namespace) -> bool:
    print()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"command: bench/alerts_ingest.py --seconds {args.seconds:.0f} "
        f"--connections {args.connections} --backends {args.backends}"
    )
    print()
    print(
        "| backend | stream | opsdesk | p50 / p99 ms | raw SQL upsert | opsdesk / raw "
        "| Alerta | opsdesk / Alerta |"
    )
    print("|---|---|---|---|---|---|---|---|")
    passed = True
    for r in results:
        am_rate = r.am.per_s(BATCH)
        pd_rate = r.pd.per_s()
        cells = []
        for name, load, rate, raw, other, per in (
            (
                f"Alertmanager posts of {BATCH} (alerts/s)",
                r.am,
                am_rate,
                r.raw_batch,
                r.alerta_am,
                BATCH,
            ),
            ("single events (req/s)", r.pd, pd_rate, r.raw_single, r.alerta_single, 1),
        ):
            alerta = "—" if other is None else f"{other.per_s(per):,.0f}"
            versus = (
                "—" if other is None or not other.per_s(per) else f"{rate / other.per_s(per):.1f}x"
            )
            cells.append(
                f"| {r.backend} | {name} | {rate:,.0f} | {load.p50_ms:.1f} / {load.p99_ms:.1f} | "
                f"{raw:,.0f} rows/s | {rate / raw:.2f} | {alerta} | {versus} |"
            )
        print("\n".join(cells))
        print(
            f"  {r.backend}: the ingest service alone uses {r.cpu_ms_per_post:.2f} ms CPU per "
            f"post of {BATCH} ({BATCH * 1000 / r.cpu_ms_per_post:,.0f} alerts per CPU-second)"
        )
        for load in (r.am, r.pd, r.alerta_am, r.alerta_single):
            if load is not None and (load.other or load.socket_errors):
                print(
                    f"  NOTE: {load.other} non-2xx, {load.socket_errors} socket errors; "
                    f"first: {load.first_other}"
                )
        if r.backend == "postgres":
            checks = [
                (
                    f"Alertmanager ≥ {PG_MIN_ALERTS_PER_S:,.0f} alerts/s",
                    am_rate >= PG_MIN_ALERTS_PER_S,
                ),
                (f"PagerDuty ≥ {PG_MIN_EVENTS_PER_S:,.0f} req/s", pd_rate >= PG_MIN_EVENTS_PER_S),
                (
                    f"PagerDuty p99 < {PG_MAX_EVENT_P99_MS:.0f} ms",
                    r.pd.p99_ms < PG_MAX_EVENT_P99_MS,
                ),
            ]
        else:
            checks = [
                (
                    f"Alertmanager ≥ {SQLITE_MIN_ALERTS_PER_S:,.0f} alerts/s",
                    am_rate >= SQLITE_MIN_ALERTS_PER_S,
                )
            ]
        for text, ok in checks:
            print(f"  {r.backend}: {text}: {'met' if ok else 'NOT met'}")
            passed = passed and ok
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--no-alerta", action="store_true", help="skip the Alerta comparison")
    parser.add_argument(
        "--server-workers", type=int, default=1, help="opsdesk serve --workers (processes)"
    )
    parser.add_argument(
        "--alerta-venv",
        type=Path,
        default=None,
        help="reuse (or create) the Alerta virtualenv here",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_sigterm)
    backends = chosen_backends(args.backends)
    if backends is None:
        return 2
    if not ensure_wrk():
        print("error: wrk is needed (apt-get install wrk)", file=sys.stderr)
        return 2
    warn_if_busy("the rates will be lower")
    admin_url = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL).rstrip("/")
    results = []
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as tmp:
        work = Path(tmp)
        for backend in backends:
            log(f"{backend}:")
            if backend == "sqlite":
                database_url = f"sqlite+aiosqlite:///{work / 'opsdesk.db'}"
                with opsdesk_server(database_url, work, args.server_workers) as (
                    port,
                    am_key,
                    pd_key,
                ):
                    am, pd = measure_opsdesk(port, am_key, pd_key, args.seconds, args.connections)
                log("  ingest service alone: CPU per post")
                cpu = ingest_cpu_ms(database_url, am_key)
                log("  raw SQL upsert baseline (sqlite3)")
                raw_batch, raw_single = sqlite_baseline(work / "baseline.db", args.seconds)
                results.append(
                    Figures("sqlite", am, pd, raw_batch, raw_single, cpu_ms_per_post=cpu)
                )
                continue
            with (
                fresh_database(admin_url, OPSDESK_DB) as database_url,
                opsdesk_server(database_url, work, args.server_workers) as (port, am_key, pd_key),
            ):
                am, pd = measure_opsdesk(port, am_key, pd_key, args.seconds, args.connections)
                log("  ingest service alone: CPU per post")
                cpu = ingest_cpu_ms(database_url, am_key)
            log("  raw SQL upsert baseline (pgbench)")
            raw_batch, raw_single = pg_baseline(admin_url, args.seconds, args.connections, work)
            figures = Figures("postgres", am, pd, raw_batch, raw_single, cpu_ms_per_post=cpu)
            if not args.no_alerta:
                venv = alerta_venv(args.alerta_venv or work / "alerta-venv")
                figures.alerta_am, figures.alerta_single = measure_alerta(
                    venv, admin_url, args.seconds, args.connections, work
                )
            results.append(figures)
    return 0 if report(results, args) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
