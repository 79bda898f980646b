"""Merge incidents into a primary, and undo a merge.

Merge (staff only): every involved incident is locked in id order (``SELECT … FOR UPDATE``,
so two merges of overlapping sets wait for each other instead of deadlocking) and the rules
of ``merge_rules`` are checked on the locked rows. Then, per secondary: its conversation
entries, work log entries, alert groups and (while the primary has room under the
attachment limit) attachments move to the primary; its watchers and its reporter become
watchers of the primary; its links are re-pointed at the primary. The secondary becomes
``completed``/``merged`` with ``merged_into_id``. An ``IncidentMerge`` row keeps the ids of
everything moved or added and the secondary's fields before, which is what undo restores.

Undo (within ``OPSDESK_UNMERGE_WINDOW_HOURS``) puts every recorded row back, removes the
watchers the merge added and restores the secondary's fields; ``version`` and
``updated_at`` move on (a client's ETag from before must not match a changed incident).

Splitting a part off is in ``splitting``.

Each function writes history on both sides, flushes and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.alerts.service import move_alert_groups
from opsdesk.auth.roles import Caller
from opsdesk.collaboration import moving
from opsdesk.core.errors import Conflict, NotFound, ValidationFailed
from opsdesk.incidents import attachment_moves
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.events import IncidentEvent, publish
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.history import record_history
from opsdesk.incidents.lifecycle import SubStatus
from opsdesk.incidents.models import Incident
from opsdesk.incidents.rules import IncidentRules
from opsdesk.relations import merge_rules
from opsdesk.relations.common import raise_refusal, staff_only
from opsdesk.relations.merge_rules import MergeFacts
from opsdesk.relations.models import IncidentLink, IncidentMerge
from opsdesk.relations.splitting import split_from

# The secondary's columns a merge changes and an undo restores.
RESTORED_FIELDS = ("status", "sub_status", "completed_at", "merged_into_id", "merged_at")
_TIMES = frozenset({"completed_at", "merged_at"})


def _stored(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _loaded(field: str, value: Any) -> Any:
    if field in _TIMES and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


async def _lock(session: AsyncSession, ids: Sequence[int]) -> dict[int, Incident]:
    """Lock the incidents in id order and re-read them (what another transaction committed
    while this one waited must count)."""
    rows = await session.scalars(
        select(Incident)
        .where(Incident.id.in_(list(ids)))
        .order_by(Incident.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.id: row for row in rows}


async def _ids_of(session: AsyncSession, numbers: Sequence[str], field: str) -> dict[str, int]:
    rows = await session.execute(
        select(Incident.number, Incident.id).where(Incident.number.in_(list(numbers)))
    )
    found: dict[str, int] = {str(n): int(i) for n, i in rows}
    missing = [number for number in numbers if number not in found]
    if missing:
        raise NotFound(f"{field}: no incident {', '.join(missing)}", field=field)
    return found


async def _numbers(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Incident.id, Incident.number).where(Incident.id.in_(ids)))
    return {int(i): str(n) for i, n in rows}


async def _facts(session: AsyncSession, locked: dict[int, Incident]) -> dict[int, MergeFacts]:
    merged_into = await _numbers(
        session, {i.merged_into_id for i in locked.values() if i.merged_into_id is not None}
    )
    rows = await session.execute(
        select(Incident.merged_into_id, Incident.number)
        .where(Incident.merged_into_id.in_(list(locked)))
        .order_by(Incident.number)
    )
    primary_of: dict[int, list[str]] = {}
    for primary_id, number in rows:
        if primary_id is not None:
            primary_of.setdefault(primary_id, []).append(number)
    return {
        incident.id: MergeFacts(
            number=incident.number,
            status=incident.status,
            merged_into=None
            if incident.merged_into_id is None
            else merged_into.get(incident.merged_into_id, str(incident.merged_into_id)),
            primary_of=tuple(primary_of.get(incident.id, ())),
        )
        for incident in locked.values()
    }


async def _repoint_links(session: AsyncSession, *, from_id: int, to_id: int) -> dict[str, Any]:
    """Re-point the secondary's links at the primary. A link that would join the primary to
    itself, or repeat one it already has, is removed instead; both are recorded for undo."""
    rows = list(
        await session.scalars(
            select(IncidentLink)
            .where((IncidentLink.source_id == from_id) | (IncidentLink.target_id == from_id))
            .order_by(IncidentLink.id)
        )
    )
    updated: list[list[int]] = []
    deleted: list[dict[str, Any]] = []
    for row in rows:
        source = to_id if row.source_id == from_id else row.source_id
        target = to_id if row.target_id == from_id else row.target_id
        duplicate = await session.scalar(
            select(IncidentLink.id).where(
                IncidentLink.source_id == source,
                IncidentLink.target_id == target,
                IncidentLink.kind == row.kind,
            )
        )
        if source == target or duplicate is not None:
            deleted.append(
                {
                    "id": row.id,
                    "source_id": row.source_id,
                    "target_id": row.target_id,
                    "kind": row.kind,
                    "created_by": row.created_by,
                    "created_at": row.created_at.isoformat(),
                }
            )
            await session.delete(row)
        else:
            updated.append([row.id, row.source_id, row.target_id])
            row.source_id, row.target_id = source, target
        await session.flush()
    return {"updated": updated, "deleted": deleted}


async def _restore_links(session: AsyncSession, links: dict[str, Any]) -> None:
    for link_id, source, target in links.get("updated", []):
        row = await session.get(IncidentLink, link_id)
        if row is not None:
            row.source_id, row.target_id = source, target
    await session.flush()
    for gone in links.get("deleted", []):
        exists = await session.scalar(
            select(IncidentLink.id).where(
                IncidentLink.source_id == gone["source_id"],
                IncidentLink.target_id == gone["target_id"],
                IncidentLink.kind == gone["kind"],
            )
        )
        if exists is None:
            session.add(
                IncidentLink(
                    source_id=gone["source_id"],
                    target_id=gone["target_id"],
                    kind=gone["kind"],
                    created_by=gone["created_by"],
                    created_at=datetime.fromisoformat(gone["created_at"]),
                )
            )
    await session.flush()


async def _adopt_children(session: AsyncSession, *, from_id: int, to_id: int) -> list[int]:
    """The secondary's children become the primary's, so resolving the primary goes on
    resolving them; a child that is the primary or one of its ancestors keeps its parent
    (re-pointing it would make a cycle). Returns the ids moved, for undo."""
    ancestors = {to_id}
    current: int | None = to_id
    while current is not None:
        current = await session.scalar(select(Incident.parent_id).where(Incident.id == current))
        if current is None or current in ancestors:
            break
        ancestors.add(current)
    children = [
        child
        for child in await session.scalars(
            select(Incident.id).where(Incident.parent_id == from_id).order_by(Incident.id)
        )
        if child not in ancestors
    ]
    if children:
        await session.execute(
            update(Incident).where(Incident.id.in_(children)).values(parent_id=to_id)
        )
    return children


async def _return_children(
    session: AsyncSession, *, children: list[int], primary_id: int, secondary_id: int
) -> None:
    """Undo ``_adopt_children`` for the children still under the primary."""
    if children:
        await session.execute(
            update(Incident)
            .where(Incident.id.in_(children), Incident.parent_id == primary_id)
            .values(parent_id=secondary_id)
        )


def _summary(moved: dict[str, Any]) -> str:
    parts = [
        f"{len(moved['conversations'])} conversation entries",
        f"{len(moved['work_logs'])} work log entries",
        f"{len(moved['attachments'])} attachments",
        f"{len(moved['watchers_added'])} watchers added",
        f"{len(moved['alert_groups'])} alert groups",
        f"{len(moved['links']['updated'])} links re-pointed",
        f"{len(moved.get('children', []))} child incidents",
        f"{len(moved.get('tasks', []))} tasks",
        f"{len(moved.get('work_orders', []))} work orders",
    ]
    text = "moved " + ", ".join(parts)
    if moved["attachments_kept"]:
        text += (
            f"; attachments {', '.join(map(str, moved['attachments_kept']))} stay on "
            f"{moved['secondary']} (the attachment limit of the primary was reached)"
        )
    return text


async def merge(
    *,
    session: AsyncSession,
    caller: Caller,
    primary_number: str,
    secondary_numbers: Sequence[str],
    now: datetime,
    rules: IncidentRules = IncidentRules(),
    comment: str = "",
) -> Incident:
    """Merge the secondaries into the primary; returns the primary."""
    staff_only(caller, "merge incidents")
    secondary_numbers = list(secondary_numbers)
    raise_refusal(merge_rules.check_request(primary_number, secondary_numbers))
    ids = await _ids_of(session, [primary_number], "number")
    ids |= await _ids_of(session, secondary_numbers, "secondaries")
    locked = await _lock(session, list(ids.values()))
    facts = await _facts(session, locked)
    primary = locked[ids[primary_number]]
    secondaries = [locked[ids[number]] for number in secondary_numbers]
    raise_refusal(merge_rules.check_merge(facts[primary.id], [facts[s.id] for s in secondaries]))
    merged: list[str] = []
    for secondary in secondaries:
        before = {field: _stored(getattr(secondary, field)) for field in RESTORED_FIELDS}
        conversations = await moving.move_conversations(
            session, from_id=secondary.id, to_id=primary.id
        )
        work_logs = await moving.move_work_logs(session, from_id=secondary.id, to_id=primary.id)
        attachments, kept = await attachment_moves.move_attachments(
            session, from_id=secondary.id, to_id=primary.id, max_count=rules.attachment_max_count
        )
        wanted = await moving.watcher_ids_of(session, incident_id=secondary.id)
        wanted += [user for user in (secondary.reporter_id,) if user != primary.reporter_id]
        watchers = await moving.add_watchers(
            session, incident_id=primary.id, user_ids=wanted, by=caller.user_id, now=now
        )
        groups = await move_alert_groups(session, from_id=secondary.id, to_id=primary.id)
        tasks, work_orders = await moving.move_work(session, source=secondary, target=primary)
        links = await _repoint_links(session, from_id=secondary.id, to_id=primary.id)
        children = await _adopt_children(session, from_id=secondary.id, to_id=primary.id)
        moved = {
            "primary": primary.number,
            "secondary": secondary.number,
            "before": before,
            "conversations": conversations,
            "work_logs": work_logs,
            "attachments": attachments,
            "attachments_kept": kept,
            "watchers_added": watchers,
            "alert_groups": groups,
            "links": links,
            "children": children,
            "tasks": tasks,
            "work_orders": work_orders,
        }
        session.add(
            IncidentMerge(
                primary_id=primary.id,
                secondary_id=secondary.id,
                merged_by=caller.user_id,
                merged_at=now,
                moved=moved,
            )
        )
        old_status, old_sub = secondary.status, secondary.sub_status
        secondary.status = Status.COMPLETED.value
        secondary.sub_status = SubStatus.MERGED.value
        secondary.completed_at = now
        secondary.merged_into_id = primary.id
        secondary.merged_at = now
        secondary.version += 1
        secondary.updated_at = now
        session.add(
            record_history(
                incident=secondary,
                action=HistoryAction.MERGED,
                operator_id=caller.user_id,
                now=now,
                changes=[
                    {"field": "status", "old": old_status, "new": secondary.status},
                    {"field": "sub_status", "old": old_sub, "new": secondary.sub_status},
                    {"field": "merged_into", "old": None, "new": primary.number},
                ],
                comment=f"Merged into {primary.number}: {_summary(moved)}"
                + (f". {comment}" if comment else ""),
            )
        )
        session.add(
            record_history(
                incident=primary,
                action=HistoryAction.MERGE,
                operator_id=caller.user_id,
                now=now,
                changes=[{"field": "merged", "old": None, "new": secondary.number}],
                comment=f"{secondary.number} merged into this incident: {_summary(moved)}"
                + (f". {comment}" if comment else ""),
            )
        )
        await publish(
            session,
            incident_id=secondary.id,
            events=[IncidentEvent.UPDATED],
            actor_id=caller.user_id,
            now=now,
            comment=f"Merged into {primary.number}",
        )
        merged.append(secondary.number)
    primary.version += 1
    primary.updated_at = now
    await publish(
        session,
        incident_id=primary.id,
        events=[IncidentEvent.UPDATED],
        actor_id=caller.user_id,
        now=now,
        comment=f"Merged into this incident: {', '.join(merged)}",
    )
    await session.flush()
    return primary


@dataclass(frozen=True)
class ActiveMerge:
    """A merge that can still be undone (or could, if the window has passed)."""

    primary_number: str
    secondary_number: str
    merged_at: datetime
    undo_until: datetime
    can_undo: bool


async def active_merge_of(
    session: AsyncSession, *, incident: Incident, now: datetime, window: timedelta
) -> ActiveMerge | None:
    """For a merged incident: into what, when, and until when it can be undone."""
    if incident.merged_into_id is None:
        return None
    row = await _active_row(session, incident.id)
    primary = await session.get(Incident, incident.merged_into_id)
    if row is None or primary is None:
        return None
    until = merge_rules.undo_deadline(row.merged_at, window)
    return ActiveMerge(primary.number, incident.number, row.merged_at, until, now <= until)


async def merged_into_this(session: AsyncSession, *, incident_id: int) -> list[str]:
    """Numbers of the incidents merged into ``incident_id``."""
    rows = await session.scalars(
        select(Incident.number).where(Incident.merged_into_id == incident_id).order_by(Incident.id)
    )
    return list(rows)


async def _active_row(session: AsyncSession, secondary_id: int) -> IncidentMerge | None:
    row: IncidentMerge | None = await session.scalar(
        select(IncidentMerge)
        .where(IncidentMerge.secondary_id == secondary_id, IncidentMerge.undone_at.is_(None))
        .order_by(IncidentMerge.id.desc())
        .limit(1)
    )
    return row


async def unmerge(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    now: datetime,
    window: timedelta,
    secondaries: Sequence[str] = (),
) -> list[Incident]:
    """Undo merges: ``number`` is a merged secondary, or a primary (then ``secondaries``
    names which of the incidents merged into it; none: all of them). Returns the restored
    secondaries."""
    staff_only(caller, "undo a merge")
    target = await access_incident(session=session, caller=caller, number=number)
    if target.merged_into_id is not None:
        if secondaries:
            raise ValidationFailed(
                f"secondaries: {number} is itself a merged incident; name no secondaries",
                field="secondaries",
            )
        names = [number]
        primary_id = target.merged_into_id
    else:
        into = await merged_into_this(session, incident_id=target.id)
        if not into:
            raise Conflict(
                f"number: {number} is not merged and nothing is merged into it", field="number"
            )
        names = list(secondaries) or into
        strangers = [name for name in names if name not in into]
        if strangers:
            raise Conflict(
                f"secondaries: {', '.join(strangers)} are not merged into {number}",
                field="secondaries",
            )
        primary_id = target.id
    ids = await _ids_of(session, names, "secondaries")
    locked = await _lock(session, [primary_id, *ids.values()])
    primary = locked[primary_id]
    restored: list[Incident] = []
    for name in names:
        secondary = locked[ids[name]]
        row = await _active_row(session, secondary.id)
        if secondary.merged_into_id != primary.id or row is None:
            raise Conflict(
                f"secondaries: {name} is no longer merged into {primary.number}",
                field="secondaries",
            )
        raise_refusal(
            merge_rules.check_undo(number=name, merged_at=row.merged_at, now=now, window=window)
        )
        moved = row.moved
        await moving.move_conversations(
            session, from_id=primary.id, to_id=secondary.id, entry_ids=moved["conversations"]
        )
        await moving.move_work_logs(
            session, from_id=primary.id, to_id=secondary.id, entry_ids=moved["work_logs"]
        )
        await attachment_moves.move_attachments_back(
            session, attachment_ids=moved["attachments"], to_id=secondary.id
        )
        await moving.remove_watchers(
            session, incident_id=primary.id, user_ids=moved["watchers_added"]
        )
        await move_alert_groups(session, to_id=secondary.id, group_ids=moved["alert_groups"])
        await _restore_links(session, moved["links"])
        await moving.move_work(
            session,
            source=primary,
            target=secondary,
            task_ids=moved.get("tasks", []),
            work_order_ids=moved.get("work_orders", []),
        )
        await _return_children(
            session,
            children=moved.get("children", []),
            primary_id=primary.id,
            secondary_id=secondary.id,
        )
        old_status, old_sub = secondary.status, secondary.sub_status
        for field, value in moved["before"].items():
            setattr(secondary, field, _loaded(field, value))
        secondary.version += 1
        secondary.updated_at = now
        row.undone_by = caller.user_id
        row.undone_at = now
        session.add(
            record_history(
                incident=secondary,
                action=HistoryAction.UNMERGE,
                operator_id=caller.user_id,
                now=now,
                changes=[
                    {"field": "status", "old": old_status, "new": secondary.status},
                    {"field": "sub_status", "old": old_sub, "new": secondary.sub_status},
                    {"field": "merged_into", "old": primary.number, "new": None},
                ],
                comment=f"Merge into {primary.number} undone; everything moved came back",
            )
        )
        session.add(
            record_history(
                incident=primary,
                action=HistoryAction.UNMERGE,
                operator_id=caller.user_id,
                now=now,
                changes=[{"field": "merged", "old": secondary.number, "new": None}],
                comment=f"Merge of {secondary.number} undone; what it brought went back",
            )
        )
        await publish(
            session,
            incident_id=secondary.id,
            events=[IncidentEvent.UPDATED],
            actor_id=caller.user_id,
            now=now,
            comment=f"Merge into {primary.number} undone",
        )
        restored.append(secondary)
    primary.version += 1
    primary.updated_at = now
    await publish(
        session,
        incident_id=primary.id,
        events=[IncidentEvent.UPDATED],
        actor_id=caller.user_id,
        now=now,
        comment=f"Merge undone: {', '.join(names)}",
    )
    await session.flush()
    return restored


@dataclass(frozen=True)
class MergeState:
    """What the incident page shows about merges and splits of one incident."""

    merged: ActiveMerge | None  # this incident is merged into another
    merged_here: list[ActiveMerge]  # incidents merged into this one
    split_from: str | None


async def merge_state(
    session: AsyncSession, *, incident: Incident, now: datetime, window: timedelta
) -> MergeState:
    merged = await active_merge_of(session, incident=incident, now=now, window=window)
    here: list[ActiveMerge] = []
    rows = await session.execute(
        select(IncidentMerge, Incident.number)
        .join(Incident, Incident.id == IncidentMerge.secondary_id)
        .where(IncidentMerge.primary_id == incident.id, IncidentMerge.undone_at.is_(None))
        .order_by(IncidentMerge.id)
    )
    for row, number in rows:
        until = merge_rules.undo_deadline(row.merged_at, window)
        here.append(ActiveMerge(incident.number, number, row.merged_at, until, now <= until))
    return MergeState(merged, here, await split_from(session, incident_id=incident.id))
