"""Benchmark: mails per second delivered from the outbox by the worker, against plain aiosmtplib.

The requirement (issue 6): "the outbox delivers >= 500 mails/s to a local SMTP server". For
each backend (SQLite, PostgreSQL), in one run:

1. a local SMTP server: aiosmtpd in its own process (so it does not share our GIL), which
   accepts and counts every message and prints the count when stopped;
2. a fresh database made ready with ``opsdesk.bootstrap.prepare_database``, a reporter, an
   assignee and an incident, and N ``mail.deliver`` jobs queued through the real service
   (``notify.service.notify_incident_event``: N public replies, each mailed to the reporter);
3. the worker (``opsdesk.worker.runner.Worker`` with ``default_handlers``, as ``opsdesk worker``
   runs it: claim a batch, send, record the batch) runs until every job is done; the time
   from its start to the last job recorded gives mails/s. The SMTP server's count must equal N;
4. the baseline, in the same run: the same N messages (built from the queued payloads)
   written out (``notify.mail.message_bytes``) and sent by plain aiosmtplib over one
   connection, in a loop. ``worker/baseline`` cancels out how
   fast this host is today.

Usage::

    .venv/bin/python bench/mail_outbox.py [--mails 5000] [--backends sqlite,postgres]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the database ``opsdesk_bench_mail`` on it is
dropped and created anew, and dropped again at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from machine import log, on_sigterm
from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.incidents import creation
from opsdesk.incidents.schemas import IncidentCreate
from opsdesk.notify import service as notify
from opsdesk.notify.mail import MAIL_JOB, OutgoingMail, address_of, message_bytes
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
BENCH_DATABASE = "opsdesk_bench_mail"
TARGET_PER_S = 500.0

SMTP_SERVER = """
import asyncio, signal, sys
from aiosmtpd.controller import Controller

class Counter:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        Counter.count += 1
        return "250 OK"

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
controller = Controller(Counter(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
controller.stop()
print(Counter.count, flush=True)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SmtpServer:
    """aiosmtpd in a child process; ``stop`` returns how many messages it accepted."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER, str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP server did not start")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        out, _err = self.process.communicate(timeout=30)
        return int(out.strip().splitlines()[-1])


@dataclass
class Result:
    backend: str
    mails: int
    worker_s: float
    baseline_s: float
    received: int

    @property
    def worker_rate(self) -> float:
        return self.mails / self.worker_s

    @property
    def baseline_rate(self) -> float:
        return self.mails / self.baseline_s


def _postgres_admin() -> str:
    return os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(_postgres_admin(), autocommit=True, connect_timeout=10) as connection:
        connection.execute(statement.encode())


def _database_url(backend: str, work_dir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{work_dir / 'bench.db'}"
    _postgres_execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    _postgres_execute(f"CREATE DATABASE {BENCH_DATABASE}")
    url = make_url(_postgres_admin()).set(drivername="postgresql+asyncpg", database=BENCH_DATABASE)
    return url.render_as_string(hide_password=False)


async def _queue(db: Database, settings: Settings, mails: int) -> list[dict[str, Any]]:
    now = SystemClock().now()
    async with db.write() as session:
        reporter = await auth_service.create_user(
            session=session,
            data=UserCreate(email="reporter@bench.test", role=Role.END_USER),
            now=now,
        )
        # Recorded by the reporter with no owner: its own "created" event mails nobody
        # (the actor is skipped), so every mail delivered is one of the N queued below.
        incident = await creation.create_incident(
            session=session,
            caller=auth_service.caller_of(reporter),
            data=IncidentCreate(title="Mail relay is slow"),
            now=now,
        )
    for start in range(0, mails, 500):
        async with db.write() as session:
            for reply in range(start, min(start + 500, mails)):
                await notify.notify_incident_event(
                    session,
                    incident_id=incident.id,
                    event="public_reply",
                    actor_id=None,
                    now=now,
                    settings=settings,
                    comment=f"Reply {reply}: we are looking into it.",
                    extra={"event_key": f"reply-{reply}"},
                )
    async with db.read() as session:
        rows = await session.scalars(select(Job).where(Job.kind == MAIL_JOB).order_by(Job.id))
        return [dict(job.payload) for job in rows]


async def _run_worker(db: Database, settings: Settings, args: argparse.Namespace) -> float:
    worker = Worker(
        db=db,
        clock=SystemClock(),
        handlers=default_handlers(settings),
        settings=settings,
        batch=args.batch,
        concurrency=args.concurrency,
    )
    started = time.perf_counter()
    try:
        while await worker.run_once():
            pass
    finally:
        await worker.close()
    elapsed = time.perf_counter() - started
    async with db.read() as session:
        done = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == MAIL_JOB, Job.state == "done")
        )
    if done != args.mails:
        raise SystemExit(f"only {done} of {args.mails} mail jobs are done")
    return elapsed


async def _baseline(payloads: list[dict[str, Any]], port: int) -> float:
    messages = [OutgoingMail.from_payload(payload) for payload in payloads]
    started = time.perf_counter()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    try:
        for mail in messages:
            await client.sendmail(address_of(mail.sender), [mail.to], message_bytes(mail))
    finally:
        await client.quit()
    return time.perf_counter() - started


async def run_backend(backend: str, args: argparse.Namespace, work_dir: Path) -> Result:
    url = _database_url(backend, work_dir)
    try:
        await asyncio.to_thread(prepare_database, url)
        db = Database(url, pool_size=args.concurrency + 4)
        server = SmtpServer()
        received = 0
        try:
            settings = Settings(
                data_dir=work_dir,
                database_url=url,
                smtp_host="127.0.0.1",
                smtp_port=server.port,
                smtp_connections=args.connections,
                mail_from="opsdesk <desk@bench.test>",
            )
            log(f"{backend}: queueing {args.mails} mails")
            payloads = await _queue(db, settings, args.mails)
            if len(payloads) != args.mails:
                raise SystemExit(f"{len(payloads)} mails queued, expected {args.mails}")
            log(f"{backend}: worker delivering")
            worker_s = await _run_worker(db, settings, args)
            log(f"{backend}: worker {args.mails / worker_s:,.0f} mails/s; baseline now")
            baseline_s = await _baseline(payloads, server.port)
        finally:
            received = server.stop()
            await db.dispose()
    finally:
        if backend == "postgres" and not args.keep:
            _postgres_execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    if received != 2 * args.mails:
        raise SystemExit(f"the SMTP server got {received} mails, expected {2 * args.mails}")
    return Result(backend, args.mails, worker_s, baseline_s, received)


def _versions() -> str:
    names = ("aiosmtplib", "aiosmtpd", "SQLAlchemy", "aiosqlite", "asyncpg")
    parts = [f"{name} {importlib.metadata.version(name)}" for name in names]
    return f"Python {platform.python_version()}; " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=5000, help="mails queued")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=100, help="jobs the worker claims at once")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs run at once")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections kept open")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    args = parser.parse_args()
    if args.mails < 1:
        parser.error("--mails: give at least 1")
    signal.signal(signal.SIGTERM, on_sigterm)
    log(_versions())
    results = []
    with tempfile.TemporaryDirectory(prefix="opsdesk-bench-mail-") as tmp:
        for backend in args.backends.split(","):
            results.append(asyncio.run(run_backend(backend.strip(), args, Path(tmp))))
    stamp = datetime.now(UTC) - timedelta(microseconds=datetime.now(UTC).microsecond)
    print(
        f"\nResults {stamp:%Y-%m-%d %H:%M} UTC, {args.mails} mails, batch {args.batch}, "
        f"concurrency {args.concurrency}, {args.connections} SMTP connections"
    )
    print("| backend | worker mails/s | plain aiosmtplib mails/s | worker/baseline | target |")
    print("|---|---:|---:|---:|---|")
    missed = False
    for result in results:
        met = result.worker_rate >= TARGET_PER_S
        missed |= not met
        print(
            f"| {result.backend} | {result.worker_rate:,.0f} | {result.baseline_rate:,.0f} | "
            f"{result.worker_rate / result.baseline_rate:.2f} | "
            f"{'met' if met else 'MISSED'} (>= {TARGET_PER_S:.0f}) |"
        )
    if missed and args.strict:
        sys.exit(2)


if __name__ == "__main__":
    main()
