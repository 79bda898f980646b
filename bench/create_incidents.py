"""Benchmark: incidents created per second through the API against raw single-row inserts.

For each backend (SQLite, PostgreSQL), in one run:

1. a fresh database, prepared with ``opsdesk db upgrade``, ``demo load`` and ``tokens create``;
2. the real server (``opsdesk serve``, uvicorn, one worker) as a subprocess;
3. ``POST /api/v1/incidents`` driven by ``wrk`` (``bench/wrk_post.lua``) at C connections
   after a warm-up; only 201 responses count, and the row count in the table must agree;
4. the raw single-row INSERT + COMMIT rate of the same row into the same ``incidents`` table
   (``pgbench`` on PostgreSQL, Python ``sqlite3`` with WAL + synchronous=NORMAL on SQLite),
   at C connections and at one connection, measured on the same machine in the same run, so
   that the API/raw ratio cancels out how fast this host happens to be today.

Usage::

    .venv/bin/python bench/create_incidents.py [--seconds 15] [--connections 16]
        [--backends sqlite,postgres] [--profile DIR]

PostgreSQL is reached at ``postgresql://postgres@127.0.0.1:5432`` unless
``OPSDESK_BENCH_POSTGRES_URL`` says otherwise; the database ``opsdesk_bench`` on it is
dropped and created anew, and dropped again at the end (``--keep`` keeps it and the files).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import URL, make_url

from machine import chosen_backends, cpu_model, warn_if_busy
from machine import log as _log
from machine import machine_cpu_s as _machine_cpu_s
from machine import on_sigterm as _on_sigterm
from machine import percentile as _percentile
from machine import postgres_cpu_s as _postgres_cpu_s

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_post.lua"
VENV_BIN = Path(sys.executable).parent
OPSDESK = str(VENV_BIN / "opsdesk")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
BENCH_DATABASE = "opsdesk_bench"
TOKEN_USER = "tech@example.com"

CLI_TIMEOUT_S = 120.0
SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 15.0
# A load phase may overrun its nominal length by this much before it is killed.
PHASE_GRACE_S = 60.0
# Pause between the warm-up and the row count that the measured phase starts from.
SETTLE_S = 1.0
# Warn when something else already keeps this much CPU busy before the run.

INCIDENT_BODY: dict[str, Any] = {
    "title": "Checkout API returns 500",
    "description": (
        "Since the last deployment about 20% of POST /checkout requests on the public website "
        "fail with HTTP 500. The error rate alarm fired for eu-west-101; customers report "
        "that payment confirmation pages do not load."
    ),
    "level": "P2",
    "category": "inc_type_p_function_issues",
    "application": "app_website",
    "region": "eu-west-101",
    "service_interrupted": True,
}

# The targets from the issue, per backend.
PG_MIN_RATE = 800.0
PG_MIN_RATIO = 0.10
SQLITE_MIN_RATE = 500.0
SQLITE_MAX_P99_MS = 100.0


class BenchError(Exception):
    """The benchmark could not be run as asked; the message says why."""


# --------------------------------------------------------------------------- processes


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float,
    what: str,
) -> str:
    """Run a command to completion within ``timeout`` seconds; its stdout, or BenchError."""
    try:
        done = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{what}: no result within {timeout:.0f} s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BenchError(f"{what}: exit code {done.returncode}\n{detail}")
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_get_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; only ever the given process."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_server(
    env: Mapping[str, str], port: int, log_path: Path, workers: int = 1
) -> Iterator[int]:
    """``opsdesk serve`` on ``port`` until the block ends; yields the server's pid."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                OPSDESK,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT_S
            while http_get_status(port, "/healthz") != 200:
                if process.poll() is not None:
                    raise BenchError(
                        f"the server exited with code {process.returncode}:\n"
                        + log_path.read_text(errors="replace")[-2000:]
                    )
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"the server did not answer /healthz within {SERVER_START_TIMEOUT_S} s"
                    )
                time.sleep(0.1)
            yield process.pid
        finally:
            stop_process(process)


# --------------------------------------------------------------------------- CPU accounting


def _process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process (Linux), or None where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    """CPU seconds of this process and its finished children (wrk, pgbench)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class CpuWindow:
    """Where the CPU went during one load phase, in CPU seconds (Linux; None elsewhere).

    ``loadgen`` is this process and its children (wrk), ``postgres`` every postgres process
    of the machine (idle when the backend is SQLite), ``other`` the rest of the machine.
    """

    pid: int
    elapsed: float = 0.0
    server: float | None = None
    postgres: float | None = None
    loadgen: float | None = None
    machine: float | None = None
    _start: dict[str, float | None] = field(default_factory=dict)

    def _now(self) -> dict[str, float | None]:
        return {
            "time": time.monotonic(),
            "server": _process_cpu_s(self.pid),
            "postgres": _postgres_cpu_s(),
            "loadgen": _own_cpu_s(),
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
        self.server = delta("server")
        self.postgres = delta("postgres")
        self.loadgen = delta("loadgen")
        self.machine = delta("machine")

    @property
    def other(self) -> float | None:
        parts = (self.machine, self.server, self.postgres, self.loadgen)
        if any(part is None for part in parts):
            return None
        machine, server, postgres, loadgen = (part or 0.0 for part in parts)
        return max(0.0, machine - server - postgres - loadgen)


# --------------------------------------------------------------------------- load generation


@dataclass
class LoadResult:
    generator: str
    duration_s: float
    requests: int
    created: int
    other: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    first_other: str = ""

    @property
    def creates_per_s(self) -> float:
        return self.created / self.duration_s if self.duration_s > 0 else 0.0


def run_wrk(*, url: str, token: str, seconds: float, connections: int, threads: int) -> LoadResult:
    env = dict(os.environ)
    env["OPSDESK_BENCH_TOKEN"] = token
    env["OPSDESK_BENCH_BODY"] = json.dumps(INCIDENT_BODY)
    output = run(
        [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "--latency",
            "-s",
            str(WRK_SCRIPT),
            url,
        ],
        env=env,
        timeout=seconds + PHASE_GRACE_S,
        what="wrk",
    )
    match = re.search(r"^BENCH_RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise BenchError(f"wrk printed no BENCH_RESULT line:\n{output[-2000:]}")
    data = json.loads(match.group(1))
    return LoadResult(
        generator="wrk",
        duration_s=data["duration_us"] / 1e6,
        requests=data["requests"],
        created=data["created"],
        other=data["other"],
        socket_errors=sum(
            data[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        first_other=data["first_other"],
    )


async def _httpx_load(*, url: str, token: str, seconds: float, connections: int) -> LoadResult:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps(INCIDENT_BODY).encode()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    first_other = ""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            nonlocal errors, first_other
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                statuses[response.status_code] += 1
                if response.status_code != 201 and not first_other:
                    first_other = f"{response.status_code} {response.text[:200]}"

        await asyncio.gather(*(worker() for _ in range(connections)))
        duration = time.perf_counter() - started
    ordered = sorted(latencies)
    created = statuses[201]
    return LoadResult(
        generator="httpx (Python, fallback)",
        duration_s=duration,
        requests=sum(statuses.values()),
        created=created,
        other=sum(statuses.values()) - created,
        socket_errors=errors,
        p50_ms=_percentile(ordered, 0.50) * 1000,
        p99_ms=_percentile(ordered, 0.99) * 1000,
        mean_ms=(sum(ordered) / len(ordered) * 1000) if ordered else 0.0,
        first_other=first_other,
    )


def run_httpx(*, url: str, token: str, seconds: float, connections: int) -> LoadResult:
    async def bounded() -> LoadResult:
        return await asyncio.wait_for(
            _httpx_load(url=url, token=token, seconds=seconds, connections=connections),
            timeout=seconds + PHASE_GRACE_S,
        )

    return asyncio.run(bounded())


def ensure_wrk() -> bool:
    """Install wrk with apt-get when it is missing; False when it cannot be had."""
    if shutil.which("wrk"):
        return True
    if shutil.which("apt-get") is None:
        return False
    print("wrk is missing: installing it with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for attempt in (("install",), ("update",), ("install",)):
        argv = ["apt-get", *attempt, "-y", "-q"]
        if attempt == ("install",):
            argv.append("wrk")
        with contextlib.suppress(BenchError):
            run(argv, env=env, timeout=300, what=" ".join(argv))
        if shutil.which("wrk"):
            return True
    return False


# --------------------------------------------------------------------------- raw inserts


@dataclass
class RawResult:
    connections: int
    rows_per_s: float
    detail: str = ""


# The incident columns the raw insert fills from an API-created row; ``number`` gets a fresh
# unique value per row and the two timestamps the current time.
GENERATED_COLUMNS = ("id", "number", "created_at", "updated_at")


class Backend(Protocol):
    name: str
    target_text: str

    def prepare(self) -> dict[str, str]:
        """Create a fresh database; the env for the opsdesk commands and the server."""
        ...

    def incident_count(self) -> int: ...

    def template_row(self, creator_id: str) -> dict[str, Any]: ...

    def user_id(self, email: str) -> str: ...

    def raw_inserts(
        self, *, row: dict[str, Any], connections: int, seconds: float
    ) -> RawResult: ...

    def version(self) -> str: ...

    def cleanup(self) -> None: ...


def _opsdesk_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSDESK_")}
    env["OPSDESK_DATABASE_URL"] = database_url
    env["OPSDESK_DATA_DIR"] = str(data_dir)
    return env


class SqliteBackend:
    name = "SQLite"
    target_text = f"≥ {SQLITE_MIN_RATE:.0f}/s and p99 < {SQLITE_MAX_P99_MS:.0f} ms"

    def __init__(self, work_dir: Path) -> None:
        self.data_dir = work_dir / "sqlite"
        self.path = self.data_dir / "opsdesk.db"

    def prepare(self) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return _opsdesk_env(f"sqlite+aiosqlite:///{self.path.as_posix()}", self.data_dir)

    def _connect(self) -> sqlite3.Connection:
        # The same pragmas as the application's engine (src/opsdesk/core/database.py).
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=10000")
        return connection

    def incident_count(self) -> int:
        with contextlib.closing(self._connect()) as connection:
            count: int = connection.execute("SELECT count(*) FROM incidents").fetchone()[0]
            return count

    def user_id(self, email: str) -> str:
        with contextlib.closing(self._connect()) as connection:
            row = connection.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
        if row is None:
            raise BenchError(f"no user {email}")
        return str(row[0])

    def template_row(self, creator_id: str) -> dict[str, Any]:
        with contextlib.closing(self._connect()) as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute(
                "SELECT * FROM incidents WHERE creator_id = ? ORDER BY id DESC LIMIT 1",
                (creator_id,),
            ).fetchone()
        if row is None:
            raise BenchError("no incident to copy the row shape from")
        return dict(row)

    def raw_inserts(self, *, row: dict[str, Any], connections: int, seconds: float) -> RawResult:
        columns = [c for c in row if c not in GENERATED_COLUMNS]
        fixed = tuple(row[c] for c in columns)
        names = ", ".join(["number", *columns, "created_at", "updated_at"])
        marks = ", ".join("?" * (len(columns) + 3))
        statement = f"INSERT INTO incidents ({names}) VALUES ({marks})"
        counts = [0] * connections
        failures: list[str] = []
        ready = threading.Barrier(connections + 1)
        stop = threading.Event()
        run_id = time.monotonic_ns()

        def writer(index: int) -> None:
            try:
                connection = self._connect()
            except sqlite3.Error as exc:
                failures.append(str(exc))
                ready.abort()
                return
            try:
                ready.wait(timeout=30)
                n = 0
                while not stop.is_set():
                    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                    n += 1
                    # Autocommit: each execute is one INSERT and its COMMIT.
                    connection.execute(statement, (f"B{run_id}-{index}-{n}", *fixed, now, now))
                    counts[index] += 1
            except (sqlite3.Error, threading.BrokenBarrierError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
            finally:
                connection.close()

        workers = [
            threading.Thread(target=writer, args=(i,), daemon=True) for i in range(connections)
        ]
        for worker in workers:
            worker.start()
        try:
            ready.wait(timeout=30)
        except threading.BrokenBarrierError as exc:
            stop.set()
            raise BenchError(f"sqlite3 writers did not start: {failures}") from exc
        started = time.perf_counter()
        time.sleep(seconds)
        stop.set()
        for worker in workers:
            worker.join(timeout=PHASE_GRACE_S)
        elapsed = time.perf_counter() - started
        if failures:
            raise BenchError(f"sqlite3 raw inserts failed: {failures[0]}")
        return RawResult(
            connections=connections,
            rows_per_s=sum(counts) / elapsed,
            detail=f"sqlite3, {connections} thread(s), WAL, synchronous=NORMAL, autocommit",
        )

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def cleanup(self) -> None:
        """The files live in the run's temporary directory, which the run removes."""


class PostgresBackend:
    name = "PostgreSQL"
    target_text = f"≥ {PG_MIN_RATE:.0f}/s and API/raw ≥ {PG_MIN_RATIO:.2f}"

    def __init__(self, work_dir: Path, server_url: str, *, keep: bool) -> None:
        self.data_dir = work_dir / "postgres"
        self.keep = keep
        base = make_url(server_url)
        self.admin_url = self._libpq(base.set(database="postgres"))
        self.bench_url = self._libpq(base.set(database=BENCH_DATABASE))
        self.app_url = base.set(
            drivername="postgresql+asyncpg", database=BENCH_DATABASE
        ).render_as_string(hide_password=False)
        self.created = False

    @staticmethod
    def _libpq(url: URL) -> str:
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)

    def prepare(self) -> dict[str, str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._admin(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {BENCH_DATABASE}")
        self.created = True
        return _opsdesk_env(self.app_url, self.data_dir)

    def _query(self, statement: str, *params: object) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.bench_url, autocommit=True, connect_timeout=10) as connection:
            return connection.execute(statement, params).fetchall()

    def incident_count(self) -> int:
        return int(self._query("SELECT count(*) FROM incidents")[0][0])

    def user_id(self, email: str) -> str:
        rows = self._query("SELECT id FROM users WHERE email = %s", email)
        if not rows:
            raise BenchError(f"no user {email}")
        return str(rows[0][0])

    def template_row(self, creator_id: str) -> dict[str, Any]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.bench_url, connect_timeout=10, row_factory=dict_row) as conn:
            row = conn.execute(
                "SELECT * FROM incidents WHERE creator_id = %s ORDER BY id DESC LIMIT 1",
                (creator_id,),
            ).fetchone()
        if row is None:
            raise BenchError("no incident to copy the row shape from")
        return dict(row)

    def _pgbench_script(self, row: dict[str, Any], path: Path) -> None:
        import psycopg
        from psycopg import sql

        columns = [c for c in row if c not in GENERATED_COLUMNS]
        with psycopg.connect(self.bench_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute("CREATE SEQUENCE IF NOT EXISTS bench_number_seq")
            literals = [sql.Literal(row[c]).as_string(connection) for c in columns]
        for literal in literals:
            # pgbench would read ":name" inside the SQL as one of its variables.
            if re.search(r":[A-Za-z_]", literal):
                raise BenchError(f"a value of the template row looks like a variable: {literal}")
        names = ", ".join(["number", *columns, "created_at", "updated_at"])
        values = ", ".join(["'B' || nextval('bench_number_seq')", *literals, "now()", "now()"])
        path.write_text(f"INSERT INTO incidents ({names}) VALUES ({values});\n")

    def raw_inserts(self, *, row: dict[str, Any], connections: int, seconds: float) -> RawResult:
        script = self.data_dir / "insert_incident.sql"
        if not script.exists():
            self._pgbench_script(row, script)
        output = run(
            [
                "pgbench",
                "-n",
                "-c",
                str(connections),
                "-j",
                str(min(2, connections)),
                "-T",
                str(max(1, round(seconds))),
                "-f",
                str(script),
                self.bench_url,
            ],
            timeout=seconds + PHASE_GRACE_S,
            what="pgbench",
        )
        tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", output, re.M)
        if tps is None:
            raise BenchError(f"pgbench printed no tps:\n{output[-2000:]}")
        failed = re.search(r"^number of failed transactions: (\d+)", output, re.M)
        if failed is not None and int(failed.group(1)) > 0:
            raise BenchError(f"pgbench: {failed.group(1)} failed transactions")
        latency = re.search(r"^latency average = ([\d.]+) ms", output, re.M)
        return RawResult(
            connections=connections,
            rows_per_s=float(tps.group(1)),
            detail=f"pgbench -c{connections} -j{min(2, connections)}"
            + (f", {latency.group(1)} ms avg" if latency else ""),
        )

    def version(self) -> str:
        rows = self._query("SHOW server_version")
        return f"PostgreSQL {rows[0][0]}"

    def cleanup(self) -> None:
        if self.created and not self.keep:
            with contextlib.suppress(Exception):
                self._admin(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


# --------------------------------------------------------------------------- one backend


@dataclass
class BackendResult:
    backend: str
    version: str
    target_text: str
    api: LoadResult
    rows_added: int
    raw_c: RawResult
    raw_1: RawResult
    cpu: CpuWindow
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.api.creates_per_s / self.raw_c.rows_per_s if self.raw_c.rows_per_s else 0.0

    @property
    def ratio_1(self) -> float:
        return self.api.creates_per_s / self.raw_1.rows_per_s if self.raw_1.rows_per_s else 0.0

    @property
    def passed(self) -> bool:
        return all(ok for _, ok in self.checks)


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup: float
    connections: int
    wrk_threads: int
    use_wrk: bool
    profile_dir: Path | None
    profile_format: str
    server_env: dict[str, str] = field(default_factory=dict)
    background_cores: float | None = None


@contextlib.contextmanager
def _profiling(options: Options, pid: int, backend: str) -> Iterator[None]:
    """py-spy record (GIL holder only) of the server during the measured phase, if asked."""
    if options.profile_dir is None:
        yield
        return
    py_spy = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(py_spy).exists():
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    options.profile_dir.mkdir(parents=True, exist_ok=True)
    suffix = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[options.profile_format]
    out = options.profile_dir / f"{backend.lower()}-api.{suffix}"
    recorder = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(options.seconds))),
            "--rate",
            "100",
            # Only threads holding the GIL: the Python CPU work that bounds one worker.
            "--gil",
            "--format",
            options.profile_format,
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        try:
            recorder.wait(timeout=PHASE_GRACE_S)
        except subprocess.TimeoutExpired:
            stop_process(recorder)
        _log(f"profile of the server: {out}")


def bench_backend(backend: Backend, options: Options, work_dir: Path) -> BackendResult:
    _log(f"{backend.name}: fresh database")
    env = backend.prepare() | options.server_env
    run([OPSDESK, "db", "upgrade"], env=env, timeout=CLI_TIMEOUT_S, what="opsdesk db upgrade")
    run([OPSDESK, "demo", "load"], env=env, timeout=CLI_TIMEOUT_S, what="opsdesk demo load")
    token = run(
        [OPSDESK, "tokens", "create", TOKEN_USER],
        env=env,
        timeout=CLI_TIMEOUT_S,
        what="opsdesk tokens create",
    ).strip()
    creator_id = backend.user_id(TOKEN_USER)
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1/incidents"

    def load(seconds: float) -> LoadResult:
        if options.use_wrk:
            return run_wrk(
                url=url,
                token=token,
                seconds=seconds,
                connections=options.connections,
                threads=options.wrk_threads,
            )
        return run_httpx(url=url, token=token, seconds=seconds, connections=options.connections)

    log_path = work_dir / f"server-{backend.name.lower()}.log"
    with running_server(env, port, log_path) as pid:
        _log(f"{backend.name}: server pid {pid} on port {port}; warm-up {options.warmup:.0f} s")
        warm = load(options.warmup)
        if warm.created == 0:
            raise BenchError(f"warm-up created nothing; first other response: {warm.first_other}")
        time.sleep(SETTLE_S)  # let requests cut off by the end of the warm-up land
        before = backend.incident_count()
        _log(f"{backend.name}: POST /api/v1/incidents for {options.seconds:.0f} s")
        with _profiling(options, pid, backend.name), CpuWindow(pid) as cpu:
            api = load(options.seconds)
    rows_added = backend.incident_count() - before
    _log(
        f"{backend.name}: {api.created} created ({api.creates_per_s:.0f}/s), "
        f"{api.other} other responses, {api.socket_errors} socket errors, "
        f"{rows_added} rows added"
    )
    if api.other:
        _log(f"{backend.name}: first non-201 response: {api.first_other}")

    row = backend.template_row(creator_id)
    _log(f"{backend.name}: raw single-row inserts, warm-up {options.warmup:.0f} s")
    backend.raw_inserts(row=row, connections=options.connections, seconds=options.warmup)
    _log(f"{backend.name}: raw inserts at c={options.connections} for {options.seconds:.0f} s")
    raw_c = backend.raw_inserts(row=row, connections=options.connections, seconds=options.seconds)
    _log(f"{backend.name}: raw inserts at c=1 for {options.seconds:.0f} s")
    raw_1 = backend.raw_inserts(row=row, connections=1, seconds=options.seconds)
    for raw in (raw_c, raw_1):
        _log(f"{backend.name}: {raw.rows_per_s:,.0f} raw inserts/s ({raw.detail})")
    result = BackendResult(
        backend=backend.name,
        version=backend.version(),
        target_text=backend.target_text,
        api=api,
        rows_added=rows_added,
        raw_c=raw_c,
        raw_1=raw_1,
        cpu=cpu,
    )
    if isinstance(backend, PostgresBackend):
        result.checks = [
            (f"≥ {PG_MIN_RATE:.0f}/s", api.creates_per_s >= PG_MIN_RATE),
            (f"ratio ≥ {PG_MIN_RATIO:.2f}", result.ratio >= PG_MIN_RATIO),
        ]
    else:
        result.checks = [
            (f"≥ {SQLITE_MIN_RATE:.0f}/s", api.creates_per_s >= SQLITE_MIN_RATE),
            (f"p99 < {SQLITE_MAX_P99_MS:.0f} ms", api.p99_ms < SQLITE_MAX_P99_MS),
        ]
    # Every 201 is a row; up to one more per connection comes from the request cut off when
    # wrk stopped (the server finishes it while shutting down); allow twice that.
    if not api.created <= rows_added <= api.created + api.other + options.connections * 2:
        result.checks.append((f"rows added {rows_added} match the 201s {api.created}", False))
    return result


# --------------------------------------------------------------------------- report


def machine_lines(results: Sequence[BackendResult], options: Options) -> list[str]:
    model = cpu_model()
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    generator = results[0].api.generator if results else ("wrk" if options.use_wrk else "httpx")
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPUs: {os.cpu_count()} x {model}; memory {memory}",
        f"- Python {platform.python_version()}; " + "; ".join(result.version for result in results),
        f"- load generator: {generator}, {options.connections} connections"
        + (f", {options.wrk_threads} threads" if options.use_wrk else "")
        + f"; {options.warmup:.0f} s warm-up, "
        f"{options.seconds:.0f} s measured per phase",
        "- background load before the run: "
        + (
            f"{options.background_cores:.2f} of {os.cpu_count()} cores busy"
            if options.background_cores is not None
            else "unknown"
        ),
        "- server settings: "
        + (", ".join(f"{k}={v}" for k, v in options.server_env.items()) or "defaults"),
    ]


def result_table(results: Sequence[BackendResult], connections: int) -> list[str]:
    c = connections
    lines = [
        f"| backend | API creates/s | p50 | p99 | raw inserts/s c={c} | raw inserts/s c=1 "
        f"| API/raw c={c} | API/raw c=1 | target | result |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in results:
        verdict = ", ".join(f"{name}: {'PASS' if ok else 'FAIL'}" for name, ok in r.checks)
        lines.append(
            f"| {r.backend} | {r.api.creates_per_s:,.0f} | {r.api.p50_ms:.1f} ms "
            f"| {r.api.p99_ms:.1f} ms | {r.raw_c.rows_per_s:,.0f} | {r.raw_1.rows_per_s:,.0f} "
            f"| {r.ratio:.3f} | {r.ratio_1:.3f} | {r.target_text} | {verdict} |"
        )
    return lines


def detail_table(results: Sequence[BackendResult]) -> list[str]:
    """Correctness counts and the CPU budget of one create during the measured phase."""
    lines = [
        "| backend | requests | 201 | other | socket errors | rows added "
        "| CPU ms per create: server / postgres / load gen / rest of machine "
        f"| cores busy (of {os.cpu_count()}) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        cpu = r.cpu

        def per_create(seconds: float | None, *, created: int = r.api.created) -> str:
            if seconds is None or not created:
                return "n/a"
            return f"{seconds / created * 1000:.2f}"

        budget = " / ".join(
            per_create(part) for part in (cpu.server, cpu.postgres, cpu.loadgen, cpu.other)
        )
        busy = f"{cpu.machine / cpu.elapsed:.2f}" if cpu.machine and cpu.elapsed else "n/a"
        lines.append(
            f"| {r.backend} | {r.api.requests:,} | {r.api.created:,} | {r.api.other:,} "
            f"| {r.api.socket_errors:,} | {r.rows_added:,} | {budget} | {busy} |"
        )
    return lines


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per phase")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (-t)")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python httpx load generator")
    parser.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy the measured phase"
    )
    parser.add_argument(
        "--profile-format", choices=("flamegraph", "speedscope", "raw"), default="flamegraph"
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="OPSDESK_X=VALUE",
        help="a setting for the server, e.g. OPSDESK_DB_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--strict", action="store_true", help="exit with 2 when a target is missed")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup <= 0 or args.connections < 1:
        parser.error("--seconds, --warmup and --connections must be positive")
    for item in args.server_env:
        if not re.fullmatch(r"OPSDESK_[A-Z0-9_]+=.*", item):
            parser.error(f"--server-env wants OPSDESK_NAME=VALUE, not {item!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    names = chosen_backends(args.backends)
    if names is None:
        return 1

    use_wrk = not args.no_wrk and ensure_wrk()
    if not use_wrk:
        reason = "--no-wrk given" if args.no_wrk else "wrk is not available"
        print(
            f"NOTE: {reason}: using the Python httpx load generator instead, which costs "
            "more CPU on the same cores, so the API numbers come out lower than with wrk.",
            flush=True,
        )
    background = warn_if_busy("the numbers will be lower")
    options = Options(
        seconds=args.seconds,
        warmup=args.warmup,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        use_wrk=use_wrk,
        profile_dir=args.profile,
        profile_format=args.profile_format,
        server_env=dict(item.split("=", 1) for item in args.server_env),
        background_cores=background,
    )
    if "postgres" in names and shutil.which("pgbench") is None:
        print("error: pgbench is not installed (it comes with PostgreSQL)", file=sys.stderr)
        return 1

    work_dir = Path(tempfile.mkdtemp(prefix="opsdesk-bench-"))
    results: list[BackendResult] = []
    try:
        for name in names:
            backend: Backend
            if name == "sqlite":
                backend = SqliteBackend(work_dir)
            else:
                server_url = os.environ.get("OPSDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
                backend = PostgresBackend(work_dir, server_url, keep=args.keep)
            try:
                results.append(bench_backend(backend, options, work_dir))
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
    print("\n".join(machine_lines(results, options)))
    print()
    print("\n".join(result_table(results, options.connections)))
    print()
    print("\n".join(detail_table(results)))
    if args.strict and not all(result.passed for result in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
