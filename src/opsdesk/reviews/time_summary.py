"""The time summary of a post-incident review, derived from the incident's history.

The official incident report (seed 004) has five times. Each is taken from one history row,
whose id is kept so that a reader can check it:

- ``failure_occurred``: the incident's fault time (``fault_occurred_at``) from the latest row
  that set it (creation, an edit or the resolve); with no fault time, the creation row.
- ``operations_notified``: the creation row: the moment the desk learned of the incident.
- ``operations_on_site``: the first accept row: the first person took the incident on.
- ``second_level_on_site``: after the first accept, the first forward (the incident went
  to a second level), then the first accept or work log that followed it (they started
  work), else the forward itself; with no forward, the first task or work order (another
  team brought in). Empty when the first level restored the service alone.
- ``services_restored``: the fault recovery time (``fault_recovery_at``) from the latest
  row that set it (the resolve); with none, the latest resolve row's own time.

Client impact is ``services_restored - failure_occurred``. Pure: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CREATE = "create_incident"
ACCEPT = "incident_accept"
FORWARD = "incident_forward"
RESOLVE = "incident_solution"
WORK_LOG = "incident_work_log"
TASK = "incident_task"
WORK_ORDER = "incident_work_order"

KEYS = (
    "failure_occurred",
    "operations_notified",
    "operations_on_site",
    "second_level_on_site",
    "services_restored",
)
LABELS = {
    "failure_occurred": "Failure Occurred",
    "operations_notified": "Operations Notified",
    "operations_on_site": "Operations On-Site",
    "second_level_on_site": "Second Level Support On-Site",
    "services_restored": "Services Restored",
}


@dataclass(frozen=True)
class HistoryFact:
    """What the derivation reads of one history row."""

    id: int
    action: str
    at: datetime
    changes: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class TimeEntry:
    """One time of the summary and the history row it came from (None: not in the history)."""

    key: str
    value: datetime | None
    source_id: int | None
    source_action: str

    @property
    def label(self) -> str:
        return LABELS[self.key]


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _set_by(rows: Sequence[HistoryFact], field: str) -> tuple[HistoryFact, datetime] | None:
    """The latest row whose changes set ``field`` to a time, and that time."""
    for row in reversed(rows):
        for change in row.changes:
            if change.get("field") == field:
                value = _parse(change.get("new"))
                if value is not None:
                    return row, value
    return None


def _first(rows: Sequence[HistoryFact], actions: set[str], after: int = -1) -> HistoryFact | None:
    return next((row for i, row in enumerate(rows) if i > after and row.action in actions), None)


def _entry(key: str, row: HistoryFact | None, value: datetime | None = None) -> TimeEntry:
    if row is None:
        return TimeEntry(key, None, None, "")
    return TimeEntry(key, value if value is not None else row.at, row.id, row.action)


def derive(
    history: Sequence[HistoryFact],
    *,
    fault_occurred_at: datetime | None = None,
    fault_recovery_at: datetime | None = None,
) -> dict[str, TimeEntry]:
    """The five times of ``history`` (any order; sorted here by time, then id)."""
    rows = sorted(history, key=lambda row: (row.at, row.id))
    created = _first(rows, {CREATE})
    entries: dict[str, TimeEntry] = {}

    occurred = _set_by(rows, "fault_occurred_at")
    if occurred is not None:
        entries["failure_occurred"] = _entry("failure_occurred", occurred[0], occurred[1])
    else:
        entries["failure_occurred"] = _entry("failure_occurred", created, fault_occurred_at)

    entries["operations_notified"] = _entry("operations_notified", created)

    accept_index = next((i for i, row in enumerate(rows) if row.action == ACCEPT), None)
    accepted = rows[accept_index] if accept_index is not None else None
    entries["operations_on_site"] = _entry("operations_on_site", accepted)

    second: HistoryFact | None = None
    if accept_index is not None:
        forward_index = next(
            (i for i, row in enumerate(rows) if i > accept_index and row.action == FORWARD), None
        )
        if forward_index is not None:
            second = _first(rows, {ACCEPT, WORK_LOG}, forward_index) or rows[forward_index]
        else:
            second = _first(rows, {TASK, WORK_ORDER}, accept_index)
    entries["second_level_on_site"] = _entry("second_level_on_site", second)

    recovered = _set_by(rows, "fault_recovery_at")
    resolved = next((row for row in reversed(rows) if row.action == RESOLVE), None)
    if recovered is not None:
        entries["services_restored"] = _entry("services_restored", recovered[0], recovered[1])
    else:
        entries["services_restored"] = _entry("services_restored", resolved, fault_recovery_at)
    return entries


def impact(occurred: datetime | None, restored: datetime | None) -> timedelta | None:
    """How long clients were affected; None when a time is missing or they are reversed."""
    if occurred is None or restored is None or restored < occurred:
        return None
    return restored - occurred


def describe(duration: timedelta | None) -> str:
    """``2 h 05 min`` (days when longer than one), or ``unknown``."""
    if duration is None:
        return "unknown"
    minutes = int(duration.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours} h {minutes:02d} min"
    return f"{days} d {text}" if days else text
