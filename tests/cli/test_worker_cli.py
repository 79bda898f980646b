"""``opsdesk worker``: one batch with --once, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsdesk.core.settings import Settings
from opsdesk.worker.handlers import default_handlers
from tests.cli.test_cli import Cli

OPSDESK = Path(sys.executable).parent / "opsdesk"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    runner = Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)
    result = runner("db", "upgrade")
    assert result.exit_code == 0, result.output
    return runner


def sweep_job(db_file: Path) -> tuple[str, int] | None:
    with sqlite3.connect(db_file) as conn:
        row = conn.execute(
            "SELECT state, attempts FROM jobs WHERE dedupe_key = 'recurring:incidents.sweep'"
        ).fetchone()
    return None if row is None else (row[0], row[1])


def test_once_runs_the_due_jobs_and_exits(cli: Cli, tmp_path: Path) -> None:
    first = cli("worker", "--once")
    assert first.exit_code == 0, first.output
    recurring = [spec for spec in default_handlers(Settings()).values() if spec.every_s]
    assert first.output.strip() == f"{len(recurring)} jobs run"  # recurring kinds, ensured
    assert sweep_job(tmp_path / "cli.db") == ("ready", 0)  # rescheduled, not finished
    second = cli("worker", "--once", "--batch", "5", "--concurrency", "2")
    assert second.output.strip() == "0 jobs run"
    assert cli("worker", "--batch", "0").exit_code != 0


def test_the_worker_stops_cleanly_on_sigterm(cli: Cli, tmp_path: Path) -> None:
    env = {**os.environ, **cli.env, "OPSDESK_LIFECYCLE_SWEEP_S": "0.2"}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(OPSDESK), "worker", "--concurrency", "2"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while sweep_job(tmp_path / "cli.db") is None and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        assert sweep_job(tmp_path / "cli.db") is not None, log.read_text()
        time.sleep(0.5)  # a few sweeps at 0.2 s
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "started" in log.read_text() and "stopped" in log.read_text()
    assert sweep_job(tmp_path / "cli.db") == ("ready", 0)
