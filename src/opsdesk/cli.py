"""The ``opsdesk`` command: serve, worker, db, demo, users, tokens, integrations."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth import service as auth_service
from opsdesk.auth.roles import Role
from opsdesk.auth.schemas import UserCreate
from opsdesk.bootstrap import prepare_database
from opsdesk.core.clock import SystemClock
from opsdesk.core.database import Database
from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import get_settings
from opsdesk.demo.data import DEMO_USERS, load_demo

app = typer.Typer(help="opsdesk: incident management.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
incidents_app = typer.Typer(help="Incidents.", no_args_is_help=True)
shifts_app = typer.Typer(help="Shift schedules.", no_args_is_help=True)
integrations_app = typer.Typer(
    help="Monitoring integrations (alert sources).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(incidents_app, name="incidents")
app.add_typer(shifts_app, name="shifts")
app.add_typer(integrations_app, name="integrations")

T = TypeVar("T")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database and commit it."""

    async def run() -> T:
        db = Database(get_settings().resolved_database_url())
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OpsdeskError as exc:
        raise _fail(exc.message) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Reverse proxies trusted for X-Forwarded-For/-Proto (comma list or *; "
            "empty: none). Default: OPSDESK_FORWARDED_ALLOW_IPS, else 127.0.0.1"
        ),
    ] = None,
) -> None:
    """Serve the web UI and the APIs."""
    import uvicorn

    trusted = (
        forwarded_allow_ips
        if forwarded_allow_ips is not None
        else get_settings().forwarded_allow_ips
    ).strip()
    typer.echo(f"opsdesk on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "opsdesk.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The client address (sign-in throttling, auth events) is the proxy's own unless the
        # proxy is trusted to say whom it forwards for.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at the same time")] = 16,
    batch: Annotated[int, typer.Option(min=1, help="Jobs claimed per round")] = 100,
    once: Annotated[bool, typer.Option("--once", help="Run one batch, then exit")] = False,
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C (jobs in hand are finished first)."""
    import logging

    from opsdesk.worker import run_worker_process

    # Log to this command's stderr only while it runs (not a global logging set-up).
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("opsdesk")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        claimed = asyncio.run(
            run_worker_process(get_settings(), concurrency=concurrency, batch=batch, once=once)
        )
    except OpsdeskError as exc:
        raise _fail(exc.message) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    if once:
        typer.echo(f"{claimed} jobs run")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the schema to the newest revision and add missing default reference data."""
    url = get_settings().resolved_database_url()
    try:
        added = prepare_database(url)
    except Exception as exc:
        raise _fail(f"could not upgrade the database: {exc}") from None
    typer.echo(f"database is up to date ({added} default reference items added)")


@demo_app.command("load")
def demo_load() -> None:
    """Load demo users and incidents once (does nothing if they are already there)."""
    loaded = _in_transaction(lambda session: load_demo(session=session, clock=SystemClock()))
    if not loaded:
        typer.echo("demo data already loaded")
        return
    typer.echo("demo data loaded; sign in as one of:")
    for user in DEMO_USERS:
        typer.echo(f"  {user.email:<22} {user.password:<14} {user.role.value}")


def _read_password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        raise _fail("the password must be at least 8 characters")
    return password


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="end_user, technician, incident_manager or admin")] = (
        Role.END_USER
    ),
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    organisation: Annotated[
        str | None, typer.Option(help="The user's organisation (SLA policies may match it)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user; prints the new user's id."""
    from pydantic import ValidationError

    password = _read_password(password_stdin)
    try:
        data = UserCreate(
            email=email, role=role, name=name, password=password, organisation=organisation
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise _fail(f"{field}: {first['msg']}") from None
    user = _in_transaction(
        lambda session: auth_service.create_user(
            session=session, data=data, now=SystemClock().now()
        )
    )
    typer.echo(user.id)


@users_app.command("list")
def users_list() -> None:
    """List users: id, email, role, active."""

    async def work(session: AsyncSession) -> list[str]:
        from sqlalchemy import select

        from opsdesk.auth.models import User

        rows = await session.scalars(select(User).order_by(User.email))
        return [
            f"{u.id}  {u.email:<30} {u.role:<17} {'active' if u.active else 'inactive'}"
            for u in rows
        ]

    for line in _in_transaction(work):
        typer.echo(line)


@tokens_app.command("create")
def tokens_create(
    email: str,
    name: Annotated[str, typer.Option(help="A label to recognise the token by")] = "cli",
) -> None:
    """Create an API token for a user; prints only the token."""

    async def work(session: AsyncSession) -> str:
        user = await auth_service.get_user_by_email(session=session, email=email)
        _row, token = await auth_service.create_token(
            session=session, user_id=user.id, name=name, now=SystemClock().now()
        )
        return token

    typer.echo(_in_transaction(work))


@shifts_app.command("on-duty")
def shifts_on_duty(
    scene: str,
    role: str,
    at: Annotated[
        str | None,
        typer.Option(
            help="ISO 8601 time with offset, e.g. 2026-12-24T22:00:00+01:00 (default: now)"
        ),
    ] = None,
) -> None:
    """Who is on duty for a shift scene and role: email, user id, and what put them there."""
    from datetime import datetime

    from opsdesk.assignment import service as assignment

    if at is None:
        moment = SystemClock().now()
    else:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise _fail(f"--at: {at!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise _fail("--at: give a time zone offset, e.g. 2026-12-24T22:00:00Z")

    async def work(session: AsyncSession) -> str:
        await assignment.check_shift(session=session, scene=scene, role=role)
        duty = await assignment.on_duty(session=session, scene=scene, role=role, at=moment)
        if duty.user_id is None:
            return f"nobody  ({duty.reason})"
        user = await auth_service.get_user(session=session, user_id=duty.user_id)
        return f"{user.email}  {user.id}  ({duty.reason})"

    typer.echo(_in_transaction(work))


@incidents_app.command("sweep")
def incidents_sweep() -> None:
    """Auto-complete unconfirmed resolved incidents and end pauses that ran out, once.

    ``opsdesk serve`` does this every OPSDESK_LIFECYCLE_SWEEP_S seconds; this command is for
    deployments that run serve with OPSDESK_RUN_WORKER=false and schedule the sweep (cron).
    """
    from opsdesk.incidents.sweeper import incident_rules_from, sweep_once

    settings = get_settings()

    async def run() -> tuple[int, int]:
        db = Database(settings.resolved_database_url())
        try:
            result = await sweep_once(
                db=db, clock=SystemClock(), rules=incident_rules_from(settings)
            )
            return result.completed, result.resumed
        finally:
            await db.dispose()

    try:
        completed, resumed = asyncio.run(run())
    except OpsdeskError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"{completed} incidents auto-completed, {resumed} pauses ended")


@integrations_app.command("create")
def integrations_create(
    name: str,
    kind: Annotated[
        str, typer.Option(help="alertmanager, grafana, pagerduty, generic or coc")
    ] = "generic",
    acting_as: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Email of the staff user its incidents are reported by "
            "(default: the first administrator)",
        ),
    ] = None,
    rate_limit: Annotated[
        int, typer.Option(help="Requests per second per process; 0: none")
    ] = 1000,
    group_by: Annotated[
        str, typer.Option(help="Comma-separated labels that group alerts (default: the sender's)")
    ] = "",
) -> None:
    """Create an integration with its default conversion rule; prints only the new key."""
    from sqlalchemy import select

    from opsdesk.alerts import integrations as alerts
    from opsdesk.auth.models import User

    async def work(session: AsyncSession) -> str:
        if acting_as is not None:
            user = await auth_service.get_user_by_email(session=session, email=acting_as)
            if Role(user.role) == Role.END_USER:
                raise OpsdeskError(f"--as: {acting_as} is an end user; choose staff")
            user_id = user.id
        else:
            found = await session.scalar(
                select(User.id)
                .where(User.role == Role.ADMIN.value, User.active.is_(True))
                .order_by(User.created_at)
                .limit(1)
            )
            if found is None:
                raise OpsdeskError("no administrator yet: create one first, or pass --as")
            user_id = found
        _row, key = await alerts.create_integration(
            session=session,
            name=name,
            kind=kind,
            acting_user_id=user_id,
            now=SystemClock().now(),
            rate_limit_per_s=rate_limit,
            group_by=[label.strip() for label in group_by.split(",") if label.strip()],
        )
        return key

    typer.echo(_in_transaction(work))


@integrations_app.command("list")
def integrations_list() -> None:
    """List integrations: id, name, kind, key hint, active."""
    from opsdesk.alerts import integrations as alerts

    async def work(session: AsyncSession) -> list[str]:
        rows = await alerts.list_integrations(session=session)
        return [
            f"{row.id:<5} {row.name:<30} {row.kind:<13} {row.key_hint}…  "
            f"{'active' if row.active else 'inactive'}"
            for row in rows
        ]

    for line in _in_transaction(work):
        typer.echo(line)


if __name__ == "__main__":
    app(prog_name="opsdesk")
