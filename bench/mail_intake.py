"""Benchmark: typical mails per second from an SMTP session to a committed incident.

The requirement (issue 27): ">= 200 typical mails/s end to end into incidents on SQLite and
on PostgreSQL (SMTP session to committed incident), beside the raw insert rate of the same
run". For each backend, in one run:

1. a fresh database (``opsdesk db upgrade``) and a real ``opsdesk mail serve`` process;
2. N typical mails (multipart/alternative, text and HTML, ~2 kB, from 200 different
   senders: the first mail of each creates its end-user contact, later ones find it), sent
   over C concurrent SMTP connections with aiosmtplib, each connection sending one mail
   after another as an MTA's delivery queue does;
3. the clock runs from the first MAIL FROM until the database shows no pending mail after
   the last one was acknowledged (polled every 20 ms with an indexed count); every mail
   must then have the outcome ``created``;
4. the CPU time the ``opsdesk mail serve`` process used per mail (``/proc``), which says
   what one free core would do when the shared machine is busy;
5. the baseline, in the same run: raw single-row ``INSERT`` + ``COMMIT`` of the same raw
   mail bytes into the same ``inbound_mails`` table (Python sqlite3 in WAL mode with
   ``synchronous=NORMAL``, or psycopg), 16 threads, for a few seconds. ``mails/raw`` says
   how much of what the database can take the whole pipeline delivers.

Usage::

    .venv/bin/python bench/mail_intake.py [--mails 3000] [--connections 8]
        [--backends sqlite,postgres]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the database ``opsdesk_bench_mailin`` on it
is dropped and created anew, and dropped again at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
from sqlalchemy.engine import make_url

from machine import chosen_backends, cpu_model, log, on_sigterm, warn_if_busy

TARGET_PER_S = 200.0
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "opsdesk_bench_mailin"
SENDERS = 200
OPSDESK = Path(sys.executable).parent / "opsdesk"
RAW_SECONDS = 5.0
RAW_THREADS = 16


def typical_mail(index: int) -> bytes:
    sender = f"user{index % SENDERS}@customer.example"
    msg = EmailMessage()
    msg["From"] = f"User {index % SENDERS} <{sender}>"
    msg["To"] = "helpdesk@bench.test"
    msg["Subject"] = f"Printer on floor {index % 7} shows error E{index % 50:02d}"
    msg["Date"] = "Mon, 02 Mar 2026 09:30:00 +0000"
    msg["Message-ID"] = make_msgid(idstring=str(index), domain="mail.customer.example")
    text = (
        "Hello,\n\nthe printer next to the kitchen stopped printing this morning. It shows "
        f"error E{index % 50:02d} and the paper tray light blinks. I switched it off and on "
        "again, without success. Several colleagues need it for the monthly reports.\n\n"
        "Could someone please have a look today?\n\nThanks and regards,\n"
        f"User {index % SENDERS}\nFinance department, room 3.{index % 40}\n"
    )
    msg.set_content(text * 2)
    paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n\n"))
    msg.add_alternative(f"<html><body>{paragraphs}{paragraphs}</body></html>", subtype="html")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) one process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _postgres_admin() -> str:
    return os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_execute(statement: str) -> None:
    import psycopg

    with psycopg.connect(_postgres_admin(), autocommit=True, connect_timeout=10) as connection:
        connection.execute(statement.encode())


def _postgres_dsn() -> str:
    url = make_url(_postgres_admin()).set(drivername="postgresql", database=BENCH_DATABASE)
    return url.render_as_string(hide_password=False)


@dataclass
class Backend:
    name: str
    work_dir: Path

    @property
    def url(self) -> str:
        if self.name == "sqlite":
            return f"sqlite+aiosqlite:///{self.work_dir / 'bench.db'}"
        url = make_url(_postgres_admin()).set(drivername="postgresql+asyncpg")
        return url.set(database=BENCH_DATABASE).render_as_string(hide_password=False)

    def create(self) -> None:
        if self.name == "postgres":
            _postgres_execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
            _postgres_execute(f"CREATE DATABASE {BENCH_DATABASE}")

    def drop(self) -> None:
        if self.name == "postgres":
            _postgres_execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")

    def scalar(self, sql: str) -> int:
        if self.name == "sqlite":
            with sqlite3.connect(self.work_dir / "bench.db", timeout=30) as conn:
                return int(conn.execute(sql).fetchone()[0])
        import psycopg

        with psycopg.connect(_postgres_dsn()) as conn:
            row = conn.execute(sql.encode()).fetchone()
            return int(row[0]) if row else 0

    def raw_inserts(self, raw: bytes, seconds: float, threads: int) -> float:
        """Single-row INSERT + COMMIT of the mail into inbound_mails, from many threads."""
        stop = time.monotonic() + seconds
        counts = [0] * threads
        errors: list[BaseException] = []
        now = datetime.now(UTC).isoformat()

        def row() -> tuple[object, ...]:
            key = f"<raw-{uuid.uuid4().hex}@bench>"
            return (key, raw, len(raw), "0" * 64, "smtp", "", "", "", "", now, "pending", "", 0)

        sql = (
            "INSERT INTO inbound_mails (message_id, raw, size, sha256, door, envelope_from, "
            "envelope_to, sender, subject, received_at, status, reason, attempts) VALUES "
        )

        def sqlite_worker(slot: int) -> None:
            try:
                conn = sqlite3.connect(self.work_dir / "bench.db", timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                statement = sql + "(?,?,?,?,?,?,?,?,?,?,?,?,?)"
                while time.monotonic() < stop:
                    conn.execute(statement, row())
                    counts[slot] += 1
                conn.close()
            except BaseException as exc:
                errors.append(exc)

        def postgres_worker(slot: int) -> None:
            import psycopg

            try:
                with psycopg.connect(_postgres_dsn(), autocommit=True) as conn:
                    statement = sql + "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                    while time.monotonic() < stop:
                        conn.execute(statement.encode(), row())
                        counts[slot] += 1
            except BaseException as exc:
                errors.append(exc)

        target = sqlite_worker if self.name == "sqlite" else postgres_worker
        started = time.monotonic()
        pool = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        if errors:
            raise SystemExit(f"raw inserts failed: {errors[0]!r}")
        return sum(counts) / (time.monotonic() - started)


def _env(backend: Backend) -> dict[str, str]:
    return {
        **os.environ,
        "OPSDESK_DATA_DIR": str(backend.work_dir / f"data-{backend.name}"),
        "OPSDESK_DATABASE_URL": backend.url,
        "OPSDESK_MAIL_FROM": "Helpdesk <helpdesk@bench.test>",
        # The rate limit query still runs for every mail; the limit is just out of reach.
        "OPSDESK_MAIL_RATE_LIMIT": "1000000",
    }


async def _send_all(port: int, mails: list[bytes], connections: int) -> None:
    async def connection(share: list[bytes]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=120)
        await client.connect()
        for raw in share:
            await client.sendmail("sender@customer.example", ["helpdesk@bench.test"], raw)
        await client.quit()

    await asyncio.gather(*(connection(mails[i::connections]) for i in range(connections)))


@dataclass(frozen=True)
class Result:
    backend: str
    mails: int
    seconds: float
    acknowledged_s: float
    raw_per_s: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.mails / self.seconds


def run_backend(name: str, args: argparse.Namespace, work_dir: Path) -> Result:
    backend = Backend(name, work_dir)
    backend.create()
    env = _env(backend)
    try:
        subprocess.run([str(OPSDESK), "db", "upgrade"], env=env, check=True, capture_output=True)
        port = _free_port()
        server_log = (work_dir / f"mail-{name}.log").open("wb")
        server = subprocess.Popen(
            [str(OPSDESK), "mail", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("opsdesk mail serve did not start") from None
                    time.sleep(0.1)
            warm = [typical_mail(1_000_000 + i) for i in range(50)]
            asyncio.run(_send_all(port, warm, args.connections))
            while backend.scalar("SELECT count(*) FROM inbound_mails WHERE status = 'pending'"):
                time.sleep(0.05)
            mails = [typical_mail(i) for i in range(args.mails)]
            log(f"{name}: sending {args.mails} mails over {args.connections} connections")
            started = time.monotonic()
            cpu_before = process_cpu_s(server.pid)
            asyncio.run(_send_all(port, mails, args.connections))
            acknowledged = time.monotonic() - started
            expected = args.mails + len(warm)
            # Cheap polls (indexed; a scan of the raw mails would steal the server's CPU).
            while backend.scalar("SELECT count(*) FROM inbound_mails WHERE status = 'pending'"):
                time.sleep(0.02)
            elapsed = time.monotonic() - started
            server_cpu = process_cpu_s(server.pid) - cpu_before
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
            server_log.close()
        created = backend.scalar("SELECT count(*) FROM inbound_mails WHERE outcome = 'created'")
        incidents = backend.scalar("SELECT count(*) FROM incidents WHERE channel = 'email'")
        if created != expected or incidents != expected:
            raise SystemExit(f"{name}: {created} created, {incidents} incidents of {expected}")
        log(f"{name}: raw inserts for {RAW_SECONDS:.0f} s with {RAW_THREADS} threads")
        raw_rate = backend.raw_inserts(mails[0], RAW_SECONDS, RAW_THREADS)
        return Result(name, args.mails, elapsed, acknowledged, raw_rate, server_cpu)
    finally:
        if not args.keep:
            backend.drop()


def _versions() -> str:
    names = ("aiosmtpd", "aiosmtplib", "SQLAlchemy", "aiosqlite", "asyncpg", "inscriptis")
    parts = [f"{name} {importlib.metadata.version(name)}" for name in names]
    return f"Python {platform.python_version()}; " + ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=3000, help="mails sent (after 50 warm-up)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent SMTP sessions")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    args = parser.parse_args()
    backends = chosen_backends(args.backends)
    if backends is None or args.mails < 1:
        sys.exit(1)
    signal.signal(signal.SIGTERM, on_sigterm)
    log(_versions())
    log(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    warn_if_busy("the mail rates will be lower")
    results = []
    with tempfile.TemporaryDirectory(prefix="opsdesk-bench-mailin-") as tmp:
        for name in backends:
            results.append(run_backend(name, args, Path(tmp)))
    stamp = datetime.now(UTC).replace(microsecond=0)
    print(
        f"\nResults {stamp:%Y-%m-%d %H:%M} UTC, {args.mails} mails, "
        f"{args.connections} SMTP connections"
    )
    print(
        "| backend | mails/s end to end | all acknowledged after | raw inserts/s "
        "(16 threads) | mails/raw | listener CPU per mail | target |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    missed = False
    for result in results:
        met = result.rate >= TARGET_PER_S
        missed |= not met
        print(
            f"| {result.backend} | {result.rate:,.0f} | {result.acknowledged_s:.1f} s "
            f"(of {result.seconds:.1f} s) | {result.raw_per_s:,.0f} | "
            f"{result.rate / result.raw_per_s:.3f} | "
            f"{1000 * result.server_cpu_s / result.mails:.2f} ms | "
            f"{'met' if met else 'MISSED'} (>= {TARGET_PER_S:.0f}/s) |"
        )
    if missed and args.strict:
        sys.exit(2)


if __name__ == "__main__":
    main()
