"""The fuzzing guard: schemathesis sends generated requests to every operation of
``/openapi.json`` (native and COC routes), in-process through the ASGI stack, once with an
admin's token and once with an end user's, and fails on any 5xx or any response that does
not match the schema the operation declares.

The examples per operation are few and derandomised (the same ones on every run), so this
stays a few minutes of CI; ``OPSDESK_FUZZ_EXAMPLES`` raises them for a deeper local run:
``OPSDESK_FUZZ_EXAMPLES=200 pytest tests/api/test_fuzz_openapi.py``. The one route that
revokes the caller's own token runs last, apart, with a token of its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from opsdesk.app import create_app
from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.conftest import START, PostgresServer, _new_database_url
from tests.factories import create_incident, make_actor, make_desk

MAX_EXAMPLES = int(os.environ.get("OPSDESK_FUZZ_EXAMPLES", "10"))
# Revoking the caller's own token would turn every later request into a 401.
REVOKES_OWN_TOKEN = ("DELETE", "/api/v1/me/tokens/{token_id}")
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 24,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
        # Examples and fuzzing only: the coverage phase enumerates every boundary of every
        # parameter, thousands of requests, which is for a deep run, not for every CI run.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    }
)
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class FuzzTarget:
    app: FastAPI
    tokens: dict[str, str]


async def _populate(url: str) -> dict[str, str]:
    """Users of every role and one incident, so ids in paths sometimes exist."""
    import httpx

    db = Database(url)
    clock = FixedClock(START)
    try:
        desk = await make_desk(db, clock)
        revoker = await make_actor(db, clock, Role.END_USER, "revoker@desk.test")
        app = create_app(
            Settings(secret_key="fuzz-" + "k" * 40, run_worker=False), db=db, clock=clock
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://fuzz.test") as http:
            await create_incident(http, desk.user, title="fuzzed incident")
    finally:
        await db.dispose()
    return {"admin": desk.admin.token, "end_user": desk.user.token, "revoker": revoker.token}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_target(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    postgres: PostgresServer | None,
) -> Iterator[FuzzTarget]:
    data_dir = tmp_path_factory.mktemp(f"fuzz-{uuid.uuid4().hex[:6]}")
    url = _new_database_url(str(request.param), data_dir, sqlite_template, postgres)
    tokens = asyncio.run(_populate(url))
    settings = Settings(
        data_dir=data_dir, database_url=url, secret_key="fuzz-" + "k" * 40, run_worker=False
    )
    yield FuzzTarget(app=create_app(settings, clock=FixedClock(START)), tokens=tokens)
    shutil.rmtree(data_dir / "attachments", ignore_errors=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fuzz(app: FastAPI, token: str, *, only: tuple[str, str] | None) -> list[str]:
    """Fuzz every operation (or ``only`` that one, else all but ``REVOKES_OWN_TOKEN``);
    one line per operation that failed, with the request that showed it."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 100  # every route, native and COC
    for operation in operations:
        key = (operation.method.upper(), operation.path)
        if (key != only) if only is not None else (key == REVOKES_OWN_TOKEN):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problem = _fuzz_operation(operation, mode, token)
            if problem is not None:
                failures.append(f"{key[0]} {key[1]} ({mode.value} data): {problem}"[:3000])
    return failures


def _fuzz_operation(operation: Any, mode: GenerationMode, token: str) -> str | None:
    try:
        strategy = operation.as_strategy(generation_mode=mode)
    except Exception:
        return None

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        case.call_and_validate(headers=_bearer(token), checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        return None  # e.g. no parameter to make invalid: the other mode covers it
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def test_no_operation_answers_5xx_or_breaks_its_schema(fuzz_target: FuzzTarget) -> None:
    failures = []
    for who in ("admin", "end_user"):
        found = _fuzz(fuzz_target.app, fuzz_target.tokens[who], only=None)
        failures.extend(f"[{who}] {failure}" for failure in found)
    assert not failures, "\n\n".join(failures)


def test_revoking_a_token_answers_no_5xx(fuzz_target: FuzzTarget) -> None:
    failures = _fuzz(fuzz_target.app, fuzz_target.tokens["revoker"], only=REVOKES_OWN_TOKEN)
    assert not failures, "\n\n".join(failures)
