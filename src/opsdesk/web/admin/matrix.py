"""The priority matrix as an editable 3 x 3 grid: impact down, urgency across, a level per cell."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from opsdesk.auth.roles import Caller
from opsdesk.catalog import service as catalog_service
from opsdesk.catalog.kinds import Kind
from opsdesk.core.errors import OpsdeskError
from opsdesk.incidents.fields import SCALE_LABELS
from opsdesk.incidents.matrix import DEFAULT_MATRIX, SCALE
from opsdesk.incidents.priority import current_matrix, replace_matrix
from opsdesk.incidents.schemas import MatrixIn
from opsdesk.web.admin.base import (
    FormInvalid,
    admin_for_page,
    admin_for_post,
    done,
    errors_of,
    render_admin,
    validated,
)
from opsdesk.web.common import _clock, _db, _text

router = APIRouter(include_in_schema=False)

CELLS = [(impact, urgency) for impact in SCALE for urgency in SCALE]


def _input(impact: int, urgency: int) -> str:
    return f"cell-{impact}-{urgency}"


# The service names a refused cell by its position in the list it was given.
INPUT_OF_FIELD = {
    **{f"cells.{index}": _input(*cell) for index, cell in enumerate(CELLS)},
    **{f"cells.{index}.level": _input(*cell) for index, cell in enumerate(CELLS)},
}


async def _page(
    request: Request,
    caller: Caller,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    async with _db(request).read() as session:
        stored = DEFAULT_MATRIX | await current_matrix(session=session)
        levels = await catalog_service.list_items(session=session, kind=Kind.LEVEL)
    shown = values or {_input(*cell): level for cell, level in stored.items()}
    return render_admin(
        request,
        "admin/matrix.html",
        {
            "scale": [(value, SCALE_LABELS[value].en) for value in SCALE],
            "level_options": [
                (item.key, f"{item.key} · {item.name_en}" if item.name_en != item.key else item.key)
                for item in levels
                if item.enabled or item.key in shown.values()
            ],
        },
        caller=caller,
        errors=errors,
        values=shown,
    )


@router.get("/admin/priority-matrix")
async def matrix_page(request: Request) -> Response:
    async with _db(request).read() as session:
        caller = await admin_for_page(request, session)
    if not isinstance(caller, Caller):
        return caller
    return await _page(request, caller)


@router.post("/admin/priority-matrix")
async def save_matrix(request: Request) -> Response:
    form = await request.form()
    values = {_input(*cell): _text(form, _input(*cell)) for cell in CELLS}
    async with _db(request).write() as session:
        caller = await admin_for_post(request, session, form)
        if not isinstance(caller, Caller):
            return caller
        try:
            body = validated(
                MatrixIn,
                {
                    "cells": [
                        {
                            "impact": impact,
                            "urgency": urgency,
                            "level": values[_input(impact, urgency)],
                        }
                        for impact, urgency in CELLS
                    ]
                },
                INPUT_OF_FIELD,
            )
            await replace_matrix(
                session=session, caller=caller, cells=body.cells, now=_clock(request).now()
            )
        except FormInvalid as exc:
            errors = exc.errors
        except OpsdeskError as exc:
            errors = errors_of(exc, INPUT_OF_FIELD)
        else:
            return done(
                request,
                "Priority matrix saved: new incidents take their level from it.",
                "/admin/priority-matrix",
            )
    return await _page(request, caller, values=values, errors=errors)
