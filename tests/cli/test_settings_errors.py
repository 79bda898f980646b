"""Invalid ``OPSDESK_*`` settings: one short line each and exit code 2, for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsdesk.core.settings import Settings
from tests.cli.test_cli import Cli

SRC = Path(__file__).resolve().parents[2] / "src"

COMMANDS = [
    ("db", "upgrade"),
    ("demo", "load"),
    ("users", "list"),
    ("users", "create", "someone@example.com"),
    ("tokens", "create", "admin@example.com"),
    ("incidents", "sweep"),
    ("shifts", "on-duty", "service-desk", "incident-manager"),
    ("worker", "--once"),
    ("serve", "--port", "1"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_every_command_names_the_bad_setting(tmp_path: Path, args: tuple[str, ...]) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)
    cli.env["OPSDESK_SMTP_TLS"] = "false"
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "opsdesk: invalid setting OPSDESK_SMTP_TLS='false': allowed: none, starttls, tls\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "cli.db").exists()  # stopped before doing anything


def test_several_bad_settings_one_line_each(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path)
    cli.env.update(
        {
            "OPSDESK_RUN_WORKER": "maybe",
            "OPSDESK_SMTP_PORT": "smtp",
            "OPSDESK_SESSION_MAX_AGE_S": "5",
            "OPSDESK_SECRET_KEY": "fine-and-not-shown",
        }
    )
    result = cli("users", "list")
    assert result.exit_code == 2
    assert sorted(result.stderr.splitlines()) == [
        "opsdesk: invalid setting OPSDESK_RUN_WORKER='maybe': "
        "allowed: true, false, yes, no, on, off, 1, 0",
        "opsdesk: invalid setting OPSDESK_SESSION_MAX_AGE_S='5': "
        "allowed: greater than or equal to 60",
        "opsdesk: invalid setting OPSDESK_SMTP_PORT='smtp': allowed: a whole number",
    ]


def test_a_bad_database_url_is_named_but_not_echoed(tmp_path: Path) -> None:
    cli = Cli("", tmp_path)
    cli.env["OPSDESK_DATABASE_URL"] = "postgresql://user:s3cret@host/db"
    cli.env["OPSDESK_DB_POOL_SIZE"] = "0"
    result = cli("users", "list")
    assert result.exit_code == 2
    assert "OPSDESK_DB_POOL_SIZE='0'" in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(
    ("given", "meaning"),
    [
        *((word, True) for word in ("true", "True", "YES", "on", "On", "1")),
        *((word, False) for word in ("false", "FALSE", "no", "No", "off", "OFF", "0")),
    ],
)
def test_on_off_settings_accept_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, given: str, meaning: bool
) -> None:
    monkeypatch.setenv("OPSDESK_RUN_WORKER", given)
    monkeypatch.setenv("OPSDESK_COOKIE_SECURE", given)
    settings = Settings()
    assert settings.run_worker is meaning
    assert settings.cookie_secure is meaning


def test_serve_as_a_process_prints_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "OPSDESK_DATA_DIR": str(tmp_path),
        "OPSDESK_SMTP_TLS": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "opsdesk", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "opsdesk: invalid setting OPSDESK_SMTP_TLS='false': allowed: none, starttls, tls"
    ]
