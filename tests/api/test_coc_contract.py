"""The COC contract: every COC route, called with the official SDK's field names only,
answers in the SDK's models (names, types, required fields) and in COC's envelope.

One row of ``ENDPOINTS`` per SDK operation (create has two: owner a person, owner a shift):
how to call it well, how to call it with one bad parameter, and the SDK models of its
request and answer (``coc_sdk_models``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest

from opsdesk.assignment import shifts as assignment_shifts
from opsdesk.assignment.schemas import RoleCreate, SceneCreate
from opsdesk.auth.roles import Role
from opsdesk.core.clock import FixedClock, epoch_ms
from opsdesk.core.database import Database
from tests.api.coc_sdk_models import MODELS, SDK_ENUMS
from tests.api.test_coc_api import act, coc_headers, tasks
from tests.factories import Desk, create_incident, make_actor
from tests.unit.test_filetypes import EXE, PNG, TEXT

# Where opsdesk still differs from the SDK, and why; a row names the ones it meets, and a
# listed difference that is gone fails too, so that this list stays true.
KNOWN_DEVIATIONS: dict[str, str] = {
    "CocTicketHistoryBaseInfoV2.start_time": (
        "the SDK says string; the seed API page's example (and test_coc_api) use epoch-ms numbers"
    ),
    "CocTicketHistoryBaseInfoV2.stop_time": "as start_time",
}


@dataclass(frozen=True)
class Problem:
    where: str  # Model.field
    path: str  # where in the JSON
    what: str


def _kind(value: Any) -> str:
    return type(value).__name__


_SCALARS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "int32": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "def.FilePart": lambda v: isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], bytes),
}


def _value_problems(value: Any, sdk_type: str, path: str, where: str) -> list[Problem]:
    """What in ``value`` an SDK client reading it as ``sdk_type`` would trip over."""
    if value is None or sdk_type == "interface{}":
        return []  # null is an absent optional pointer; required ones are checked per model
    if sdk_type.startswith("[]"):
        if not isinstance(value, list):
            return [Problem(where, path, f"is {_kind(value)}, the SDK has {sdk_type}")]
        return [
            problem
            for index, item in enumerate(value)
            for problem in _value_problems(item, sdk_type[2:], f"{path}[{index}]", where)
        ]
    if sdk_type.startswith("map[string]"):
        if not isinstance(value, dict):
            return [Problem(where, path, f"is {_kind(value)}, the SDK has {sdk_type}")]
        item_type = sdk_type.removeprefix("map[string]")
        return [
            problem
            for key, item in value.items()
            for problem in _value_problems(item, item_type, f"{path}.{key}", where)
        ]
    if sdk_type in _SCALARS:
        if _SCALARS[sdk_type](value):
            return []
        return [Problem(where, path, f"is {_kind(value)} {value!r}, the SDK has {sdk_type}")]
    if sdk_type in SDK_ENUMS:
        if isinstance(value, str) and value in SDK_ENUMS[sdk_type]:
            return []
        return [Problem(where, path, f"{value!r} is not one of {sorted(SDK_ENUMS[sdk_type])}")]
    return model_problems(value, sdk_type, path)


def model_problems(value: Any, model: str, path: str) -> list[Problem]:
    """Every key must be a field of ``model`` with the SDK's type; required ones present."""
    if not isinstance(value, dict):
        return [Problem(model, path, f"is {_kind(value)}, the SDK has the object {model}")]
    fields = MODELS[model]
    problems = []
    for key, item in value.items():
        where = f"{model}.{key}"
        if key not in fields:
            problems.append(Problem(where, f"{path}.{key}", f"is not a field of {model}"))
        else:
            problems += _value_problems(item, fields[key][0], f"{path}.{key}", where)
    for name, (_type, required) in fields.items():
        if required and value.get(name) is None:
            problems.append(Problem(f"{model}.{name}", f"{path}.{name}", "is required, missing"))
    return problems


@pytest.fixture
async def desk(db: Database, clock: FixedClock) -> Desk:
    """conftest's desk without passwords (hashing them is most of its cost; the COC API
    takes tokens only) and with the one shift the calls name."""
    actors = [
        await make_actor(db, clock, role, f"{name}@desk.test")
        for name, role in (
            ("admin", Role.ADMIN),
            ("manager", Role.INCIDENT_MANAGER),
            ("tech", Role.TECHNICIAN),
            ("tech2", Role.TECHNICIAN),
            ("user", Role.END_USER),
            ("other", Role.END_USER),
        )
    ]
    desk = Desk(*actors)
    async with db.write() as session:
        admin = desk.admin.caller
        await assignment_shifts.create_scene(
            session=session, caller=admin, data=SceneCreate(key="noc", name="noc"), now=clock.now()
        )
        await assignment_shifts.add_role(
            session=session,
            caller=admin,
            scene_key="noc",
            data=RoleCreate(key="duty", name="duty"),
            now=clock.now(),
        )
    return desk


# The calls -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request, in the SDK's names: path and query parameters, and a JSON or form body."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] | None = None
    expect: dict[str, Any] = field(default_factory=dict)  # values `data` must hold
    content: bytes | None = None  # the file a download must return


Scenario = Callable[[httpx.AsyncClient, Desk, FixedClock], Awaitable[Call]]


@dataclass(frozen=True)
class Endpoint:
    operation: str  # the SDK operation
    method: str
    uri: str  # the SDK's URI template (coc_meta.go)
    request: str  # SDK request model: path and query parameters, and `body`
    response: str  # SDK response model
    good: Scenario
    bad: Scenario  # one parameter wrong
    bad_field: str  # which the error message must name
    data: str | None = None  # the model of `data` where the SDK says interface{}
    deviations: frozenset[str] = frozenset()

    def send_args(self, call: Call, token: str | None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "method": self.method,
            "url": self.uri.format(**call.path),
            "headers": {"X-Auth-Token": token} if token else {},
        }
        if call.query:
            args["params"] = call.query
        if call.files is not None:
            args["files"] = call.files
        elif call.body is not None:
            args["json"] = call.body
        return args

    def request_of(self, call: Call) -> dict[str, Any]:
        """The request as the SDK's request model sees it."""
        assert set(re.findall(r"{(\w+)}", self.uri)) == set(call.path), "path parameters"
        request: dict[str, Any] = {**call.path, **call.query}
        body = call.files if call.files is not None else call.body
        if body is not None:
            request["body"] = body
        return request


async def send(
    client: httpx.AsyncClient, endpoint: Endpoint, call: Call, token: str | None
) -> httpx.Response:
    return await client.request(**endpoint.send_args(call, token))


def _ms(clock: FixedClock, minutes: int = 0) -> int:
    return epoch_ms(clock.now() + timedelta(minutes=minutes))


def create_body(desk: Desk, clock: FixedClock) -> dict[str, Any]:
    """CreateExternalIncidentRequest with every field opsdesk takes (owner: one person)."""
    return {
        "region": ["cn-north-4"],
        "enterprise_project": ["0"],
        "current_cloud_service": ["app_website"],
        "incident_level": "level_20",
        "is_service_interrupt": "true",
        "incident_type": "inc_type_p_function_issues",
        "incident_title": "Payment gateway timeouts",
        "incident_description": "p99 above 5 s",
        "incident_source": "incident_source_manual",
        "incident_assignee": [desk.tech.id],
        "assignee_scene": "",
        "assignee_role": "",
        "creator": desk.tech.id,
        "incident_ownership": "customer_report",
        "start_time": _ms(clock, -10),
    }


async def _coc_ok(client: httpx.AsyncClient, desk: Desk, method: str, path: str, body: Any) -> Any:
    response = await client.request(method, path, json=body, headers=coc_headers(desk.tech))
    assert response.status_code == 200, response.text
    return response.json()["data"]


@dataclass(frozen=True)
class Worked:
    number: str
    created: dict[str, Any]
    recovered_ms: int
    resolved_ms: int


async def worked_incident(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Worked:
    """An incident made through the COC API and worked up to its solution, so that every
    optional field opsdesk fills has a value."""
    body = create_body(desk, clock)
    number = (await _coc_ok(client, desk, "POST", "/v1/external/incident/create", body))[
        "incident_num"
    ]
    clock.advance(timedelta(minutes=1))
    await act(client, desk.tech, number, "accepted")
    clock.advance(timedelta(minutes=1))
    await act(client, desk.tech, number, "addRemark", {"note": "rolling back the deploy"})
    clock.advance(timedelta(minutes=5))
    recovered = _ms(clock, -1)
    await act(
        client,
        desk.tech,
        number,
        "commitSolution",
        {
            "mtm_type": "inc_type_p_function_issues",
            "is_service_interrupt": True,
            "start_time": body["start_time"],
            "fault_recovery_time": recovered,
            "cause": "connection pool exhausted",
            "solution": "raised the pool size",
        },
    )
    return Worked(number, body, recovered, _ms(clock))


def _number_filter(number: str) -> dict[str, Any]:
    return {"name": "ticket_id", "operator": "=", "field": "ticket_id", "values": [number]}


SORT_NEWEST = {
    "name": "start_time",
    "operator": "desc",
    "field": "start_time",
    "values": ["start_time"],
}

# Scenarios, one pair per endpoint ----------------------------------------------------------


async def create_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(body=create_body(desk, clock))


async def create_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(body={**create_body(desk, clock), "start_time": "yesterday"})


async def create_shift_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    body = create_body(desk, clock)
    del body["incident_assignee"]
    return Call(body={**body, "assignee_scene": "noc", "assignee_role": "duty"})


async def create_shift_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(body={**create_body(desk, clock), "incident_ownership": "sometimes"})


async def detail_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    worked = await worked_incident(client, desk, clock)
    sent = worked.created
    expect = {
        key: sent[key]
        for key in (
            "region",
            "enterprise_project",
            "current_cloud_service",
            "incident_level",
            "incident_type",
            "incident_title",
            "incident_description",
            "incident_source",
            "incident_assignee",
            "creator",
            "incident_ownership",
            "start_time",
        )
    }
    expect |= {
        "incident_num": worked.number,
        "is_service_interrupt": True,
        "status": "INCIDENT_STATUS_RESOLVED",
        "fault_recovery_time": worked.recovered_ms,
        "handle_time": worked.resolved_ms,
        "create_time": sent["start_time"] + 600_000,
    }
    return Call(path={"incident_num": worked.number}, expect=expect)


async def detail_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(path={"incident_num": "IM" + "9" * 300})


async def handle_v1_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    number = (await create_incident(client, desk.user, title="Laptop broken"))["number"]
    return Call(
        body={
            "incident_num": number,
            "operator": desk.tech.id,
            "operate_key": "acceptedIncident1",
            "parameter": {},
        }
    )


async def handle_v1_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    good = await handle_v1_good(client, desk, clock)
    assert good.body is not None
    return Call(body={**good.body, "operate_key": "teleport"})


async def upload_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(files={"file": ("screen.png", PNG)}, expect={"doc_name": "screen.png"})


async def upload_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(files={"file": ("tool.pdf", EXE)})


async def attach_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(
        path={"ticket_type": "incident"},
        files={"file": ("notes.txt", TEXT)},
        expect={"doc_name": "notes.txt"},
    )


async def attach_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(path={"ticket_type": "incident"}, files={"file": ("empty.txt", b"")})


async def download_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    uploaded = await client.post(
        "/v1/incident/attachments",
        files={"file": ("notes.txt", TEXT)},
        headers=coc_headers(desk.tech),
    )
    assert uploaded.status_code == 200, uploaded.text
    doc_id = uploaded.json()["data"]["doc_id"]
    return Call(path={"ticket_type": "incident", "doc_id": doc_id}, content=TEXT)


async def download_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(path={"ticket_type": "incident", "doc_id": "not-a-document"})


async def v1_histories_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    worked = await worked_incident(client, desk, clock)
    return Call(
        path={"ticket_type": "incident"},
        body={"string_filters": [_number_filter(worked.number)], "sort_filter": SORT_NEWEST},
        expect={"total": 4},
    )


async def v1_histories_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(path={"ticket_type": "change"}, body={"string_filters": [_number_filter("IM1")]})


async def simple_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    await worked_incident(client, desk, clock)
    return Call(query={"offset": 1, "limit": 10}, expect={"total": 1})


async def simple_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(query={"offset": 0, "limit": 10})


async def list_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    worked = await worked_incident(client, desk, clock)
    body = {
        "fields": ["ticket_id", "title", "level_id", "create_time"],
        "count_filters": [
            {
                "name": "p2",
                "filters": [{"field": "level_id", "operator": "=", "values": ["level_20"]}],
            }
        ],
        "string_filters": [
            {**_number_filter(worked.number), "name": "mine"},
            {
                "name": "p2",
                "field": "level_id",
                "operator": "in",
                "values": ["level_10", "level_20"],
            },
        ],
        "group_by_filter": {"field": "level_id", "operator": "=", "values": ["level_id"]},
        "int_filters": [
            {"name": "first_time", "field": "reopen_count", "operator": "=", "values": ["0"]}
        ],
        "sort_filter": {
            "name": "create_time",
            "operator": "desc",
            "field": "create_time",
            "values": ["create_time"],
        },
        "condition": "(mine & p2) | first_time",
        "page": 1,
        "per_page": 10,
        "contain_all": False,
        "contain_total": True,
        "contain_sub_ticket": True,
        "ticket_types": ["incident"],
    }
    return Call(
        body=body,
        expect={"total": 1, "counts": {"p2": 1}, "group_by": [{"value": "level_20", "count": 1}]},
    )


async def list_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(body={"page": 0, "per_page": 10})


async def v2_histories_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    worked = await worked_incident(client, desk, clock)
    body = {
        "fields": ["action", "start_time", "stop_time"],
        "count_filters": [
            {
                "name": "accepts",
                "filters": [{"field": "action", "operator": "=", "values": ["incident_accept"]}],
            }
        ],
        "string_filters": [
            {"name": "mine", "field": "operator", "operator": "=", "values": [desk.tech.id]},
            {"name": "any", "field": "action", "operator": "!=", "values": ["nothing"]},
        ],
        "group_by_filter": {"field": "status", "operator": "=", "values": ["status"]},
        "int_filters": [],
        "sort_filter": SORT_NEWEST,
        "condition": "mine | any",
    }
    return Call(path={"incident_id": worked.number}, body=body, expect={"total": 4})


async def v2_histories_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    number = (await create_incident(client, desk.tech))["number"]
    return Call(
        path={"incident_id": number},
        body={"sort_filter": {**SORT_NEWEST, "operator": "sideways"}},
    )


async def tasks_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    worked = await worked_incident(client, desk, clock)
    return Call(path={"incident_id": worked.number})


async def tasks_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    return Call(path={"incident_id": "IM" + "1" * 49})


async def actions_good(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    number = (await create_incident(client, desk.user, title="Wifi drops"))["number"]
    node = await tasks(client, desk.tech, number)
    (task_id,) = {op["task_id"] for op in node["operations"]}
    return Call(
        path={"incident_id": number},
        body={"task_id": task_id, "action": "addRemark", "params": {"note": "looking"}},
    )


async def actions_bad(client: httpx.AsyncClient, desk: Desk, clock: FixedClock) -> Call:
    number = (await create_incident(client, desk.user, title="Wifi drops"))["number"]
    return Call(path={"incident_id": number}, body={"action": "accepted", "params": {}})


_HISTORY_V2_DEVIATIONS = frozenset(
    {"CocTicketHistoryBaseInfoV2.start_time", "CocTicketHistoryBaseInfoV2.stop_time"}
)

ENDPOINTS = [
    Endpoint(
        "CreateCocIncident",
        "POST",
        "/v1/external/incident/create",
        "CreateCocIncidentRequest",
        "CreateCocIncidentResponse",
        create_good,
        create_bad,
        "start_time",
    ),
    Endpoint(
        "CreateCocIncident",
        "POST",
        "/v1/external/incident/create",
        "CreateCocIncidentRequest",
        "CreateCocIncidentResponse",
        create_shift_good,
        create_shift_bad,
        "incident_ownership",
    ),
    Endpoint(
        "ShowCocIncidentDetail",
        "GET",
        "/v1/external/incident/{incident_num}",
        "ShowCocIncidentDetailRequest",
        "ShowCocIncidentDetailResponse",
        detail_good,
        detail_bad,
        "incident_num",
    ),
    Endpoint(
        "HandleCocIncident",
        "POST",
        "/v1/external/incident/handle",
        "HandleCocIncidentRequest",
        "HandleCocIncidentResponse",
        handle_v1_good,
        handle_v1_bad,
        "operate_key",
    ),
    Endpoint(
        "CreateExternalCocAttachment",
        "POST",
        "/v1/external/incident/attachments",
        "CreateExternalCocAttachmentRequest",
        "CreateExternalCocAttachmentResponse",
        upload_good,
        upload_bad,
        "file",
    ),
    Endpoint(
        "CreateAttachment",
        "POST",
        "/v1/{ticket_type}/attachments",
        "CreateAttachmentRequest",
        "CreateAttachmentResponse",
        attach_good,
        attach_bad,
        "file",
    ),
    Endpoint(
        "DownloadAttachment",
        "GET",
        "/v1/{ticket_type}/attachments/{doc_id}",
        "DownloadAttachmentRequest",
        "DownloadAttachmentResponse",
        download_good,
        download_bad,
        "doc_id",
    ),
    Endpoint(
        "ListCocTicketOperationHistories",
        "POST",
        "/v1/external/{ticket_type}/list-histories",
        "ListCocTicketOperationHistoriesRequest",
        "ListCocTicketOperationHistoriesResponse",
        v1_histories_good,
        v1_histories_bad,
        "ticket_type",
        data="ListCocTicketOperationHistoriesData",
    ),
    Endpoint(
        "ListIncidentSimpleTickets",
        "GET",
        "/v1/incident-tickets",
        "ListIncidentSimpleTicketsRequest",
        "ListIncidentSimpleTicketsResponse",
        simple_good,
        simple_bad,
        "offset",
        data="ListIncidentSimpleTicketsData",
    ),
    Endpoint(
        "ListIncidents",
        "POST",
        "/v2/incidents/list",
        "ListIncidentsRequest",
        "ListIncidentsResponse",
        list_good,
        list_bad,
        "page",
        data="ListIncidentsData",
    ),
    Endpoint(
        "ListIncidentsHistories",
        "POST",
        "/v2/incidents/{incident_id}/histories",
        "ListIncidentsHistoriesRequest",
        "ListIncidentsHistoriesResponse",
        v2_histories_good,
        v2_histories_bad,
        "sort_filter.operator",
        deviations=_HISTORY_V2_DEVIATIONS,
    ),
    Endpoint(
        "ShowIncidentTask",
        "GET",
        "/v2/incidents/{incident_id}/tasks",
        "ShowIncidentTaskRequest",
        "ShowIncidentTaskResponse",
        tasks_good,
        tasks_bad,
        "incident_id",
    ),
    Endpoint(
        "HandleIncident",
        "POST",
        "/v2/incidents/{incident_id}/actions",
        "HandleIncidentRequest",
        "HandleIncidentResponse",
        actions_good,
        actions_bad,
        "task_id",
    ),
]
IDS = [f"{e.operation}-{e.good.__name__.removesuffix('_good')}" for e in ENDPOINTS]


def _data_type(endpoint: Endpoint) -> str | None:
    sdk_type = MODELS[endpoint.response].get("data", (None, False))[0]
    if sdk_type == "interface{}":
        assert endpoint.data is not None, f"{endpoint.operation}: say what `data` holds"
        return endpoint.data
    return sdk_type


# The tests -----------------------------------------------------------------------------------


def test_the_rows_name_real_models_and_deviations() -> None:
    for endpoint in ENDPOINTS:
        assert endpoint.request in MODELS and endpoint.response in MODELS
        assert endpoint.deviations <= KNOWN_DEVIATIONS.keys()


def test_the_check_finds_each_kind_of_difference() -> None:
    detail = {
        "incident_num": 7,  # the SDK has a string
        "create_time": "1772445600000",  # the SDK has int64
        "is_service_interrupt": "true",  # the SDK has bool
        "region": "cn-north-4",  # the SDK has []string
        "name_en": "Handle",  # no such field
        "enum_data_list": [{"filed_key": "level", "name_zh": "P2", "name_en": "P2"}],
        "incident_title": None,  # null is an absent optional field
    }
    problems = model_problems(detail, "IncidentTicketInfoResponseData", "data")
    assert [(p.where, p.path) for p in problems] == [
        ("IncidentTicketInfoResponseData.incident_num", "data.incident_num"),
        ("IncidentTicketInfoResponseData.create_time", "data.create_time"),
        ("IncidentTicketInfoResponseData.is_service_interrupt", "data.is_service_interrupt"),
        ("IncidentTicketInfoResponseData.region", "data.region"),
        ("IncidentTicketInfoResponseData.name_en", "data.name_en"),
        ("TicketInfoEnumData.enum_key", "data.enum_data_list[0].enum_key"),
    ]
    assert _value_problems(True, "int64", "x", "M.x") != []
    assert _value_problems("issues", "ListCocTicketOperationHistoriesRequestTicketType", "t", "")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_answers_in_the_sdk_models(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, endpoint: Endpoint
) -> None:
    call = await endpoint.good(client, desk, clock)
    assert model_problems(endpoint.request_of(call), endpoint.request, "request") == []
    response = await send(client, endpoint, call, desk.tech.token)
    assert response.status_code == 200, response.text
    if call.content is not None:  # a download is the file itself, not an envelope
        assert response.content == call.content
        return
    payload = response.json()
    fields = MODELS[endpoint.response]
    if "error_code" in fields:
        assert (payload["provider_code"], payload["error_code"], payload["error_msg"]) == (
            "049",
            "GOM.00000000",
            None,
        )
    else:  # the upload envelope: code "0" is success
        assert (payload["code"], payload["provider_code"], payload["msg"]) == ("0", "049", "")
    data_type = _data_type(endpoint)
    envelope = {key: value for key, value in payload.items() if key != "data"}
    problems = model_problems(envelope, endpoint.response, "")
    if data_type is None:
        assert payload["data"] is None
    else:
        problems += _value_problems(payload["data"], data_type, "data", f"{endpoint.response}.data")
    unexpected = [p for p in problems if p.where not in endpoint.deviations]
    assert unexpected == []
    assert {p.where for p in problems} == endpoint.deviations, "a listed deviation is gone"
    for key, value in call.expect.items():
        assert payload["data"][key] == value, key


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_a_bad_parameter_is_named_and_no_token_is_401(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock, endpoint: Endpoint
) -> None:
    call = await endpoint.bad(client, desk, clock)
    # Only the value is wrong: every name is still the SDK's.
    names = model_problems(endpoint.request_of(call), endpoint.request, "request")
    assert [p for p in names if p.what.startswith("is not a field")] == []
    response = await send(client, endpoint, call, desk.tech.token)
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"provider_code", "error_code", "error_msg", "data"}
    assert (error["provider_code"], error["error_code"], error["data"]) == (
        "049",
        "GOM.00007256",
        None,
    )
    assert endpoint.bad_field in error["error_msg"]
    anonymous = await send(client, endpoint, call, None)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json() == {
        "provider_code": "049",
        "error_code": "common.01010001",
        "error_msg": "Token missing or invalid.",
        "data": None,
    }
