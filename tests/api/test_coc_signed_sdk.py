"""The official Huawei Cloud COC SDK, unchanged, against a real opsdesk server.

``huaweicloudsdkcoc`` signs every request with an access key (AK/SK, ``SDK-HMAC-SHA256``) and
cannot send a token. Each COC route opsdesk serves is called here through the SDK's own
client, request models and response models, on a uvicorn server listening on a loopback
port, with no hook in the SDK. Then the signatures opsdesk must refuse: a wrong secret, a
revoked key, a stale ``X-Sdk-Date``, a tampered body.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from huaweicloudsdkcoc import v1 as coc
from huaweicloudsdkcore.auth.credentials import BasicCredentials, Credentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.formdata import FormFile

from opsdesk.app import create_app
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.core.settings import Settings
from tests.api.signed import sdk_date, signed_headers
from tests.api.test_coc_contract import ENDPOINTS, IDS, Call, Endpoint, desk
from tests.factories import Actor, Desk, create_incident

__all__ = ["desk"]  # the contract suite's desk (no passwords, one shift) serves here too

# The SDK dates its signatures with datetime.utcnow(), deprecated from Python 3.12 on.
pytestmark = pytest.mark.filterwarnings("ignore:datetime.datetime.utcnow:DeprecationWarning")

PROJECT_ID = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
DOMAIN_ID = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


@pytest.fixture
def clock() -> FixedClock:
    """The SDK dates its signatures with the real time, and the server checks them against
    its own clock: start that a little in the past (the scenarios move it forward)."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3))


@pytest.fixture
async def server(db: Database, clock: FixedClock, settings: Settings) -> AsyncIterator[str]:
    """opsdesk on a loopback port, in this event loop (so it shares the test's database)."""
    app = create_app(settings, db=db, clock=clock)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, ws="none")
    uvicorn_server = uvicorn.Server(config)
    serving = asyncio.create_task(uvicorn_server.serve(sockets=[listener]))
    for _ in range(500):
        if uvicorn_server.started:
            break
        await asyncio.sleep(0.01)
    assert uvicorn_server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        await serving
        listener.close()


@dataclass(frozen=True)
class AccessKeyPair:
    access_key_id: str
    secret_key: str


async def create_access_key(client: httpx.AsyncClient, actor: Actor) -> AccessKeyPair:
    response = await client.post(
        "/api/v1/me/access-keys",
        json={"name": "sdk"},
        headers={"Authorization": f"Bearer {actor.token}"},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    return AccessKeyPair(created["id"], created["secret_key"])


def sdk_client(base_url: str, credentials: Credentials) -> coc.CocClient:
    return (  # type: ignore[no-any-return]
        coc.CocClient.new_builder().with_credentials(credentials).with_endpoints([base_url]).build()
    )


def basic(key: AccessKeyPair) -> BasicCredentials:
    return BasicCredentials(key.access_key_id, key.secret_key, PROJECT_ID)


# The SDK's request models, built from the scenarios' SDK field names ---------------------------


def sdk_value(sdk_type: str, value: Any) -> Any:
    """``value`` (JSON, in the SDK's field names) as the SDK model ``sdk_type``."""
    if sdk_type.startswith("list["):
        return [sdk_value(sdk_type[5:-1], item) for item in value]
    if sdk_type.startswith("dict("):
        item_type = sdk_type[5:-1].split(", ", 1)[1]
        return {key: sdk_value(item_type, item) for key, item in value.items()}
    model = getattr(coc, sdk_type, None)
    if model is None:  # str, int, bool, object
        return value
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    unknown = set(value) - set(by_json_name)
    assert not unknown, f"{sdk_type} has no field {sorted(unknown)}"
    return model(
        **{
            by_json_name[name]: sdk_value(model.openapi_types[by_json_name[name]], item)
            for name, item in value.items()
        }
    )


def sdk_request(endpoint: Endpoint, call: Call, files_dir: Path, opened: ExitStack) -> Any:
    """The SDK's request model; an upload's file is opened here and closed by ``opened``
    (the SDK leaves a file it opened itself to the garbage collector, which warns)."""
    model = getattr(coc, endpoint.request)
    arguments: dict[str, Any] = {**call.path, **call.query}
    body_type = model.openapi_types.get("body")
    if call.files is not None:
        (name, (file_name, content)), *_ = call.files.items()
        path = files_dir / file_name
        path.write_bytes(content)
        upload = opened.enter_context(path.open("rb"))
        arguments["body"] = getattr(coc, body_type)(**{name: FormFile(upload)})
    elif call.body is not None:
        arguments["body"] = sdk_value(body_type, call.body)
    return model(**arguments)


def operation_of(endpoint: Endpoint) -> str:
    """CreateCocIncident → create_coc_incident, the SDK client's method."""
    name = endpoint.operation
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


async def call_sdk(client: coc.CocClient, endpoint: Endpoint, request: Any) -> Any:
    # The SDK is synchronous (requests): it runs in a thread while this loop serves.
    return await asyncio.to_thread(getattr(client, operation_of(endpoint)), request)


def field_of(data: Any, name: str) -> Any:
    return data[name] if isinstance(data, dict) else getattr(data, name)


# Every route through the SDK -----------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_the_official_sdk_calls_every_route_with_an_access_key(
    client: httpx.AsyncClient,
    server: str,
    desk: Desk,
    clock: FixedClock,
    endpoint: Endpoint,
    tmp_path: Path,
) -> None:
    key = await create_access_key(client, desk.tech)
    call = await endpoint.good(client, desk, clock)
    sdk = sdk_client(server, basic(key))
    with ExitStack() as opened:
        response = await call_sdk(sdk, endpoint, sdk_request(endpoint, call, tmp_path, opened))
    assert response.status_code == 200
    if call.content is not None:  # a download is the file itself
        assert response.raw_content == call.content
        return
    if hasattr(response, "error_code"):
        assert (response.provider_code, response.error_code) == ("049", "GOM.00000000")
    else:
        assert (response.code, response.provider_code) == ("0", "049")
    for name, value in call.expect.items():
        assert field_of(response.data, name) == value, name


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
async def test_the_sdk_reads_opsdesk_errors_of_signed_requests(
    client: httpx.AsyncClient,
    server: str,
    desk: Desk,
    clock: FixedClock,
    endpoint: Endpoint,
    tmp_path: Path,
) -> None:
    key = await create_access_key(client, desk.tech)
    call = await endpoint.bad(client, desk, clock)
    sdk = sdk_client(server, basic(key))
    with ExitStack() as opened, pytest.raises(ClientRequestException) as raised:
        await call_sdk(sdk, endpoint, sdk_request(endpoint, call, tmp_path, opened))
    assert raised.value.status_code == 400
    assert raised.value.error_code == "GOM.00007256"
    assert endpoint.bad_field in raised.value.error_msg


async def test_global_credentials_send_x_domain_id_and_act_as_the_keys_user(
    client: httpx.AsyncClient, server: str, desk: Desk
) -> None:
    """The caller is the key's user: an end user's key sees only that user's incidents."""
    mine = (await create_incident(client, desk.user, title="My printer"))["number"]
    await create_incident(client, desk.other_user, title="Their printer")
    key = await create_access_key(client, desk.user)
    sdk = sdk_client(server, GlobalCredentials(key.access_key_id, key.secret_key, DOMAIN_ID))
    request = coc.ListIncidentSimpleTicketsRequest(offset=1, limit=10)
    answer = await asyncio.to_thread(sdk.list_incident_simple_tickets, request)
    tickets = answer.data["IncidentSimpleTicketInfos"]
    assert [ticket["ticket_id"] for ticket in tickets] == [mine]


# Signatures opsdesk refuses ------------------------------------------------------------------


async def _refused(sdk: coc.CocClient, request: Any, method: str) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as raised:
        await asyncio.to_thread(getattr(sdk, method), request)
    assert raised.value.status_code == 401
    assert raised.value.error_code == "common.01010001"
    return raised.value


async def test_a_wrong_secret_is_refused(
    client: httpx.AsyncClient, server: str, desk: Desk
) -> None:
    number = (await create_incident(client, desk.tech))["number"]
    key = await create_access_key(client, desk.tech)
    wrong = AccessKeyPair(key.access_key_id, key.secret_key[::-1])
    request = coc.ShowCocIncidentDetailRequest(incident_num=number)
    refused = await _refused(sdk_client(server, basic(wrong)), request, "show_coc_incident_detail")
    assert "signature does not match" in refused.error_msg
    right = await asyncio.to_thread(
        sdk_client(server, basic(key)).show_coc_incident_detail, request
    )
    assert right.data.incident_num == number


async def test_an_unknown_key_is_refused(client: httpx.AsyncClient, server: str) -> None:
    unknown = AccessKeyPair("NOSUCHKEY00000000000", "x" * 40)
    request = coc.ListIncidentSimpleTicketsRequest(offset=1, limit=10)
    refused = await _refused(
        sdk_client(server, basic(unknown)), request, "list_incident_simple_tickets"
    )
    assert refused.error_msg == "unknown access key NOSUCHKEY00000000000"
    too_long = AccessKeyPair("K" * 200, "x" * 40)
    refused = await _refused(
        sdk_client(server, basic(too_long)), request, "list_incident_simple_tickets"
    )
    assert refused.error_msg == f"unknown access key {'K' * 40}…"  # not echoed whole


async def test_a_revoked_key_is_refused_at_once(
    client: httpx.AsyncClient, server: str, desk: Desk
) -> None:
    key = await create_access_key(client, desk.tech)
    sdk = sdk_client(server, basic(key))
    request = coc.ListIncidentSimpleTicketsRequest(offset=1, limit=10)
    await asyncio.to_thread(sdk.list_incident_simple_tickets, request)  # cached as good
    revoked = await client.delete(
        f"/api/v1/me/access-keys/{key.access_key_id}",
        headers={"Authorization": f"Bearer {desk.tech.token}"},
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    refused = await _refused(sdk, request, "list_incident_simple_tickets")
    assert refused.error_msg == f"the access key {key.access_key_id} is revoked"


# Hand-signed requests (the SDK always signs with the time now and the body it sends) ----------


def _sign(key: AccessKeyPair, **request: Any) -> dict[str, str]:
    return signed_headers(key.access_key_id, key.secret_key, **request)


async def test_a_hand_signed_request_is_accepted_and_a_stale_date_is_refused(
    client: httpx.AsyncClient, server: str, desk: Desk, clock: FixedClock
) -> None:
    key = await create_access_key(client, desk.tech)
    body = orjson.dumps({"page": 1, "per_page": 10})
    host = server.removeprefix("http://")
    async with httpx.AsyncClient(base_url=server) as http:
        for minutes, status in ((14, 200), (-14, 200), (16, 401), (-16, 401)):
            headers = _sign(
                key,
                method="POST",
                host=host,
                path="/v2/incidents/list",
                body=body,
                date=sdk_date(clock.now() + timedelta(minutes=minutes)),
            )
            answer = await http.post("/v2/incidents/list", content=body, headers=headers)
            assert answer.status_code == status, (minutes, answer.text)
        assert answer.json()["error_code"] == "common.01010001"
        assert "is 16 minutes away from the server's time" in answer.json()["error_msg"]


async def test_a_body_changed_after_signing_is_refused(
    client: httpx.AsyncClient, server: str, desk: Desk, clock: FixedClock
) -> None:
    key = await create_access_key(client, desk.tech)
    number = (await create_incident(client, desk.tech))["number"]
    signed_body = orjson.dumps(
        {
            "incident_num": number,
            "operator": desk.tech.id,
            "operate_key": "addRemark",
            "parameter": {"note": "looking"},
        }
    )
    headers = _sign(
        key,
        method="POST",
        host=server.removeprefix("http://"),
        path="/v1/external/incident/handle",
        body=signed_body,
        date=sdk_date(clock.now()),
    )
    tampered = signed_body.replace(b"looking", b"closing")
    async with httpx.AsyncClient(base_url=server) as http:
        refused = await http.post("/v1/external/incident/handle", content=tampered, headers=headers)
        assert refused.status_code == 401, refused.text
        assert "signature does not match" in refused.json()["error_msg"]
        history = await client.post(
            f"/v2/incidents/{number}/histories",
            json={},
            headers={"X-Auth-Token": desk.tech.token},
        )
        assert "closing" not in history.text
        accepted = await http.post(
            "/v1/external/incident/handle", content=signed_body, headers=headers
        )
        assert accepted.status_code == 200, accepted.text


async def test_a_signed_multipart_upload_leaves_the_payload_unsigned_as_the_sdk_does(
    client: httpx.AsyncClient, server: str, desk: Desk, clock: FixedClock
) -> None:
    key = await create_access_key(client, desk.tech)
    form = httpx.Request(
        "POST", f"{server}/v1/external/incident/attachments", files={"file": ("a.txt", b"hello")}
    )
    body = form.read()
    content_type = form.headers["Content-Type"]
    host = server.removeprefix("http://")
    date = sdk_date(clock.now())
    path = "/v1/external/incident/attachments"
    async with httpx.AsyncClient(base_url=server) as http:
        unsigned = _sign(
            key,
            method="POST",
            host=host,
            path=path,
            body=body,
            date=date,
            content_type=content_type,
            unsigned_payload=True,
        )
        uploaded = await http.post(path, content=body, headers=unsigned)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["data"]["doc_name"] == "a.txt"
        # A JSON body is always hashed: declaring it unsigned does not skip the check.
        json_body = orjson.dumps({"page": 1})
        sneaky = _sign(
            key,
            method="POST",
            host=host,
            path="/v2/incidents/list",
            body=json_body,
            date=date,
            unsigned_payload=True,
        )
        refused = await http.post("/v2/incidents/list", content=json_body, headers=sneaky)
        assert refused.status_code == 401, refused.text
