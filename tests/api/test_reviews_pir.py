"""Post-incident reviews through the API: created on resolve with the five times from the
history, edits with reasons, action items as tasks, the workflow and its roles, exports."""

from __future__ import annotations

import importlib.util
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.jobs import Job
from opsdesk.core.settings import Settings
from opsdesk.incidents.events import INCIDENT_CHANGED
from opsdesk.notify.mail import MAIL_JOB
from opsdesk.reviews import time_summary
from opsdesk.worker.handlers import default_handlers
from opsdesk.worker.runner import Worker
from tests.factories import Desk, create_incident

CATEGORY = "inc_type_p_function_issues"
SECTIONS = {
    "client_impact": "Mail to customers was delayed for two hours.",
    "worked_well": "The on-call engineer was paged at once <fast>.",
    "did_not_work": "The disk alarm threshold was too high.",
    "recommendations": "Lower the disk alarm to 80 percent.",
}


async def run_events(db: Database, clock: FixedClock, settings: Settings) -> None:
    """What the worker does with the queued incident events."""
    handlers = {INCIDENT_CHANGED: default_handlers(settings)[INCIDENT_CHANGED]}
    worker = Worker(
        db=db, clock=clock, handlers=handlers, settings=settings, worker_id="t:1", concurrency=1
    )
    while await worker.run_once():
        pass


async def post(client: httpx.AsyncClient, actor: Any, url: str, body: Any = None) -> Any:
    response = await client.post(url, json=body or {}, headers=actor.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def resolved_incident(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, **fields: Any
) -> str:
    """A P1 through accept, forward to a second person, their work log, a reply, resolve."""
    start = clock.now() - timedelta(hours=3)
    number: str = (
        await create_incident(
            client,
            desk.tech,
            title="Mail relay down",
            description="No mail leaves the relay.",
            level="P1",
            assignee_id=desk.tech.id,
            fault_occurred_at=start.isoformat(),
            **fields,
        )
    )["number"]
    base = f"/api/v1/incidents/{number}"
    clock.advance(timedelta(minutes=10))
    await post(client, desk.tech, f"{base}/actions/accept")
    clock.advance(timedelta(minutes=15))
    await post(
        client,
        desk.tech,
        f"{base}/actions/forward",
        {"assignee_id": desk.tech2.id, "comment": "L2"},
    )
    clock.advance(timedelta(minutes=5))
    await post(
        client,
        desk.tech2,
        f"{base}/worklogs",
        {"description": "On the relay: the disk is full", "time_spent_minutes": 20},
    )
    await post(client, desk.tech2, f"{base}/conversations", {"body": "We are on it."})
    clock.advance(timedelta(minutes=30))
    await post(
        client,
        desk.tech2,
        f"{base}/actions/resolve",
        {
            "cause": "full disk",
            "solution": "rotated logs",
            "category": CATEGORY,
            "fault_recovery_time": (clock.now() - timedelta(minutes=5)).isoformat(),
        },
    )
    return number


async def review_of(client: httpx.AsyncClient, desk: Desk, number: str) -> dict[str, Any]:
    listed = await client.get(
        "/api/v1/reviews", params={"incident": number}, headers=desk.tech.headers
    )
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    got = await client.get(f"/api/v1/reviews/{item['id']}", headers=desk.tech.headers)
    assert got.status_code == 200
    body: dict[str, Any] = got.json()
    return body


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


async def test_a_resolved_p1_gets_a_review_that_goes_through_the_workflow_and_exports(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    number = await resolved_incident(client, desk, clock)
    await run_events(db, clock, settings)
    review = await review_of(client, desk, number)
    assert review["status"] == "draft" and review["required"] is True
    assert "P1" in review["required_reason"]
    assert "Cause: full disk" in review["resolution"]
    history = (
        await client.get(f"/api/v1/incidents/{number}/history", headers=desk.tech.headers)
    ).json()
    rows = history["items"] if isinstance(history, dict) else history
    ids = {row["action"]: [] for row in rows}
    for row in rows:
        ids[row["action"]].append(row["id"])
    times = {entry["key"]: entry for entry in review["time_summary"]}
    assert list(times) == list(time_summary.KEYS)
    assert all(entry["value"] and entry["source_id"] for entry in times.values()), times
    assert times["operations_notified"]["source_id"] == ids["create_incident"][0]
    assert times["operations_on_site"]["source_id"] == ids["incident_accept"][0]
    assert times["second_level_on_site"]["source_id"] == ids["incident_work_log"][0]
    assert times["services_restored"]["source_id"] == ids["incident_solution"][-1]
    assert review["client_impact_minutes"] == 3 * 60 + 60 - 5
    rid = review["id"]

    # Sections and a time edited (with a reason), an action item as a task.
    patched = await client.patch(f"/api/v1/reviews/{rid}", json=SECTIONS, headers=desk.tech.headers)
    assert patched.status_code == 200, patched.text
    no_reason = await client.patch(
        f"/api/v1/reviews/{rid}/times/operations_notified",
        json={"value": clock.now().isoformat()},
        headers=desk.tech.headers,
    )
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"
    edited = await client.patch(
        f"/api/v1/reviews/{rid}/times/operations_notified",
        json={
            "value": (clock.now() - timedelta(hours=3, minutes=-2)).isoformat(),
            "reason": "the NOC phoned the desk before the ticket was written",
        },
        headers=desk.tech.headers,
    )
    assert edited.status_code == 200, edited.text
    entry = next(e for e in edited.json()["time_summary"] if e["key"] == "operations_notified")
    assert entry["edited"] and entry["edited_by"] == desk.tech.id
    assert entry["reason"].startswith("the NOC") and entry["old_value"] is not None
    item = await post(
        client,
        desk.manager,
        f"/api/v1/reviews/{rid}/items",
        {
            "action": "Lower the disk alarm threshold",
            "responsibility": "Monitoring team",
            "assignee_id": desk.tech2.id,
            "priority": "high",
            "due_at": (clock.now() + timedelta(days=7)).isoformat(),
        },
    )
    (action_item,) = item["action_items"]
    assert action_item["task_id"] and action_item["task_status"] == "open"
    tasks = (
        await client.get(f"/api/v1/incidents/{number}/tasks", headers=desk.tech.headers)
    ).json()
    assert [t["title"] for t in tasks] == ["Lower the disk alarm threshold"]
    done = await client.patch(
        f"/api/v1/incidents/{number}/tasks/{action_item['task_id']}",
        json={"status": "done"},
        headers=desk.tech2.headers,
    )
    assert done.status_code == 200
    again = (await client.get(f"/api/v1/reviews/{rid}", headers=desk.tech.headers)).json()
    assert again["action_items"][0]["task_status"] == "done"

    # Workflow: the technician may not review; the manager returns, then reviews; the
    # admin (director) approves. Each step is a history row and a mail.
    assert review["author_id"] == desk.tech2.id  # whoever held the incident at resolve
    not_author = await client.post(
        f"/api/v1/reviews/{rid}/actions/submit", json={}, headers=desk.tech.headers
    )
    assert not_author.status_code == 403 and not_author.json()["error"]["field"] == "step"
    submitted = await post(client, desk.tech2, f"/api/v1/reviews/{rid}/actions/submit")
    assert submitted["status"] == "submitted"
    refused = await client.post(
        f"/api/v1/reviews/{rid}/actions/review", json={}, headers=desk.tech.headers
    )
    assert refused.status_code == 403
    no_comment = await client.post(
        f"/api/v1/reviews/{rid}/actions/return", json={}, headers=desk.manager.headers
    )
    assert no_comment.status_code == 422 and no_comment.json()["error"]["field"] == "comment"
    returned = await post(
        client,
        desk.manager,
        f"/api/v1/reviews/{rid}/actions/return",
        {"comment": "Say how long clients waited."},
    )
    assert returned["status"] == "returned"
    assert returned["history"][-1]["comment"] == "Say how long clients waited."
    await post(client, desk.tech2, f"/api/v1/reviews/{rid}/actions/submit")
    reviewed = await post(client, desk.manager, f"/api/v1/reviews/{rid}/actions/review")
    assert reviewed["status"] == "reviewed" and reviewed["reviewed_by"] == desk.manager.id
    not_director = await client.post(
        f"/api/v1/reviews/{rid}/actions/approve", json={}, headers=desk.manager.headers
    )
    assert not_director.status_code == 403
    approved = await post(client, desk.admin, f"/api/v1/reviews/{rid}/actions/approve")
    assert approved["status"] == "approved" and approved["approved_by"] == desk.admin.id
    steps = [row["action"] for row in approved["history"]]
    assert steps[-5:] == ["submit", "return", "submit", "review", "approve"]
    frozen = await client.patch(
        f"/api/v1/reviews/{rid}", json={"title": "x"}, headers=desk.tech.headers
    )
    assert frozen.status_code == 409 and frozen.json()["error"]["field"] == "status"
    async with db.read() as session:
        mails = [
            job.payload
            for job in await session.scalars(select(Job).where(Job.kind == MAIL_JOB))
            if str(job.payload.get("event", "")).startswith("review_")
        ]
    told = {(mail["event"], mail["to"]) for mail in mails}
    assert ("review_submitted", "manager@desk.test") in told
    assert ("review_returned", "tech2@desk.test") in told
    assert ("review_reviewed", "admin@desk.test") in told

    # Exports: Markdown, HTML, PDF (turned back into text), DOCX.
    md = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "md"}, headers=desk.tech.headers
    )
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert f'filename="pir-{number}.md"' in md.headers["content-disposition"]
    assert "| Second Level Support On-Site |" in md.text and "Lower the disk alarm" in md.text
    html = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "html"}, headers=desk.tech.headers
    )
    assert html.headers["content-type"].startswith("text/html")
    assert "<h3>What Didn&#39;t Work Well</h3>" in html.text
    assert "paged at once &lt;fast&gt;." in html.text and "<fast>" not in html.text
    pdf = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "pdf"}, headers=desk.tech.headers
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    flat = " ".join(text.split())
    for heading in (
        "Incident Description",
        "Time Summary",
        "Client Impact",
        "Incident Resolution",
        "What Worked Well",
        "What Didn't Work Well",
        "Recommendations",
        "Post-Incident Action Items",
        "Incident Timeline",
    ):
        assert heading in flat, heading
    for entry in approved["time_summary"]:
        assert entry["label"] in flat, entry["label"]
        value = entry["value"]
        assert value[11:16] in flat and value[:10] in flat, (entry["label"], value)
    for section in SECTIONS.values():
        assert section in flat, section
    assert number in flat and "Lower the disk alarm threshold" in flat
    docx = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "docx"}, headers=desk.tech.headers
    )
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    bad = await client.get(
        f"/api/v1/reviews/{rid}/export", params={"format": "odt"}, headers=desk.tech.headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "format"


async def test_a_missing_extra_answers_501_naming_the_format_and_the_extra(
    client: httpx.AsyncClient,
    desk: Desk,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    number = (await create_incident(client, desk.tech, level="P4"))["number"]
    review = await post(client, desk.tech, "/api/v1/reviews", {"incident_number": number})
    assert review["required"] is False
    real = importlib.util.find_spec

    def without_fpdf(name: str, *args: Any) -> Any:
        return None if name in ("fpdf", "docx") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_fpdf)
    for fmt, extra in (("pdf", "pdf"), ("docx", "docx")):
        answer = await client.get(
            f"/api/v1/reviews/{review['id']}/export",
            params={"format": fmt},
            headers=desk.tech.headers,
        )
        assert answer.status_code == 501, answer.text
        error = answer.json()["error"]
        assert error["field"] == "format" and f"opsdesk[{extra}]" in error["message"]


async def test_only_staff_see_reviews_and_bad_input_names_the_field(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    number = (await create_incident(client, desk.tech, reporter_id=desk.user.id))["number"]
    for call in (
        client.get("/api/v1/reviews", headers=desk.user.headers),
        client.post("/api/v1/reviews", json={"incident_number": number}, headers=desk.user.headers),
        client.get("/api/v1/reviews/1", headers=desk.user.headers),
        client.get("/api/v1/reviews/1/export", headers=desk.user.headers),
    ):
        assert (await call).status_code == 403
    missing = await client.post(
        "/api/v1/reviews", json={"incident_number": "INC-NOPE"}, headers=desk.tech.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "incident_number"
    created = await post(client, desk.tech, "/api/v1/reviews", {"incident_number": number})
    twice = await client.post(
        "/api/v1/reviews", json={"incident_number": number}, headers=desk.tech.headers
    )
    assert twice.status_code == 409 and twice.json()["error"]["field"] == "incident_number"
    rid = created["id"]
    for url, body, field in (
        (f"/api/v1/reviews/{rid}", {"title": ""}, "title"),
        (f"/api/v1/reviews/{rid}", {"colour": "red"}, "colour"),
        (
            f"/api/v1/reviews/{rid}/times/failure_occurred",
            {"value": "soon", "reason": "x y z"},
            "value",
        ),
        (f"/api/v1/reviews/{rid}/times/lunch", {"value": None, "reason": "x y z"}, "key"),
    ):
        answer = await client.patch(url, json=body, headers=desk.tech.headers)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, answer.text
    bad_item = await client.post(
        f"/api/v1/reviews/{rid}/items",
        json={"action": "x", "priority": "urgent"},
        headers=desk.tech.headers,
    )
    assert bad_item.status_code == 422 and bad_item.json()["error"]["field"] == "priority"
    bad_assignee = await client.post(
        f"/api/v1/reviews/{rid}/items",
        json={"action": "x", "assignee_id": desk.user.id},
        headers=desk.tech.headers,
    )
    assert bad_assignee.status_code == 422
    assert bad_assignee.json()["error"]["field"] == "assignee_id"
    assert (
        await client.get("/api/v1/reviews/999999", headers=desk.tech.headers)
    ).status_code == 404
    # An ordinary P3 that resolves gets no review; a major one does.
    await run_events(db, clock, settings)
    listed = (await client.get("/api/v1/reviews", headers=desk.tech.headers)).json()
    assert listed["total"] == 1


async def test_a_major_incident_needs_a_review_and_the_roles_are_configurable(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    number = await resolved_incident(client, desk, clock, major=True)
    low = await resolved_incident(client, desk, clock)
    settings = settings.model_copy(update={"pir_required_levels": "P2"})
    await run_events(db, clock, settings)
    listed = (await client.get("/api/v1/reviews", headers=desk.tech.headers)).json()
    assert [item["incident_number"] for item in listed["items"]] == [number]
    assert low
    review = listed["items"][0]
    assert review["required"]


async def test_action_items_change_and_cancel_their_tasks(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.tech, level="P3"))["number"]
    review = await post(client, desk.tech, "/api/v1/reviews", {"incident_number": number})
    rid = review["id"]
    first = await post(client, desk.tech, f"/api/v1/reviews/{rid}/items", {"action": "Patch it"})
    second = await post(
        client, desk.tech, f"/api/v1/reviews/{rid}/items", {"action": "Document it"}
    )
    one, two = second["action_items"]
    assert [one["position"], two["position"]] == [1, 2] and first["action_items"][0]["id"] == one[
        "id"
    ]
    changed = await client.patch(
        f"/api/v1/reviews/{rid}/items/{one['id']}",
        json={"action": "Patch the relay", "assignee_id": desk.tech2.id, "priority": "low"},
        headers=desk.tech.headers,
    )
    assert changed.status_code == 200, changed.text
    item = changed.json()["action_items"][0]
    assert item["action"] == "Patch the relay" and item["priority"] == "low"
    tasks_url = f"/api/v1/incidents/{number}/tasks"
    tasks = {t["id"]: t for t in (await client.get(tasks_url, headers=desk.tech.headers)).json()}
    assert tasks[one["task_id"]]["title"] == "Patch the relay"
    assert tasks[one["task_id"]]["assignee_id"] == desk.tech2.id
    null = await client.patch(
        f"/api/v1/reviews/{rid}/items/{one['id']}", json={"action": None}, headers=desk.tech.headers
    )
    assert null.status_code == 422 and null.json()["error"]["field"] == "action"
    removed = await client.delete(
        f"/api/v1/reviews/{rid}/items/{two['id']}", headers=desk.tech.headers
    )
    assert removed.status_code == 204
    tasks = {t["id"]: t for t in (await client.get(tasks_url, headers=desk.tech.headers)).json()}
    assert tasks[two["task_id"]]["status"] == "cancelled"
    gone = await client.delete(
        f"/api/v1/reviews/{rid}/items/{two['id']}", headers=desk.tech.headers
    )
    assert gone.status_code == 404 and gone.json()["error"]["field"] == "item_id"
    after = (await client.get(f"/api/v1/reviews/{rid}", headers=desk.tech.headers)).json()
    assert [i["id"] for i in after["action_items"]] == [one["id"]]
    assert [row["action"] for row in after["history"]] == [
        "created",
        "item_added",
        "item_added",
        "item_changed",
        "item_removed",
    ]


async def test_resolving_again_refreshes_the_times_nobody_edited(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, settings: Settings
) -> None:
    number = await resolved_incident(client, desk, clock)
    await run_events(db, clock, settings)
    review = await review_of(client, desk, number)
    rid = review["id"]
    edited = await client.patch(
        f"/api/v1/reviews/{rid}/times/operations_on_site",
        json={"value": None, "reason": "nobody was on site"},
        headers=desk.tech.headers,
    )
    assert edited.status_code == 200
    base = f"/api/v1/incidents/{number}/actions"
    clock.advance(timedelta(hours=1))
    await post(client, desk.tech2, f"{base}/reopen", {"reason": "mail stuck again"})
    clock.advance(timedelta(minutes=30))
    await post(
        client,
        desk.tech2,
        f"{base}/resolve",
        {
            "cause": "full disk",
            "solution": "grew the volume",
            "fault_recovery_time": clock.now().isoformat(),
        },
    )
    await run_events(db, clock, settings)
    again = (await client.get(f"/api/v1/reviews/{rid}", headers=desk.tech.headers)).json()
    times = {entry["key"]: entry for entry in again["time_summary"]}
    assert times["services_restored"]["value"] == clock.now().isoformat().replace("+00:00", "Z")
    assert times["operations_on_site"]["value"] is None  # the hand edit stays
    assert again["history"][-1]["action"] == "times_refreshed"
