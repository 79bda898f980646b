"""Resolving a parent resolves its open children: the parent/child roll-up, and the open-work
check (tasks, work orders) every resolution makes.

The roll-up runs inside the parent's ``resolve`` action, in its transaction. Every open
descendant (children, their children, …) ends Resolved, each with its own ``resolve``
history row whose comment names the parent, the parent's cause and solution, and its own
``incident.changed`` event (so SLA clocks and notifications follow). It is one system
transition, *open → Resolved*, not the table's ``resolve``: a child may be New (nobody
accepted it) or waiting for a manager's approval of a pause or a level change, phases the
table does not resolve from; the roll-up drops the pending request and, for a New child,
counts the roll-up as its acceptance (``accepted_at``). Children already resolved, closed,
rejected, merged or still drafts are left alone.

A child with open tasks or work orders is resolved only when the parent was resolved with
``override_open_work``; otherwise the parent's resolution is refused (409) naming the child,
before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict
from opsdesk.incidents.changes import diff
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Incident

# The phases a roll-up resolves: every open one (New and all of handling).
OPEN_STATUSES = (str(Status.TRIGGERED), str(Status.ACKNOWLEDGED))
_RECORDED = (
    "status",
    "sub_status",
    "pause_reason",
    "pause_until",
    "requested_level",
    "category",
    "cause",
    "solution",
    "fault_occurred_at",
    "fault_recovery_at",
)


def open_work_override(incident: Incident, *, override: bool) -> str | None:
    """What is still open, as the line the resolution records when it is overridden;
    ``Conflict`` (naming ``override_open_work``) when something is open and not overridden."""
    still_open = open_work(incident)
    if still_open is None:
        return None
    if not override:
        raise Conflict(
            f"{incident.number} has {still_open}: finish or cancel them, or resolve with "
            "override_open_work=true",
            field="override_open_work",
        )
    return f"Resolved with {still_open} (override)."


def open_work(incident: Incident) -> str | None:
    """ "1 open task and 2 open work orders", or None when nothing is open."""
    parts = [
        f"{count} {name if count == 1 else name + 's'}"
        for count, name in (
            (incident.open_tasks, "open task"),
            (incident.open_work_orders, "open work order"),
        )
        if count > 0
    ]
    return " and ".join(parts) or None


async def open_descendants(session: AsyncSession, parent: Incident) -> list[Incident]:
    """Every open incident below ``parent`` (children first, then theirs), locked."""
    found: list[Incident] = []
    seen = {parent.id}
    level = [parent.id]
    while level:
        rows = await session.scalars(
            select(Incident)
            .where(Incident.parent_id.in_(level))
            .order_by(Incident.id)
            .with_for_update()
        )
        # Closed children are passed through: an open grandchild under one still rolls up.
        children = [row for row in rows if row.id not in seen]
        seen.update(child.id for child in children)
        found += [child for child in children if child.status in OPEN_STATUSES]
        level = [child.id for child in children]
    return found


async def resolve_children(
    session: AsyncSession,
    parent: Incident,
    *,
    actor_id: str | None,
    override_open_work: bool,
    now: datetime,
) -> list[Incident]:
    """Resolve every open descendant of ``parent`` (whose resolution fields are set)."""
    children = await open_descendants(session, parent)
    _refuse_open_work(parent, children, override=override_open_work)
    parents = {parent.id: parent, **{child.id: child for child in children}}
    for child in children:
        named = parents.get(child.parent_id or 0, parent)
        await _resolve_child(session, child, parent, named, actor_id=actor_id, now=now)
    return children


def _refuse_open_work(parent: Incident, children: Iterable[Incident], *, override: bool) -> None:
    if override:
        return
    for child in children:
        still_open = open_work(child)
        if still_open is not None:
            raise Conflict(
                f"{child.number} (a child of {parent.number}) has {still_open}: finish or "
                "cancel them, or resolve the parent with override_open_work=true",
                field="override_open_work",
            )


async def _resolve_child(
    session: AsyncSession,
    child: Incident,
    root: Incident,
    parent: Incident,
    *,
    actor_id: str | None,
    now: datetime,
) -> None:
    before = {name: getattr(child, name) for name in _RECORDED}
    child.category = child.category or root.category
    child.cause = root.cause
    child.solution = root.solution
    if child.service_interrupted:
        child.fault_occurred_at = child.fault_occurred_at or root.fault_occurred_at
        child.fault_recovery_at = root.fault_recovery_at or now
    child.status = str(Status.RESOLVED)
    child.sub_status = None
    child.pause_reason = None
    child.pause_until = None
    child.requested_level = None
    child.accepted_at = child.accepted_at or now
    child.resolved_at = now
    child.version += 1
    child.updated_at = now
    comment = f"Resolved with parent {parent.number}"
    if parent is not root:
        comment += f" (resolved with {root.number})"
    still_open = open_work(child)
    if still_open is not None:
        comment += f"\n\nResolved with {still_open} (override)."
    after = {name: getattr(child, name) for name in _RECORDED}
    session.add(
        record_history(
            incident=child,
            action=HistoryAction.RESOLVE,
            operator_id=actor_id,
            now=now,
            changes=[change.as_dict() for change in diff(before, after)],
            comment=comment,
        )
    )
    await publish(
        session,
        incident_id=child.id,
        events=[IncidentEvent.RESOLVED],
        actor_id=actor_id,
        now=now,
        comment=comment,
    )
