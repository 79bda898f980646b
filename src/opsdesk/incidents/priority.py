"""The stored priority matrix: read it for a new incident, replace it as an admin."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.roles import Caller, Role
from opsdesk.auth.service import require_role
from opsdesk.catalog.kinds import Kind
from opsdesk.catalog.service import check_references
from opsdesk.core.cache import forget, remember
from opsdesk.core.errors import ValidationFailed
from opsdesk.incidents.matrix import DEFAULT_MATRIX, Cell, level_from, missing_cells
from opsdesk.incidents.models import PriorityCell
from opsdesk.incidents.schemas import MatrixCellIn

_CACHE_KEY = "priority_matrix"


async def current_matrix(*, session: AsyncSession) -> dict[Cell, str]:
    """The stored cells (cached a few seconds: every new incident reads them)."""

    async def load() -> tuple[tuple[Cell, str], ...]:
        rows = await session.execute(
            select(PriorityCell.impact, PriorityCell.urgency, PriorityCell.level)
        )
        return tuple(((impact, urgency), level) for impact, urgency, level in rows)

    return dict(await remember(session, "reference", _CACHE_KEY, load))


async def level_for(*, session: AsyncSession, impact: int | None, urgency: int | None) -> str:
    return level_from(await current_matrix(session=session), impact, urgency)


async def replace_matrix(
    *, session: AsyncSession, caller: Caller, cells: Sequence[MatrixCellIn], now: datetime
) -> dict[Cell, str]:
    """Replace the whole grid; a cell left out or given twice is refused, nothing changes."""
    require_role(caller, Role.ADMIN)
    given: dict[Cell, str] = {}
    for index, cell in enumerate(cells):
        key = (cell.impact, cell.urgency)
        if key in given:
            raise ValidationFailed(
                f"cells.{index}: impact {cell.impact} x urgency {cell.urgency} is given twice",
                field=f"cells.{index}",
            )
        given[key] = cell.level
    missing = missing_cells(given)
    if missing:
        shown = ", ".join(f"impact {i} x urgency {u}" for i, u in missing)
        raise ValidationFailed(
            f"cells: the matrix needs every cell; missing {shown}", field="cells"
        )
    for index, cell in enumerate(cells):
        try:
            await check_references(session=session, chosen={Kind.LEVEL: cell.level})
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"cells.{index}.level: {exc}", field=f"cells.{index}.level"
            ) from None
    await session.execute(delete(PriorityCell))
    session.add_all(
        PriorityCell(impact=impact, urgency=urgency, level=level, updated_at=now)
        for (impact, urgency), level in sorted(given.items())
    )
    await session.flush()
    forget(session, "reference")
    return given


async def seed_matrix(*, session: AsyncSession, now: datetime) -> int:
    """Write the default ITIL grid into an empty matrix; returns how many cells were added."""
    if await current_matrix(session=session):
        return 0
    session.add_all(
        PriorityCell(impact=impact, urgency=urgency, level=level, updated_at=now)
        for (impact, urgency), level in DEFAULT_MATRIX.items()
    )
    await session.flush()
    return len(DEFAULT_MATRIX)
