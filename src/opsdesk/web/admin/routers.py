"""Every admin page's router, for the app to include in one line."""

from __future__ import annotations

from fastapi import APIRouter

from opsdesk.web.admin import (
    alert_rules,
    hub,
    matrix,
    notifications,
    reference,
    rules,
    shift_duty,
    shifts,
    sla,
    sla_calendars,
    status,
    technicians,
    users,
    workgroups,
)

ADMIN_ROUTERS: tuple[APIRouter, ...] = (
    hub.router,
    users.router,
    reference.router,
    matrix.router,
    workgroups.router,
    technicians.router,
    shifts.router,
    shift_duty.router,
    rules.router,
    sla.router,
    sla_calendars.router,
    notifications.router,
    alert_rules.router,
    status.router,
)
