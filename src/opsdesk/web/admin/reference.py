"""Reference data pages: levels, categories, applications, regions and enterprise projects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from opsdesk.auth.roles import Caller
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.models import ReferenceItem
from opsdesk.catalog.schemas import ItemCreate, ItemUpdate
from opsdesk.core.errors import NotFound, OpsdeskError
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.common import _clock, _db, _error_page, _redirect, _text

router = APIRouter(include_in_schema=False)

KIND_TITLES = {
    Kind.LEVEL: "Levels",
    Kind.CATEGORY: "Categories",
    Kind.APPLICATION: "Applications",
    Kind.REGION: "Regions",
    Kind.ENTERPRISE_PROJECT: "Enterprise projects",
}
EDIT_INPUTS = ("name_en", "name_zh", "description", "sort_order")


def _kind(value: str) -> Kind | None:
    try:
        return Kind(value)
    except ValueError:
        return None


def _item_data(form: FormData) -> dict[str, Any]:
    """Form inputs as the schema's fields; a box left unticked means disabled."""
    data: dict[str, Any] = {name: _text(form, name) for name in EDIT_INPUTS}
    data["sort_order"] = data["sort_order"].strip() or "100"
    data["enabled"] = _text(form, "enabled") == "on"
    return data


def _missing(request: Request, caller: Caller) -> Response:
    return _error_page(
        request, caller=caller, status_code=404, title="Not found", message="No such item."
    )


def _kinds() -> list[dict[str, str]]:
    return [{"value": kind.value, "title": title} for kind, title in KIND_TITLES.items()]


@router.get("/admin/reference")
async def reference_home(request: Request) -> Response:
    return _redirect(f"/admin/reference/{Kind.CATEGORY.value}")


async def _list_page(
    request: Request,
    caller: Caller,
    kind: Kind,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    async with _db(request).read() as session:
        items = await catalog_service.list_items(session=session, kind=kind)
    return render_admin(
        request,
        "admin/reference.html",
        {
            "kind": kind.value,
            "kind_title": KIND_TITLES[kind],
            "singular": kind.singular,
            "may_add": kind.admins_may_add,
            "kinds": _kinds(),
            "items": items,
        },
        caller=caller,
        errors=errors,
        values=values or {"sort_order": "100", "enabled": True},
    )


@router.get("/admin/reference/{kind_name}")
async def reference_page(request: Request, kind_name: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    kind = _kind(kind_name)
    if kind is None:
        return _missing(request, caller)
    return await _list_page(request, caller, kind)


@router.post("/admin/reference/{kind_name}")
async def create_item(request: Request, kind_name: str) -> Response:
    form = await request.form()
    values = {"key": _text(form, "key"), **_item_data(form)}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        kind = _kind(kind_name)
        if kind is None:
            return _missing(request, caller)
        try:
            data = validated(ItemCreate, values)
            item = await catalog_service.create_item(
                session=session, caller=caller, kind=kind, data=data, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(
                request, f"Added {kind.singular} {item.key}.", f"/admin/reference/{kind.value}"
            )
    return await _list_page(request, caller, kind, errors=errors, values=values)


async def _item_page(
    request: Request,
    caller: Caller,
    kind: Kind,
    item: ReferenceItem,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    return render_admin(
        request,
        "admin/reference_item.html",
        {
            "kind": kind.value,
            "kind_title": KIND_TITLES[kind],
            "singular": kind.singular,
            "item": item,
        },
        caller=caller,
        errors=errors,
        values=values
        or {
            "name_en": item.name_en,
            "name_zh": item.name_zh,
            "description": item.description,
            "sort_order": str(item.sort_order),
            "enabled": item.enabled,
        },
    )


@router.get("/admin/reference/{kind_name}/{key}")
async def item_page(request: Request, kind_name: str, key: str) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
        if not isinstance(caller, Caller):
            return caller
        kind = _kind(kind_name)
        if kind is None:
            return _missing(request, caller)
        try:
            item = await catalog_service.get_item(session=session, kind=kind, key=key)
        except NotFound:
            return _missing(request, caller)
    return await _item_page(request, caller, kind, item)


@router.post("/admin/reference/{kind_name}/{key}")
async def update_item(request: Request, kind_name: str, key: str) -> Response:
    form = await request.form()
    values = _item_data(form)
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        kind = _kind(kind_name)
        if kind is None:
            return _missing(request, caller)
        try:
            item = await catalog_service.get_item(session=session, kind=kind, key=key)
            data = validated(ItemUpdate, values)
            await catalog_service.update_item(
                session=session,
                caller=caller,
                kind=kind,
                key=key,
                data=data,
                now=_clock(request).now(),
            )
        except NotFound:
            return _missing(request, caller)
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc)
        else:
            return done(request, f"Saved {kind.singular} {key}.", f"/admin/reference/{kind.value}")
    return await _item_page(request, caller, kind, item, errors=errors, values=values)


@router.post("/admin/reference/{kind_name}/{key}/delete")
async def delete_item(request: Request, kind_name: str, key: str) -> Response:
    form = await request.form()
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        kind = _kind(kind_name)
        if kind is None:
            return _missing(request, caller)
        try:
            await catalog_service.delete_item(session=session, caller=caller, kind=kind, key=key)
        except NotFound:
            return _missing(request, caller)
        except OpsdeskError as exc:
            message = f"Not deleted: {errors_of(exc)['key']}"
            return done(request, message, f"/admin/reference/{kind.value}/{key}", kind="error")
    return done(request, f"Deleted {kind.singular} {key}.", f"/admin/reference/{kind.value}")
