"""Single PagerDuty events arriving together are committed together, in arrival order, and a
bad one fails only its own request (alerts/batching.py)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
from sqlalchemy import event, select

from opsdesk.alerts import service
from opsdesk.alerts.batching import IngestBatcher, segments
from opsdesk.alerts.models import Alert
from opsdesk.alerts.payloads import parse_pagerduty
from opsdesk.core.clock import FixedClock
from opsdesk.core.database import Database
from opsdesk.incidents.models import Incident
from tests.api.test_alerts import count, make_integration
from tests.api.test_alerts_pagerduty import trigger
from tests.factories import Desk


def _commits(db: Database) -> list[int]:
    """Counts the write engine's commits from now on (one entry per commit)."""
    seen: list[int] = []

    def on_commit(_connection: Any) -> None:
        seen.append(1)

    event.listen(db.writer.sync_engine, "commit", on_commit)
    return seen


async def test_concurrent_events_share_transactions_and_all_count(
    client: httpx.AsyncClient, desk: Desk, db: Database
) -> None:
    key = (await make_integration(client, desk, "pagerduty"))["key"]
    commits = _commits(db)
    answers = await asyncio.gather(
        *(client.post("/v2/enqueue", json=trigger(key)) for _ in range(40))
    )
    assert [a.status_code for a in answers] == [202] * 40
    async with db.read() as session:
        alert = await session.scalar(select(Alert))
    assert alert is not None and alert.count == 40
    assert await count(db, Incident) == 1
    # Forty requests, fewer transactions: some met in the batcher (how many depends on how
    # the arrivals interleave; PostgreSQL here commits them in two or three).
    assert len(commits) < 40, len(commits)


async def test_a_trigger_then_a_resolve_in_one_burst_end_resolved(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    key = (await make_integration(client, desk, "pagerduty"))["key"]
    async with db.read() as session:
        integration = await service.integration_by_key(session=session, key=key)
    batcher = IngestBatcher(db=db, clock=clock, rules=client_rules(client))
    events = [
        trigger(key, dedup_key="web-1"),
        trigger(key, dedup_key="web-2"),
        {"routing_key": key, "dedup_key": "web-1", "event_action": "resolve"},
    ]
    alerts = [parse_pagerduty(e)[1] for e in events]
    await asyncio.gather(*(batcher.submit(integration, alert) for alert in alerts))
    async with db.read() as session:
        states = dict((await session.execute(select(Alert.dedup_key, Alert.status))).all())
    assert states == {"web-1": "resolved", "web-2": "firing"}


async def test_a_failing_event_fails_alone(
    client: httpx.AsyncClient, desk: Desk, db: Database, clock: FixedClock
) -> None:
    key = (await make_integration(client, desk, "pagerduty"))["key"]
    async with db.read() as session:
        integration = await service.integration_by_key(session=session, key=key)
    # An integration deleted after its events were accepted: its rows break a foreign key.
    gone = dataclasses.replace(integration, id=999_999)
    batcher = IngestBatcher(db=db, clock=clock, rules=client_rules(client))
    good = [parse_pagerduty(trigger(key, dedup_key=f"ok-{n}"))[1] for n in range(3)]
    bad = parse_pagerduty(trigger(key, dedup_key="lost"))[1]
    results = await asyncio.gather(
        batcher.submit(integration, good[0]),
        batcher.submit(gone, bad),
        batcher.submit(integration, good[1]),
        batcher.submit(integration, good[2]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None and results[3] is None
    assert isinstance(results[1], Exception)
    async with db.read() as session:
        keys = set(await session.scalars(select(Alert.dedup_key)))
    assert keys == {"ok-0", "ok-1", "ok-2"}


def test_segments_keep_arrival_order_and_never_repeat_a_key() -> None:
    loop = asyncio.new_event_loop()
    try:
        view_a = _view(1)
        view_b = _view(2)
        items = [
            _pending(loop, view_a, "x"),
            _pending(loop, view_a, "y"),
            _pending(loop, view_a, "x"),  # the same key again: a new segment
            _pending(loop, view_b, "z"),  # another integration: a new segment
            _pending(loop, view_b, "w"),
        ]
        runs = segments(items)
    finally:
        loop.close()
    assert [[(p.integration.id, p.alert.dedup_key) for p in run] for run in runs] == [
        [(1, "x"), (1, "y")],
        [(1, "x")],
        [(2, "z"), (2, "w")],
    ]


def client_rules(client: httpx.AsyncClient) -> Any:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    return transport.app.state.incident_rules  # type: ignore[attr-defined]


def _view(integration_id: int) -> service.IntegrationView:
    return service.IntegrationView(
        id=integration_id,
        name=f"source {integration_id}",
        kind="pagerduty",
        rate_limit_per_s=0,
        group_by=(),
        group_window_s=3600,
        acting=None,  # type: ignore[arg-type]
        rules=(),
    )


def _pending(loop: asyncio.AbstractEventLoop, view: service.IntegrationView, key: str) -> Any:
    from opsdesk.alerts.batching import _Pending

    alert = parse_pagerduty(trigger("k", dedup_key=key))[1]
    return _Pending(view, alert, loop.create_future())
