"""The pure rules of merging, undoing a merge and splitting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsdesk.relations.merge_rules import (
    MAX_SECONDARIES,
    MergeFacts,
    check_merge,
    check_request,
    check_undo,
    split_attachment_room,
    undo_deadline,
)

OPEN = "INCIDENT_STATUS_TRIGGERED"
DONE = "INCIDENT_STATUS_COMPLETED"


def facts(number: str, **kw: object) -> MergeFacts:
    return MergeFacts(
        number=number,
        status=str(kw.get("status", OPEN)),
        merged_into=kw.get("merged_into"),  # type: ignore[arg-type]
        primary_of=tuple(kw.get("primary_of", ())),
    )  # type: ignore[arg-type]


def test_request_shape() -> None:
    assert check_request("A", ["B", "C"]) is None
    for secondaries, words in (
        ([], "at least one"),
        (["B", "B"], "twice"),
        (["A"], "cycle"),
        ([f"N{i}" for i in range(MAX_SECONDARIES + 1)], "at most"),
    ):
        refusal = check_request("A", secondaries)
        assert refusal is not None and not refusal.conflict
        assert refusal.field == "secondaries" and words in refusal.message


def test_state_refusals() -> None:
    assert check_merge(facts("A"), [facts("B"), facts("C", status=DONE)]) is None
    merged_primary = check_merge(facts("A", merged_into="Z"), [facts("B")])
    assert merged_primary is not None and merged_primary.field == "primary"
    assert "merge into Z instead" in merged_primary.message
    closed = check_merge(facts("A", status=DONE), [facts("B")])
    assert closed is not None and closed.field == "primary" and closed.conflict
    already = check_merge(facts("A"), [facts("B", merged_into="Q")])
    assert already is not None and "already merged into Q" in already.message
    cycle = check_merge(facts("A"), [facts("B", primary_of=("A",))])
    assert cycle is not None and "cycle" in cycle.message
    chain = check_merge(facts("A"), [facts("B", primary_of=("C", "D"))])
    assert chain is not None and chain.field == "secondaries"
    assert "C, D are merged into B" in chain.message


def test_undo_window() -> None:
    at = datetime(2026, 3, 2, 10, tzinfo=UTC)
    window = timedelta(hours=72)
    assert check_undo(number="B", merged_at=at, now=at + window, window=window) is None
    late = check_undo(
        number="B", merged_at=at, now=at + window + timedelta(seconds=1), window=window
    )
    assert late is not None and late.field == "merged_at" and "72 h" in late.message
    assert undo_deadline(at, window) == at + window


def test_split_attachment_room() -> None:
    assert split_attachment_room(wanted=10, limit=10) is None
    refusal = split_attachment_room(wanted=11, limit=10)
    assert refusal is not None and refusal.field == "attachment_ids"
