"""Moving and copying attachments between incidents (merge, undo merge, split).

The per-incident limit on the number of files (``IncidentRules.attachment_max_count``)
holds here as for uploads: a merge moves files only while the target has room, and says
which stayed behind. The caller has locked both incidents; nothing here writes history.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.incidents.models import Attachment


async def count_attachments(session: AsyncSession, *, incident_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.incident_id == incident_id)
    )
    return int(count or 0)


async def move_attachments(
    session: AsyncSession, *, from_id: int, to_id: int, max_count: int
) -> tuple[list[int], list[int]]:
    """Move ``from_id``'s files (oldest first) to ``to_id`` while it has fewer than
    ``max_count``; returns (moved ids, ids that stayed for want of room)."""
    ids = list(
        await session.scalars(
            select(Attachment.id).where(Attachment.incident_id == from_id).order_by(Attachment.id)
        )
    )
    room = max(0, max_count - await count_attachments(session, incident_id=to_id))
    moved, kept = ids[:room], ids[room:]
    await move_attachments_back(session, attachment_ids=moved, to_id=to_id)
    return moved, kept


async def move_attachments_back(
    session: AsyncSession, *, attachment_ids: Collection[int], to_id: int
) -> None:
    """Put the named attachments on ``to_id`` (undoing a merge: no limit, they were there)."""
    if attachment_ids:
        await session.execute(
            update(Attachment)
            .where(Attachment.id.in_(list(attachment_ids)))
            .values(incident_id=to_id)
            .execution_options(synchronize_session=False)
        )


async def attachments_of(
    session: AsyncSession, *, incident_id: int, attachment_ids: Collection[int]
) -> list[Attachment]:
    if not attachment_ids:
        return []
    rows = await session.scalars(
        select(Attachment)
        .where(Attachment.incident_id == incident_id, Attachment.id.in_(list(attachment_ids)))
        .order_by(Attachment.id)
    )
    return list(rows)


async def copy_attachments(
    session: AsyncSession,
    *,
    attachments: list[Attachment],
    to_id: int,
    conversation_ids: dict[int, int],
) -> list[int]:
    """Copy attachment rows onto ``to_id`` (the content is stored once by SHA-256, so the
    bytes are shared); a file of a copied conversation entry points at the copy."""
    ids = []
    for attachment in attachments:
        conversation_id = (
            None
            if attachment.conversation_id is None
            else conversation_ids.get(attachment.conversation_id)
        )
        copy = Attachment(
            incident_id=to_id,
            uploader_id=attachment.uploader_id,
            file_name=attachment.file_name,
            content_type=attachment.content_type,
            size=attachment.size,
            sha256=attachment.sha256,
            context=attachment.context if conversation_id is not None else "incident",
            conversation_id=conversation_id,
            internal=attachment.internal,
            created_at=attachment.created_at,
        )
        session.add(copy)
        await session.flush()
        ids.append(copy.id)
    return ids
