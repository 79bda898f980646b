"""``opsdesk --help`` starts without loading the application's heavy libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("fastapi", "starlette", "sqlalchemy", "alembic", "jinja2", "uvicorn", "argon2")


def imported_modules(*args: str) -> set[str]:
    """The modules ``python -m opsdesk ARGS`` imports, read from ``-X importtime``."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "opsdesk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {line.rsplit("|", 1)[1].strip() for line in lines}


@pytest.mark.parametrize("args", [("--help",), ("db", "--help"), ("users", "create", "--help")])
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    modules = imported_modules(*args)
    assert "opsdesk.cli" in modules  # the measurement itself works
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == []
