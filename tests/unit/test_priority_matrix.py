"""The priority matrix as data: the default ITIL grid and the fallbacks."""

from __future__ import annotations

from opsdesk.incidents.matrix import DEFAULT_MATRIX, level_from, missing_cells


def test_default_grid_is_itil_three_by_three() -> None:
    grid = [[level_from(DEFAULT_MATRIX, i, u) for u in (1, 2, 3)] for i in (1, 2, 3)]
    assert grid == [
        ["level_10", "level_20", "level_30"],
        ["level_20", "level_30", "level_40"],
        ["level_30", "level_40", "level_50"],
    ]


def test_missing_impact_or_urgency_counts_as_medium() -> None:
    assert level_from(DEFAULT_MATRIX, None, None) == "level_30"
    assert level_from(DEFAULT_MATRIX, 1, None) == "level_20"
    assert level_from(DEFAULT_MATRIX, None, 3) == "level_40"


def test_an_edited_cell_wins_and_a_missing_cell_falls_back() -> None:
    edited = {(3, 3): "level_40"}
    assert level_from(edited, 3, 3) == "level_40"
    assert level_from(edited, 1, 1) == "level_10"


def test_missing_cells_lists_what_a_replacement_leaves_out() -> None:
    assert missing_cells(DEFAULT_MATRIX) == []
    partial = dict(DEFAULT_MATRIX)
    del partial[(2, 3)]
    assert missing_cells(partial) == [(2, 3)]
