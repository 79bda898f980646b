"""Attachments through the API on real databases and a real data directory."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from opsdesk.core.clock import FixedClock
from opsdesk.core.settings import Settings
from opsdesk.incidents.lifecycle import Action
from tests.api.test_lifecycle_actions import ok, sample_params
from tests.factories import Actor, Desk, create_incident
from tests.unit.test_filetypes import EXE, PDF, PNG, TEXT

MAX_BYTES = 10 * 1024 * 1024


def files_url(number: str) -> str:
    return f"/api/v1/incidents/{number}/attachments"


async def upload(
    client: httpx.AsyncClient,
    actor: Actor,
    number: str,
    name: str,
    data: bytes,
    *,
    internal: bool = False,
) -> httpx.Response:
    return await client.post(
        files_url(number),
        files={"file": (name, data, "application/octet-stream")},
        data={"internal": "true"} if internal else {},
        headers=actor.headers,
    )


def stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "attachments"
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


async def listing(client: httpx.AsyncClient, actor: Actor, number: str) -> list[dict[str, Any]]:
    response = await client.get(files_url(number), headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def history(client: httpx.AsyncClient, actor: Actor, number: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/incidents/{number}/history", headers=actor.headers)
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_upload_list_and_download_round_trip(
    client: httpx.AsyncClient, desk: Desk, settings: Settings
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    response = await upload(client, desk.user, number, "Bildschirm ä.png", PNG)
    assert response.status_code == 201, response.text
    body = response.json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert body["file_name"] == "Bildschirm ä.png"
    assert body["content_type"] == "image/png"
    assert body["size"] == len(PNG)
    assert body["sha256"] == digest
    assert body["context"] == "incident"
    assert body["internal"] is False
    assert body["uploader_id"] == desk.user.id
    assert stored_files(settings) == [settings.data_dir / "attachments" / digest[:2] / digest]

    assert [item["id"] for item in await listing(client, desk.tech, number)] == [body["id"]]
    download = await client.get(body["download_url"], headers=desk.user.headers)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        f"attachment; filename*=UTF-8''{quote('Bildschirm ä.png', safe='')}"
    )
    rows = await history(client, desk.user, number)
    assert [row["action"] for row in rows] == ["create_incident", "incident_attachment"]
    assert rows[-1]["comment"] == "Bildschirm ä.png"


async def test_equal_content_is_stored_once(
    client: httpx.AsyncClient, desk: Desk, settings: Settings
) -> None:
    first = (await create_incident(client, desk.user))["number"]
    second = (await create_incident(client, desk.tech))["number"]
    for number, actor in ((first, desk.user), (second, desk.tech), (second, desk.tech)):
        assert (await upload(client, actor, number, "log.txt", TEXT)).status_code == 201
    assert len(stored_files(settings)) == 1
    assert len(await listing(client, desk.admin, second)) == 2


async def test_others_and_end_users_see_only_what_they_may(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    public = (await upload(client, desk.user, number, "a.pdf", PDF)).json()
    staff_only = await upload(client, desk.tech, number, "dump.txt", TEXT, internal=True)
    assert staff_only.status_code == 201, staff_only.text
    hidden = staff_only.json()

    # Another end user: the incident and its files do not exist.
    assert (await client.get(files_url(number), headers=desk.other_user.headers)).status_code == 404
    stranger = await client.get(public["download_url"], headers=desk.other_user.headers)
    assert stranger.status_code == 404
    refused = await upload(client, desk.other_user, number, "x.txt", TEXT)
    assert refused.status_code == 404
    # The reporter: public files only, and no staff-only uploads.
    assert [item["id"] for item in await listing(client, desk.user, number)] == [public["id"]]
    assert (await client.get(hidden["download_url"], headers=desk.user.headers)).status_code == 404
    internal = await upload(client, desk.user, number, "y.txt", TEXT, internal=True)
    assert internal.status_code == 403
    assert internal.json()["error"]["field"] == "internal"
    reporter_rows = [row["action"] for row in await history(client, desk.user, number)]
    assert reporter_rows.count("incident_attachment") == 1
    # Staff see both.
    assert len(await listing(client, desk.tech, number)) == 2
    assert (await client.get(hidden["download_url"], headers=desk.tech.headers)).content == TEXT
    assert (await client.get(files_url(number))).status_code == 401


async def test_a_missing_file_field_is_named(client: httpx.AsyncClient, desk: Desk) -> None:
    number = (await create_incident(client, desk.user))["number"]
    response = await client.post(
        files_url(number), data={"internal": "false"}, headers=desk.user.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "file"


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("eleventh file", "already has 10 attachments"),
        ("10 MB + 1 byte", "larger than 10 MB"),
        (".exe renamed .pdf", "its content is a Windows executable"),
        ("path traversal", "contains a path"),
    ],
)
async def test_refused_uploads_store_nothing(
    case: str, reason: str, client: httpx.AsyncClient, desk: Desk, settings: Settings
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    if case == "eleventh file":
        for index in range(10):
            content = f"file {index}\n".encode()
            assert (
                await upload(client, desk.user, number, f"{index}.txt", content)
            ).status_code == 201
    before = (
        await listing(client, desk.admin, number),
        await history(client, desk.admin, number),
        stored_files(settings),
    )
    name, data = {
        "eleventh file": ("11.txt", b"one too many\n"),
        "10 MB + 1 byte": ("big.txt", b"a" * (MAX_BYTES + 1)),
        ".exe renamed .pdf": ("invoice.pdf", EXE),
        "path traversal": ("../../etc/passwd.txt", b"root:x:0:0\n"),
    }[case]
    response = await upload(client, desk.user, number, name, data)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "file"
    assert reason in error["message"]
    after = (
        await listing(client, desk.admin, number),
        await history(client, desk.admin, number),
        stored_files(settings),
    )
    assert after == before


async def test_exactly_10_mb_is_accepted(client: httpx.AsyncClient, desk: Desk) -> None:
    number = (await create_incident(client, desk.user))["number"]
    response = await upload(client, desk.user, number, "big.txt", b"a" * MAX_BYTES)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == MAX_BYTES


async def test_solution_and_conversation_link_their_files(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    other = (await create_incident(client, desk.user))["number"]
    foreign = (await upload(client, desk.user, other, "other.txt", TEXT)).json()
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    note_file = (await upload(client, desk.tech, number, "trace.txt", TEXT)).json()
    note = await client.post(
        f"/api/v1/incidents/{number}/conversations",
        json={"body": "trace attached", "internal": True, "attachment_ids": [note_file["id"]]},
        headers=desk.tech.headers,
    )
    assert note.status_code == 201, note.text
    assert note.json()["attachment_ids"] == [note_file["id"]]
    # The note is internal, so its file became staff-only.
    assert await listing(client, desk.user, number) == []
    linked = next(i for i in await listing(client, desk.tech, number) if i["id"] == note_file["id"])
    assert (linked["context"], linked["conversation_id"], linked["internal"]) == (
        "conversation",
        note.json()["id"],
        True,
    )

    proof = (await upload(client, desk.tech, number, "fix.pdf", PDF)).json()
    params = {**sample_params(Action.RESOLVE, desk, clock), "attachment_ids": [foreign["id"]]}
    wrong = await client.post(
        f"/api/v1/incidents/{number}/actions/resolve", json=params, headers=desk.tech.headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["field"] == "attachment_ids"
    still = await client.get(f"/api/v1/incidents/{number}", headers=desk.tech.headers)
    assert still.json()["status"] == "INCIDENT_STATUS_ACKNOWLEDGED"

    params["attachment_ids"] = [proof["id"]]
    await ok(client, desk.tech, number, Action.RESOLVE, params)
    solution = [i for i in await listing(client, desk.user, number) if i["id"] == proof["id"]]
    assert solution[0]["context"] == "solution"


async def test_a_closed_incident_takes_no_files(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    await ok(client, desk.tech, number, Action.RESOLVE, sample_params(Action.RESOLVE, desk, clock))
    await ok(client, desk.user, number, Action.CONFIRM, {"accepted": True})
    response = await upload(client, desk.user, number, "late.txt", TEXT)
    assert response.status_code == 409
    assert "reopen" in response.json()["error"]["message"]


async def test_linking_never_reveals_a_staff_only_file(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    secret = (await upload(client, desk.tech, number, "dump.txt", TEXT, internal=True)).json()
    staff_file = (await upload(client, desk.tech, number, "public.txt", TEXT)).json()
    # An end user guessing the id of a staff-only file cannot publish it through a reply,
    # nor take over a file someone else uploaded.
    for attachment_id in (secret["id"], staff_file["id"]):
        reply = await client.post(
            f"/api/v1/incidents/{number}/conversations",
            json={"body": "see this", "attachment_ids": [attachment_id]},
            headers=desk.user.headers,
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["error"]["field"] == "attachment_ids"
    assert [item["id"] for item in await listing(client, desk.user, number)] == [staff_file["id"]]
    # Staff linking a staff-only file to a public reply does not publish it either.
    await ok(client, desk.tech, number, Action.ACCEPT, {})
    reply = await client.post(
        f"/api/v1/incidents/{number}/conversations",
        json={"body": "attached", "attachment_ids": [secret["id"]]},
        headers=desk.tech.headers,
    )
    assert reply.status_code == 201, reply.text
    assert [item["id"] for item in await listing(client, desk.user, number)] == [staff_file["id"]]
    linked = next(i for i in await listing(client, desk.tech, number) if i["id"] == secret["id"])
    assert (linked["context"], linked["internal"]) == ("conversation", True)


async def test_a_reply_names_only_files_of_its_incident(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    number = (await create_incident(client, desk.user))["number"]
    other = (await create_incident(client, desk.user))["number"]
    foreign = (await upload(client, desk.user, other, "other.txt", TEXT)).json()
    before = await history(client, desk.user, number)
    reply = await client.post(
        f"/api/v1/incidents/{number}/conversations",
        json={"body": "see attached", "attachment_ids": [foreign["id"]]},
        headers=desk.user.headers,
    )
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["field"] == "attachment_ids"
    assert f"{foreign['id']} are not attachments of incident {number}" in error["message"]
    conversations = await client.get(
        f"/api/v1/incidents/{number}/conversations", headers=desk.user.headers
    )
    assert conversations.json() == []
    assert await history(client, desk.user, number) == before
    own = (await upload(client, desk.user, number, "mine.txt", TEXT)).json()
    reply = await client.post(
        f"/api/v1/incidents/{number}/conversations",
        json={"body": "see attached", "attachment_ids": [own["id"]]},
        headers=desk.user.headers,
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["attachment_ids"] == [own["id"]]
    listed = await client.get(
        f"/api/v1/incidents/{number}/conversations", headers=desk.user.headers
    )
    assert listed.json()[0]["attachment_ids"] == [own["id"]]
