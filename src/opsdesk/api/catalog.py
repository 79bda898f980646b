"""Reference-data routes: one set of CRUD routes per kind, e.g. ``/api/v1/categories``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from opsdesk.api.deps import DB, AdminCaller, ClockDep, CurrentCaller
from opsdesk.catalog import service
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.schemas import ItemCreate, ItemOut, ItemUpdate


def _router_for(kind: Kind) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{kind.value}", tags=["reference data"])

    @router.get("", response_model=list[ItemOut], name=f"list_{kind.name.lower()}")
    async def list_items(
        caller: CurrentCaller, db: DB, include_disabled: bool = False
    ) -> list[ItemOut]:
        async with db.read() as session:
            items = await service.list_items(
                session=session, kind=kind, include_disabled=include_disabled and caller.is_staff
            )
        return [ItemOut.model_validate(item) for item in items]

    @router.get("/{key}", response_model=ItemOut, name=f"get_{kind.name.lower()}")
    async def get_item(key: str, caller: CurrentCaller, db: DB) -> ItemOut:
        async with db.read() as session:
            item = await service.get_item(session=session, kind=kind, key=key)
        return ItemOut.model_validate(item)

    @router.post("", status_code=201, response_model=ItemOut, name=f"create_{kind.name.lower()}")
    async def create_item(
        body: ItemCreate, caller: AdminCaller, db: DB, clock: ClockDep, response: Response
    ) -> ItemOut:
        async with db.write() as session:
            item = await service.create_item(
                session=session, caller=caller, kind=kind, data=body, now=clock.now()
            )
        response.headers["Location"] = f"/api/v1/{kind.value}/{item.key}"
        return ItemOut.model_validate(item)

    @router.patch("/{key}", response_model=ItemOut, name=f"update_{kind.name.lower()}")
    async def update_item(
        key: str, body: ItemUpdate, caller: AdminCaller, db: DB, clock: ClockDep
    ) -> ItemOut:
        async with db.write() as session:
            item = await service.update_item(
                session=session, caller=caller, kind=kind, key=key, data=body, now=clock.now()
            )
        return ItemOut.model_validate(item)

    @router.delete("/{key}", status_code=204, name=f"delete_{kind.name.lower()}")
    async def delete_item(key: str, caller: AdminCaller, db: DB) -> Response:
        async with db.write() as session:
            await service.delete_item(session=session, caller=caller, kind=kind, key=key)
        return Response(status_code=204)

    return router


routers = [_router_for(kind) for kind in Kind]
