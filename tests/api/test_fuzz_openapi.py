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

import httpx
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

# Examples per operation (valid data, invalid data) for each database and caller: a CI
# budget of about three minutes on two cores. The admin reaches every handler; the end
# user mostly meets the permission checks, which are cheap to cover.
BUDGET: dict[tuple[str, str], tuple[int, int]] = {
    ("sqlite", "admin"): (8, 4),
    ("sqlite", "end_user"): (4, 0),
    ("postgres", "admin"): (4, 1),
    ("postgres", "end_user"): (2, 0),
}
# Set, it is the number of examples of every kind everywhere (a deep run: 100 or more).
DEEP_EXAMPLES = os.environ.get("OPSDESK_FUZZ_EXAMPLES")
# Revoking the caller's own token would turn every later request into a 401.
REVOKES_OWN_TOKEN = ("DELETE", "/api/v1/me/tokens/{token_id}")
# Hypothesis is driven here (settings below), one operation at a time, so one failing
# operation does not hide the others; schemathesis generates the requests and checks them.
CONFIG = SchemathesisConfig.from_dict({"seed": 24, "generation": {"deterministic": True}})
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class FuzzTarget:
    backend: str
    app: FastAPI
    tokens: dict[str, str]


async def _populate(url: str) -> dict[str, str]:
    """Users of every role and one incident, so ids in paths sometimes exist."""
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
            (own,) = (await http.get("/api/v1/me/tokens", headers=revoker.headers)).json()
    finally:
        await db.dispose()
    return {
        "admin": desk.admin.token,
        "end_user": desk.user.token,
        "revoker": revoker.token,
        "revoker_token_id": own["id"],
    }


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
    app = create_app(settings, clock=FixedClock(START))
    yield FuzzTarget(backend=str(request.param), app=app, tokens=tokens)
    shutil.rmtree(data_dir / "attachments", ignore_errors=True)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _budget(backend: str, who: str) -> dict[GenerationMode, int]:
    if DEEP_EXAMPLES is not None:
        return dict.fromkeys((GenerationMode.POSITIVE, GenerationMode.NEGATIVE), int(DEEP_EXAMPLES))
    positive, negative = BUDGET[(backend, who)]
    return {GenerationMode.POSITIVE: positive, GenerationMode.NEGATIVE: negative}


def _fuzz(
    app: FastAPI,
    token: str,
    budget: dict[GenerationMode, int],
    *,
    only: tuple[str, str] | None,
) -> list[str]:
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
        for mode, examples in budget.items():
            problem = _fuzz_operation(operation, mode, examples, token) if examples else None
            if problem is not None:
                failures.append(f"{key[0]} {key[1]} ({mode.value} data): {problem}"[:3000])
    return failures


def _fuzz_operation(
    operation: Any, mode: GenerationMode, examples: int, token: str, **fixed: Any
) -> str | None:
    try:
        strategy = operation.as_strategy(generation_mode=mode, **fixed)
    except Exception:  # nothing of this mode to generate (e.g. no parameter to make invalid)
        return None

    @settings(
        max_examples=examples,
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


@pytest.fixture(params=["admin", "end_user"])
def who(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_operation_answers_5xx_or_breaks_its_schema(fuzz_target: FuzzTarget, who: str) -> None:
    budget = _budget(fuzz_target.backend, who)
    failures = _fuzz(fuzz_target.app, fuzz_target.tokens[who], budget, only=None)
    assert not failures, "\n\n".join(failures)


def test_revoking_tokens_answers_no_5xx_even_the_callers_own(fuzz_target: FuzzTarget) -> None:
    budget = _budget(fuzz_target.backend, "admin")
    token = fuzz_target.tokens["revoker"]
    failures = _fuzz(fuzz_target.app, token, budget, only=REVOKES_OWN_TOKEN)
    assert not failures, "\n\n".join(failures)
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_target.app, config=CONFIG)
    revoke = schema[REVOKES_OWN_TOKEN[1]][REVOKES_OWN_TOKEN[0]]
    own = {"token_id": fuzz_target.tokens["revoker_token_id"]}
    problem = _fuzz_operation(revoke, GenerationMode.POSITIVE, 3, token, path_parameters=own)
    assert problem is None, problem
    me = schema["/api/v1/me"]["GET"].Case().call(headers=_bearer(token))
    assert me.status_code == 401  # the token revoked itself
