"""The README's "first five minutes" work as written: its create, accept and resolve bodies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx

from opsdesk.core.clock import FixedClock
from tests.factories import Desk

README = Path(__file__).resolve().parents[2] / "README.md"


def first_five_minutes_calls() -> list[tuple[str, dict[str, object]]]:
    """(path, JSON body) of every incident ``curl -X POST`` in that section, in order.

    The section's other calls (an alert sent with a shell variable in its body) are not
    incident calls; they are tried in tests/api/test_alerts_pagerduty.py.
    """
    text = README.read_text()
    section = text.split("## The first five minutes", 1)[1].split("\n## ", 1)[0]
    calls = []
    for command in re.findall(r"curl -s -X POST (\S+)(.*?)-d '(.*?)'", section, re.DOTALL):
        url, _headers, body = command
        if "/api/v1/incidents" not in url:
            continue
        calls.append((url.removeprefix("http://127.0.0.1:8000"), json.loads(body)))
    return calls


async def test_readme_create_accept_resolve(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))  # after the README's fault times
    calls = first_five_minutes_calls()
    assert [path.rsplit("/", 1)[-1] for path, _ in calls] == ["incidents", "accept", "resolve"]
    headers = desk.admin.headers
    number = ""
    for path, body in calls:
        response = await client.post(path.replace("<number>", number), json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
        number = number or response.json()["number"]
    incident = (await client.get(f"/api/v1/incidents/{number}", headers=headers)).json()
    assert incident["phase"] == "resolved"
    assert incident["fault_recovery_at"] == "2026-12-04T09:40:00Z"


async def test_a_bare_resolution_names_everything_missing_at_once(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    (create, _), (accept, accept_body), (resolve, resolve_body) = first_five_minutes_calls()
    headers = desk.admin.headers
    created = await client.post(create, json=first_five_minutes_calls()[0][1], headers=headers)
    number = created.json()["number"]
    await client.post(accept.replace("<number>", number), json=accept_body, headers=headers)
    refused = await client.post(resolve.replace("<number>", number), json={}, headers=headers)
    assert refused.status_code == 422
    error = refused.json()["error"]
    fields = [problem["field"] for problem in error["details"]]
    assert fields == ["cause", "solution", "fault_occurred_at", "fault_recovery_at"]
    for field in fields:
        assert f"{field}: " in error["message"]
    # Everything the refusal named, and nothing more, is what the README sends.
    assert set(fields) == set(resolve_body) - {"category"}


async def test_fault_recovery_at_is_one_name_both_ways_the_old_one_still_taken(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    clock.set(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    headers = desk.admin.headers
    (create, create_body), (accept, _), (resolve, resolve_body) = first_five_minutes_calls()
    for sent_as in ("fault_recovery_at", "fault_recovery_time"):
        number = (await client.post(create, json=create_body, headers=headers)).json()["number"]
        await client.post(accept.replace("<number>", number), json={}, headers=headers)
        actions = await client.get(f"/api/v1/incidents/{number}/actions", headers=headers)
        schema = next(a for a in actions.json()["actions"] if a["action"] == "resolve")
        assert "fault_recovery_at" in schema["params_schema"]["properties"]
        body = {**resolve_body}
        body[sent_as] = body.pop("fault_recovery_at")
        resolved = await client.post(
            resolve.replace("<number>", number), json=body, headers=headers
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["fault_recovery_at"] == "2026-12-04T09:40:00Z"
