"""COC attachments: upload (v1 external and generic) and download by document id."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from opsdesk.api.attachments import file_download
from opsdesk.api.coc.requests import DocId
from opsdesk.api.deps import DB, ClockDep, CurrentCaller, Rules
from opsdesk.auth.roles import Caller
from opsdesk.core.database import Database
from opsdesk.core.errors import NotFound, ValidationFailed
from opsdesk.core.settings import Settings
from opsdesk.incidents import attachments
from opsdesk.incidents.rules import IncidentRules

router = APIRouter(tags=["COC-compatible"])

# Attachments ---------------------------------------------------------------------------------


def _storage(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return attachments.attachments_dir(settings)


async def _upload(
    request: Request,
    caller: Caller,
    db: Database,
    now: datetime,
    rules: IncidentRules,
    file: UploadFile | None,
) -> dict[str, Any]:
    if file is None:
        raise ValidationFailed(
            "file: send the file as the multipart form field 'file'", field="file"
        )
    data = await file.read(rules.attachment_max_bytes + 1)
    async with db.write() as session:
        upload = await attachments.store_pending_upload(
            session=session,
            caller=caller,
            file_name=file.filename or "",
            data=data,
            now=now,
            rules=rules,
            storage_dir=_storage(request),
        )
    # CreateExternalCocAttachment answers in its own envelope: code "0" is success.
    return {
        "code": "0",
        "provider_code": "049",
        "msg": "",
        "data": {"doc_id": upload.id, "doc_name": upload.file_name},
    }


@router.post("/v1/external/incident/attachments")
async def upload_external(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    """Upload one file (multipart field ``file``) before naming it on create or solution."""
    return await _upload(request, caller, db, clock.now(), rules, file)


@router.post("/v1/incident/attachments")
async def upload_generic(
    request: Request,
    caller: CurrentCaller,
    db: DB,
    clock: ClockDep,
    rules: Rules,
    file: Annotated[UploadFile | None, File()] = None,
) -> dict[str, Any]:
    return await _upload(request, caller, db, clock.now(), rules, file)


@router.get("/v1/incident/attachments/{doc_id}", response_class=FileResponse)
async def download_document(
    doc_id: DocId, request: Request, caller: CurrentCaller, db: DB
) -> FileResponse:
    async with db.read() as session:
        sha256, content_type, name = await attachments.get_upload(
            session=session, caller=caller, doc_id=doc_id
        )
    path = attachments.content_path(_storage(request), sha256)
    if not path.is_file():
        raise NotFound(f"the content of document {doc_id} is missing", field="doc_id")
    return file_download(path, content_type, name)
