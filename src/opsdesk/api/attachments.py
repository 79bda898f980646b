"""Attachment routes under ``/api/v1/incidents/{number}/attachments``: translation only."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.core.bounds import RowId
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents import attachments
from opsdesk.incidents.models import Attachment
from opsdesk.incidents.rules import IncidentRules

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


class AttachmentOut(BaseModel):
    id: int
    file_name: str
    content_type: str
    size: int
    sha256: str
    context: str
    conversation_id: int | None
    internal: bool
    uploader_id: str
    created_at: datetime
    download_url: str


def attachment_out(number: str, row: Attachment) -> AttachmentOut:
    return attachment_at(row, f"/api/v1/incidents/{number}/attachments/{row.id}")


def attachment_at(row: Attachment, download_url: str) -> AttachmentOut:
    """An attachment as the API shows it, downloadable at ``download_url``."""
    return AttachmentOut(
        id=row.id,
        file_name=row.file_name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        context=row.context,
        conversation_id=row.conversation_id,
        internal=row.internal,
        uploader_id=row.uploader_id,
        created_at=row.created_at,
        download_url=download_url,
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def storage_dir(request: Request) -> Path:
    return attachments.attachments_dir(_settings(request))


async def read_upload(file: UploadFile | None, rules: IncidentRules) -> tuple[str, bytes]:
    """The upload's file name and bytes; one byte more than allowed is enough to refuse it, without
    buffering a huge upload."""
    if file is None:
        raise ValidationFailed(
            "file: send the file as the multipart form field 'file'", field="file"
        )
    return file.filename or "", await file.read(rules.attachment_max_bytes + 1)


def stored_file(request: Request, row: Attachment) -> FileResponse:
    """The stored content of ``row`` as a download under its original name."""
    path = attachments.content_path(storage_dir(request), row.sha256)
    if not path.is_file():
        raise NotFound(f"the content of attachment {row.id} is missing", field="id")
    return file_download(path, row.content_type, row.file_name)


@router.post("/{number}/attachments", status_code=201, response_model=AttachmentOut)
async def upload(
    number: str,
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[
        UploadFile | None, File(description="The file (multipart field `file`)")
    ] = None,
    internal: Annotated[bool, Form(description="Staff only: hidden from end users")] = False,
) -> AttachmentOut:
    """Attach one file: JPG, PNG, PDF, DOCX or TXT, checked by content."""
    file_name, data = await read_upload(file, rules)
    async with db.write() as session:
        row = await attachments.store_attachment(
            session=session,
            caller=caller,
            number=number,
            file_name=file_name,
            data=data,
            internal=internal,
            now=clock.now(),
            rules=rules,
            storage_dir=storage_dir(request),
        )
    return attachment_out(number, row)


@router.get("/{number}/attachments", response_model=list[AttachmentOut])
async def list_attachments(number: str, caller: CurrentCaller, db: DB) -> list[AttachmentOut]:
    async with db.read() as session:
        rows = await attachments.list_attachments(session=session, caller=caller, number=number)
    return [attachment_out(number, row) for row in rows]


@router.get("/{number}/attachments/{attachment_id}", response_class=FileResponse)
async def download(
    number: str, attachment_id: RowId, request: Request, caller: CurrentCaller, db: DB
) -> FileResponse:
    """The file's bytes, as an attachment under its original name."""
    async with db.read() as session:
        row = await attachments.get_attachment(
            session=session, caller=caller, number=number, attachment_id=attachment_id
        )
    return stored_file(request, row)


def file_download(path: Path, media_type: str, name: str) -> FileResponse:
    """A stored file as a download under its original name, never rendered by the browser."""
    return FileResponse(
        path,
        media_type=media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
