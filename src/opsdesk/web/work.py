"""Tasks and work orders in the console: the incident page's section (its context and its
forms) and the work-order pages (``/work-orders`` and ``/work-orders/{id}``).

Routes only translate between HTML forms and the services in ``collaboration``.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from opsdesk.assignment import workgroups as assignment_workgroups
from opsdesk.auth.roles import Caller
from opsdesk.collaboration import tasks, work_orders
from opsdesk.collaboration.work_schemas import (
    TaskCreate,
    TaskUpdate,
    WorkOrderCreate,
    WorkOrderLogCreate,
    WorkOrderUpdate,
)
from opsdesk.collaboration.work_states import (
    TASK_LABELS,
    WORK_ORDER_LABELS,
    TaskStatus,
    WorkOrderStatus,
)
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import NotFound, OpsdeskError, ValidationFailed
from opsdesk.core.pagination import PageRequest
from opsdesk.web.common import (
    _clock,
    _db,
    _done,
    _error_page,
    _fault_time,
    _posted,
    _render,
    _signed_in,
    _size,
    _store_each,
    _text,
    _to_login,
    _uploads,
    _user_names,
    page_links,
)
from opsdesk.web.incident_page import refused
from opsdesk.web.incident_view import refused_on_page
from opsdesk.web.work_section import group_names, order_row

router = APIRouter(include_in_schema=False)

PER_PAGE = 50


# --- incident page forms -----------------------------------------------------------------


def _optional(form: Any, name: str) -> str | None:
    return _text(form, name).strip() or None


@router.post("/incidents/{number}/tasks")
async def add_task(request: Request, number: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        due = _optional(form, "due_at")
        data = TaskCreate(
            title=_text(form, "title"),
            description=_text(form, "description").replace("\r\n", "\n"),
            assignee_id=_optional(form, "assignee_id"),
            workgroup=_optional(form, "workgroup"),
            due_at=_fault_time(due, "due_at") if due else None,
        )
        async with _db(request).write() as session:
            task = await tasks.create_task(
                session=session, caller=caller, number=number, data=data, now=_clock(request).now()
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, "task-add", form, exc)
    return _done(request, f"/incidents/{number}#work", f"Task #{task.id} added.")


@router.post("/incidents/{number}/tasks/{task_id}/status")
async def task_status(request: Request, number: str, task_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        data = TaskUpdate.model_validate({"status": _text(form, "status")})
        async with _db(request).write() as session:
            task = await tasks.update_task(
                session=session,
                caller=caller,
                number=number,
                task_id=task_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, f"task-{task_id}", form, exc)
    label = TASK_LABELS[TaskStatus(task.status)].lower()
    return _done(request, f"/incidents/{number}#work", f"Task #{task.id} is {label}.")


def _order_input(form: Any) -> dict[str, Any]:
    start, end = _optional(form, "planned_start"), _optional(form, "planned_end")
    return {
        "title": _text(form, "title"),
        "description": _text(form, "description").replace("\r\n", "\n"),
        "workgroup": _text(form, "workgroup"),
        "assignee_id": _optional(form, "assignee_id"),
        "location": _text(form, "location"),
        "planned_start": _fault_time(start, "planned_start") if start else None,
        "planned_end": _fault_time(end, "planned_end") if end else None,
    }


@router.post("/incidents/{number}/work-orders")
async def add_work_order(request: Request, number: str) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        data = WorkOrderCreate.model_validate(_order_input(form))
        async with _db(request).write() as session:
            order = await work_orders.create_work_order(
                session=session, caller=caller, number=number, data=data, now=_clock(request).now()
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused(request, caller, number, "order-add", form, exc)
    return _done(request, f"/incidents/{number}#work", f"Work order #{order.id} added.")


# --- work-order pages --------------------------------------------------------------------


@router.get("/work-orders")
async def work_order_list(request: Request) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _error_page(
            request,
            caller=caller,
            status_code=403,
            title="Staff only",
            message="Work orders are for staff.",
        )
    query = request.query_params
    status_raw = query.get("status", "")
    status = WorkOrderStatus(status_raw) if status_raw in set(WorkOrderStatus) else None
    scope = "all" if query.get("scope") == "all" else "mine"
    try:
        page = min(max(1, int(query.get("page", "1"))), 100_000)
    except ValueError:
        page = 1
    now = _clock(request).now()
    async with _db(request).read() as session:
        found = await work_orders.list_work_orders(
            session=session,
            caller=caller,
            page=PageRequest(page, PER_PAGE),
            status=status,
            mine=scope == "mine",
        )
        names = await _user_names(session, [order.assignee_id for order, _n in found.items])
        groups, _order_groups = await group_names(session, caller)
    rows = [order_row(order, number, names, groups, now) for order, number in found.items]

    def url(**change: str) -> str:
        params = {"status": status_raw if status else "", "scope": scope, **change}
        return "/work-orders?" + urlencode({k: v for k, v in params.items() if v})

    return _render(
        request,
        "work_orders.html",
        {
            "rows": rows,
            "total": found.total,
            "status": status_raw if status else "",
            "scope": scope,
            "statuses": [(str(s), WORK_ORDER_LABELS[s]) for s in WorkOrderStatus],
            "scope_urls": {"mine": url(scope="mine", page=""), "all": url(scope="all", page="")},
            **page_links(lambda n: url(page=str(n)), page, PER_PAGE, found.total),
        },
        caller=caller,
    )


async def _order_page(
    request: Request,
    caller: Caller,
    order_id: int,
    *,
    failed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    now = _clock(request).now()
    async with _db(request).read() as session:
        try:
            order, incident = await work_orders.get_work_order(
                session=session, caller=caller, order_id=order_id
            )
        except NotFound:
            return _error_page(
                request,
                caller=caller,
                status_code=404,
                title="Work order not found",
                message=f"There is no work order {order_id}.",
            )
        logs = await work_orders.logs_of(session, order_id=order.id)
        files = await work_orders.attachments_of(session, order_id=order.id)
        names = await _user_names(
            session,
            [order.assignee_id, order.created_by]
            + [log.author_id for log in logs]
            + [file.uploader_id for file in files],
        )
        groups, order_groups = await group_names(session, caller)
        members = (
            await assignment_workgroups.get_workgroup(
                session=session, caller=caller, key=order.workgroup
            )
        ).members
    return _render(
        request,
        "work_order.html",
        {
            "order": order_row(order, incident.number, names, groups, now),
            "description": order.description,
            "incident": incident,
            "created_by": names.get(order.created_by, order.created_by),
            "logs": [
                {
                    "author": names.get(log.author_id, log.author_id),
                    "body": log.body,
                    "minutes": log.time_spent_s // 60,
                    "at": log.created_at,
                }
                for log in logs
            ],
            "files": [
                {
                    "name": file.file_name,
                    "size": _size(file.size),
                    "uploader": names.get(file.uploader_id, file.uploader_id),
                    "at": file.created_at,
                    "url": f"/api/v1/work-orders/{order.id}/attachments/{file.id}",
                }
                for file in files
            ],
            "members": [(user_id, names.get(user_id, user_id)) for user_id in members],
            "order_groups": order_groups,
            "failed": failed,
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("/work-orders/{order_id}")
async def work_order_detail(request: Request, order_id: RowId) -> Response:
    caller = await _signed_in(request)
    if caller is None:
        return _to_login(request)
    if not caller.is_staff:
        return _error_page(
            request,
            caller=caller,
            status_code=403,
            title="Staff only",
            message="Work orders are for staff.",
        )
    return await _order_page(request, caller, order_id)


@router.post("/work-orders/{order_id}/status")
async def order_status(request: Request, order_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    back = _text(form, "back")
    try:
        data = WorkOrderUpdate.model_validate({"status": _text(form, "status")})
        async with _db(request).write() as session:
            order, incident = await work_orders.update_work_order(
                session=session,
                caller=caller,
                order_id=order_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_order_page, request, caller, order_id, "order-status", exc)
    label = WORK_ORDER_LABELS[WorkOrderStatus(order.status)].lower()
    target = (
        f"/incidents/{incident.number}#work" if back == "incident" else f"/work-orders/{order.id}"
    )
    return _done(request, target, f"Work order #{order.id} is {label}.")


@router.post("/work-orders/{order_id}/edit")
async def order_edit(request: Request, order_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        fields = _order_input(form)
        fields.pop("title")
        fields.pop("description")
        data = WorkOrderUpdate.model_validate(fields)
        async with _db(request).write() as session:
            order, _incident = await work_orders.update_work_order(
                session=session,
                caller=caller,
                order_id=order_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_order_page, request, caller, order_id, "order-edit", exc)
    return _done(request, f"/work-orders/{order.id}", f"Work order #{order.id} saved.")


@router.post("/work-orders/{order_id}/logs")
async def order_log(request: Request, order_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    try:
        minutes = _text(form, "time_spent_minutes").strip()
        data = WorkOrderLogCreate(
            body=_text(form, "body").replace("\r\n", "\n"),
            time_spent_minutes=int(minutes) if minutes.isdigit() and len(minutes) < 7 else 0,
        )
        async with _db(request).write() as session:
            await work_orders.add_log(
                session=session,
                caller=caller,
                order_id=order_id,
                data=data,
                now=_clock(request).now(),
            )
    except (OpsdeskError, ValidationError) as exc:
        return await refused_on_page(_order_page, request, caller, order_id, "order-log", exc)
    return _done(request, f"/work-orders/{order_id}#logs", "Log entry added.")


@router.post("/work-orders/{order_id}/files")
async def order_files(request: Request, order_id: RowId) -> Response:
    posted = await _posted(request)
    if isinstance(posted, Response):
        return posted
    caller, form = posted
    uploads = _uploads(form, "files")
    try:
        if not uploads:
            raise ValidationFailed("files: choose at least one file", field="files")
        store = partial(work_orders.add_attachment, order_id=order_id)
        async with _db(request).write() as session:
            await _store_each(request, session, caller, uploads, store)
    except OpsdeskError as exc:
        return await refused_on_page(_order_page, request, caller, order_id, "order-files", exc)
    finally:
        await form.close()
    return _done(request, f"/work-orders/{order_id}#files", f"{len(uploads)} file(s) added.")
