"""Route for administrators: the auth events (sign-ins, failures, sign-outs), newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from opsdesk.api.deps import ADMIN_ONLY, DB, CurrentCaller
from opsdesk.auth.events import EventKind, list_events
from opsdesk.auth.schemas import AuthEventOut
from opsdesk.core.bounds import MAX_PAGE
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest

# ADMIN_ONLY runs before the query is validated: a non-admin gets 403 whatever it sends.
router = APIRouter(prefix="/api/v1/admin", tags=["auth events"], dependencies=[ADMIN_ONLY])


@router.get("/auth-events")
async def list_auth_events(
    caller: CurrentCaller,
    db: DB,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
    kind: EventKind | None = None,
    email: Annotated[str | None, Query(max_length=254)] = None,
    user_id: Annotated[str | None, Query(max_length=32)] = None,
    client_address: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    async with db.read() as session:
        result = await list_events(
            session=session,
            caller=caller,
            page=PageRequest(page, per_page),
            kind=kind,
            email=email,
            user_id=user_id,
            client_address=client_address,
        )
    return {
        "items": [AuthEventOut.model_validate(row) for row in result.items],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
    }
