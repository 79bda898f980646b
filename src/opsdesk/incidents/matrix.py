"""The priority matrix: impact x urgency -> level (P1-P5), as data an administrator edits.

Impact and urgency are 1 (high) to 3 (low). The default is the ITIL/ServiceNow grid,
``priority = impact + urgency - 1`` mapped onto COC's levels P1-P5.
"""

from __future__ import annotations

from collections.abc import Mapping

from opsdesk.incidents.fields import DEFAULT_IMPACT, DEFAULT_URGENCY, LEVELS

SCALE = (1, 2, 3)

Cell = tuple[int, int]  # (impact, urgency)

DEFAULT_MATRIX: dict[Cell, str] = {
    (impact, urgency): LEVELS[impact + urgency - 2] for impact in SCALE for urgency in SCALE
}


def level_from(matrix: Mapping[Cell, str], impact: int | None, urgency: int | None) -> str:
    """The level for this impact and urgency; a value not given counts as medium.

    A cell missing from ``matrix`` falls back to the default grid, so a half-edited
    matrix never leaves an incident without a level.
    """
    cell = (impact or DEFAULT_IMPACT, urgency or DEFAULT_URGENCY)
    return matrix.get(cell) or DEFAULT_MATRIX[cell]


def missing_cells(cells: Mapping[Cell, str]) -> list[Cell]:
    """Cells of the full grid that ``cells`` does not set: a matrix is replaced whole."""
    return [cell for cell in DEFAULT_MATRIX if cell not in cells]
