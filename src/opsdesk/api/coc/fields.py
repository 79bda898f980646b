"""COC's ``fields`` on the list and histories: what each may name, and the projection.

A COC client names the keys of the rows it wants back (``CocIncidentDataV2``,
``CocTicketHistoryBaseInfoV2``); those are not all fields it can filter by, so they are
checked here rather than against the filter catalogue. The key that tells rows apart is
always kept.
"""

from __future__ import annotations

from typing import Any

TICKET_FIELDS = frozenset(
    {
        "ticket_id",
        "title",
        "description",
        "level_id",
        "mtm_type",
        "mtm_region",
        "source_id",
        "forward_rule_id",
        "enterprise_project_id",
        "current_cloud_service_id",
        "is_service_interrupt",
        "work_flow_status",
        "phase",
        "assignee",
        "creator",
        "operator",
        "create_time",
        "update_time",
        "start_time",
        "handle_time",
        "incident_ownership",
        "enum_data_list",
    }
)
TICKET_KEY = frozenset({"ticket_id"})

# ``action_id`` is where an automation step's row names its step (it has no ``action``).
HISTORY_FIELDS = frozenset(
    {
        "action",
        "action_id",
        "action_name_zh",
        "action_name_en",
        "operator",
        "status",
        "start_time",
        "stop_time",
        "comment",
        "enum_data_list",
    }
)
# A v2 history row has no key of its own in COC's model; a v1 row (TicketHistoryInfo) has.
V2_HISTORY_KEY: frozenset[str] = frozenset()
V1_HISTORY_KEY = frozenset({"id", "ticket_id"})
V1_HISTORY_FIELDS = HISTORY_FIELDS | V1_HISTORY_KEY


def projected(
    rows: list[dict[str, Any]], fields: tuple[str, ...], kept: frozenset[str]
) -> list[dict[str, Any]]:
    """Each row with only the named keys and ``kept``; the rows as they are without ``fields``
    (so the usual answer costs nothing more)."""
    if not fields:
        return rows
    keys = kept.union(fields)
    if "action" in keys:
        keys |= {"action_id"}  # asking for the action gets a step's action too
    return [{key: value for key, value in row.items() if key in keys} for row in rows]
