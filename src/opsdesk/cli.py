"""The ``opsdesk`` command: serve, worker, db, demo, users, tokens, access keys, mail,
integrations.

Imports of the application (SQLAlchemy, FastAPI, the feature packages) happen inside the
commands that need them, so ``opsdesk --help`` and the small commands start quickly.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from opsdesk.auth.roles import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from opsdesk.core.settings import Settings

app = typer.Typer(help="opsdesk: incident management.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
users_app = typer.Typer(help="Users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
access_keys_app = typer.Typer(
    help="Access keys (AK/SK) for requests signed as Huawei Cloud's SDKs sign them.",
    no_args_is_help=True,
)
incidents_app = typer.Typer(help="Incidents.", no_args_is_help=True)
shifts_app = typer.Typer(help="Shift schedules.", no_args_is_help=True)
mail_app = typer.Typer(help="Email in: SMTP listener, IMAP poll, MTA pipe.", no_args_is_help=True)
integrations_app = typer.Typer(
    help="Monitoring integrations (alert sources).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(access_keys_app, name="access-keys")
app.add_typer(incidents_app, name="incidents")
app.add_typer(shifts_app, name="shifts")
app.add_typer(mail_app, name="mail")
app.add_typer(integrations_app, name="integrations")

T = TypeVar("T")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _settings() -> Settings:
    """The deployment settings; an invalid one ends the command with a one-line message each."""
    from opsdesk.core.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            typer.echo(f"opsdesk: {line}", err=True)
        raise typer.Exit(code=2) from None


@app.callback()
def _check_settings() -> None:
    """Every command checks the settings first, so a bad one never ends in a traceback."""
    _settings()


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work against the configured database and commit it."""

    from opsdesk.core.database import Database
    from opsdesk.core.errors import OpsdeskError

    async def run() -> T:
        db = Database(_settings().resolved_database_url())
        try:
            async with db.write() as session:
                return await work(session)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except OpsdeskError as exc:
        raise _fail(exc.message) from None


LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def serve_log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging set-up, with the request id (``-`` outside a request) on every line:
    opsdesk's own, the server's and the access log's."""
    request_id = {"()": "opsdesk.core.request_id.RequestIdFilter"}
    line = "%(asctime)s %(levelname)s [%(request_id)s]"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": request_id},
        "formatters": {
            "default": {
                "()": "uvicorn.logging.DefaultFormatter",
                "fmt": f"{line} %(name)s: %(message)s",
                "use_colors": False,
            },
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": f'{line} %(client_addr)s - "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            name: {
                "formatter": name,
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": ["request_id"],
            }
            for name in ("default", "access")
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            # Its own switch (--access-log), whatever the level.
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "opsdesk": {"handlers": ["default"], "level": level.upper(), "propagate": False},
        },
    }


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
    log_level: Annotated[
        str, typer.Option(help=f"Least level logged: {', '.join(LOG_LEVELS)}")
    ] = "warning",
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="One line per request")
    ] = False,
) -> None:
    """Serve the web UI and the APIs. Every log line names its request's X-Request-Id."""
    import uvicorn

    trusted = (
        forwarded_allow_ips if forwarded_allow_ips is not None else _settings().forwarded_allow_ips
    ).strip()
    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise _fail(f"--log-level: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    typer.echo(f"opsdesk on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "opsdesk.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # The client address (sign-in throttling, auth events) is the proxy's own unless the
        # proxy is trusted to say whom it forwards for.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_config=serve_log_config(level),
        access_log=access_log,
    )


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at the same time")] = 16,
    batch: Annotated[int, typer.Option(min=1, help="Jobs claimed per round")] = 100,
    once: Annotated[bool, typer.Option("--once", help="Run one batch, then exit")] = False,
) -> None:
    """Run background jobs until SIGTERM or Ctrl-C (jobs in hand are finished first)."""
    import logging

    from opsdesk.core.errors import OpsdeskError
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
            run_worker_process(_settings(), concurrency=concurrency, batch=batch, once=once)
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
    from opsdesk.bootstrap import prepare_database

    url = _settings().resolved_database_url()
    try:
        prepared = prepare_database(url)
    except Exception as exc:
        raise _fail(f"could not upgrade the database: {exc}") from None
    typer.echo(prepared.summary())


@demo_app.command("load")
def demo_load() -> None:
    """Load demo users and incidents once (does nothing if they are already there)."""
    from opsdesk.core.clock import SystemClock
    from opsdesk.demo.data import DEMO_USERS, load_demo

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

    from opsdesk.auth import service as auth_service
    from opsdesk.auth.schemas import UserCreate
    from opsdesk.core.clock import SystemClock

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
    from opsdesk.auth import service as auth_service
    from opsdesk.core.clock import SystemClock

    async def work(session: AsyncSession) -> str:
        user = await auth_service.get_user_by_email(session=session, email=email)
        _row, token = await auth_service.create_token(
            session=session, user_id=user.id, name=name, now=SystemClock().now()
        )
        return token

    typer.echo(_in_transaction(work))


@access_keys_app.command("create")
def access_keys_create(
    email: str,
    name: Annotated[str, typer.Option(help="A label to recognise the key by")] = "cli",
) -> None:
    """Create an access key: prints the access key id, then the secret key (shown once)."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.secret_box import SecretBox
    from opsdesk.core.clock import SystemClock

    box = SecretBox(_settings().resolved_secret_key())

    async def work(session: AsyncSession) -> tuple[str, str]:
        user = await auth_service.get_user_by_email(session=session, email=email)
        row, secret = await access_keys.create_access_key(
            session=session, user_id=user.id, name=name, now=SystemClock().now(), box=box
        )
        return row.id, secret

    access_key_id, secret = _in_transaction(work)
    typer.echo(access_key_id)
    typer.echo(secret)


@access_keys_app.command("list")
def access_keys_list(email: str) -> None:
    """A user's access keys: id, name, created, last used, revoked (never the secret)."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service

    async def work(session: AsyncSession) -> list[str]:
        user = await auth_service.get_user_by_email(session=session, email=email)
        rows = await access_keys.list_access_keys(session=session, user_id=user.id)
        return [
            "\t".join(
                (
                    row.id,
                    row.name,
                    row.created_at.isoformat(),
                    row.last_used_at.isoformat() if row.last_used_at else "never used",
                    f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active",
                )
            )
            for row in rows
        ]

    for line in _in_transaction(work):
        typer.echo(line)


@access_keys_app.command("revoke")
def access_keys_revoke(access_key_id: str) -> None:
    """Revoke an access key: requests signed with it are refused from now on."""
    from opsdesk.auth import access_keys
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.models import AccessKey
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.errors import NotFound

    async def work(session: AsyncSession) -> str:
        row = await session.get(AccessKey, access_key_id)
        if row is None:
            raise NotFound(f"no access key {access_key_id}", field="access_key_id")
        user = await auth_service.get_user(session=session, user_id=row.user_id)
        revoked = await access_keys.revoke_access_key(
            session=session,
            caller=auth_service.caller_of(user),
            access_key_id=access_key_id,
            now=SystemClock().now(),
        )
        return f"revoked {revoked.id}"

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

    from opsdesk.assignment import shifts as assignment_shifts
    from opsdesk.auth import service as auth_service
    from opsdesk.core.clock import SystemClock

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
        await assignment_shifts.check_shift(session=session, scene=scene, role=role)
        duty = await assignment_shifts.on_duty(session=session, scene=scene, role=role, at=moment)
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
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.core.errors import OpsdeskError
    from opsdesk.incidents.sweeper import incident_rules_from, sweep_once

    settings = _settings()

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


# sysexits.h codes an MTA understands: 75 = try again later, 65 = bounce (bad input).
EX_DATAERR = 65
EX_TEMPFAIL = 75


@mail_app.command("serve")
def mail_serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 2525,
) -> None:
    """Receive mail over SMTP: each mail is stored before the 250, then becomes its incident."""
    import logging

    from opsdesk.intake.email.smtp import serve_smtp

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    asyncio.run(
        serve_smtp(
            _settings(),
            host=host,
            port=port,
            on_ready=lambda: typer.echo(f"opsdesk mail on smtp://{host}:{port}"),
        )
    )


@mail_app.command("ingest")
def mail_ingest() -> None:
    """Read one mail from standard input (an MTA pipe) and turn it into its incident.

    Exit codes: 0 stored (whatever became of it, see the inbound mail view); 65 the input is
    not a mail (the MTA bounces it); 75 the database could not store it (the MTA retries).
    """
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.intake.email.intake import Intake
    from opsdesk.intake.email.outcomes import MailRules

    raw = sys.stdin.buffer.read()
    if not raw.strip():
        typer.echo("error: no mail on standard input", err=True)
        raise typer.Exit(code=EX_DATAERR)
    settings = _settings()

    async def run() -> str:
        db = Database(settings.resolved_database_url())
        intake = Intake(db=db, clock=SystemClock(), rules=MailRules.from_settings(settings))
        try:
            stored = await intake.store(raw, door="pipe")
            try:
                await intake.process_all()
            except Exception as exc:  # stored is safe: the worker processes it later
                return f"inbound mail {stored.id} stored; processing later ({exc})"
            return (
                f"inbound mail {stored.id} {'was already stored' if stored.duplicate else 'stored'}"
            )
        finally:
            await db.dispose()

    try:
        message = asyncio.run(run())
    except Exception as exc:
        typer.echo(f"error: could not store the mail, try again later: {exc}", err=True)
        raise typer.Exit(code=EX_TEMPFAIL) from None
    typer.echo(message)


@mail_app.command("poll")
def mail_poll(
    once: Annotated[bool, typer.Option("--once", help="Poll once, then exit")] = False,
) -> None:
    """Fetch new mail from the OPSDESK_IMAP_* mailbox (the worker does this on its own)."""
    import time

    from opsdesk.core.clock import SystemClock
    from opsdesk.core.database import Database
    from opsdesk.intake.email.imap import poll_once
    from opsdesk.intake.email.intake import Intake
    from opsdesk.intake.email.outcomes import MailRules

    settings = _settings()
    if not settings.imap_host:
        raise _fail("OPSDESK_IMAP_HOST is not set: there is no mailbox to poll")

    async def run() -> tuple[int, int]:
        db = Database(settings.resolved_database_url())
        intake = Intake(db=db, clock=SystemClock(), rules=MailRules.from_settings(settings))
        try:
            fetched = await poll_once(settings, lambda raw: intake.store(raw, door="imap"))
            return fetched, await intake.process_all()
        finally:
            await db.dispose()

    while True:
        try:
            fetched, processed = asyncio.run(run())
        except Exception as exc:
            raise _fail(f"IMAP poll failed: {exc}") from None
        typer.echo(f"{fetched} mails fetched, {processed} processed")
        if once:
            return
        time.sleep(settings.imap_interval_s)


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
    from opsdesk.auth import service as auth_service
    from opsdesk.auth.models import User
    from opsdesk.core.clock import SystemClock
    from opsdesk.core.errors import OpsdeskError

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
