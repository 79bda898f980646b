"""War-room statuses (pure): COC's four, their ids and names, and the moves between them.

COC (coc-api.md §6.6): 1 started → 3 fault delimitation → 7 fault recovered → 20 closed.
A recovered fault that comes back goes to fault delimitation again; closing needs the
fault's cause and impact written down, unless the room closes because its incident was
downgraded (it was no major fault after all: there is no cause or impact to record).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class WarRoomStatus(StrEnum):
    STARTED = "started"
    FAULT_DELIMITATION = "fault_delimitation"
    RECOVERED = "recovered"
    CLOSED = "closed"


@dataclass(frozen=True)
class StatusName:
    coc_id: str
    en: str
    zh: str


STATUS_NAMES: dict[WarRoomStatus, StatusName] = {
    WarRoomStatus.STARTED: StatusName("1", "WarRoom started", "WarRoom已启动"),
    WarRoomStatus.FAULT_DELIMITATION: StatusName("3", "Fault delimitation", "故障定界"),
    WarRoomStatus.RECOVERED: StatusName("7", "Fault recovered", "故障已恢复"),
    WarRoomStatus.CLOSED: StatusName("20", "WarRoom closed", "WarRoom已关闭"),
}
BY_COC_ID = {name.coc_id: status for status, name in STATUS_NAMES.items()}
OPEN_STATUSES = frozenset(
    {WarRoomStatus.STARTED, WarRoomStatus.FAULT_DELIMITATION, WarRoomStatus.RECOVERED}
)

MOVES: dict[WarRoomStatus, frozenset[WarRoomStatus]] = {
    WarRoomStatus.STARTED: frozenset(
        {WarRoomStatus.FAULT_DELIMITATION, WarRoomStatus.RECOVERED, WarRoomStatus.CLOSED}
    ),
    WarRoomStatus.FAULT_DELIMITATION: frozenset({WarRoomStatus.RECOVERED, WarRoomStatus.CLOSED}),
    WarRoomStatus.RECOVERED: frozenset({WarRoomStatus.FAULT_DELIMITATION, WarRoomStatus.CLOSED}),
    WarRoomStatus.CLOSED: frozenset(),
}


# The note a downgrade closes the war room with (and its incident history row's comment):
# the war-room page recognises a room closed by a downgrade from its stored closing note.
DOWNGRADE_NOTE = "Downgraded from major incident"


def downgrade_note(reason: str) -> str:
    return DOWNGRADE_NOTE + (f": {reason}" if reason else "")


def downgrade_reason(closing_note: str) -> str | None:
    """The reason of a room closed by a downgrade ("" if none was given), from the note of
    its closing timeline entry; None if something else closed it."""
    if closing_note == DOWNGRADE_NOTE:
        return ""
    if closing_note.startswith(DOWNGRADE_NOTE + ": "):
        return closing_note[len(DOWNGRADE_NOTE) + 2 :]
    return None


class MoveRefused(ValueError):
    def __init__(self, message: str, field: str = "status") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_status(raw: str, *, field: str = "status") -> WarRoomStatus:
    """Our key (``fault_delimitation``) or COC's id (``3``)."""
    text = raw.strip()
    if text in BY_COC_ID:
        return BY_COC_ID[text]
    try:
        return WarRoomStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in WarRoomStatus)
        raise MoveRefused(
            f"{field}: unknown status {raw!r}; choose one of {known}", field
        ) from None


def check_move(
    current: WarRoomStatus,
    target: WarRoomStatus,
    *,
    fault_cause: str,
    fault_impact: str,
    downgraded: bool = False,
) -> None:
    """Refuse a move the table does not have, and closing without cause and impact (unless
    the incident was ``downgraded``)."""
    if target not in MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in MOVES[current])) or "none (it is closed)"
        raise MoveRefused(
            f"status: cannot go from {current.value} to {target.value}; allowed: {allowed}"
        )
    if target == WarRoomStatus.CLOSED and not downgraded:
        if not fault_cause.strip():
            raise MoveRefused("fault_cause: required to close the war room", "fault_cause")
        if not fault_impact.strip():
            raise MoveRefused("fault_impact: required to close the war room", "fault_impact")
