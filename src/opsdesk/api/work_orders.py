"""Work-order routes: ``/api/v1/incidents/{number}/work-orders`` and ``/api/v1/work-orders``;
translation only; staff only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse

from opsdesk.api.attachments import (
    AttachmentOut,
    attachment_at,
    read_upload,
    storage_dir,
    stored_file,
)
from opsdesk.api.deps import DB, ClockDep, Rules, StaffCaller
from opsdesk.collaboration import work_orders
from opsdesk.collaboration.models import WorkOrder, WorkOrderLog
from opsdesk.collaboration.work_schemas import (
    WorkOrderCreate,
    WorkOrderLogCreate,
    WorkOrderLogOut,
    WorkOrderOut,
    WorkOrderPage,
    WorkOrderUpdate,
)
from opsdesk.collaboration.work_states import WorkOrderStatus
from opsdesk.core.bounds import PageNumber, RowId
from opsdesk.core.clock import Clock
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest
from opsdesk.incidents.models import Attachment

incident_router = APIRouter(prefix="/api/v1/incidents", tags=["work orders"])
router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])


def work_order_out(order: WorkOrder, number: str, clock: Clock) -> WorkOrderOut:
    out = WorkOrderOut.model_validate(order)
    out.incident_number = number
    out.overdue = work_orders.is_overdue(order, clock.now())
    return out


def log_out(entry: WorkOrderLog) -> WorkOrderLogOut:
    return WorkOrderLogOut(
        id=entry.id,
        work_order_id=entry.work_order_id,
        author_id=entry.author_id,
        body=entry.body,
        time_spent_minutes=entry.time_spent_s // 60,
        created_at=entry.created_at,
    )


def attachment_out(order_id: int, row: Attachment) -> AttachmentOut:
    return attachment_at(row, f"/api/v1/work-orders/{order_id}/attachments/{row.id}")


@incident_router.get("/{number}/work-orders", response_model=list[WorkOrderOut])
async def list_incident_work_orders(
    number: str, caller: StaffCaller, db: DB, clock: ClockDep
) -> list[WorkOrderOut]:
    """The incident's work orders, oldest first."""
    async with db.read() as session:
        rows = await work_orders.list_for_incident(session=session, caller=caller, number=number)
    return [work_order_out(row, number, clock) for row in rows]


@incident_router.post("/{number}/work-orders", status_code=201, response_model=WorkOrderOut)
async def create_work_order(
    number: str, body: WorkOrderCreate, caller: StaffCaller, db: DB, clock: ClockDep
) -> WorkOrderOut:
    """Add a work order for a work-order workgroup (``does_work_orders``)."""
    async with db.write() as session:
        order = await work_orders.create_work_order(
            session=session, caller=caller, number=number, data=body, now=clock.now()
        )
        return work_order_out(order, number, clock)


@router.get("", response_model=WorkOrderPage)
async def list_work_orders(
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    workgroup: Annotated[str | None, Query(max_length=64)] = None,
    status: WorkOrderStatus | None = None,
    mine: Annotated[bool, Query(description="Only my workgroups' and my own")] = False,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 20,
) -> WorkOrderPage:
    """Work orders, newest first, for the groups that do them."""
    async with db.read() as session:
        found = await work_orders.list_work_orders(
            session=session,
            caller=caller,
            page=PageRequest(page, per_page),
            workgroup=workgroup,
            status=status,
            mine=mine,
        )
    return WorkOrderPage(
        items=[work_order_out(order, number, clock) for order, number in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )


@router.get("/{order_id}", response_model=WorkOrderOut)
async def get_work_order(
    order_id: RowId, caller: StaffCaller, db: DB, clock: ClockDep
) -> WorkOrderOut:
    async with db.read() as session:
        order, incident = await work_orders.get_work_order(
            session=session, caller=caller, order_id=order_id
        )
    return work_order_out(order, incident.number, clock)


@router.patch("/{order_id}", response_model=WorkOrderOut)
async def update_work_order(
    order_id: RowId, body: WorkOrderUpdate, caller: StaffCaller, db: DB, clock: ClockDep
) -> WorkOrderOut:
    """Change fields and/or the status (new, scheduled, in_progress, done, failed)."""
    async with db.write() as session:
        order, incident = await work_orders.update_work_order(
            session=session, caller=caller, order_id=order_id, data=body, now=clock.now()
        )
        return work_order_out(order, incident.number, clock)


@router.get("/{order_id}/logs", response_model=list[WorkOrderLogOut])
async def list_logs(order_id: RowId, caller: StaffCaller, db: DB) -> list[WorkOrderLogOut]:
    async with db.read() as session:
        rows = await work_orders.list_logs(session=session, caller=caller, order_id=order_id)
    return [log_out(row) for row in rows]


@router.post("/{order_id}/logs", status_code=201, response_model=WorkOrderLogOut)
async def add_log(
    order_id: RowId, body: WorkOrderLogCreate, caller: StaffCaller, db: DB, clock: ClockDep
) -> WorkOrderLogOut:
    async with db.write() as session:
        entry = await work_orders.add_log(
            session=session, caller=caller, order_id=order_id, data=body, now=clock.now()
        )
        return log_out(entry)


@router.post("/{order_id}/attachments", status_code=201, response_model=AttachmentOut)
async def upload(
    order_id: RowId,
    request: Request,
    caller: StaffCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[
        UploadFile | None, File(description="The file (multipart field `file`)")
    ] = None,
) -> AttachmentOut:
    """Attach one file (JPG, PNG, PDF, DOCX or TXT, checked by content) to the work order."""
    file_name, data = await read_upload(file, rules)
    async with db.write() as session:
        row = await work_orders.add_attachment(
            session=session,
            caller=caller,
            order_id=order_id,
            file_name=file_name,
            data=data,
            now=clock.now(),
            rules=rules,
            storage_dir=storage_dir(request),
        )
        return attachment_out(order_id, row)


@router.get("/{order_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(order_id: RowId, caller: StaffCaller, db: DB) -> list[AttachmentOut]:
    async with db.read() as session:
        rows = await work_orders.list_attachments(session=session, caller=caller, order_id=order_id)
    return [attachment_out(order_id, row) for row in rows]


@router.get("/{order_id}/attachments/{attachment_id}", response_class=FileResponse)
async def download(
    order_id: RowId, attachment_id: RowId, request: Request, caller: StaffCaller, db: DB
) -> FileResponse:
    """The file's bytes, as an attachment under its original name."""
    async with db.read() as session:
        row = await work_orders.get_attachment(
            session=session, caller=caller, order_id=order_id, attachment_id=attachment_id
        )
    return stored_file(request, row)
