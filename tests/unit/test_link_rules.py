"""Link rules: kinds, labels and every refusal (self, merged, duplicate, cycle, re-parent)."""

from __future__ import annotations

import pytest

from opsdesk.relations.link_rules import (
    STORED_KINDS,
    Direction,
    End,
    LinkKind,
    LinkRefused,
    StoredLink,
    check_link,
    check_parent,
    cycle_through,
    link_label,
    parse_kind,
)

A, B, C, D = (End(i, f"INC-{i}") for i in range(1, 5))
MERGED = End(9, "INC-9", merged_into="INC-1")


def refusal(call: object) -> LinkRefused:
    assert callable(call)
    with pytest.raises(LinkRefused) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("kind", sorted(STORED_KINDS))
def test_a_new_link_of_each_stored_kind_is_allowed(kind: LinkKind) -> None:
    check_link(A, B, kind, [StoredLink(1, 2, "other"), StoredLink(1, 3, kind)])


@pytest.mark.parametrize("kind", sorted(STORED_KINDS))
def test_a_link_to_itself_is_refused_as_invalid(kind: LinkKind) -> None:
    error = refusal(lambda: check_link(A, A, kind, []))
    assert (error.field, error.conflict) == ("number", False)
    assert "INC-1 cannot be linked to itself" in error.message


@pytest.mark.parametrize("kind", sorted(STORED_KINDS))
def test_the_same_link_twice_is_a_conflict(kind: LinkKind) -> None:
    error = refusal(lambda: check_link(A, B, kind, [StoredLink(1, 2, kind)]))
    assert (error.field, error.conflict) == ("number", True)
    assert "INC-1 is already linked to INC-2" in error.message


@pytest.mark.parametrize("kind", sorted(STORED_KINDS))
def test_the_opposite_direction_is_refused_too(kind: LinkKind) -> None:
    error = refusal(lambda: check_link(A, B, kind, [StoredLink(2, 1, kind)]))
    assert error.conflict
    expected = "INC-1 is already linked to INC-2" if kind == "related" else "INC-2 is already"
    assert expected in error.message


def test_different_kinds_between_the_same_pair_are_allowed() -> None:
    check_link(A, B, LinkKind.CAUSED_BY, [StoredLink(1, 2, "related"), StoredLink(2, 1, "dup")])


@pytest.mark.parametrize("ends", [(A, MERGED), (MERGED, A)])
def test_a_merged_incident_is_not_linked_its_primary_is(ends: tuple[End, End]) -> None:
    error = refusal(lambda: check_link(*ends, LinkKind.RELATED, []))
    assert error.conflict
    assert "INC-9 was merged into INC-1; link INC-1 instead" in error.message


@pytest.mark.parametrize("kind", [LinkKind.PARENT, LinkKind.CHILD])
def test_parent_and_child_are_not_link_rows(kind: LinkKind) -> None:
    assert refusal(lambda: check_link(A, B, kind, [])).field == "kind"


def test_kinds_parse_and_unknown_kinds_name_the_choices() -> None:
    assert parse_kind("caused_by") is LinkKind.CAUSED_BY
    error = refusal(lambda: parse_kind("blocks"))
    assert error.field == "kind"
    assert "related, duplicate_of, caused_by, parent, child" in error.message


def test_labels_read_from_each_end() -> None:
    def both(kind: LinkKind) -> tuple[str, str]:
        return (
            link_label(kind, Direction.OUTGOING).en,
            link_label(kind, Direction.INCOMING).en,
        )

    assert both(LinkKind.RELATED) == ("Related to", "Related to")
    assert both(LinkKind.DUPLICATE_OF) == ("Duplicate of", "Duplicated by")
    assert both(LinkKind.CAUSED_BY) == ("Caused by", "Causes")
    assert both(LinkKind.PARENT) == ("Child of", "Parent of")
    assert both(LinkKind.CHILD) == ("Parent of", "Child of")
    assert all(link_label(k, d).zh for k in LinkKind for d in Direction)


def test_a_first_parent_is_allowed() -> None:
    check_parent(B, A, current_parent=None, parent_of={1: None}, replace=False)


def test_a_parent_of_itself_is_refused() -> None:
    error = refusal(lambda: check_parent(A, A, current_parent=None, parent_of={}, replace=False))
    assert (error.field, error.conflict) == ("number", False)


def test_a_merged_parent_is_refused() -> None:
    error = refusal(
        lambda: check_parent(A, MERGED, current_parent=None, parent_of={}, replace=False)
    )
    assert "link INC-1 instead" in error.message


def test_the_same_parent_twice_is_a_conflict() -> None:
    error = refusal(lambda: check_parent(B, A, current_parent=A, parent_of={}, replace=True))
    assert error.conflict
    assert "INC-1 is already the parent of INC-2" in error.message


@pytest.mark.parametrize(
    ("parent_of", "parent"),
    [
        ({2: 1}, B),  # A parent of B: B cannot become A's parent
        ({2: 1, 3: 2}, C),  # A > B > C: C cannot become A's parent
        ({2: 1, 3: 2, 4: 3}, D),  # any depth
    ],
)
def test_cycles_at_any_depth_are_refused(parent_of: dict[int, int | None], parent: End) -> None:
    error = refusal(
        lambda: check_parent(A, parent, current_parent=None, parent_of=parent_of, replace=False)
    )
    assert (error.field, error.conflict) == ("number", True)
    assert f"{parent.number} is a descendant of INC-1" in error.message


def test_a_child_has_one_parent_and_replacing_it_is_explicit() -> None:
    error = refusal(lambda: check_parent(C, B, current_parent=A, parent_of={}, replace=False))
    assert (error.field, error.conflict) == ("replace", True)
    assert "INC-3 already has parent INC-1" in error.message
    check_parent(C, B, current_parent=A, parent_of={}, replace=True)


def test_cycle_walk_stops_on_looping_data() -> None:
    assert not cycle_through(9, 1, {1: 2, 2: 1})
    assert cycle_through(2, 1, {1: 2, 2: 1})
    assert not cycle_through(5, 1, {})
