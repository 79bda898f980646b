"""The JSON Schema of the COC list bodies, for the OpenAPI document.

The routes read these bodies themselves (``query/request.py`` checks every part and names
the one at fault), so this schema only describes them: clients and the fuzzing guard see
what may be sent. Unknown keys are left to the routes' own rules.
"""

from __future__ import annotations

from typing import Any

from opsdesk.query.condition import MAX_LENGTH
from opsdesk.query.request import (
    MAX_COUNT_FILTERS,
    MAX_FIELDS,
    MAX_FILTERS,
    MAX_NAME_LENGTH,
    MAX_VALUE_LENGTH,
    MAX_VALUES,
)

_NAME = {"type": "string", "maxLength": MAX_NAME_LENGTH}
_FILTER: dict[str, Any] = {
    "type": "object",
    "properties": {
        "field": _NAME,
        "operator": {
            "type": "string",
            "enum": ["in", "like", "startwith", "endwith", "=", "!=", ">", "<", ">=", "<="],
        },
        "values": {
            "type": "array",
            "items": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
            "maxItems": MAX_VALUES,
        },
        "name": _NAME,
    },
    "required": ["field", "operator", "values"],
}
_FILTERS = {"type": "array", "items": _FILTER, "maxItems": MAX_FILTERS}
FILTER_PROPERTIES: dict[str, Any] = {
    "string_filters": _FILTERS,
    "int_filters": _FILTERS,
    "count_filters": {
        "type": "array",
        "maxItems": MAX_COUNT_FILTERS,
        "items": {
            "type": "object",
            "properties": {"name": _NAME, "filters": _FILTERS},
            "required": ["name", "filters"],
        },
    },
    "condition": {"type": "string", "maxLength": MAX_LENGTH},
    "sort_filter": {
        "type": "object",
        "properties": {"field": _NAME, "operator": {"type": "string", "enum": ["asc", "desc"]}},
    },
    "group_by_filter": {"type": "object", "properties": {"field": _NAME}},
    "fields": {"type": "array", "items": _NAME, "maxItems": MAX_FIELDS},
}


def json_body(properties: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring an optional JSON object body with ``properties``."""
    schema = {"type": "object", "properties": properties}
    return {"requestBody": {"required": False, "content": {"application/json": {"schema": schema}}}}


LIST_BODY = json_body(
    {
        **FILTER_PROPERTIES,
        "page": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 200},
        "contain_total": {"type": "boolean"},
    }
)
HISTORIES_BODY = json_body({**FILTER_PROPERTIES, "incident_id": {"type": "string"}})

_TEXT = {"type": "string"}
_ONE_OR_LIST = {"anyOf": [_TEXT, {"type": "array", "items": _TEXT, "maxItems": 1}]}
CREATE_BODY = json_body(
    {
        "incident_title": _TEXT,
        "incident_description": _TEXT,
        "incident_level": _TEXT,
        "incident_type": _TEXT,
        "incident_source": _TEXT,
        "creator": _TEXT,
        "is_service_interrupt": {"anyOf": [{"type": "boolean"}, _TEXT]},
        "start_time": {"type": "integer", "description": "epoch milliseconds"},
        "region": _ONE_OR_LIST,
        "enterprise_project": _ONE_OR_LIST,
        "current_cloud_service": _ONE_OR_LIST,
        "incident_assignee": _ONE_OR_LIST,
        "assignee_scene": _TEXT,
        "assignee_role": _TEXT,
        "incident_ownership": _TEXT,
        "attachments": {"type": "array", "items": _TEXT},
    }
)
ACTION_BODY = json_body({"task_id": _TEXT, "action": _TEXT, "params": {"type": "object"}})
HANDLE_BODY = json_body(
    {
        "incident_num": _TEXT,
        "operator": _TEXT,
        "operate_key": _TEXT,
        "parameter": {"type": "object"},
    }
)
