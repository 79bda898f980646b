"""Administrators see dead background jobs and retry them, through the API and the web page."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.core import job_claims, jobs
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from tests.api.test_web_pages import csrf_of, sign_in
from tests.factories import Desk


async def dead_job(db: Database, clock: FixedClock, kind: str = "mail.send") -> int:
    async with db.write() as session:
        await jobs.enqueue(
            session, kind=kind, payload={"to": "a@b.test"}, now=clock.now(), max_attempts=1
        )
        [job] = await job_claims.claim(
            session, worker_id="w:1", now=clock.now(), limit=1, lease_s=30
        )
        assert (
            await job_claims.fail(
                session, job_id=job.id, worker_id="w:1", error="SMTP 554 rejected", now=clock.now()
            )
            == "dead"
        )
    return job.id


async def test_admins_list_dead_jobs_and_retry_one(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    job_id = await dead_job(db, clock)
    listing = await client.get("/api/v1/admin/jobs?state=dead", headers=desk.admin.headers)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["total"] == 1 and body["counts"]["dead"] == 1
    [item] = body["items"]
    assert (item["id"], item["kind"], item["state"]) == (job_id, "mail.send", "dead")
    assert item["last_error"] == "SMTP 554 rejected" and item["payload"] == {"to": "a@b.test"}

    retried = await client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=desk.admin.headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("ready", 0)
    ready = await client.get("/api/v1/admin/jobs?state=ready", headers=desk.admin.headers)
    assert [job["id"] for job in ready.json()["items"]] == [job_id]

    again = await client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=desk.admin.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    missing = await client.post("/api/v1/admin/jobs/999999/retry", headers=desk.admin.headers)
    assert missing.status_code == 404


@pytest.mark.parametrize("who", ["manager", "tech", "user"])
async def test_only_admins_see_or_retry_jobs(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock, who: str
) -> None:
    job_id = await dead_job(db, clock)
    headers = getattr(desk, who).headers
    assert (await client.get("/api/v1/admin/jobs", headers=headers)).status_code == 403
    post = await client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=headers)
    assert post.status_code == 403
    assert (await client.get("/api/v1/admin/jobs")).status_code == 401


async def test_bad_list_parameters_name_the_field(client: httpx.AsyncClient, desk: Desk) -> None:
    response = await client.get("/api/v1/admin/jobs?state=lost", headers=desk.admin.headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "state"


async def test_the_jobs_page_lists_dead_jobs_and_its_retry_button_works(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    job_id = await dead_job(db, clock)
    assert (await sign_in(client, "admin@desk.test", "admin-password")).status_code == 303
    page = await client.get("/admin/jobs")
    assert page.status_code == 200
    assert f'id="job-{job_id}"' in page.text and "SMTP 554 rejected" in page.text
    assert 'href="/admin"' in page.text  # the admin's navigation links to the admin hub
    hub = await client.get("/admin")
    assert 'href="/admin/jobs"' in hub.text

    refused = await client.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    form = {"csrf_token": csrf_of(page.text)}
    retried = await client.post(f"/admin/jobs/{job_id}/retry", data=form)
    assert (retried.status_code, retried.headers["location"]) == (303, "/admin/jobs?state=dead")
    after = await client.get("/admin/jobs")
    assert f"Job {job_id} (mail.send) will run again shortly." in after.text
    assert f'id="job-{job_id}"' not in after.text
    waiting = await client.get("/admin/jobs?state=ready")
    assert f'id="job-{job_id}"' in waiting.text

    twice = await client.post(f"/admin/jobs/{job_id}/retry", data=form)
    assert twice.status_code == 303
    assert "was not retried" in (await client.get("/admin/jobs")).text


async def test_the_jobs_page_is_for_admins_only(client: httpx.AsyncClient, desk: Desk) -> None:
    assert (await client.get("/admin/jobs")).headers["location"].startswith("/login")
    await sign_in(client, "user@desk.test", "user-password")
    assert (await client.get("/admin/jobs")).status_code == 403
    assert 'href="/admin"' not in (await client.get("/incidents")).text
