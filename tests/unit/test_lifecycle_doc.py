"""docs/lifecycle.md's action table says what the code asks: every parameter, required in bold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsdesk.incidents.lifecycle import PUBLIC_ACTIONS, TRANSITIONS, Action
from opsdesk.incidents.schemas import ACTION_PARAMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def action_rows() -> dict[str, list[str]]:
    """Action name → the cells of its row in the "Actions" table."""
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| `([a-z_]+)` \|(.*)\|$", line)
        if match and match.group(1) in {a.value for a in Action}:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


@pytest.mark.parametrize("action", PUBLIC_ACTIONS, ids=str)
def test_the_doc_names_each_parameter_and_which_are_required(action: Action) -> None:
    rows = action_rows()
    assert action.value in rows, f"docs/lifecycle.md has no row for {action}"
    parameters = rows[action.value][-1]
    bold = set(re.findall(r"\*\*`([a-z_]+)`\*\*", parameters))
    named = set(re.findall(r"`([a-z_]+)`", parameters))
    fields = ACTION_PARAMS[action].model_fields
    required = {name for name, field in fields.items() if field.is_required()}
    assert bold == required
    assert set(fields) <= named, f"not in the doc: {set(fields) - named}"


def test_the_doc_lists_the_phases_each_action_starts_from() -> None:
    rows = action_rows()
    for action in PUBLIC_ACTIONS:
        sources = {t.source.value for (_, a), t in TRANSITIONS.items() if a is action}
        text = " ".join(rows[action.value][:2])
        mentioned = {s for s in sources if s in text}
        assert mentioned == sources or "every phase but completed" in text, action
