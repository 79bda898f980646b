"""The admin hub (``/admin``): one link per area an administrator tunes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.roles import Caller
from opsdesk.web.admin.base import admin_for_page, render_admin
from opsdesk.web.common import _db

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Area:
    title: str
    url: str
    about: str


AREAS = (
    Area(
        "Users", "/admin/users", "Create users, set roles, deactivate, reset passwords, API tokens."
    ),
    Area("Access keys", "/admin/access-keys", "Signed AK/SK keys for COC clients."),
    Area(
        "Reference data", "/admin/reference", "Levels, categories, applications, regions, projects."
    ),
    Area(
        "Priority matrix",
        "/admin/priority-matrix",
        "Impact x urgency → the level of a new incident.",
    ),
    Area("Workgroups", "/admin/workgroups", "Groups, their members and how work is shared out."),
    Area("Technicians", "/admin/technicians", "Skills, capacity, availability and absences."),
    Area("Shifts", "/admin/shifts", "Scenes, roles, rotations, overrides and who is on duty."),
    Area("Assignment rules", "/admin/rules", "Who gets a new incident, in order; try one out."),
    Area("SLA", "/admin/sla", "Policies, escalation steps, calendars and holidays."),
    Area(
        "Notifications",
        "/admin/notifications",
        "Who is mailed about what, mail templates with a preview, webhooks.",
    ),
    Area(
        "Status page",
        "/admin/status",
        "Applications on the public status page, stakeholder audiences, update templates.",
    ),
    Area(
        "Monitoring integrations",
        "/admin/integrations",
        "Alert sources, their keys, rate limits and conversion rules.",
    ),
    Area(
        "Inbound mail",
        "/admin/inbound-mail",
        "Every mail received, what it became, and why; process held or failed ones again.",
    ),
    Area("Background jobs", "/admin/jobs", "Dead jobs with a retry button, and the queue."),
    Area("Sign-ins", "/admin/auth-events", "Who signed in, from where, and refused attempts."),
)


@router.get("/admin")
async def hub(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return render_admin(request, "admin/hub.html", {"areas": AREAS}, caller=caller)
