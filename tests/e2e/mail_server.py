"""A real ``opsdesk mail serve`` process on a fresh SQLite database, and ways to look inside."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPSDESK = Path(sys.executable).parent / "opsdesk"
STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class MailDesk:
    """A data directory with a migrated database, and the listener processes started on it."""

    data_dir: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls, data_dir: Path, **settings: str) -> MailDesk:
        env = {
            **os.environ,
            "OPSDESK_DATA_DIR": str(data_dir),
            "OPSDESK_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'opsdesk.db'}",
            "OPSDESK_MAIL_FROM": "Helpdesk <helpdesk@desk.test>",
            **{f"OPSDESK_{name.upper()}": value for name, value in settings.items()},
        }
        desk = cls(data_dir=data_dir, env=env)
        desk.run("db", "upgrade")
        return desk

    def run(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [str(OPSDESK), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"opsdesk {' '.join(args)}: {result.stderr.decode()}"
        return result

    def start(self) -> None:
        """Start ``opsdesk mail serve`` and wait until it accepts connections."""
        self.port = self.port or free_port()
        with (self.data_dir / "mail.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [str(OPSDESK), "mail", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.started.append(self.process)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mail serve exited:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"mail serve did not listen in {STARTUP_TIMEOUT_S} s:\n{self.log()}")

    def log(self) -> str:
        path = self.data_dir / "mail.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    def query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.data_dir / "opsdesk.db", timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params))

    def mail(self, mail_id: int, timeout_s: float = 30.0) -> sqlite3.Row:
        """The inbound mail row once processed (not pending any more)."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.query("SELECT * FROM inbound_mails WHERE id = ?", mail_id)
            if rows and rows[0]["status"] != "pending":
                return rows[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"inbound mail {mail_id} still pending:\n{self.log()}")
            time.sleep(0.05)

    def incident(self, incident_id: int) -> sqlite3.Row:
        return self.query("SELECT * FROM incidents WHERE id = ?", incident_id)[0]
