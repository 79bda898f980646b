"""Routes for the caller (``/api/v1/me``), users, API tokens and access keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from opsdesk.api.deps import DB, AdminCaller, ClockDep, CurrentCaller, StaffCaller
from opsdesk.api.signed_requests import secret_box
from opsdesk.auth import access_keys, service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import (
    AccessKeyCreate,
    AccessKeyCreated,
    AccessKeyOut,
    MeOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from opsdesk.core.bounds import MAX_PAGE
from opsdesk.core.errors import NotFound
from opsdesk.core.pagination import MAX_PER_PAGE, PageRequest

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=MeOut)
async def me(caller: CurrentCaller) -> MeOut:
    return MeOut(id=caller.user_id, email=caller.email, name=caller.name, role=caller.role)


@router.get("/users")
async def list_users(
    caller: StaffCaller,
    db: DB,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
    role: Role | None = None,
) -> dict[str, object]:
    async with db.read() as session:
        result = await service.list_users(
            session=session, caller=caller, page=PageRequest(page, per_page), role=role
        )
    return {
        "items": [UserOut.model_validate(user) for user in result.items],
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
    }


@router.post("/users", status_code=201, response_model=UserOut)
async def create_user(
    body: UserCreate, caller: AdminCaller, db: DB, clock: ClockDep, response: Response
) -> UserOut:
    async with db.write() as session:
        user = await service.create_user(session=session, data=body, now=clock.now(), caller=caller)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: str, caller: CurrentCaller, db: DB) -> UserOut:
    if user_id != caller.user_id and not caller.is_staff:
        raise NotFound(f"no user with id {user_id}", field="user_id")
    async with db.read() as session:
        user = await service.get_user(session=session, user_id=user_id)
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: str, body: UserUpdate, caller: AdminCaller, db: DB, clock: ClockDep
) -> UserOut:
    async with db.write() as session:
        user = await service.update_user(
            session=session, caller=caller, user_id=user_id, data=body, now=clock.now()
        )
    return UserOut.model_validate(user)


@router.delete("/users/{user_id}", response_model=UserOut)
async def deactivate_user(user_id: str, caller: AdminCaller, db: DB, clock: ClockDep) -> UserOut:
    """Users are deactivated, never removed: history rows keep pointing at them."""
    async with db.write() as session:
        user = await service.update_user(
            session=session,
            caller=caller,
            user_id=user_id,
            data=UserUpdate(active=False),
            now=clock.now(),
        )
    return UserOut.model_validate(user)


@router.get("/me/tokens", response_model=list[TokenOut])
async def list_my_tokens(caller: CurrentCaller, db: DB) -> list[TokenOut]:
    async with db.read() as session:
        rows = await service.list_tokens(session=session, user_id=caller.user_id)
    return [TokenOut.model_validate(row) for row in rows]


@router.post("/me/tokens", status_code=201, response_model=TokenCreated)
async def create_my_token(
    body: TokenCreate, caller: CurrentCaller, db: DB, clock: ClockDep
) -> TokenCreated:
    async with db.write() as session:
        row, token = await service.create_token(
            session=session, user_id=caller.user_id, name=body.name, now=clock.now()
        )
    return TokenCreated(
        id=row.id, name=row.name, created_at=row.created_at, revoked_at=None, token=token
    )


@router.delete("/me/tokens/{token_id}", response_model=TokenOut)
async def revoke_my_token(
    token_id: str, caller: CurrentCaller, db: DB, clock: ClockDep
) -> TokenOut:
    async with db.write() as session:
        row = await service.revoke_token(
            session=session, caller=caller, token_id=token_id, now=clock.now()
        )
    return TokenOut.model_validate(row)


@router.get("/me/access-keys", response_model=list[AccessKeyOut])
async def list_my_access_keys(caller: CurrentCaller, db: DB) -> list[AccessKeyOut]:
    async with db.read() as session:
        rows = await access_keys.list_access_keys(session=session, user_id=caller.user_id)
    return [AccessKeyOut.model_validate(row) for row in rows]


@router.post("/me/access-keys", status_code=201, response_model=AccessKeyCreated)
async def create_my_access_key(
    body: AccessKeyCreate, caller: CurrentCaller, db: DB, clock: ClockDep, request: Request
) -> AccessKeyCreated:
    """A new access key; ``secret_key`` is in this answer only and can never be read again."""
    async with db.write() as session:
        row, secret = await access_keys.create_access_key(
            session=session,
            user_id=caller.user_id,
            name=body.name,
            now=clock.now(),
            box=secret_box(request),
        )
    return AccessKeyCreated.model_validate(
        {**AccessKeyOut.model_validate(row).model_dump(), "secret_key": secret}
    )


@router.delete("/me/access-keys/{access_key_id}", response_model=AccessKeyOut)
async def revoke_my_access_key(
    access_key_id: str, caller: CurrentCaller, db: DB, clock: ClockDep
) -> AccessKeyOut:
    async with db.write() as session:
        row = await access_keys.revoke_access_key(
            session=session, caller=caller, access_key_id=access_key_id, now=clock.now()
        )
    return AccessKeyOut.model_validate(row)
