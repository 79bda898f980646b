"""Files attached to incidents: checked by content, stored once by SHA-256, shown to who may see.

The bytes live under ``<data dir>/attachments/<first two hex digits>/<sha256>``; the row
keeps the original name, the type read from the content, the size and who added it. Equal
content is stored once. A file is written (atomically, through a temporary file and a
rename) before its row, so a row never points at a missing file; a transaction that fails
after the write leaves at worst an unreferenced file, never a broken attachment.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller
from opsdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opsdesk.core.ids import new_id
from opsdesk.core.settings import Settings
from opsdesk.incidents.access import access_incident
from opsdesk.incidents.fields import HistoryAction, Status
from opsdesk.incidents.filetypes import CheckedFile, FileRefused, check_file
from opsdesk.incidents.history import record_history
from opsdesk.incidents.models import Attachment, Incident, PendingUpload
from opsdesk.incidents.rules import IncidentRules

CONTEXTS = frozenset({"incident", "conversation", "solution", "work_order"})


def attachments_dir(settings: Settings) -> Path:
    return settings.data_dir / "attachments"


def content_path(storage_dir: Path, sha256: str) -> Path:
    return storage_dir / sha256[:2] / sha256


def _write_once(storage_dir: Path, sha256: str, data: bytes) -> None:
    target = content_path(storage_dir, sha256)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


async def check_and_keep(
    *, file_name: str, data: bytes, rules: IncidentRules, storage_dir: Path
) -> tuple[CheckedFile, str]:
    """The checks every upload passes (size, then content), then the bytes kept once by their
    SHA-256 in the content store; the checked file and its hash, for the caller's row."""
    if len(data) > rules.attachment_max_bytes:
        raise ValidationFailed(
            f"file: {file_name!r} is larger than {_megabytes(rules.attachment_max_bytes)} "
            f"({rules.attachment_max_bytes} bytes), the most allowed per file",
            field="file",
        )
    try:
        checked = check_file(file_name, data)
    except FileRefused as exc:
        raise ValidationFailed(f"file: {exc}", field="file") from None
    sha256 = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(_write_once, storage_dir, sha256, data)
    return checked, sha256


async def store_attachment(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    file_name: str,
    data: bytes,
    internal: bool,
    now: datetime,
    rules: IncidentRules,
    storage_dir: Path,
    context: str = "incident",
    work_order_id: int | None = None,
) -> Attachment:
    """Check and keep one file on incident ``number``, with its history row.

    ``data`` may be one byte longer than the limit (the adapters read no more than that),
    which is enough to refuse it. Every check runs before anything is written.
    """
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    if internal and not caller.is_staff:
        raise Forbidden("internal: end users cannot add staff-only attachments", field="internal")
    if incident.status == Status.COMPLETED:
        raise Conflict(
            f"incident {number} is closed; reopen it first to attach files", field="status"
        )
    # The incident row is locked above, so two uploads at once cannot both pass the count.
    count = await session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.incident_id == incident.id)
    )
    if (count or 0) >= rules.attachment_max_count:
        raise ValidationFailed(
            f"file: incident {number} already has {count} attachments, the most allowed "
            f"({rules.attachment_max_count}); {file_name!r} was not attached",
            field="file",
        )
    checked, sha256 = await check_and_keep(
        file_name=file_name, data=data, rules=rules, storage_dir=storage_dir
    )
    attachment = Attachment(
        incident_id=incident.id,
        uploader_id=caller.user_id,
        file_name=checked.name,
        content_type=checked.content_type,
        size=len(data),
        sha256=sha256,
        context=context if context in CONTEXTS else "incident",
        conversation_id=None,
        work_order_id=work_order_id,
        internal=internal,
        created_at=now,
    )
    session.add(attachment)
    incident.updated_at = now
    incident.version += 1
    session.add(
        record_history(
            incident=incident,
            action=HistoryAction.ATTACH,
            operator_id=caller.user_id,
            now=now,
            comment=checked.name,
            internal=internal,
        )
    )
    await session.flush()
    return attachment


async def list_attachments(
    *, session: AsyncSession, caller: Caller, number: str
) -> list[Attachment]:
    """The incident's files, oldest first; end users do not see staff-only ones."""
    incident = await access_incident(session=session, caller=caller, number=number)
    query = select(Attachment).where(Attachment.incident_id == incident.id)
    if not caller.is_staff:
        query = query.where(Attachment.internal.is_(False))
    return list(await session.scalars(query.order_by(Attachment.id)))


async def get_attachment(
    *, session: AsyncSession, caller: Caller, number: str, attachment_id: int
) -> Attachment:
    """One file of the incident, if the caller may see both; otherwise it does not exist."""
    incident = await access_incident(session=session, caller=caller, number=number)
    attachment = await session.get(Attachment, attachment_id)
    if (
        attachment is None
        or attachment.incident_id != incident.id
        or (attachment.internal and not caller.is_staff)
    ):
        raise NotFound(f"incident {number} has no attachment {attachment_id}", field="id")
    return attachment


async def link_attachments(
    *,
    session: AsyncSession,
    incident: Incident,
    attachment_ids: list[int],
    context: str,
    conversation_id: int | None = None,
    internal: bool = False,
    caller: Caller | None = None,
) -> list[Attachment]:
    """Tie files already uploaded to this incident to a solution or a conversation entry.

    ``caller`` is None only for staff-only actions (resolve), whose role the action table
    has already checked. An end user may link only files they uploaded themselves and can
    see: ids are sequential, so anything else would let them publish a staff-only file or
    take over someone else's. Such ids are refused exactly like ids of another incident.
    """
    if not attachment_ids:
        return []
    wanted = set(attachment_ids)
    query = select(Attachment).where(
        Attachment.id.in_(wanted), Attachment.incident_id == incident.id
    )
    own_only = False
    if caller is not None and not caller.is_staff:
        own_only = True
        query = query.where(
            Attachment.uploader_id == caller.user_id, Attachment.internal.is_(False)
        )
    rows = list(await session.scalars(query))
    missing = sorted(wanted - {row.id for row in rows})
    if missing:
        raise ValidationFailed(
            f"attachment_ids: {', '.join(map(str, missing))} are not attachments of "
            f"incident {incident.number}{' that you uploaded' if own_only else ''}; "
            "upload them to it first",
            field="attachment_ids",
        )
    for row in rows:
        row.context = context
        row.conversation_id = conversation_id
        # Linking only ever narrows who sees a file: a staff-only file named in a public
        # reply stays staff-only, while an internal note's files become as private as it.
        row.internal = row.internal or internal
    return rows


async def store_pending_upload(
    *,
    session: AsyncSession,
    caller: Caller,
    file_name: str,
    data: bytes,
    now: datetime,
    rules: IncidentRules,
    storage_dir: Path,
) -> PendingUpload:
    """Check and keep a file that is not yet on an incident; the same checks as any upload."""
    checked, sha256 = await check_and_keep(
        file_name=file_name, data=data, rules=rules, storage_dir=storage_dir
    )
    upload = PendingUpload(
        id=new_id(),
        uploader_id=caller.user_id,
        file_name=checked.name,
        content_type=checked.content_type,
        size=len(data),
        sha256=sha256,
        created_at=now,
        attachment_id=None,
    )
    session.add(upload)
    await session.flush()
    return upload


async def claim_uploads(
    *,
    session: AsyncSession,
    caller: Caller,
    number: str,
    doc_ids: list[str],
    now: datetime,
    rules: IncidentRules,
    context: str = "incident",
) -> list[int]:
    """Turn the caller's pending uploads into attachments of incident ``number``; returns
    their attachment ids. Someone else's upload, or one already used, does not exist."""
    if not doc_ids:
        return []
    incident = await access_incident(session=session, caller=caller, number=number, for_update=True)
    wanted = list(dict.fromkeys(doc_ids))
    rows = {
        row.id: row
        for row in await session.scalars(
            select(PendingUpload).where(
                PendingUpload.id.in_(wanted),
                PendingUpload.uploader_id == caller.user_id,
                PendingUpload.attachment_id.is_(None),
            )
        )
    }
    missing = [doc_id for doc_id in wanted if doc_id not in rows]
    if missing:
        raise ValidationFailed(
            f"attachments: {', '.join(missing)} are not uploads of yours that are still unused",
            field="attachments",
        )
    count = await session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.incident_id == incident.id)
    )
    if (count or 0) + len(wanted) > rules.attachment_max_count:
        raise ValidationFailed(
            f"attachments: incident {number} would have more than "
            f"{rules.attachment_max_count} attachments",
            field="attachments",
        )
    ids = []
    for doc_id in wanted:
        upload = rows[doc_id]
        attachment = Attachment(
            incident_id=incident.id,
            uploader_id=caller.user_id,
            file_name=upload.file_name,
            content_type=upload.content_type,
            size=upload.size,
            sha256=upload.sha256,
            context=context if context in CONTEXTS else "incident",
            conversation_id=None,
            internal=False,
            created_at=now,
        )
        session.add(attachment)
        await session.flush()
        upload.attachment_id = attachment.id
        ids.append(attachment.id)
        session.add(
            record_history(
                incident=incident,
                action=HistoryAction.ATTACH,
                operator_id=caller.user_id,
                now=now,
                comment=upload.file_name,
            )
        )
    incident.updated_at = now
    incident.version += 1
    await session.flush()
    return ids


async def get_upload(*, session: AsyncSession, caller: Caller, doc_id: str) -> tuple[str, str, str]:
    """(sha256, content type, name) of a document by COC ``doc_id``: a pending upload to
    its uploader, a claimed one to whoever may see the attachment it became."""
    upload = await session.get(PendingUpload, doc_id)
    if upload is None:
        raise NotFound(f"no document {doc_id}", field="doc_id")
    if upload.attachment_id is None:
        if upload.uploader_id != caller.user_id:
            raise NotFound(f"no document {doc_id}", field="doc_id")
        return upload.sha256, upload.content_type, upload.file_name
    attachment = await session.get(Attachment, upload.attachment_id)
    if attachment is None or attachment.incident_id is None:
        raise NotFound(f"no document {doc_id}", field="doc_id")
    incident = await session.get(Incident, attachment.incident_id)
    if incident is None:
        raise NotFound(f"no document {doc_id}", field="doc_id")
    found = await get_attachment(
        session=session, caller=caller, number=incident.number, attachment_id=attachment.id
    )
    return found.sha256, found.content_type, found.file_name
