"""Tasks and work orders in the console, through the ASGI stack on the demo desk: the
incident page's section and its forms, the resolve warning with its override, and the
work-order pages."""

from __future__ import annotations

import re

import httpx

from tests.api.test_incident_page import post_form, report, switch
from tests.api.test_web_pages import client, csrf_of, database_url, sign_in

__all__ = ["client", "database_url"]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
RESOLVE = {
    "cause": "Failed NIC in lb-2",
    "solution": "Traffic moved to lb-1",
    "category": "inc_type_p_network_issues",
}


async def test_tasks_and_work_orders_on_the_incident_page_and_the_resolve_override(
    client: httpx.AsyncClient,
) -> None:
    await sign_in(client, "user@example.com", "demo-user")
    number = await report(client, "Website slow in the work test")
    # The portal shows no tasks section, and the routes refuse an end user.
    portal = await client.get(f"/incidents/{number}")
    assert 'id="work"' not in portal.text
    refused = await post_form(client, number, "tasks", {"title": "sneaky"})
    assert refused.status_code == 403
    assert (await client.get("/work-orders")).status_code == 403

    await switch(client, "tech@example.com", "demo-tech")
    page = await client.get(f"/incidents/{number}")
    assert 'id="work"' in page.text and "No tasks." in page.text
    assert 'id="action-resolve-override_open_work"' not in page.text
    added = await post_form(
        client, number, "tasks", {"title": "Ask the CDN for logs", "workgroup": "network"}
    )
    assert added.status_code == 303, added.text
    bad = await post_form(
        client, number, "work-orders", {"title": "Swap the NIC", "workgroup": "service-desk"}
    )
    assert bad.status_code == 422
    assert "not a work-order workgroup" in bad.text
    order = await post_form(
        client,
        number,
        "work-orders",
        {
            "title": "Swap the NIC",
            "workgroup": "field-service",
            "location": "DC1 rack B4",
            "planned_end": "2030-01-01T10:00",
        },
    )
    assert order.status_code == 303, order.text
    page = await client.get(f"/incidents/{number}")
    task_id = re.search(r'id="task-(\d+)"', page.text)
    order_id = re.search(r'id="work-order-(\d+)"', page.text)
    assert task_id is not None and order_id is not None
    assert "Ask the CDN for logs" in page.text and "Swap the NIC" in page.text
    done = await post_form(client, number, f"tasks/{task_id.group(1)}/status", {"status": "done"})
    assert done.status_code == 303

    # Resolving warns about the open work order and needs the explicit override.
    assert (await post_form(client, number, "actions/accept", {})).status_code == 303
    page = await client.get(f"/incidents/{number}")
    assert "Still open: 1 open work order." in page.text
    assert f"Work order #{order_id.group(1)} Swap the NIC (New)" in page.text
    assert 'name="override_open_work"' in page.text
    without = await post_form(client, number, "actions/resolve", RESOLVE)
    assert without.status_code == 409
    assert "override" in without.text and 'id="form-error"' in without.text
    resolved = await post_form(
        client, number, "actions/resolve", {**RESOLVE, "override_open_work": "yes"}
    )
    assert resolved.status_code == 303, resolved.text
    page = await client.get(f"/incidents/{number}")
    assert "Resolved with 1 open work order (override)." in page.text


async def test_the_work_order_pages_list_show_log_attach_and_move(
    client: httpx.AsyncClient,
) -> None:
    # Tom is the field-service group's member; the demo has a scheduled work order for it.
    await sign_in(client, "tech2@example.com", "demo-tech")
    listed = await client.get("/work-orders")
    assert listed.status_code == 200
    assert "Replace the failing disk in mail relay mx-2" in listed.text
    match = re.search(
        r'href="/work-orders/(\d+)"><span class="mono">#\d+</span> Replace the failing disk',
        listed.text,
    )
    assert match is not None
    url = f"/work-orders/{match.group(1)}"
    filtered = await client.get("/work-orders", params={"status": "done"})
    assert "Replace the failing disk" not in filtered.text
    page = await client.get(url)
    assert page.status_code == 200
    assert "DC1, hall A, rack A7" in page.text and "Scheduled" in page.text

    log = await client.post(
        f"{url}/logs",
        data={
            "body": "On site, NIC swapped",
            "time_spent_minutes": "30",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert log.status_code == 303
    upload = await client.post(
        f"{url}/files",
        data={"csrf_token": csrf_of(page.text)},
        files={"files": ("nic.png", PNG, "image/png")},
    )
    assert upload.status_code == 303, upload.text
    wrong = await client.post(
        f"{url}/status", data={"status": "done", "csrf_token": csrf_of(page.text)}
    )
    assert wrong.status_code == 409  # scheduled → done skips in progress
    assert "not done" in wrong.text
    for status in ("in_progress", "done"):
        moved = await client.post(
            f"{url}/status", data={"status": status, "csrf_token": csrf_of(page.text)}
        )
        assert moved.status_code == 303
    page = await client.get(url)
    assert "On site, NIC swapped" in page.text and "nic.png" in page.text
    assert "this work order is final" in page.text
    assert (await client.get("/work-orders/999999")).status_code == 404
    # Without a CSRF token nothing happens.
    assert (await client.post(f"{url}/logs", data={"body": "x"})).status_code == 403
