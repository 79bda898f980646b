"""Conversation, work log, feedback and watcher routes under ``/api/v1/incidents``:
translation only."""

from __future__ import annotations

from fastapi import APIRouter, Response

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.collaboration import automation, service, watchers
from opsdesk.collaboration.models import WorkLogEntry
from opsdesk.collaboration.schemas import (
    AutomationStepCreate,
    AutomationStepOut,
    ConversationCreate,
    ConversationOut,
    FeedbackOut,
    FeedbackSet,
    StepOutcome,
    WatcherAdd,
    WatcherList,
    WatcherOut,
    WorkLogCreate,
    WorkLogList,
    WorkLogOut,
)
from opsdesk.incidents import attachments
from opsdesk.incidents.fields import STEP_OUTCOME, automation_step_id, history_row_label

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def work_log_out(entry: WorkLogEntry) -> WorkLogOut:
    return WorkLogOut(
        id=entry.id,
        description=entry.description,
        time_spent_minutes=entry.time_spent_s // 60,
        started_at=entry.started_at,
        author_id=entry.author_id,
        created_at=entry.created_at,
    )


@router.post("/{number}/conversations", status_code=201, response_model=ConversationOut)
async def add_conversation(
    number: str, body: ConversationCreate, caller: CurrentCaller, db: DB, clock: ClockDep
) -> ConversationOut:
    async with db.write() as session:
        entry = await service.add_conversation(
            session=session, caller=caller, number=number, data=body, now=clock.now()
        )
    out = ConversationOut.model_validate(entry)
    out.attachment_ids = sorted(set(body.attachment_ids))
    return out


@router.get("/{number}/conversations", response_model=list[ConversationOut])
async def list_conversations(number: str, caller: CurrentCaller, db: DB) -> list[ConversationOut]:
    async with db.read() as session:
        entries = await service.list_conversations(session=session, caller=caller, number=number)
        files = await attachments.list_attachments(session=session, caller=caller, number=number)
    by_entry: dict[int, list[int]] = {}
    for file in files:
        if file.conversation_id is not None:
            by_entry.setdefault(file.conversation_id, []).append(file.id)
    result = []
    for entry in entries:
        out = ConversationOut.model_validate(entry)
        out.attachment_ids = by_entry.get(entry.id, [])
        result.append(out)
    return result


@router.post("/{number}/worklogs", status_code=201, response_model=WorkLogOut)
async def add_work_log(
    number: str,
    body: WorkLogCreate,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
) -> WorkLogOut:
    async with db.write() as session:
        entry = await service.add_work_log(
            session=session, caller=caller, number=number, data=body, now=clock.now(), rules=rules
        )
    return work_log_out(entry)


@router.get("/{number}/worklogs", response_model=WorkLogList)
async def list_work_logs(number: str, caller: CurrentCaller, db: DB) -> WorkLogList:
    async with db.read() as session:
        logs = await service.list_work_logs(session=session, caller=caller, number=number)
    return WorkLogList(
        items=[work_log_out(entry) for entry in logs.items], total_minutes=logs.total_minutes
    )


@router.put("/{number}/feedback", response_model=FeedbackOut)
async def give_feedback(
    number: str, body: FeedbackSet, caller: CurrentCaller, db: DB, clock: ClockDep
) -> FeedbackOut:
    async with db.write() as session:
        feedback = await service.give_feedback(
            session=session, caller=caller, number=number, data=body, now=clock.now()
        )
    return FeedbackOut.model_validate(feedback)


@router.get("/{number}/feedback", response_model=FeedbackOut)
async def get_feedback(number: str, caller: CurrentCaller, db: DB) -> FeedbackOut:
    async with db.read() as session:
        feedback = await service.get_feedback(session=session, caller=caller, number=number)
    return FeedbackOut.model_validate(feedback)


@router.post("/{number}/automation-steps", status_code=201, response_model=AutomationStepOut)
async def record_automation_step(
    number: str,
    body: AutomationStepCreate,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
) -> AutomationStepOut:
    async with db.write() as session:
        row = await automation.record_automation_step(
            session=session, caller=caller, number=number, data=body, now=clock.now(), rules=rules
        )
    label = history_row_label(row.action, row.changes)
    outcome = next(change["new"] for change in row.changes if change["field"] == STEP_OUTCOME)
    return AutomationStepOut(
        history_id=row.id,
        step_id=automation_step_id(row.changes) or body.step_id,
        name_en=label.en,
        name_zh=label.zh,
        outcome=StepOutcome(outcome),
        started_at=row.start_time,
        finished_at=row.stop_time,
        comment=row.comment,
    )


def watcher_list(found: watchers.Watchers) -> WatcherList:
    return WatcherList(
        watching=found.watching,
        items=[
            WatcherOut(
                user_id=row.user_id,
                name=found.names.get(row.user_id, ""),
                created_at=row.created_at,
                created_by=row.created_by,
            )
            for row in found.items
        ],
    )


@router.get("/{number}/watchers", response_model=WatcherList)
async def list_watchers(number: str, caller: CurrentCaller, db: DB) -> WatcherList:
    async with db.read() as session:
        found = await watchers.list_watchers(session=session, caller=caller, number=number)
    return watcher_list(found)


@router.post("/{number}/watchers", response_model=WatcherList)
async def add_watcher(
    number: str,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    response: Response,
    body: WatcherAdd | None = None,
) -> WatcherList:
    """Start watching (the caller, or ``user_id``); 201 when added, 200 when already there."""
    async with db.write() as session:
        _row, added = await watchers.watch(
            session=session,
            caller=caller,
            number=number,
            user_id=None if body is None else body.user_id,
            now=clock.now(),
        )
        found = await watchers.list_watchers(session=session, caller=caller, number=number)
    response.status_code = 201 if added else 200
    return watcher_list(found)


@router.delete("/{number}/watchers/{user_id}", status_code=204)
async def remove_watcher(
    number: str, user_id: str, caller: CurrentCaller, db: DB, clock: ClockDep
) -> Response:
    """Stop watching; removing someone who does not watch is not an error."""
    async with db.write() as session:
        await watchers.unwatch(
            session=session, caller=caller, number=number, user_id=user_id, now=clock.now()
        )
    return Response(status_code=204)
