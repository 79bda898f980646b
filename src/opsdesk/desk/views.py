"""Saved views: a named queue with its COC filter body and sort, per user, optionally shared.

The page and ``/api/v1/views`` call these functions; the filter body is checked with the
same parser the queue page uses, so a stored view always opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller, Role
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.desk.models import SavedView
from opsdesk.desk.queues import parse_filters, parse_queue, parse_sort

NAME_MAX = 80
MAX_VIEWS_PER_USER = 100


@dataclass(frozen=True)
class ViewInput:
    name: str
    queue: str = "all"
    filters: dict[str, Any] | None = None
    sort: str | None = None
    shared: bool = False


def _staff_only(caller: Caller) -> None:
    if not caller.is_staff:
        raise Forbidden("saved views are for staff", field="caller")


async def list_views(*, session: AsyncSession, caller: Caller) -> list[SavedView]:
    """The caller's own views and those others share, by name."""
    _staff_only(caller)
    rows = await session.scalars(
        select(SavedView)
        .where(or_(SavedView.owner_id == caller.user_id, SavedView.shared.is_(True)))
        .order_by(SavedView.name, SavedView.id)
    )
    return list(rows)


async def get_view(*, session: AsyncSession, caller: Caller, view_id: int) -> SavedView:
    _staff_only(caller)
    view = await session.get(SavedView, view_id)
    if view is None or (view.owner_id != caller.user_id and not view.shared):
        raise NotFound(f"no saved view {view_id}", field="view")
    return view


async def create_view(
    *, session: AsyncSession, caller: Caller, data: ViewInput, now: datetime
) -> SavedView:
    _staff_only(caller)
    name = data.name.strip()
    if not name:
        raise ValidationFailed("name: give the view a name", field="name")
    if len(name) > NAME_MAX:
        raise ValidationFailed(f"name: at most {NAME_MAX} characters", field="name")
    queue = parse_queue(data.queue)
    sort = parse_sort(data.sort, queue.value)
    filters = data.filters if data.filters is not None else {}
    if not isinstance(filters, dict):
        raise ValidationFailed("filters: give a COC list body (an object)", field="filters")
    parse_filters(filters)
    existing = await session.scalar(
        select(SavedView.id).where(SavedView.owner_id == caller.user_id, SavedView.name == name)
    )
    if existing is not None:
        raise Conflict(f"name: you already have a view called {name!r}", field="name")
    owned = await session.scalars(select(SavedView.id).where(SavedView.owner_id == caller.user_id))
    if len(list(owned)) >= MAX_VIEWS_PER_USER:
        raise ValidationFailed(f"name: at most {MAX_VIEWS_PER_USER} views each", field="name")
    view = SavedView(
        owner_id=caller.user_id,
        name=name,
        shared=bool(data.shared),
        queue=queue.value,
        filters=filters,
        sort=sort,
        created_at=now,
    )
    session.add(view)
    await session.flush()
    return view


async def delete_view(*, session: AsyncSession, caller: Caller, view_id: int) -> None:
    """Owners delete their views; an admin may delete a shared one."""
    view = await get_view(session=session, caller=caller, view_id=view_id)
    if view.owner_id != caller.user_id and caller.role is not Role.ADMIN:
        raise Forbidden("only its owner can delete a saved view", field="view")
    await session.delete(view)
    await session.flush()
